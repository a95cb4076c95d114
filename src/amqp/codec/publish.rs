//! `basic.publish` read in place: its exchange and routing key borrowed from
//! the frame, so the busiest method of all costs no allocation. Anything
//! this does not take (a malformed publish included) goes through
//! [`Method::decode_payload`](super::Method::decode_payload), which gives
//! the canonical error.

use super::method::BasicPublish;
use super::reader::Reader;

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
    pub fn read(payload: &'a [u8]) -> Option<Self> {
        let mut r = Reader::new(payload);
        if (r.u16().ok()?, r.u16().ok()?) != (BasicPublish::CLASS_ID, BasicPublish::METHOD_ID) {
            return None;
        }
        let ticket = r.u16().ok()?;
        let exchange = short_text(&mut r)?;
        let routing_key = short_text(&mut r)?;
        let bits = r.u8().ok()?;
        r.finish().ok()?;
        Some(PublishRef {
            ticket,
            exchange,
            routing_key,
            mandatory: bits & 1 != 0,
            immediate: bits & 2 != 0,
        })
    }
}

fn short_text<'a>(r: &mut Reader<'a>) -> Option<&'a str> {
    match r.u8().ok()? {
        0 => Some(""), // the default exchange, on most publishes
        len => std::str::from_utf8(r.bytes(usize::from(len)).ok()?).ok(),
    }
}
