//! Arbitrary bytes as a store log, read by recovery's scan: raw (a version 0
//! log, or whatever header the bytes start with), and cut into records that
//! are framed with their true checksums behind a valid header (random bytes
//! almost never pass a CRC-32, so this is how the record decoder gets fuzzed),
//! then possibly cut short or with one bit flipped. Nothing may panic; the valid length, the damage offset and the records must
//! agree with each other, and what was read must read the same once cut to its
//! valid length and once written out again (compared as bytes: NaN != NaN).

#![no_main]

use libfuzzer_sys::fuzz_target;
use warren::broker::StoreRecord;
use warren::storage::log::{self, crc32, scan};

/// Records as the bytes they are written as: a NaN in a table is not equal to
/// itself, so records are compared by their encoding.
fn encoded(records: &[StoreRecord]) -> Vec<u8> {
    let mut out = log::header().to_vec();
    for r in records {
        log::append(r, &mut out);
    }
    out
}

fn check(bytes: &[u8]) {
    let Ok(s) = scan(bytes) else {
        return;
    };
    assert!(s.valid_len <= bytes.len());
    match &s.damage {
        // A whole log: every byte was read.
        None => assert_eq!(s.valid_len, bytes.len()),
        // Damage starts where the valid bytes end.
        Some(d) => assert_eq!(d.offset(), s.valid_len),
    }
    let written = encoded(&s.records);
    // What recovery keeps after cutting the tail reads back the same, undamaged.
    let cut = scan(&bytes[..s.valid_len]).expect("the valid prefix scans");
    assert_eq!(encoded(&cut.records), written);
    assert!(cut.damage.is_none());
    // The records written out again as a current log read back the same.
    let re = scan(&written).expect("a written log scans");
    assert_eq!(encoded(&re.records), written);
    assert_eq!((re.valid_len, re.damage), (written.len(), None));
}

/// `data` as `[len u8][len bytes]...` records, each framed with its checksum.
fn framed(data: &[u8]) -> Vec<u8> {
    let mut out = log::header().to_vec();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let body = &tail[..usize::from(len).min(tail.len())];
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(&crc32(body).to_be_bytes());
        out.extend_from_slice(body);
        rest = &tail[body.len()..];
    }
    out
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let Some((&[mode, a, b], rest)) = data.split_first_chunk::<3>() else {
        return;
    };
    let mut log = framed(rest);
    let at = usize::from(u16::from_be_bytes([a, b])) % log.len();
    match mode % 3 {
        0 => {}
        1 => log.truncate(at),
        _ => log[at] ^= 1 << (mode >> 5),
    }
    check(&log);
});
