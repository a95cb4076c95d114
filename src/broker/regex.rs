//! The regular expressions of permissions and policy patterns. RabbitMQ
//! matches them with Erlang's `re` (PCRE); this is the subset such patterns
//! use: literals and escapes, `.`, `^`, `$`, `\b`, classes (`[a-z]`, `[^.]`,
//! `\d \w \s` and their negations, POSIX `[:alpha:]`), groups, alternation,
//! and the repetitions `* + ? {n} {n,} {n,m}` (lazy forms too: they cannot
//! change whether a name matches). Anything else (flags, back-references,
//! look-around, possessive repetition) is refused with a reason rather than
//! read differently. Matching simulates every thread at once (a Pike VM), so
//! no pattern takes more than time linear in the name.
//!
//! Like the expressions it replaces, classes are ASCII (`\w` is `[0-9A-Za-z_]`),
//! `.` is any character but `\n`, and `$` is the end of the name.

use std::fmt;

/// Repetition counts beyond this are refused: the program grows with them.
const MAX_REPEAT: u32 = 1000;
/// Instructions a program may hold (patterns are short; this bounds `{n}` nests).
const MAX_PROGRAM: usize = 20_000;

/// A pattern that cannot be compiled, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(&'static str);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A compiled expression; `is_match` searches anywhere in the name unless the
/// pattern anchors itself.
#[derive(Clone, Debug)]
pub struct Regex {
    program: Vec<Inst>,
}

#[derive(Clone, Debug)]
enum Inst {
    Char(char),
    /// Any character but `\n`.
    Any,
    Class(Class),
    Look(Look),
    /// Continue at both; the first is tried first (the order is irrelevant
    /// to whether there is a match).
    Split(usize, usize),
    Jump(usize),
    Match,
}

#[derive(Clone, Copy, Debug)]
enum Look {
    Start,
    End,
    WordBoundary,
    NotWordBoundary,
}

#[derive(Clone, Debug)]
struct Class {
    items: Vec<Item>,
    negated: bool,
}

#[derive(Clone, Copy, Debug)]
enum Item {
    Range(char, char),
    Perl(Perl, bool),
}

#[derive(Clone, Copy, Debug)]
enum Perl {
    Digit,
    Word,
    Space,
    Alpha,
    Alnum,
    Upper,
    Lower,
    Xdigit,
    Punct,
}

impl Perl {
    fn has(self, c: char) -> bool {
        match self {
            Perl::Digit => c.is_ascii_digit(),
            Perl::Word => c.is_ascii_alphanumeric() || c == '_',
            Perl::Space => matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'),
            Perl::Alpha => c.is_ascii_alphabetic(),
            Perl::Alnum => c.is_ascii_alphanumeric(),
            Perl::Upper => c.is_ascii_uppercase(),
            Perl::Lower => c.is_ascii_lowercase(),
            Perl::Xdigit => c.is_ascii_hexdigit(),
            Perl::Punct => c.is_ascii_punctuation(),
        }
    }
}

impl Class {
    fn has(&self, c: char) -> bool {
        let found = self.items.iter().any(|i| match *i {
            Item::Range(lo, hi) => lo <= c && c <= hi,
            Item::Perl(p, negated) => p.has(c) != negated,
        });
        found != self.negated
    }
}

/// The parsed expression, before it becomes a program.
enum Node {
    Empty,
    Char(char),
    Any,
    Class(Class),
    Look(Look),
    Concat(Vec<Node>),
    Alternate(Vec<Node>),
    Repeat(Box<Node>, u32, Option<u32>),
}

impl Regex {
    pub fn new(source: &str) -> Result<Regex, Error> {
        let mut p = Parser {
            chars: source.chars().collect(),
            pos: 0,
            depth: 0,
        };
        let node = p.alternation()?;
        if p.pos < p.chars.len() {
            return Err(Error("unopened group: ')' without '('"));
        }
        let mut program = Vec::new();
        emit(&node, &mut program)?;
        program.push(Inst::Match);
        Ok(Regex { program })
    }

