//! Checks the codec against RabbitMQ's machine-readable AMQP 0-9-1 spec
//! (`spec/amqp-rabbitmq-0.9.1.json`, kept in this repository): every class and method, with the
//! same ids, argument names, order and types; the basic properties; frame
//! constants; reply codes.

use std::collections::BTreeMap;
use warren::amqp::codec::{
    method_info, spec_fields, FieldKind, BASIC_PROPERTIES, FRAME_BODY, FRAME_END, FRAME_HEADER,
    FRAME_HEARTBEAT, FRAME_METHOD, FRAME_MIN_SIZE, METHODS,
};
use warren::broker::ReplyCode;

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/amqp-rabbitmq-0.9.1.json");

fn load_spec() -> Json {
    let text = std::fs::read_to_string(SPEC).unwrap_or_else(|e| {
        panic!("cannot read the AMQP spec at {SPEC}: {e} (the repository's own copy, see spec/README.md)")
    });
    Json::parse(&text).unwrap_or_else(|e| panic!("cannot parse {SPEC}: {e}"))
}

/// The spec's field name as a Rust field name.
fn rust_name(spec_name: &str) -> String {
    match spec_name {
        "type" => "kind".to_string(),
        other => other.replace('-', "_"),
    }
}

fn kind(spec_type: &str) -> FieldKind {
    match spec_type {
        "bit" => FieldKind::Bit,
        "octet" => FieldKind::Octet,
        "short" => FieldKind::Short,
        "long" => FieldKind::Long,
        "longlong" => FieldKind::LongLong,
        "shortstr" => FieldKind::ShortStr,
        "longstr" => FieldKind::LongStr,
        "timestamp" => FieldKind::Timestamp,
        "table" => FieldKind::Table,
        other => panic!("spec type {other:?} unknown to this test"),
    }
}

/// Domain name -> base type.
fn domains(spec: &Json) -> BTreeMap<String, String> {
    spec.get("domains")
        .array()
        .iter()
        .map(|d| {
            let pair = d.array();
            (pair[0].str().to_string(), pair[1].str().to_string())
        })
        .collect()
}

/// An argument's or property's field kind: `type` directly or via `domain`.
fn field_kind(field: &Json, domains: &BTreeMap<String, String>) -> FieldKind {
    match field.opt("type") {
        Some(t) => kind(t.str()),
        None => {
            let domain = field.get("domain").str();
            kind(
                domains
                    .get(domain)
                    .unwrap_or_else(|| panic!("no domain {domain}")),
            )
        }
    }
}

#[test]
fn every_spec_method_is_in_the_codec_with_the_same_shape() {
    let spec = load_spec();
    let domains = domains(&spec);
    let mut count = 0;
    for class in spec.get("classes").array() {
        let class_name = class.get("name").str();
        let class_id = class.get("id").num() as u16;
        for method in class.get("methods").array() {
            count += 1;
            let method_id = method.get("id").num() as u16;
            let name = format!("{class_name}.{}", method.get("name").str());
            let info = method_info(class_id, method_id).unwrap_or_else(|| {
                panic!("{name} ({class_id}.{method_id}) missing from the codec")
            });
            assert_eq!(info.name, name);
            assert_eq!((info.class_id, info.method_id), (class_id, method_id));
            let content = method.opt("content").map(Json::bool).unwrap_or(false);
            assert_eq!(info.has_content, content, "{name}: content flag");
            let expected: Vec<(String, FieldKind)> = method
                .get("arguments")
                .array()
                .iter()
                .map(|a| (rust_name(a.get("name").str()), field_kind(a, &domains)))
                .collect();
            let actual: Vec<(String, FieldKind)> = spec_fields(class_id, method_id)
                .unwrap()
                .iter()
                .map(|(n, k)| (n.to_string(), *k))
                .collect();
            assert_eq!(actual, expected, "{name}: arguments");
        }
    }
    assert_eq!(METHODS.len(), count, "the codec has methods the spec lacks");
}

#[test]
fn basic_properties_match_the_spec() {
    let spec = load_spec();
    let domains = domains(&spec);
    let basic = spec
        .get("classes")
        .array()
        .iter()
        .find(|c| c.get("name").str() == "basic")
        .expect("class basic");
    assert_eq!(basic.get("id").num(), 60.0);
    let expected: Vec<(String, FieldKind)> = basic
        .get("properties")
        .array()
        .iter()
        .map(|p| (rust_name(p.get("name").str()), field_kind(p, &domains)))
        .collect();
    let actual: Vec<(String, FieldKind)> = BASIC_PROPERTIES
        .iter()
        .map(|(n, k)| (n.to_string(), *k))
        .collect();
    assert_eq!(actual, expected);
    // No other class carries properties.
    for class in spec.get("classes").array() {
        if class.get("name").str() != "basic" {
            let props = class.opt("properties").map(Json::array).unwrap_or(&[]);
            assert!(
                props.is_empty(),
                "{} has properties",
                class.get("name").str()
            );
        }
    }
}

