//! Headers-exchange matching, as RabbitMQ 4.x's `rabbit_exchange_type_headers`
//! does it.
//!
//! - `x-match` is `all` (also the default, and the fallback for any value that
//!   slipped past validation), `any`, `all-with-x` or `any-with-x`.
//! - In `all`/`any` every binding argument whose key starts with `x-` is
//!   skipped (so `x-` headers can never take part). In the `-with-x` variants
//!   only `x-match` itself is skipped and `x-` headers are compared like any
//!   other.
//! - A binding argument of type void matches on the header's presence alone.
//! - `all` with nothing left to compare matches every message; `any` with
//!   nothing left matches none.
//! - Values compare the way Erlang's `=:=` compares the decoded terms: every
//!   integer width is one integer (`I8(1)` equals `I64(1)`), a float equals a
//!   double of the same value, a long string equals a byte array with the same
//!   bytes, and arrays and tables compare element by element *with* their field
//!   types. An integer never equals a float. (RabbitMQ 3.10 compared with
//!   `==`: any two numbers of the same value, timestamps among them.)
//! - Where a header key appears twice, the last one counts.
//!
//! One deliberate difference: RabbitMQ 4.x turns a header timestamp into
//! milliseconds before comparing but leaves the binding's value in seconds, so
//! a timestamp binding never matches the same timestamp. Here a timestamp
//! equals a timestamp with the same value, and nothing else.

use crate::broker::error::AmqpError;
use crate::broker::float_text::write_f64_debug;
use crate::broker::value::{FieldTable, FieldValue, ShortStr};
use std::fmt::Write as _;

/// How a binding's arguments combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XMatch {
    All,
    Any,
    AllWithX,
    AnyWithX,
}

impl XMatch {
    /// The mode a binding routes with. Anything but the three other known
    /// strings means `all`, as in RabbitMQ (bindings declared before the
    /// argument was validated keep working).
    pub fn of(binding_args: &FieldTable) -> XMatch {
        match binding_args.get("x-match") {
            Some(FieldValue::LongStr(v)) => match v.as_slice() {
                b"any" => XMatch::Any,
                b"all-with-x" => XMatch::AllWithX,
                b"any-with-x" => XMatch::AnyWithX,
                _ => XMatch::All,
            },
            _ => XMatch::All,
        }
    }

    fn with_x(self) -> bool {
        matches!(self, XMatch::AllWithX | XMatch::AnyWithX)
    }
}

/// Whether a message with `headers` matches a binding with `binding_args`.
pub fn headers_match(binding_args: &FieldTable, headers: Option<&FieldTable>) -> bool {
    let mode = XMatch::of(binding_args);
    let with_x = mode.with_x();
    let mut considered = binding_args.iter().filter(|(k, _)| {
        if with_x {
            k.as_str() != "x-match"
        } else {
            !k.as_bytes().starts_with(b"x-")
        }
    });
    let arg_matches = |(key, want): (&ShortStr, &FieldValue)| {
        let have = headers.and_then(|h| last_value(h, key));
        match (want, have) {
            (_, None) => false,
            (FieldValue::Void, Some(_)) => true,
            (want, Some(have)) => values_equal(want, have),
        }
    };
    match mode {
        XMatch::All | XMatch::AllWithX => considered.all(arg_matches),
        XMatch::Any | XMatch::AnyWithX => considered.any(arg_matches),
    }
}

/// RabbitMQ builds a map from the header list, so a repeated key keeps the
/// last value.
fn last_value<'a>(headers: &'a FieldTable, key: &str) -> Option<&'a FieldValue> {
    headers
        .0
        .iter()
        .rev()
        .find(|(k, _)| k.as_str() == key)
        .map(|(_, v)| v)
}

