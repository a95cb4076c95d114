//! Arbitrary bytes as a store log, read by recovery's scan: raw (a version 0
//! log, or whatever header the bytes start with), and cut into records that
//! are framed with their true checksums behind a valid header (random bytes
//! almost never pass a CRC-32, so this is how the record decoder gets fuzzed),
//! then possibly cut short or with one bit flipped. Nothing may panic; the valid length, the damage offset and the records must
//! agree with each other, and what was read must read the same once cut to its
//! valid length and once written out again.

#![no_main]

use libfuzzer_sys::fuzz_target;
use warren::storage::log::{self, crc32, scan};

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
    // What recovery keeps after cutting the tail reads back the same, undamaged.
    let cut = scan(&bytes[..s.valid_len]).expect("the valid prefix scans");
    assert_eq!(cut.records, s.records);
    assert!(cut.damage.is_none());
    // The records written out again as a current log read back the same.
    let mut again = log::header().to_vec();
    for r in &s.records {
        log::append(r, &mut again);
    }
    let re = scan(&again).expect("a written log scans");
    assert_eq!(re.records, s.records);
    assert_eq!((re.valid_len, re.damage), (again.len(), None));
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
