//! Topic-exchange matching: binding keys with `*` (exactly one word) and `#`
//! (zero or more words), words separated by `.`.
//!
//! Word splitting follows RabbitMQ (`rabbit_db_topic_exchange:split_topic_key`):
//! empty words are words (`a..b` is three words, `a.` is two), but the empty
//! key is *zero* words, not one empty word. So `#` and the empty binding key
//! match the empty routing key, while `*` does not (it needs one word); `*.*`
//! matches `.` (two empty words).
//!
//! A binding key is compiled once; matching allocates nothing and runs in
//! O(words x tokens) even with many `#`: consecutive `#` collapse into one and
//! the match backtracks only to the most recent `#` (the classic greedy
//! wildcard algorithm), never exponentially.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
enum Token {
    Word(Box<[u8]>),
    /// `*`: exactly one word.
    One,
    /// `#`: zero or more words.
    Any,
}

/// What a pattern can be reduced to before any word-by-word matching.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// No wildcard at all: equal keys, byte for byte.
    Literal,
    /// Only `#` tokens: matches every routing key.
    Everything,
    General,
}

/// A compiled topic binding key.
#[derive(Clone, PartialEq, Eq)]
pub struct TopicPattern {
    key: Box<str>,
    tokens: Box<[Token]>,
    shape: Shape,
}

impl TopicPattern {
    pub fn new(binding_key: &str) -> TopicPattern {
        let mut tokens: Vec<Token> = Vec::new();
        if !binding_key.is_empty() {
            for word in binding_key.split('.') {
                let token = match word {
                    "*" => Token::One,
                    "#" => Token::Any,
                    w => Token::Word(w.as_bytes().into()),
                };
                // `#.#` matches exactly what `#` matches; one is enough, and it
                // keeps the backtracking bound linear in the pattern.
                if token == Token::Any && tokens.last() == Some(&Token::Any) {
                    continue;
                }
                tokens.push(token);
            }
        }
        let shape = if tokens.iter().all(|t| matches!(t, Token::Word(_))) {
            Shape::Literal
        } else if tokens.iter().all(|t| *t == Token::Any) {
            Shape::Everything
        } else {
            Shape::General
        };
        TopicPattern {
            key: binding_key.into(),
            tokens: tokens.into_boxed_slice(),
            shape,
        }
    }

    pub fn matches(&self, routing_key: &str) -> bool {
        match self.shape {
            Shape::Literal => *self.key == *routing_key,
            Shape::Everything => true,
            Shape::General => self.matches_words(routing_key.as_bytes()),
        }
    }

    fn matches_words(&self, key: &[u8]) -> bool {
        let toks = &self.tokens;
        let mut words = Words::new(key);
        let mut t = 0;
        // The most recent `#`: its token index and where its match would
        // resume if the words after it fail.
        let mut backtrack: Option<(usize, Words)> = None;
        while let Some((word, rest)) = words.next_word() {
            match toks.get(t) {
                Some(Token::Any) => {
                    // Try `#` as zero words first; remember how to widen it.
                    backtrack = Some((t, words));
                    t += 1;
                    continue;
                }
                Some(Token::One) => {
                    t += 1;
                    words = rest;
                    continue;
                }
                Some(Token::Word(w)) if **w == *word => {
                    t += 1;
                    words = rest;
                    continue;
                }
                _ => {}
            }
            // Mismatch: let the last `#` swallow one more word.
            match backtrack.as_mut() {
                Some((hash_at, resume)) => {
                    match resume.next_word() {
                        Some((_, after)) => *resume = after,
                        None => return false,
                    }
                    t = *hash_at + 1;
                    words = *resume;
                }
                None => return false,
            }
        }
        toks.iter().skip(t).all(|tok| *tok == Token::Any)
    }
}

/// A cursor over the words of a routing key that never allocates.
#[derive(Clone, Copy)]
struct Words<'a> {
    key: &'a [u8],
    /// Start of the next word; `None` once every word has been taken.
    at: Option<usize>,
}

impl<'a> Words<'a> {
    fn new(key: &'a [u8]) -> Self {
        Words {
            key,
            at: if key.is_empty() { None } else { Some(0) },
        }
    }

    /// The next word and the cursor after it.
    fn next_word(&self) -> Option<(&'a [u8], Words<'a>)> {
        let start = self.at?;
        let rest = self.key.get(start..)?;
        let (word, at) = match rest.iter().position(|&b| b == b'.') {
            Some(dot) => (rest.get(..dot)?, Some(start + dot + 1)),
            None => (rest, None),
        };
        Some((word, Words { key: self.key, at }))
    }
}