    pub fn is_match(&self, text: &str) -> bool {
        let n = self.program.len();
        let mut current = Threads::new(n);
        let mut next = Threads::new(n);
        let mut stack = Vec::new();
        let mut prev: Option<char> = None;
        let mut chars = text.chars();
        let mut at = chars.next();
        loop {
            // A new thread at every position: the search is unanchored.
            self.add(&mut current, &mut stack, 0, prev, at);
            for k in 0..current.len {
                let Some(&pc) = current.dense.get(k) else {
                    break;
                };
                let step = match (self.program.get(pc), at) {
                    (Some(Inst::Match), _) => return true,
                    (Some(Inst::Char(want)), Some(c)) => *want == c,
                    (Some(Inst::Any), Some(c)) => c != '\n',
                    (Some(Inst::Class(class)), Some(c)) => class.has(c),
                    _ => false,
                };
                if step {
                    let after = chars.clone().next();
                    self.add(&mut next, &mut stack, pc + 1, at, after);
                }
            }
            let Some(c) = at else {
                return false;
            };
            prev = Some(c);
            at = chars.next();
            std::mem::swap(&mut current, &mut next);
            next.clear();
        }
    }

    /// Adds `pc` and everything reachable from it without reading a character
    /// (between `prev` and `next`).
    fn add(
        &self,
        threads: &mut Threads,
        stack: &mut Vec<usize>,
        pc: usize,
        prev: Option<char>,
        next: Option<char>,
    ) {
        stack.push(pc);
        while let Some(pc) = stack.pop() {
            if !threads.insert(pc) {
                continue;
            }
            match self.program.get(pc) {
                Some(Inst::Split(a, b)) => {
                    stack.push(*b);
                    stack.push(*a);
                }
                Some(Inst::Jump(to)) => stack.push(*to),
                Some(Inst::Look(look)) => {
                    let word = |c: Option<char>| c.is_some_and(|c| Perl::Word.has(c));
                    let holds = match look {
                        Look::Start => prev.is_none(),
                        Look::End => next.is_none(),
                        Look::WordBoundary => word(prev) != word(next),
                        Look::NotWordBoundary => word(prev) == word(next),
                    };
                    if holds {
                        stack.push(pc + 1);
                    }
                }
                _ => {}
            }
        }
    }
}

/// A set of program positions in insertion order (a sparse set: clearing
/// costs nothing per position).
struct Threads {
    dense: Vec<usize>,
    sparse: Vec<usize>,
    len: usize,
}

impl Threads {
    fn new(n: usize) -> Threads {
        Threads {
            dense: vec![0; n],
            sparse: vec![0; n],
            len: 0,
        }
    }

    fn insert(&mut self, pc: usize) -> bool {
        let Some(&slot) = self.sparse.get(pc) else {
            return false;
        };
        if slot < self.len && self.dense.get(slot) == Some(&pc) {
            return false;
        }
        if let (Some(s), Some(d)) = (self.sparse.get_mut(pc), self.dense.get_mut(self.len)) {
            *s = self.len;
            *d = pc;
            self.len += 1;
        }
        true
    }

    fn clear(&mut self) {
        self.len = 0;
    }
}

