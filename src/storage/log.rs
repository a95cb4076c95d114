//! The append-only log: each record framed as `[len u32][crc32 u32][record]`
//! (big-endian). A scan stops at the first frame that is cut short or whose
//! checksum does not match: everything after it is a torn write and is cut.

use super::record::{self, RecordError};
use crate::broker::StoreRecord;

pub const FRAME_OVERHEAD: usize = 8;

/// Appends one framed record.
pub fn append(rec: &StoreRecord, buf: &mut Vec<u8>) {
    let at = buf.len();
    buf.extend_from_slice(&[0; FRAME_OVERHEAD]);
    record::encode(rec, buf);
    let body = buf.get(at + FRAME_OVERHEAD..).unwrap_or_default();
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes();
    let crc = crc32(body).to_be_bytes();
    if let Some(head) = buf.get_mut(at..at + FRAME_OVERHEAD) {
        head[..4].copy_from_slice(&len);
        head[4..].copy_from_slice(&crc);
    }
}

/// What a scan of a log found.
#[derive(Debug, Default)]
pub struct Scan {
    pub records: Vec<StoreRecord>,
    /// Bytes that hold whole, valid frames: the log should be cut here.
    pub valid_len: usize,
    /// Why the scan stopped early (a torn or corrupt tail), if it did.
    pub damage: Option<String>,
}

/// Reads every whole, valid record from the start of `bytes`.
pub fn scan(bytes: &[u8]) -> Scan {
    let mut out = Scan::default();
    let mut at = 0;
    while at < bytes.len() {
        match frame_at(bytes, at) {
            Ok((rec, next)) => {
                out.records.push(rec);
                at = next;
                out.valid_len = next;
            }
            Err(why) => {
                out.damage = Some(format!("{why} at byte {at} of {}", bytes.len()));
                break;
            }
        }
    }
    out
}

fn frame_at(bytes: &[u8], at: usize) -> Result<(StoreRecord, usize), String> {
    let head = bytes
        .get(at..at + FRAME_OVERHEAD)
        .ok_or("truncated frame header")?;
    let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let crc = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    let start = at + FRAME_OVERHEAD;
    let body = bytes
        .get(start..start.saturating_add(len))
        .ok_or("truncated record")?;
    if crc32(body) != crc {
        return Err("checksum mismatch".into());
    }
    let rec = record::decode(body).map_err(|RecordError(e)| e)?;
    Ok((rec, start + len))
}

/// CRC-32 (IEEE), the checksum zlib and most tools compute.
pub fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut c = !0u32;
    for &b in bytes {
        c = TABLE[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn a_torn_tail_is_found_and_cut() {
        let mut log = Vec::new();
        for seq in 1..=3 {
            append(&StoreRecord::Settled { seq }, &mut log);
        }
        let whole = log.len();
        append(
            &StoreRecord::Delivered {
                seq: 9,
                deliveries: 1,
            },
            &mut log,
        );
        let torn = &log[..log.len() - 3];
        let s = scan(torn);
        assert_eq!(s.records.len(), 3);
        assert_eq!(s.valid_len, whole);
        assert!(s.damage.unwrap().contains("truncated"));
    }

    #[test]
    fn a_flipped_bit_stops_the_scan_at_that_frame() {
        let mut log = Vec::new();
        append(&StoreRecord::Settled { seq: 1 }, &mut log);
        let first = log.len();
        append(&StoreRecord::Settled { seq: 2 }, &mut log);
        let last = log.len() - 1;
        log[last] ^= 1;
        let s = scan(&log);
        assert_eq!(s.records, vec![StoreRecord::Settled { seq: 1 }]);
        assert_eq!(s.valid_len, first);
        assert!(s.damage.unwrap().contains("checksum"));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x = 0x1234_5678u64;
        for n in 0..2000 {
            let bytes: Vec<u8> = (0..n % 97)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let _ = scan(&bytes);
        }
    }
}
