//! The native engine alone: one queue, one consumer, 16-byte bodies.
//!
//! - publish -> deliver -> ack, messages per second on one core;
//! - bytes of memory per queued message with 1M messages queued (a counting
//!   allocator measures what the engine holds, minus the bodies themselves).
//!
//! Run: `cargo bench --bench engine`

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;
use warren::broker::{
    Broker, BrokerConfig, ChannelRef, ConnectionInfo, Consume, Effect, Message, Properties, Qos,
    QueueDeclare, ShortStr,
};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Relaxed);
        ALLOCS.fetch_add(1, Relaxed);
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
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const BODY: [u8; 16] = *b"0123456789abcdef";

fn setup() -> (Broker, ChannelRef, ShortStr, ShortStr) {
    let mut b = Broker::new(BrokerConfig::default());
    let c = b.connection_open(0, ConnectionInfo::default()).unwrap();
    let ch = ChannelRef::new(c, 1);
    b.channel_open(0, ch).unwrap();
    let q = ShortStr::new("bench").unwrap();
    b.queue_declare(
        0,
        ch,
        QueueDeclare {
            queue: q.clone(),
            ..Default::default()
        },
    )
    .unwrap();
    (b, ch, ShortStr::empty(), q)
}

fn throughput(n: u64, batch: u64) -> f64 {
    let (mut b, ch, exchange, q) = setup();
    b.basic_qos(
        0,
        ch,
        Qos {
            prefetch_count: 1000,
            ..Default::default()
        },
    )
    .unwrap();
    b.basic_consume(
        0,
        ch,
        Consume {
            queue: q.clone(),
            ..Default::default()
        },
    )
    .unwrap();
    b.poll(0);
    let mut effects = Vec::with_capacity(batch as usize);
    let start = Instant::now();
    let mut delivered = 0u64;
    let mut sent = 0u64;
    while delivered < n {
        for _ in 0..batch {
            let m = Message::new(exchange.clone(), q.clone(), Properties::default(), BODY);
            b.basic_publish(0, ch, m, false, false).unwrap();
            sent += 1;
        }
        b.flush(0);
        b.drain_effects_into(&mut effects);
        let mut last = 0;
        for e in effects.drain(..) {
            if let Effect::Deliver {
                delivery_tag,
                message,
                ..
            } = e
            {
                black_box(&message.body);
                last = delivery_tag;
                delivered += 1;
            }
        }
        if last > 0 {
            b.basic_ack(0, ch, last, true).unwrap();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(sent, delivered);
    n as f64 / secs
}

/// (requested bytes, allocations) per queued message beyond its body.
fn memory_per_message(n: usize) -> (f64, f64) {
    let (mut b, ch, exchange, q) = setup();
    let (bytes0, allocs0) = (LIVE.load(Relaxed), ALLOCS.load(Relaxed));
    for _ in 0..n {
        let m = Message::new(exchange.clone(), q.clone(), Properties::default(), BODY);
        b.basic_publish(0, ch, m, false, false).unwrap();
    }
    let (bytes1, allocs1) = (LIVE.load(Relaxed), ALLOCS.load(Relaxed));
    assert_eq!(b.queue_counts("/", "bench").unwrap().ready, n);
    black_box(&b);
    let bytes = (bytes1 - bytes0) as f64 / n as f64 - BODY.len() as f64;
    let allocs = (allocs1 - allocs0) as f64 / n as f64;
    (bytes, allocs)
}

fn main() {
    let n = 5_000_000;
    for batch in [1u64, 64, 1000] {
        // warm-up run, then the measured one
        throughput(n / 10, batch);
        let rate = throughput(n, batch);
        println!(
            "engine publish->deliver->ack, 16 B bodies, batch {batch:>4}: {:>12.0} msg/s",
            rate
        );
    }
    let (bytes, allocs) = memory_per_message(1_000_000);
    println!(
        "engine memory per queued message beyond its 16 B body (1M queued): {bytes:.1} bytes requested in {allocs:.2} live allocations"
    );
}