/// Equality of a binding value and a header value, as Erlang's `=:=` on the
/// decoded terms (see the module documentation).
fn values_equal(want: &FieldValue, have: &FieldValue) -> bool {
    use FieldValue::*;
    if let (Some(a), Some(b)) = (integer(want), integer(have)) {
        return a == b;
    }
    match (want, have) {
        (F32(_) | F64(_), F32(_) | F64(_)) => float(want) == float(have),
        (LongStr(a) | Bytes(a), LongStr(b) | Bytes(b)) => a == b,
        (Bool(a), Bool(b)) => a == b,
        (Timestamp(a), Timestamp(b)) => a == b,
        (Decimal { .. }, Decimal { .. }) | (Array(_), Array(_)) | (Table(_), Table(_)) => {
            want == have
        }
        _ => false,
    }
}

fn integer(v: &FieldValue) -> Option<i64> {
    use FieldValue::*;
    match *v {
        I8(n) => Some(n.into()),
        U8(n) => Some(n.into()),
        I16(n) => Some(n.into()),
        U16(n) => Some(n.into()),
        I32(n) => Some(n.into()),
        U32(n) => Some(n.into()),
        I64(n) => Some(n),
        _ => None,
    }
}

fn float(v: &FieldValue) -> Option<f64> {
    match *v {
        FieldValue::F32(f) => Some(f.into()),
        FieldValue::F64(f) => Some(f),
        _ => None,
    }
}

/// Checks a headers binding's `x-match` argument at bind time: absent, or one
/// of the four known long strings. Anything else is a 406 with RabbitMQ's text.
pub fn validate_x_match(args: &FieldTable) -> Result<(), AmqpError> {
    match args.get("x-match") {
        None => Ok(()),
        Some(FieldValue::LongStr(v))
            if matches!(
                v.as_slice(),
                b"all" | b"any" | b"all-with-x" | b"any-with-x"
            ) =>
        {
            Ok(())
        }
        Some(FieldValue::LongStr(v)) => Err(AmqpError::precondition(format_args!(
            "Invalid x-match field value {}; expected all, any, all-with-x, or any-with-x",
            erlang_binary(v)
        ))),
        Some(other) => Err(AmqpError::precondition(format_args!(
            "Invalid x-match field type {} (value {}); expected longstr",
            erlang_type(other),
            erlang_term(other)
        ))),
    }
}

/// The type names RabbitMQ's decoder gives field values (used in its texts).
pub(crate) fn erlang_type(v: &FieldValue) -> &'static str {
    use FieldValue::*;
    match v {
        Bool(_) => "bool",
        I8(_) => "byte",
        U8(_) => "unsignedbyte",
        I16(_) => "short",
        U16(_) => "unsignedshort",
        I32(_) => "signedint",
        U32(_) => "unsignedint",
        I64(_) => "long",
        F32(_) => "float",
        F64(_) => "double",
        Decimal { .. } => "decimal",
        LongStr(_) => "longstr",
        Array(_) => "array",
        Timestamp(_) => "timestamp",
        Table(_) => "table",
        Void => "void",
        Bytes(_) => "binary",
    }
}

/// A value printed the way Erlang's `~tp` prints the decoded term, so error
/// texts read like RabbitMQ's.
pub(crate) fn erlang_term(v: &FieldValue) -> String {
    let mut out = String::new();
    write_term(&mut out, v);
    out
}

fn write_term(out: &mut String, v: &FieldValue) {
    use FieldValue::*;
    match v {
        Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        F32(f) => write_f64_debug(out, f64::from(*f)),
        F64(f) => write_f64_debug(out, *f),
        Decimal { scale, value } => {
            let _ = write!(out, "{{{scale},{value}}}");
        }
        LongStr(b) | Bytes(b) => out.push_str(&erlang_binary(b)),
        Timestamp(t) => {
            let _ = write!(out, "{t}");
        }
        Void => out.push_str("undefined"),
        Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{{{},", erlang_type(item));
                write_term(out, item);
                out.push('}');
            }
            out.push(']');
        }
        Table(t) => {
            out.push('[');
            for (i, (k, item)) in t.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(
                    out,
                    "{{{},{},",
                    erlang_binary(k.as_bytes()),
                    erlang_type(item)
                );
                write_term(out, item);
                out.push('}');
            }
            out.push(']');
        }
        other => match integer(other) {
            Some(n) => {
                let _ = write!(out, "{n}");
            }
            None => out.push('?'),
        },
    }
}

