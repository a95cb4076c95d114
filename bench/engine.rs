//! The native engine alone: one queue, one consumer, 16-byte bodies (the
//! loop is `warren::bench_loop`, which the wasm benchmark runs too).
//!
//! - publish -> deliver -> ack, messages per second on one core: a warm-up,
//!   then `RUNS` timed runs, the median printed with the lowest and highest,
//!   and the allocations the loop makes per message;
//! - bytes of memory per queued message with 1M messages queued (a counting
//!   allocator measures what the engine holds, minus the bodies themselves).
//!
//! Run: `cargo bench --bench engine`
//!
//! `-- --memory` prints only the memory figure.
//!
//! `-- --once BATCH N [EXCHANGE]` runs the loop once, untimed (through
//! EXCHANGE, `amq.direct` say, if given), for a profiler or an instruction
//! counter, which the other builds on a shared machine do not
//! disturb. Instructions per message, as the difference of two runs:
//! `valgrind --tool=cachegrind --cache-sim=no <bench binary> --once 64 N`
//! for N = 200000 and 400000, (I2 - I1) / 200000.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;
use warren::bench_loop::{EngineLoop, BODY};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
/// Allocations ever made (live ones are `ALLOCS`).
static MADE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Relaxed);
        ALLOCS.fetch_add(1, Relaxed);
        MADE.fetch_add(1, Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Relaxed);
        ALLOCS.fetch_sub(1, Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new, Relaxed);
        LIVE.fetch_sub(l.size(), Relaxed);
        MADE.fetch_add(1, Relaxed);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Timed runs per batch size; the machine is shared, so the median is the figure.
const RUNS: usize = 7;

/// (messages per second, allocations per message) of one run.
fn throughput(n: u64, batch: u64) -> (f64, f64) {
    let mut l = EngineLoop::new().unwrap();
    l.consume().unwrap();
    let made = MADE.load(Relaxed);
    let start = Instant::now();
    let delivered = l.run(n, batch).unwrap();
    let rate = delivered as f64 / start.elapsed().as_secs_f64();
    let allocs = (MADE.load(Relaxed) - made) as f64 / delivered as f64;
    (rate, allocs)
}

/// (requested bytes, allocations) per queued message beyond its body.
fn memory_per_message(n: usize) -> (f64, f64) {
    let mut l = EngineLoop::new().unwrap();
    let (bytes0, allocs0) = (LIVE.load(Relaxed), ALLOCS.load(Relaxed));
    for _ in 0..n {
        let m = l.message();
        l.broker
            .basic_publish(0, l.channel, m, false, false)
            .unwrap();
    }
    let (bytes1, allocs1) = (LIVE.load(Relaxed), ALLOCS.load(Relaxed));
    assert_eq!(l.broker.queue_counts("/", "bench").unwrap().ready, n);
    black_box(&l.broker);
    let bytes = (bytes1 - bytes0) as f64 / n as f64 - BODY.len() as f64;
    let allocs = (allocs1 - allocs0) as f64 / n as f64;
    (bytes, allocs)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--once") {
        let num = |i: usize| args.get(at + i).and_then(|a| a.parse().ok());
        let (batch, n) = (num(1).unwrap_or(64), num(2).unwrap_or(1_000_000));
        let exchange = args.get(at + 3).map_or("", String::as_str);
        let mut l = EngineLoop::through(exchange).unwrap();
        l.consume().unwrap();
        let delivered = l.run(n, batch).unwrap();
        println!("delivered {delivered} in batches of {batch}");
        return;
    }
    let memory = || {
        let (bytes, allocs) = memory_per_message(1_000_000);
        println!(
            "engine memory per queued message beyond its 16 B body (1M queued): {bytes:.1} bytes requested in {allocs:.2} live allocations"
        );
    };
    if args.iter().any(|a| a == "--memory") {
        memory();
        return;
    }
    let n = 2_000_000;
    for batch in [1u64, 64, 1000] {
        throughput(n / 4, batch); // warm-up
        let mut runs: Vec<(f64, f64)> = (0..RUNS).map(|_| throughput(n, batch)).collect();
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (median, allocs) = runs[RUNS / 2];
        let (low, high) = (runs[0].0, runs[RUNS - 1].0);
        println!(
            "engine publish->deliver->ack, 16 B bodies, batch {batch:>4}: {median:>11.0} msg/s median of {RUNS} (min {low:.0}, max {high:.0}), {allocs:.2} allocations/msg"
        );
    }
    memory();
}
