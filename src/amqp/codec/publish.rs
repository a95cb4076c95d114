//! `basic.publish` read in place: its exchange and routing key borrowed from
//! the frame, so the busiest method of all costs no allocation. Anything
//! this does not take (a malformed publish included) goes through
//! [`Method::decode_payload`](super::Method::decode_payload), which gives
//! the canonical error.

use super::method::BasicPublish;

/// The arguments of a well-formed `basic.publish`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PublishRef<'a> {
    pub ticket: u16,
    pub exchange: &'a str,
    pub routing_key: &'a str,
    pub mandatory: bool,
    pub immediate: bool,
}

impl<'a> PublishRef<'a> {
    /// A method payload (class and method ids first) that is a valid
    /// `basic.publish`; None for any other method or a malformed one.
    /// Read by slice patterns, the ids and ticket in one match, rather
    /// than field by field through a `Reader`: every message pays it.
    pub fn read(payload: &'a [u8]) -> Option<Self> {
        let [c0, c1, m0, m1, t0, t1, rest @ ..] = payload else {
            return None;
        };
        let [k0, k1] = BasicPublish::CLASS_ID.to_be_bytes();
        let [n0, n1] = BasicPublish::METHOD_ID.to_be_bytes();
        if [*c0, *c1, *m0, *m1] != [k0, k1, n0, n1] {
            return None;
        }
        let (exchange, rest) = short_text(rest)?;
        let (routing_key, rest) = short_text(rest)?;
        // The bits, and nothing after them.
        let [bits] = rest else {
            return None;
        };
        Some(PublishRef {
            ticket: u16::from_be_bytes([*t0, *t1]),
            exchange,
            routing_key,
            mandatory: bits & 1 != 0,
            immediate: bits & 2 != 0,
        })
    }
}

/// A short string that is UTF-8, and the bytes after it.
fn short_text(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let (&len, rest) = bytes.split_first()?;
    let (text, rest) = rest.split_at_checked(usize::from(len))?;
    let text = match text {
        [] => "", // the default exchange, on most publishes
        _ => std::str::from_utf8(text).ok()?,
    };
    Some((text, rest))
}