/// `<<"text">>` for printable ASCII, `<<"text"/utf8>>` for other printable
/// UTF-8, `<<1,2,3>>` for anything else.
fn erlang_binary(bytes: &[u8]) -> String {
    let printable = |c: char| !c.is_control();
    match std::str::from_utf8(bytes) {
        Ok(s) if s.chars().all(printable) => {
            let mut out = String::with_capacity(s.len() + 6);
            out.push_str("<<\"");
            for c in s.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
            if !s.is_ascii() {
                out.push_str("/utf8");
            }
            out.push_str(">>");
            out
        }
        _ => {
            let mut out = String::from("<<");
            for (i, b) in bytes.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{b}");
            }
            out.push_str(">>");
            out
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::broker::error::ReplyCode;

    fn s(v: &str) -> FieldValue {
        FieldValue::str(v)
    }

    fn table(pairs: &[(&str, FieldValue)]) -> FieldTable {
        pairs
            .iter()
            .fold(FieldTable::new(), |t, (k, v)| t.with(k, v.clone()))
    }

    #[test]
    fn all_requires_every_non_x_argument() {
        let b = table(&[("format", s("pdf")), ("type", s("report"))]);
        let both = table(&[("format", s("pdf")), ("type", s("report")), ("z", s("1"))]);
        let one = table(&[("format", s("pdf"))]);
        assert!(headers_match(&b, Some(&both)));
        assert!(!headers_match(&b, Some(&one)));
        assert!(!headers_match(&b, None));
        let explicit = b.clone().with("x-match", s("all"));
        assert!(headers_match(&explicit, Some(&both)));
        assert!(!headers_match(&explicit, Some(&one)));
    }

    #[test]
    fn any_requires_one_non_x_argument() {
        let b = table(&[
            ("x-match", s("any")),
            ("format", s("pdf")),
            ("type", s("log")),
        ]);
        assert!(headers_match(&b, Some(&table(&[("format", s("pdf"))]))));
        assert!(headers_match(&b, Some(&table(&[("type", s("log"))]))));
        assert!(!headers_match(&b, Some(&table(&[("format", s("zip"))]))));
        assert!(!headers_match(&b, None));
    }

    #[test]
    fn all_without_arguments_matches_everything_and_any_nothing() {
        assert!(headers_match(&FieldTable::new(), None));
        assert!(headers_match(&table(&[("x-match", s("all"))]), None));
        assert!(headers_match(
            &table(&[("x-match", s("all")), ("x-foo", s("1"))]),
            Some(&table(&[("a", s("b"))]))
        ));
        assert!(!headers_match(&table(&[("x-match", s("any"))]), None));
        assert!(!headers_match(
            &table(&[("x-match", s("any")), ("x-foo", s("1"))]),
            Some(&table(&[("x-foo", s("1"))]))
        ));
        assert!(headers_match(&table(&[("x-match", s("all-with-x"))]), None));
        assert!(!headers_match(
            &table(&[("x-match", s("any-with-x"))]),
            None
        ));
    }

    #[test]
    fn x_arguments_are_skipped_unless_with_x() {
        let h = table(&[("x-tenant", s("acme")), ("kind", s("a"))]);
        let all = table(&[("x-tenant", s("other")), ("kind", s("a"))]);
        assert!(headers_match(&all, Some(&h)));
        let all_x = all.clone().with("x-match", s("all-with-x"));
        assert!(!headers_match(&all_x, Some(&h)));
        let all_x_ok = table(&[
            ("x-match", s("all-with-x")),
            ("x-tenant", s("acme")),
            ("kind", s("a")),
        ]);
        assert!(headers_match(&all_x_ok, Some(&h)));
        let any_x = table(&[("x-match", s("any-with-x")), ("x-tenant", s("acme"))]);
        assert!(headers_match(&any_x, Some(&h)));
        let any = table(&[("x-match", s("any")), ("x-tenant", s("acme"))]);
        assert!(!headers_match(&any, Some(&h)));
    }

    #[test]
    fn void_binding_value_matches_on_presence() {
        let b = table(&[("trace", FieldValue::Void)]);
        assert!(headers_match(&b, Some(&table(&[("trace", s("anything"))]))));
        assert!(headers_match(
            &b,
            Some(&table(&[("trace", FieldValue::Void)]))
        ));
        assert!(!headers_match(&b, Some(&table(&[("other", s("x"))]))));
        let b = table(&[("trace", s("on"))]);
        assert!(!headers_match(
            &b,
            Some(&table(&[("trace", FieldValue::Void)]))
        ));
    }

    #[test]
    fn integers_of_any_width_compare_by_value() {
        let b = table(&[("n", FieldValue::I8(7))]);
        for h in [
            FieldValue::U8(7),
            FieldValue::I16(7),
            FieldValue::U16(7),
            FieldValue::I32(7),
            FieldValue::U32(7),
            FieldValue::I64(7),
        ] {
            assert!(
                headers_match(&b, Some(&table(&[("n", h.clone())]))),
                "{h:?}"
            );
        }
        assert!(!headers_match(
            &b,
            Some(&table(&[("n", FieldValue::I64(8))]))
        ));
        assert!(!headers_match(
            &b,
            Some(&table(&[("n", FieldValue::F64(7.0))]))
        ));
        assert!(!headers_match(&b, Some(&table(&[("n", s("7"))]))));
        let neg = table(&[("n", FieldValue::I32(-1))]);
        assert!(!headers_match(
            &neg,
            Some(&table(&[("n", FieldValue::U32(u32::MAX))]))
        ));
    }

    #[test]
    fn floats_strings_and_bytes_compare_by_value() {
        let b = table(&[("f", FieldValue::F32(1.5))]);
        assert!(headers_match(
            &b,
            Some(&table(&[("f", FieldValue::F64(1.5))]))
        ));
        let b = table(&[("s", s("abc"))]);
        assert!(headers_match(
            &b,
            Some(&table(&[("s", FieldValue::Bytes(b"abc".to_vec()))]))
        ));
        assert!(!headers_match(&b, Some(&table(&[("s", s("abd"))]))));
        let b = table(&[("t", FieldValue::Bool(true))]);
        assert!(headers_match(
            &b,
            Some(&table(&[("t", FieldValue::Bool(true))]))
        ));
        assert!(!headers_match(
            &b,
            Some(&table(&[("t", FieldValue::I8(1))]))
        ));
    }

    #[test]
    fn timestamps_match_only_timestamps() {
        let b = table(&[("at", FieldValue::Timestamp(1_700_000_000))]);
        assert!(headers_match(
            &b,
            Some(&table(&[("at", FieldValue::Timestamp(1_700_000_000))]))
        ));
        assert!(!headers_match(
            &b,
            Some(&table(&[("at", FieldValue::I64(1_700_000_000))]))
        ));
    }

    #[test]
    fn arrays_and_tables_compare_with_element_types() {
        let arr = |v: FieldValue| FieldValue::Array(vec![s("a"), v]);
        let b = table(&[("l", arr(FieldValue::I32(1)))]);
        assert!(headers_match(
            &b,
            Some(&table(&[("l", arr(FieldValue::I32(1)))]))
        ));
        assert!(!headers_match(
            &b,
            Some(&table(&[("l", arr(FieldValue::I64(1)))]))
        ));
        let inner = FieldValue::Table(table(&[("k", s("v"))]));
        let b = table(&[("t", inner.clone())]);
        assert!(headers_match(&b, Some(&table(&[("t", inner)]))));
        assert!(!headers_match(
            &b,
            Some(&table(&[("t", FieldValue::Table(table(&[("k", s("w"))])))]))
        ));
    }

    #[test]
    fn repeated_header_keys_use_the_last_value() {
        let mut h = table(&[("k", s("first"))]);
        h.0.push((ShortStr::new("k").unwrap(), s("last")));
        assert!(headers_match(&table(&[("k", s("last"))]), Some(&h)));
        assert!(!headers_match(&table(&[("k", s("first"))]), Some(&h)));
    }

    #[test]
    fn unknown_x_match_routes_as_all() {
        let b = table(&[
            ("x-match", FieldValue::I32(1)),
            ("a", s("1")),
            ("b", s("2")),
        ]);
        assert!(!headers_match(&b, Some(&table(&[("a", s("1"))]))));
        assert!(headers_match(
            &b,
            Some(&table(&[("a", s("1")), ("b", s("2"))]))
        ));
    }

    #[test]
    fn validate_x_match_accepts_the_four_modes_or_none() {
        assert!(validate_x_match(&FieldTable::new()).is_ok());
        for mode in ["all", "any", "all-with-x", "any-with-x"] {
            assert!(
                validate_x_match(&table(&[("x-match", s(mode))])).is_ok(),
                "{mode}"
            );
        }
    }

    #[test]
    fn validate_x_match_rejects_other_strings_with_rabbitmq_text() {
        let e = validate_x_match(&table(&[("x-match", s("some"))])).unwrap_err();
        assert_eq!(e.code, ReplyCode::PreconditionFailed);
        assert_eq!(
            e.text,
            "PRECONDITION_FAILED - Invalid x-match field value <<\"some\">>; \
             expected all, any, all-with-x, or any-with-x"
        );
        let e = validate_x_match(&table(&[("x-match", s("ALL"))])).unwrap_err();
        assert!(e.text.contains("<<\"ALL\">>"));
        let e = validate_x_match(&table(&[("x-match", s("tout/ö"))])).unwrap_err();
        assert!(e.text.contains("<<\"tout/ö\"/utf8>>"), "{}", e.text);
        let e = validate_x_match(&table(&[("x-match", FieldValue::LongStr(vec![0, 255]))]))
            .unwrap_err();
        assert!(e.text.contains("<<0,255>>"), "{}", e.text);
    }

    #[test]
    fn validate_x_match_rejects_other_types_with_rabbitmq_text() {
        let e = validate_x_match(&table(&[("x-match", FieldValue::I32(1))])).unwrap_err();
        assert_eq!(e.code, ReplyCode::PreconditionFailed);
        assert_eq!(
            e.text,
            "PRECONDITION_FAILED - Invalid x-match field type signedint (value 1); expected longstr"
        );
        // Floats as `{:?}` prints them (shortest digits, an exponent when far from 1).
        let e = validate_x_match(&table(&[("x-match", FieldValue::F64(1.5e-7))])).unwrap_err();
        assert_eq!(
            e.text,
            "PRECONDITION_FAILED - Invalid x-match field type double (value 1.5e-7); expected longstr"
        );
        let e = validate_x_match(&table(&[("x-match", FieldValue::F32(0.1))])).unwrap_err();
        assert!(
            e.text.contains("float (value 0.10000000149011612)"),
            "{}",
            e.text
        );
        let e = validate_x_match(&table(&[("x-match", FieldValue::Bytes(b"all".to_vec()))]))
            .unwrap_err();
        assert_eq!(
            e.text,
            "PRECONDITION_FAILED - Invalid x-match field type binary (value <<\"all\">>); \
             expected longstr"
        );
        let e = validate_x_match(&table(&[(
            "x-match",
            FieldValue::Array(vec![s("all"), FieldValue::Bool(true)]),
        )]))
        .unwrap_err();
        assert!(
            e.text
                .contains("(value [{longstr,<<\"all\">>},{bool,true}])"),
            "{}",
            e.text
        );
    }
}