impl fmt::Debug for TopicPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TopicPattern").field(&self.key).finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    fn m(pattern: &str, key: &str) -> bool {
        TopicPattern::new(pattern).matches(key)
    }

    #[test]
    fn tutorial_bindings_route_like_rabbitmq() {
        // RabbitMQ tutorial 5.
        assert!(m("*.orange.*", "quick.orange.rabbit"));
        assert!(m("*.*.rabbit", "quick.orange.rabbit"));
        assert!(m("*.orange.*", "lazy.orange.elephant"));
        assert!(m("lazy.#", "lazy.orange.elephant"));
        assert!(!m("*.orange.*", "quick.brown.fox"));
        assert!(!m("*.*.rabbit", "quick.brown.fox"));
        assert!(!m("lazy.#", "quick.brown.fox"));
        assert!(m("lazy.#", "lazy.brown.fox"));
        assert!(m("lazy.#", "lazy.pink.rabbit"));
        assert!(m("*.*.rabbit", "lazy.pink.rabbit"));
        assert!(!m("*.orange.*", "orange"));
        assert!(!m("*.orange.*", "quick.orange.male.rabbit"));
        assert!(m("lazy.#", "lazy.orange.male.rabbit"));
        assert!(!m("*.*.rabbit", "quick.orange.new.rabbit"));
    }

    #[test]
    fn hash_alone_matches_every_key_including_empty() {
        for key in ["", "a", "a.b", ".", "..", "a..b"] {
            assert!(m("#", key), "{key:?}");
            assert!(m("#.#", key), "{key:?}");
            assert!(m("#.#.#", key), "{key:?}");
        }
    }

    #[test]
    fn empty_key_is_zero_words() {
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(!m("a", ""));
        assert!(!m("*", ""));
        assert!(m("#", ""));
        assert!(!m("*.#", ""));
        assert!(!m("#.*", ""));
    }

    #[test]
    fn empty_words_are_words() {
        assert!(m("*", "a"));
        assert!(!m("*", "."));
        assert!(m("*.*", "."));
        assert!(m("a.*.b", "a..b"));
        assert!(m("a..b", "a..b"));
        assert!(!m("a.b", "a..b"));
        assert!(m("a.*", "a."));
        assert!(m("a.#", "a."));
        assert!(m("*.a", ".a"));
        // `..` is three empty words.
        assert!(m("*.*.*", ".."));
        assert!(m("#.*.*", ".."));
        assert!(!m("#.*.*.*.*", ".."));
    }

    #[test]
    fn hash_matches_zero_or_more_words_at_either_end() {
        assert!(m("a.#", "a"));
        assert!(m("a.#", "a.b.c"));
        assert!(!m("a.#", "b.a"));
        assert!(m("#.a", "a"));
        assert!(m("#.a", "x.y.a"));
        assert!(!m("#.a", "a.x"));
        assert!(m("#.a.#", "a"));
        assert!(m("#.a.#", "x.a.y"));
        assert!(!m("#.a.#", "x.b.y"));
        assert!(m("a.#.b", "a.b"));
        assert!(m("a.#.b", "a.x.y.b"));
        assert!(!m("a.#.b", "a.x.y.c"));
    }

    #[test]
    fn star_then_hash_needs_at_least_one_word() {
        assert!(!m("a.*.#", "a"));
        assert!(m("a.*.#", "a.b"));
        assert!(m("a.*.#", "a.b.c.d"));
        assert!(m("a.#.*", "a.b"));
        assert!(!m("a.#.*", "a"));
        assert!(m("#.*", "a"));
        assert!(m("*.#", "a.b.c"));
    }

    #[test]
    fn literal_keys_compare_whole_strings() {
        assert!(m("a.b.c", "a.b.c"));
        assert!(!m("a.b.c", "a.b"));
        assert!(!m("a.b", "a.b.c"));
        assert!(!m("a", "ab"));
    }

    #[test]
    fn wildcards_inside_a_word_are_literal() {
        assert!(m("a*", "a*"));
        assert!(!m("a*", "ab"));
        assert!(m("#a", "#a"));
        assert!(!m("#a", "a"));
    }

    #[test]
    fn routing_key_wildcard_characters_are_plain_words() {
        assert!(m("*", "#"));
        assert!(!m("a", "*"));
        assert!(!m("a.b", "#"));
    }

    #[test]
    fn many_hashes_do_not_backtrack_exponentially() {
        let pattern = "#.a.".repeat(60) + "b";
        let key = "a.".repeat(2000) + "c";
        let p = TopicPattern::new(&pattern);
        assert!(!p.matches(&key));
        let key = "a.".repeat(2000) + "b";
        assert!(p.matches(&key));
    }

    #[test]
    fn non_ascii_words_match_bytewise() {
        assert!(m("växjö.*", "växjö.ö"));
        assert!(!m("växjö.*", "vaxjo.o"));
    }

    /// Straightforward recursive definition, used as the oracle.
    fn reference(pattern: &[&str], words: &[&str]) -> bool {
        match pattern.split_first() {
            None => words.is_empty(),
            Some((&"#", rest)) => (0..=words.len()).any(|skip| reference(rest, &words[skip..])),
            Some((&"*", rest)) => !words.is_empty() && reference(rest, &words[1..]),
            Some((w, rest)) => words.first() == Some(w) && reference(rest, &words[1..]),
        }
    }

    fn split(key: &str) -> Vec<&str> {
        if key.is_empty() {
            Vec::new()
        } else {
            key.split('.').collect()
        }
    }

    proptest! {
        #[test]
        fn agrees_with_the_recursive_definition(
            pattern in proptest::collection::vec(
                prop_oneof![Just("#"), Just("*"), Just("a"), Just("b"), Just("")], 0..7),
            key in proptest::collection::vec(
                prop_oneof![Just("a"), Just("b"), Just("")], 0..8),
        ) {
            let pattern = pattern.join(".");
            let key = key.join(".");
            let expected = reference(&split(&pattern), &split(&key));
            prop_assert_eq!(m(&pattern, &key), expected, "{:?} vs {:?}", pattern, key);
        }
    }
}
