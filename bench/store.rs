//! The engine's side of a persistent message's durability, natively: framing
//! its store records for the log (record encoding and CRC-32), one batch at a
//! time as `takeStoreBytes` does. A message is a `Message` record (16-byte
//! body), a `Delivered` and a `Settled` record, as under
//! persistent + confirms + acks; a batch holds BATCH messages' records, and
//! in the `settled-in-batch` case each message is settled in the batch that
//! records it, so `log::append_batch` leaves its Message and Delivered out.
//!
//! Run: `cargo bench --bench store [-- N]` prints ns per message and MB/s of
//! log written for each case, and CRC-32's MB/s. Instructions, steadier on a
//! shared machine: `valgrind --tool=callgrind --toggle-collect='*frame_all*'
//! <binary> 100000 settled-later` (the binary is the one `cargo bench` runs;
//! a case named runs alone, once).

use std::hint::black_box;
use std::time::Instant;
use warren::broker::{Message, Properties, ShortStr, StoreRecord};
use warren::storage::log;

const BATCH: u64 = 256;

fn message(seq: u64) -> StoreRecord {
    let props = Properties {
        delivery_mode: Some(2),
        ..Default::default()
    };
    StoreRecord::Message {
        vhost: ShortStr::truncated("/"),
        queue: ShortStr::truncated("bench-persistent-confirms-acks-16"),
        seq,
        msg_id: seq,
        deliveries: 0,
        expires_at: u64::MAX,
        message: Message::new(
            ShortStr::truncated(""),
            ShortStr::truncated("bench-persistent-confirms-acks-16"),
            props,
            [120; 16],
        ),
    }
}

/// One batch: BATCH messages from `first`, each recorded, delivered and settled
/// in this batch (`settled_here`) or its records only (settled in a later one).
fn batch(first: u64, settled_here: bool) -> Vec<StoreRecord> {
    let mut out = Vec::new();
    for seq in first..first + BATCH {
        out.push(message(seq));
        out.push(StoreRecord::Delivered { seq, deliveries: 1 });
    }
    // The acks of an earlier batch's messages, or of this one's.
    let settled = if settled_here {
        first
    } else {
        first.saturating_sub(BATCH)
    };
    for seq in settled..settled + BATCH {
        out.push(StoreRecord::Settled { seq });
    }
    out
}

/// Frames every batch as takeStoreBytes does; the bytes of log written.
#[inline(never)]
fn frame_all(batches: &[Vec<StoreRecord>]) -> usize {
    let mut bytes = 0;
    for records in batches {
        let mut buf = Vec::new();
        log::append_batch(black_box(records), &mut buf);
        bytes += black_box(buf).len();
    }
    bytes
}

fn run(name: &str, messages: u64, settled_here: bool) {
    let batches: Vec<Vec<StoreRecord>> = (0..messages / BATCH)
        .map(|b| batch(1 + b * BATCH, settled_here))
        .collect();
    let t = Instant::now();
    let bytes = frame_all(&batches);
    let secs = t.elapsed().as_secs_f64();
    let n = (messages / BATCH * BATCH) as f64;
    println!(
        "{name:<18} {:>6.0} ns/msg  {:>5.0} B/msg of log  {:>6.0} MB/s",
        secs * 1e9 / n,
        bytes as f64 / n,
        bytes as f64 / secs / 1e6
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let messages: u64 = args
        .iter()
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    // A case named on the command line runs alone, once (for callgrind).
    let only = args.iter().find(|a| a.starts_with("settled"));
    println!("{messages} persistent messages, {BATCH} a batch, 16-byte bodies");
    for _ in 0..if only.is_some() { 1 } else { 2 } {
        for (name, settled_here) in [("settled-later", false), ("settled-in-batch", true)] {
            if only.map_or(true, |o| o == name) {
                run(name, messages, settled_here);
            }
        }
    }
    let data = vec![0x5au8; 64 << 20];
    let t = Instant::now();
    let crc = log::crc32(black_box(&data));
    let secs = t.elapsed().as_secs_f64();
    black_box(crc);
    println!(
        "crc32              {:>6.0} MB/s",
        data.len() as f64 / secs / 1e6
    );
}
