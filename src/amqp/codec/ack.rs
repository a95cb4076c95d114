//! `basic.ack` read in place: a client acking each delivery sends one per
//! message, and decoding it into a [`Method`](super::Method) first costs
//! more than the ack itself. Anything this does not take (a malformed ack
//! included) goes through [`Method::decode_payload`](super::Method::decode_payload),
//! which gives the canonical error.

use super::method::BasicAck;

/// The arguments of a well-formed `basic.ack`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AckRef {
    pub delivery_tag: u64,
    pub multiple: bool,
}

impl AckRef {
    /// A method payload (class and method ids first) that is a valid
    /// `basic.ack`; None for any other method or a malformed one. The
    /// octet's other bits are ignored, as the decoder ignores them.
    pub fn read(payload: &[u8]) -> Option<Self> {
        let [c0, c1, m0, m1, t0, t1, t2, t3, t4, t5, t6, t7, bits] = payload else {
            return None;
        };
        let [k0, k1] = BasicAck::CLASS_ID.to_be_bytes();
        let [n0, n1] = BasicAck::METHOD_ID.to_be_bytes();
        if [*c0, *c1, *m0, *m1] != [k0, k1, n0, n1] {
            return None;
        }
        Some(AckRef {
            delivery_tag: u64::from_be_bytes([*t0, *t1, *t2, *t3, *t4, *t5, *t6, *t7]),
            multiple: bits & 1 != 0,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::amqp::codec::method::{BasicNack, Method};

    fn ack_payload(tag: u64, bits: u8) -> Vec<u8> {
        let mut p = vec![0, 60, 0, 80];
        p.extend_from_slice(&tag.to_be_bytes());
        p.push(bits);
        p
    }

    /// Whatever the fast path reads, the decoder reads the same; every ack
    /// the decoder accepts, the fast path takes.
    fn agrees(payload: &[u8]) {
        let decoded = Method::decode_payload(payload);
        match (AckRef::read(payload), decoded) {
            (Some(a), Ok(Method::BasicAck(m))) => {
                assert_eq!((a.delivery_tag, a.multiple), (m.delivery_tag, m.multiple))
            }
            (None, Ok(Method::BasicAck(m))) => panic!("fast path missed {m:?} in {payload:?}"),
            (Some(a), other) => panic!("fast path read {a:?} where the decoder gave {other:?}"),
            (None, _) => {}
        }
    }

    #[test]
    fn reads_what_the_decoder_reads() {
        for tag in [0, 1, 255, 256, u64::from(u32::MAX) + 1, u64::MAX] {
            for bits in 0..=255u8 {
                agrees(&ack_payload(tag, bits));
            }
        }
        let ack = ack_payload(7, 1);
        // Cut short anywhere, or one byte too long.
        for len in 0..ack.len() {
            agrees(&ack[..len]);
        }
        let mut long = ack.clone();
        long.push(0);
        agrees(&long);
        assert_eq!(AckRef::read(&long), None);
        // Another method with the same shape of arguments.
        let mut nack = Vec::new();
        Method::from(BasicNack {
            delivery_tag: 7,
            multiple: true,
            requeue: false,
        })
        .encode(&mut nack);
        agrees(&nack);
        assert_eq!(AckRef::read(&nack), None);
        let mut reject = ack.clone();
        reject[3] = 90; // basic.reject: tag and requeue, the same 13 bytes
        agrees(&reject);
        assert_eq!(AckRef::read(&reject), None);
    }

    #[test]
    fn multiple_is_the_lowest_bit() {
        let read = |bits| AckRef::read(&ack_payload(42, bits)).unwrap();
        assert_eq!(
            read(0),
            AckRef {
                delivery_tag: 42,
                multiple: false
            }
        );
        assert_eq!(
            read(1),
            AckRef {
                delivery_tag: 42,
                multiple: true
            }
        );
        assert_eq!(
            read(0b10),
            AckRef {
                delivery_tag: 42,
                multiple: false
            }
        );
    }
}