fn emit(node: &Node, out: &mut Vec<Inst>) -> Result<(), Error> {
    if out.len() > MAX_PROGRAM {
        return Err(Error("pattern too large"));
    }
    match node {
        Node::Empty => {}
        Node::Char(c) => out.push(Inst::Char(*c)),
        Node::Any => out.push(Inst::Any),
        Node::Class(c) => out.push(Inst::Class(c.clone())),
        Node::Look(l) => out.push(Inst::Look(*l)),
        Node::Concat(nodes) => {
            for n in nodes {
                emit(n, out)?;
            }
        }
        Node::Alternate(nodes) => {
            // split L1, next; L1: a; jump end; next: split L2, next; ... last
            let mut jumps = Vec::new();
            let last = nodes.len().saturating_sub(1);
            for (i, n) in nodes.iter().enumerate() {
                if i == last {
                    emit(n, out)?;
                } else {
                    let split = out.len();
                    out.push(Inst::Split(split + 1, 0));
                    emit(n, out)?;
                    jumps.push(out.len());
                    out.push(Inst::Jump(0));
                    let here = out.len();
                    if let Some(Inst::Split(_, b)) = out.get_mut(split) {
                        *b = here;
                    }
                }
            }
            let end = out.len();
            for j in jumps {
                if let Some(Inst::Jump(to)) = out.get_mut(j) {
                    *to = end;
                }
            }
        }
        Node::Repeat(n, min, max) => {
            for _ in 0..*min {
                emit(n, out)?;
            }
            match max {
                // L: split body, end; body; jump L; end:
                None => {
                    let split = out.len();
                    out.push(Inst::Split(split + 1, 0));
                    emit(n, out)?;
                    out.push(Inst::Jump(split));
                    let end = out.len();
                    if let Some(Inst::Split(_, b)) = out.get_mut(split) {
                        *b = end;
                    }
                }
                // (body (body ...)?)? : every optional copy may end the run.
                Some(max) => {
                    let mut splits = Vec::new();
                    for _ in *min..*max {
                        splits.push(out.len());
                        out.push(Inst::Split(out.len() + 1, 0));
                        emit(n, out)?;
                    }
                    let end = out.len();
                    for s in splits {
                        if let Some(Inst::Split(_, b)) = out.get_mut(s) {
                            *b = end;
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: u32,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn next(&mut self) -> Result<char, Error> {
        let c = self.peek().ok_or(Error("pattern ends too soon"))?;
        self.pos += 1;
        Ok(c)
    }

    fn alternation(&mut self) -> Result<Node, Error> {
        let mut branches = vec![self.concat()?];
        while self.eat('|') {
            branches.push(self.concat()?);
        }
        Ok(if branches.len() == 1 {
            branches.pop().unwrap_or(Node::Empty)
        } else {
            Node::Alternate(branches)
        })
    }

    fn concat(&mut self) -> Result<Node, Error> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            items.push(self.repetition(atom)?);
        }
        Ok(Node::Concat(items))
    }

    fn repetition(&mut self, atom: Node) -> Result<Node, Error> {
        let (min, max) = match self.peek() {
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('?') => (0, Some(1)),
            Some('{') => {
                self.pos += 1;
                self.counts()?
            }
            _ => return Ok(atom),
        };
        self.pos += 1;
        if matches!(atom, Node::Look(_) | Node::Empty) {
            return Err(Error("repetition of nothing"));
        }
        self.eat('?'); // lazy: the same names match
        match self.peek() {
            Some('+') => return Err(Error("possessive repetition is not supported")),
            Some('*' | '?' | '{') => return Err(Error("repetition of a repetition")),
            _ => {}
        }
        Ok(Node::Repeat(Box::new(atom), min, max))
    }

    /// `n}`, `n,}` or `n,m}` after a `{`; leaves the position on the `}`.
    fn counts(&mut self) -> Result<(u32, Option<u32>), Error> {
        let min = self.number()?;
        let max = if self.eat(',') {
            if self.peek() == Some('}') {
                None
            } else {
                Some(self.number()?)
            }
        } else {
            Some(min)
        };
        if self.peek() != Some('}') {
            return Err(Error("repetition count without its closing '}'"));
        }
        if max.is_some_and(|m| m < min) {
            return Err(Error("repetition range out of order"));
        }
        Ok((min, max))
    }

    fn number(&mut self) -> Result<u32, Error> {
        let start = self.pos;
        let mut n: u32 = 0;
        while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
            n = n.saturating_mul(10).saturating_add(d);
            self.pos += 1;
        }
        if self.pos == start {
            return Err(Error("repetition count expected after '{'"));
        }
        if n > MAX_REPEAT {
            return Err(Error("repetition count over 1000"));
        }
        Ok(n)
    }

    fn atom(&mut self) -> Result<Node, Error> {
        let c = self.next()?;
        Ok(match c {
            '.' => Node::Any,
            '^' => Node::Look(Look::Start),
            '$' => Node::Look(Look::End),
            '[' => Node::Class(self.class()?),
            '(' => {
                if self.eat('?') && !self.eat(':') {
                    return Err(Error(
                        "only (?: ) groups are supported (no flags, names or look-around)",
                    ));
                }
                self.depth += 1;
                if self.depth > 100 {
                    return Err(Error("groups nested too deeply"));
                }
                let inner = self.alternation()?;
                self.depth -= 1;
                if !self.eat(')') {
                    return Err(Error("unclosed group: '(' without ')'"));
                }
                inner
            }
            '*' | '+' | '?' => return Err(Error("repetition of nothing")),
            '{' => return Err(Error("repetition of nothing")),
            '\\' => match self.escape()? {
                Escaped::Char(c) => Node::Char(c),
                Escaped::Perl(p, negated) => Node::Class(Class {
                    items: vec![Item::Perl(p, negated)],
                    negated: false,
                }),
                Escaped::Look(l) => Node::Look(l),
            },
            c => Node::Char(c),
        })
    }

    fn escape(&mut self) -> Result<Escaped, Error> {
        let c = self.next()?;
        Ok(match c {
            'd' => Escaped::Perl(Perl::Digit, false),
            'D' => Escaped::Perl(Perl::Digit, true),
            'w' => Escaped::Perl(Perl::Word, false),
            'W' => Escaped::Perl(Perl::Word, true),
            's' => Escaped::Perl(Perl::Space, false),
            'S' => Escaped::Perl(Perl::Space, true),
            'b' => Escaped::Look(Look::WordBoundary),
            'B' => Escaped::Look(Look::NotWordBoundary),
            'A' => Escaped::Look(Look::Start),
            'z' => Escaped::Look(Look::End),
            't' => Escaped::Char('\t'),
            'n' => Escaped::Char('\n'),
            'r' => Escaped::Char('\r'),
            'f' => Escaped::Char('\x0c'),
            'v' => Escaped::Char('\x0b'),
            'x' => {
                let mut v = 0;
                for _ in 0..2 {
                    let d = self
                        .next()?
                        .to_digit(16)
                        .ok_or(Error("\\x needs two hex digits"))?;
                    v = v * 16 + d;
                }
                Escaped::Char(char::from_u32(v).unwrap_or('\0'))
            }
            c if c.is_ascii_alphanumeric() => {
                return Err(Error(
                    "unsupported escape (back-references and \\p are not supported)",
                ))
            }
            c => Escaped::Char(c),
        })
    }

    /// After `[`: up to and including the closing `]`.
    fn class(&mut self) -> Result<Class, Error> {
        let negated = self.eat('^');
        let mut items = Vec::new();
        let mut first = true;
        loop {
            let c = self
                .next()
                .map_err(|_| Error("unclosed class: '[' without ']'"))?;
            if c == ']' && !first {
                break;
            }
            first = false;
            let lo = match c {
                '[' if self.peek() == Some(':') => {
                    items.push(self.posix()?);
                    continue;
                }
                '[' => return Err(Error("nested classes are not supported")),
                '\\' => match self.escape()? {
                    Escaped::Char(c) => c,
                    Escaped::Perl(p, negated) => {
                        items.push(Item::Perl(p, negated));
                        continue;
                    }
                    Escaped::Look(_) => return Err(Error("assertion inside a class")),
                },
                c => c,
            };
            // A range, unless '-' ends the class.
            if self.peek() == Some('-') && self.chars.get(self.pos + 1) != Some(&']') {
                self.pos += 1;
                let hi = match self
                    .next()
                    .map_err(|_| Error("unclosed class: '[' without ']'"))?
                {
                    '\\' => match self.escape()? {
                        Escaped::Char(c) => c,
                        _ => return Err(Error("class range ends in a class")),
                    },
                    '[' => return Err(Error("nested classes are not supported")),
                    c => c,
                };
                if hi < lo {
                    return Err(Error("class range out of order"));
                }
                items.push(Item::Range(lo, hi));
            } else {
                items.push(Item::Range(lo, lo));
            }
        }
        Ok(Class { items, negated })
    }

    /// After `[` with `:` next: `:name:]` (or `:^name:]`).
    fn posix(&mut self) -> Result<Item, Error> {
        self.pos += 1;
        let negated = self.eat('^');
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_lowercase()) {
            self.pos += 1;
        }
        let name: String = self
            .chars
            .get(start..self.pos)
            .unwrap_or_default()
            .iter()
            .collect();
        if !(self.eat(':') && self.eat(']')) {
            return Err(Error("malformed POSIX class"));
        }
        let p = match name.as_str() {
            "digit" => Perl::Digit,
            "word" => Perl::Word,
            "space" => Perl::Space,
            "alpha" => Perl::Alpha,
            "alnum" => Perl::Alnum,
            "upper" => Perl::Upper,
            "lower" => Perl::Lower,
            "xdigit" => Perl::Xdigit,
            "punct" => Perl::Punct,
            _ => return Err(Error("unsupported POSIX class")),
        };
        Ok(Item::Perl(p, negated))
    }
}

enum Escaped {
    Char(char),
    Perl(Perl, bool),
    Look(Look),
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Regex::new(p)
            .map(|r| r.is_match(s))
            .unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    #[test]
    fn matches_the_patterns_permissions_and_policies_use() {
        assert!(m("^amq\\.gen-", "amq.gen-abc"));
        assert!(!m("^amq\\.gen-", "xamq.gen-abc"));
        assert!(m("^(orders|billing)\\..*$", "billing.eu"));
        assert!(!m("^(orders|billing)\\..*$", "billing"));
        assert!(m("^[a-z]+-\\d{2,3}$", "queue-42"));
        assert!(!m("^[a-z]+-\\d{2,3}$", "queue-4242"));
        assert!(m("^[^.]+$", "plain"));
        assert!(!m("^[^.]+$", "dotted.name"));
        assert!(m("\\bjobs\\b", "my.jobs.q"));
        assert!(!m("\\bjobs\\b", "myjobs"));
        assert!(m("^$", ""));
        assert!(m("(a*)*b", "aaaab"));
        assert!(!m("^(a*)*$", &format!("{}b", "a".repeat(200))));
        assert!(m("[[:upper:]]x?", "Q"));
        assert!(m("[]a]", "]"));
        assert!(m("[a-]", "-"));
    }

    #[test]
    fn refuses_what_it_does_not_support() {
        for p in [
            "(", ")", "[", "a{2", "*a", "a**", "(?i)a", "(?=a)", "\\1", "a*+", "[b-a]", "a{1001}",
        ] {
            assert!(Regex::new(p).is_err(), "{p}");
        }
    }
}

/// The same answers as regex-lite, the engine these patterns were matched
/// with before, on generated patterns and names.
#[cfg(all(test, not(target_family = "wasm")))]
mod agrees_with_regex_lite {
    #![allow(clippy::panic)]
    use super::Regex;

    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 33) % n as u64) as usize
        }

        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from.get(self.below(from.len())).copied().unwrap_or("")
        }
    }

    const ATOMS: &[&str] = &[
        "a",
        "b",
        "c",
        ".",
        "-",
        "\\.",
        "\\d",
        "\\w",
        "\\s",
        "\\W",
        "\\D",
        "[ab]",
        "[^a]",
        "[a-c]",
        "[^.-]",
        "[\\d.]",
        "[[:alpha:]]",
        "[]a]",
        "_",
        "1",
        "é",
        "\\b",
        "^",
        "$",
    ];
    const REPEATS: &[&str] = &[
        "", "", "", "*", "+", "?", "*?", "+?", "??", "{2}", "{1,}", "{0,2}", "{1,3}?",
    ];

    fn pattern(rng: &mut Rng, depth: u32) -> String {
        let mut out = String::new();
        for _ in 0..1 + rng.below(4) {
            let atom = if depth < 3 && rng.below(5) == 0 {
                let open = if rng.below(2) == 0 { "(" } else { "(?:" };
                let mut group = format!("{open}{}", pattern(rng, depth + 1));
                for _ in 0..rng.below(3) {
                    group.push('|');
                    group.push_str(&pattern(rng, depth + 1));
                }
                group.push(')');
                group
            } else {
                rng.pick(ATOMS).to_owned()
            };
            out.push_str(&atom);
            if !matches!(atom.as_str(), "^" | "$" | "\\b") {
                out.push_str(rng.pick(REPEATS));
            }
        }
        out
    }

    fn name(rng: &mut Rng) -> String {
        const PARTS: &[&str] = &[
            "a", "b", "c", ".", "-", "_", "1", "9", " ", "é", "ab", "ca", "\n",
        ];
        (0..rng.below(9)).map(|_| rng.pick(PARTS)).collect()
    }

    #[test]
    fn on_generated_patterns_and_names() {
        let mut rng = Rng(1);
        let mut checked = 0;
        for _ in 0..20_000 {
            let source = pattern(&mut rng, 0);
            let ours = Regex::new(&source).unwrap_or_else(|e| panic!("{source:?}: {e}"));
            let reference =
                regex_lite::Regex::new(&source).unwrap_or_else(|e| panic!("{source:?}: {e}"));
            for _ in 0..8 {
                let s = name(&mut rng);
                assert_eq!(
                    ours.is_match(&s),
                    reference.is_match(&s),
                    "pattern {source:?} on {s:?}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 160_000);
    }

    #[test]
    fn refuses_what_regex_lite_refuses() {
        for p in [
            "(",
            ")",
            "[",
            "a{2",
            "*a",
            "(?=a)",
            "\\1",
            "[b-a]",
            "x|*",
            "[[:nope:]]",
        ] {
            assert!(Regex::new(p).is_err(), "{p}");
            assert!(regex_lite::Regex::new(p).is_err(), "{p}");
        }
    }
}
