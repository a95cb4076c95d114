//! The broker image: the whole [`Server`](crate::amqp::server::Server) (the
//! engine and every AMQP connection on it) as bytes, so that a host that is
//! put to sleep (an evicted Durable Object, a frozen or reloaded tab) wakes
//! with nothing lost: transient messages, non-durable queues, consumers,
//! unacked deliveries and their tags, confirm sequence numbers, half-received
//! content, timers as absolute engine time.
//!
//! # Format
//! ```text
//! magic "WARRENIM" | version u16 (big-endian) | body length u64 | body | crc32 u32
//! ```
//! The checksum covers everything before it. The body is the server part
//! (`amqp/server/image.rs`), the engine part (`engine.rs`) and every
//! connection (`amqp/connection/image.rs`), in the primitives of
//! [`codec`]. Derived state (lookup maps, expiry indexes, compiled topic
//! patterns, parsed queue arguments, timer heaps) is rebuilt, not stored.
//!
//! # Versions
//! An image is read only by the version that wrote it: images live for one
//! sleep of one deployment, so a changed format bumps [`VERSION`] and an
//! older image is refused with [`ImageError::Version`]. The host then falls
//! back to its durable records, with RabbitMQ's restart semantics.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]

pub(crate) mod codec;
mod engine;

pub(crate) use engine::{read_broker, write_broker};

use crate::storage::log::crc32;
use std::fmt;

/// The first bytes of every image.
pub const MAGIC: &[u8; 8] = b"WARRENIM";
/// The format this build writes and reads.
pub const VERSION: u16 = 6;
const HEADER: usize = 8 + 2 + 8;
const TRAILER: usize = 4;

/// Why an image cannot be taken or resumed. Resuming never panics: every
/// image is checked and refused with one of these.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageError {
    /// The bytes do not start with [`MAGIC`]: not a Warren image.
    NotAnImage,
    /// Written by another format version.
    Version { found: u16, supported: u16 },
    /// Shorter than its header says.
    Truncated { len: usize, expected: usize },
    /// The checksum does not match: the bytes were damaged.
    Checksum,
    /// The body does not decode: what is wrong, and at which body offset.
    Malformed { at: usize, what: String },
    /// The server still has output the host has not taken: drain
    /// `poll_output` before taking an image.
    OutputPending,
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageError::NotAnImage => f.write_str("not a Warren broker image (bad magic number)"),
            ImageError::Version { found, supported } => write!(
                f,
                "broker image format version {found} is not supported (this build reads version {supported})"
            ),
            ImageError::Truncated { len, expected } => write!(
                f,
                "broker image is truncated: {len} bytes, expected {expected}"
            ),
            ImageError::Checksum => f.write_str("broker image is damaged: checksum mismatch"),
            ImageError::Malformed { at, what } => {
                write!(f, "broker image is malformed at body offset {at}: {what}")
            }
            ImageError::OutputPending => f.write_str(
                "cannot take a broker image while output is pending: drain poll_output first",
            ),
        }
    }
}

impl std::error::Error for ImageError {}

/// Frames a body: magic, version, length, body, checksum. Public for the
/// fuzz target, which seals arbitrary bodies to get past the checksum.
#[doc(hidden)]
pub fn seal(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + body.len() + TRAILER);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&(body.len() as u64).to_be_bytes());
    out.extend_from_slice(body);
    let sum = crc32(&out);
    out.extend_from_slice(&sum.to_be_bytes());
    out
}

/// Checks the frame around a body and returns the body.
pub(crate) fn open(image: &[u8]) -> Result<&[u8], ImageError> {
    let (Some(magic), Some(version)) = (image.get(..8), image.get(8..10)) else {
        return Err(if !image.is_empty() && MAGIC.starts_with(image) {
            ImageError::Truncated {
                len: image.len(),
                expected: HEADER + TRAILER,
            }
        } else {
            ImageError::NotAnImage
        });
    };
    if magic != MAGIC {
        return Err(ImageError::NotAnImage);
    }
    let found = <[u8; 2]>::try_from(version).map_or(0, u16::from_be_bytes);
    if found != VERSION {
        return Err(ImageError::Version {
            found,
            supported: VERSION,
        });
    }
    let len = image
        .get(10..HEADER)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .ok_or(ImageError::Truncated {
            len: image.len(),
            expected: HEADER + TRAILER,
        })?;
    let expected = usize::try_from(len)
        .ok()
        .and_then(|l| l.checked_add(HEADER + TRAILER))
        .unwrap_or(usize::MAX);
    if image.len() != expected {
        return Err(ImageError::Truncated {
            len: image.len(),
            expected,
        });
    }
    let (framed, sum) = image.split_at(expected - TRAILER);
    let sum = <[u8; 4]>::try_from(sum).map_err(|_| ImageError::Checksum)?;
    if crc32(framed) != u32::from_be_bytes(sum) {
        return Err(ImageError::Checksum);
    }
    Ok(framed.get(HEADER..).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn a_sealed_body_opens_and_damage_is_named() {
        let image = seal(b"hello");
        assert_eq!(open(&image), Ok(&b"hello"[..]));
        assert_eq!(
            open(b"nonsense at all!!!!!!!!"),
            Err(ImageError::NotAnImage)
        );
        assert!(matches!(
            open(&image[..image.len() - 1]),
            Err(ImageError::Truncated { .. })
        ));
        assert!(matches!(
            open(&image[..5]),
            Err(ImageError::Truncated { .. })
        ));
        let mut flipped = image.clone();
        flipped[20] ^= 1;
        assert_eq!(open(&flipped), Err(ImageError::Checksum));
        let mut other = image;
        other[9] = 9;
        assert_eq!(
            open(&other),
            Err(ImageError::Version {
                found: 9,
                supported: VERSION
            })
        );
    }
}