#[test]
fn frame_constants_and_reply_codes_match_the_spec() {
    let spec = load_spec();
    for c in spec.get("constants").array() {
        let name = c.get("name").str();
        let value = c.get("value").num() as u32;
        match name {
            "FRAME-METHOD" => assert_eq!(value, u32::from(FRAME_METHOD)),
            "FRAME-HEADER" => assert_eq!(value, u32::from(FRAME_HEADER)),
            "FRAME-BODY" => assert_eq!(value, u32::from(FRAME_BODY)),
            "FRAME-HEARTBEAT" => assert_eq!(value, u32::from(FRAME_HEARTBEAT)),
            "FRAME-END" => assert_eq!(value, u32::from(FRAME_END)),
            "FRAME-MIN-SIZE" => assert_eq!(value, FRAME_MIN_SIZE),
            "REPLY-SUCCESS" => assert_eq!(value, 200),
            _ => {
                let code = ReplyCode::from_code(value as u16)
                    .unwrap_or_else(|| panic!("reply code {name} = {value} missing"));
                assert_eq!(code.name(), name.replace('-', "_"));
                let soft = c.get("class").str() == "soft-error";
                assert_eq!(code.is_soft(), soft, "{name}: soft or hard");
            }
        }
    }
}

// A small JSON reader: enough for the spec file (objects, arrays, strings with
// escapes, numbers, booleans, null).

#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn parse(text: &str) -> Result<Json, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("trailing data at byte {}", p.i));
        }
        Ok(v)
    }

    fn opt(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn get(&self, key: &str) -> &Json {
        self.opt(key)
            .unwrap_or_else(|| panic!("no key {key:?} in {self:?}"))
    }

    fn array(&self) -> &[Json] {
        match self {
            Json::Arr(a) => a,
            other => panic!("not an array: {other:?}"),
        }
    }

    fn str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }

    fn num(&self) -> f64 {
        match self {
            Json::Num(n) => *n,
            other => panic!("not a number: {other:?}"),
        }
    }

    fn bool(&self) -> bool {
        match self {
            Json::Bool(b) => *b,
            other => panic!("not a boolean: {other:?}"),
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> Result<(), String> {
        if self.peek() == Some(b) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at byte {}", b as char, self.i))
        }
    }

    fn literal(&mut self, word: &str, v: Json) -> Result<Json, String> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(format!("bad literal at byte {}", self.i))
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        match self.peek().ok_or("unexpected end")? {
            b'{' => {
                self.i += 1;
                let mut entries = Vec::new();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(entries));
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    self.eat(b':')?;
                    entries.push((key, self.value()?));
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        _ => break,
                    }
                }
                self.eat(b'}')?;
                Ok(Json::Obj(entries))
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    items.push(self.value()?);
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        _ => break,
                    }
                }
                self.eat(b']')?;
                Ok(Json::Arr(items))
            }
            b'"' => self.string().map(Json::Str),
            b't' => self.literal("true", Json::Bool(true)),
            b'f' => self.literal("false", Json::Bool(false)),
            b'n' => self.literal("null", Json::Null),
            _ => {
                let start = self.i;
                while self.i < self.s.len() && b"+-.eE0123456789".contains(&self.s[self.i]) {
                    self.i += 1;
                }
                let text =
                    std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?;
                text.parse()
                    .map(Json::Num)
                    .map_err(|_| format!("bad number {text:?} at byte {start}"))
            }
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.eat(b'"')?;
        let mut out = Vec::new();
        loop {
            let b = *self.s.get(self.i).ok_or("unterminated string")?;
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let e = *self.s.get(self.i).ok_or("unterminated escape")?;
                    self.i += 1;
                    let c = match e {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'u' => {
                            let hex = self.s.get(self.i..self.i + 4).ok_or("short \\u escape")?;
                            self.i += 4;
                            let code = u32::from_str_radix(std::str::from_utf8(hex).unwrap(), 16)
                                .map_err(|e| e.to_string())?;
                            char::from_u32(code).unwrap_or('\u{fffd}')
                        }
                        other => other as char,
                    };
                    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                }
                _ => out.push(b),
            }
        }
        String::from_utf8(out).map_err(|e| e.to_string())
    }
}

#[test]
fn the_json_reader_reads_what_the_spec_uses() {
    let v = Json::parse(r#" {"a": [1, -2.5e1, true, false, null], "b\n": "x\"\u00e9"} "#).unwrap();
    assert_eq!(v.get("a").array()[1].num(), -25.0);
    assert_eq!(v.get("b\n").str(), "x\"é");
    assert!(Json::parse("[1,]").is_err());
    assert!(Json::parse("{} x").is_err());
}
