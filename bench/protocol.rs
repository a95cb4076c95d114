//! The wire path natively: bytes in through the connection state machine,
//! the engine, and bytes out. 16-byte bodies (`PROTOCOL_BODY=N` for N
//! bytes), batches of 1000 messages per read (as a busy socket delivers them).
//!
//! - publish: decode + engine, into a queue without consumers;
//! - publish -> deliver -> ack: a publisher and a consumer connection, the
//!   deliveries encoded and the consumer acking each batch with `multiple`;
//! - the same with publisher confirms;
//! - the same with `delivery_mode` 2 on every message (the header a
//!   persistent publisher sends; the queue is not durable, so no store);
//! - publish -> deliver -> ack with the routing key alternating over two
//!   queues, each with its consumer (as `bench/loadgen` spreads messages);
//! - publish -> deliver -> ack with confirms, the consumer at prefetch 256
//!   acking every delivery alone (as most clients do, `bench/loadgen`
//!   included): each ack frees a slot that the next delivery takes.
//!
//! Messages per second on one core, and heap allocations per message.
//!
//! Run: `cargo bench --bench protocol`; `PROTOCOL_ROUNDS=N` sets the reads
//! per case (1000 by default; fewer under callgrind), `PROTOCOL_CASE=publish`
//! (or `deliver`, `confirms`, `persistent`, `spread`, `single`) runs one
//! case alone.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;
use warren::amqp::codec::method::*;
use warren::amqp::codec::{
    write_body_frame, write_header_frame, write_method_frame, PROTOCOL_HEADER,
};
use warren::amqp::server::{ConnToken, Output, Server};
use warren::broker::{Broker, FieldTable, Properties, ShortStr};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const BATCH: usize = 1000;
/// The body every message carries: 16 bytes, or `PROTOCOL_BODY` bytes.
fn body() -> Vec<u8> {
    let size = std::env::var("PROTOCOL_BODY")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(16);
    b"0123456789abcdef"
        .iter()
        .copied()
        .cycle()
        .take(size)
        .collect()
}

fn s(text: &str) -> ShortStr {
    ShortStr::new(text).unwrap()
}

fn frames(channel: u16, methods: Vec<Method>) -> Vec<u8> {
    let mut out = Vec::new();
    for m in methods {
        write_method_frame(channel, &m, &mut out);
    }
    out
}

fn connect(server: &mut Server) -> ConnToken {
    let c = server.accept(0, "127.0.0.1:1");
    let mut bytes = PROTOCOL_HEADER.to_vec();
    bytes.extend(frames(
        0,
        vec![
            ConnectionStartOk {
                client_properties: FieldTable::new(),
                mechanism: s("PLAIN"),
                response: b"\0guest\0guest".to_vec(),
                locale: s("en_US"),
            }
            .into(),
            ConnectionTuneOk {
                channel_max: 2047,
                frame_max: 131_072,
                heartbeat: 0,
            }
            .into(),
            ConnectionOpen {
                virtual_host: s("/"),
                capabilities: s(""),
                insist: false,
            }
            .into(),
        ],
    ));
    bytes.extend(frames(1, vec![ChannelOpen { out_of_band: s("") }.into()]));
    server.receive(0, c, &bytes);
    drain(server);
    c
}

fn declare(queue: &str) -> Method {
    QueueDeclare {
        ticket: 0,
        queue: s(queue),
        passive: false,
        durable: false,
        exclusive: false,
        auto_delete: false,
        nowait: false,
        arguments: FieldTable::new(),
    }
    .into()
}

/// One read's worth of publishes, their routing keys taking `queues` in
/// turn, with `delivery_mode` 2 if `persistent` (the header a persistent
/// publisher sends).
fn publish_batch(queues: &[&str], persistent: bool) -> Vec<u8> {
    let props = Properties {
        delivery_mode: persistent.then_some(2),
        ..Default::default()
    };
    let publishes: Vec<Method> = queues
        .iter()
        .map(|q| {
            BasicPublish {
                ticket: 0,
                exchange: s(""),
                routing_key: s(q),
                mandatory: false,
                immediate: false,
            }
            .into()
        })
        .collect();
    let body = body();
    let mut out = Vec::new();
    for publish in publishes.iter().cycle().take(BATCH) {
        write_method_frame(1, publish, &mut out);
        write_header_frame(1, body.len() as u64, &props, &mut out);
        write_body_frame(1, &body, &mut out);
    }
    out
}

/// Output bytes handed out (and recycled), per connection token.
fn drain(server: &mut Server) -> [usize; 3] {
    let mut sent = [0; 3];
    while let Some(out) = server.poll_output() {
        if let Output::Send { conn, bytes } = out {
            if let Some(n) = sent.get_mut(conn.0 as usize) {
                *n += bytes.len();
            }
            server.recycle(black_box(bytes));
        }
    }
    sent
}

fn report(name: &str, messages: usize, started: Instant, allocs: usize) {
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{name:<34} {:>6.2} M msg/s   {:>5.2} allocations/msg",
        messages as f64 / secs / 1e6,
        allocs as f64 / messages as f64
    );
}

fn publish_only(rounds: usize) {
    let mut server = Server::new(Default::default(), Broker::default());
    let p = connect(&mut server);
    server.receive(0, p, &frames(1, vec![declare("q")]));
    drain(&mut server);
    let batch = publish_batch(&["q"], false);
    let purge = frames(
        1,
        vec![QueuePurge {
            ticket: 0,
            queue: s("q"),
            nowait: true,
        }
        .into()],
    );
    let allocs = ALLOCS.load(Relaxed);
    let started = Instant::now();
    for round in 0..rounds {
        server.receive(round as u64, p, &batch);
        if round % 100 == 99 {
            server.receive(round as u64, p, &purge);
        }
        drain(&mut server);
    }
    report(
        "publish (decode + engine)",
        rounds * BATCH,
        started,
        ALLOCS.load(Relaxed) - allocs,
    );
}

/// Publishes to `queues` in turn, each queue with a consumer on one channel
/// of the consuming connection, which acks each read's deliveries at once.
fn publish_deliver_ack(rounds: usize, confirms: bool, persistent: bool, queues: &[&str]) {
    let mut server = Server::new(Default::default(), Broker::default());
    let p = connect(&mut server);
    let c = connect(&mut server);
    let mut setup: Vec<Method> = queues.iter().map(|q| declare(q)).collect();
    if confirms {
        setup.push(ConfirmSelect { nowait: false }.into());
    }
    server.receive(0, p, &frames(1, setup));
    let consumes = queues
        .iter()
        .map(|q| {
            BasicConsume {
                ticket: 0,
                queue: s(q),
                consumer_tag: s(&format!("c-{q}")),
                no_local: false,
                no_ack: false,
                exclusive: false,
                nowait: false,
                arguments: FieldTable::new(),
            }
            .into()
        })
        .collect();
    server.receive(0, c, &frames(1, consumes));
    drain(&mut server);
    let batch = publish_batch(queues, persistent);
    let mut ack = Vec::new();
    let allocs = ALLOCS.load(Relaxed);
    let started = Instant::now();
    let mut out_bytes = 0;
    for round in 0..rounds {
        let now = round as u64;
        server.receive(now, p, &batch);
        out_bytes += drain(&mut server)[c.0 as usize];
        ack.clear();
        let tag = ((round + 1) * BATCH) as u64;
        write_method_frame(
            1,
            &BasicAck {
                delivery_tag: tag,
                multiple: true,
            }
            .into(),
            &mut ack,
        );
        server.receive(now, c, &ack);
        drain(&mut server);
    }
    let name = match (confirms, persistent, queues.len()) {
        (true, true, _) => "... confirms, delivery_mode 2",
        (true, false, _) => "publish -> deliver -> ack, confirms",
        (false, _, 1) => "publish -> deliver -> ack",
        _ => "... keys over two queues",
    };
    report(name, rounds * BATCH, started, ALLOCS.load(Relaxed) - allocs);
    black_box(out_bytes);
}

/// Publishes with confirms to one queue whose consumer, at prefetch
/// `PREFETCH`, acks each delivery alone, in reads of `ACKS_PER_READ` acks:
/// the queue never empties, so each ack's freed slot takes the next message.
fn single_acks(rounds: usize) {
    const PREFETCH: u16 = 256;
    const ACKS_PER_READ: usize = 250;
    let mut server = Server::new(Default::default(), Broker::default());
    let p = connect(&mut server);
    let c = connect(&mut server);
    server.receive(
        0,
        p,
        &frames(
            1,
            vec![declare("q"), ConfirmSelect { nowait: false }.into()],
        ),
    );
    let consume = vec![
        BasicQos {
            prefetch_size: 0,
            prefetch_count: PREFETCH,
            global: false,
        }
        .into(),
        BasicConsume {
            ticket: 0,
            queue: s("q"),
            consumer_tag: s("c-q"),
            no_local: false,
            no_ack: false,
            exclusive: false,
            nowait: false,
            arguments: FieldTable::new(),
        }
        .into(),
    ];
    server.receive(0, c, &frames(1, consume));
    let batch = publish_batch(&["q"], false);
    // A backlog of one batch, the first PREFETCH of it delivered.
    server.receive(0, p, &batch);
    drain(&mut server);
    // Every read of acks, encoded before the clock starts: tags 1, 2, ...
    let reads = rounds * (BATCH / ACKS_PER_READ);
    let acks: Vec<Vec<u8>> = (0..reads)
        .map(|r| {
            let mut read = Vec::new();
            for i in 1..=ACKS_PER_READ {
                let ack = BasicAck {
                    delivery_tag: (r * ACKS_PER_READ + i) as u64,
                    multiple: false,
                };
                write_method_frame(1, &ack.into(), &mut read);
            }
            read
        })
        .collect();
    let allocs = ALLOCS.load(Relaxed);
    let started = Instant::now();
    for (round, reads) in acks.chunks(BATCH / ACKS_PER_READ).enumerate() {
        let now = round as u64;
        server.receive(now, p, &batch);
        drain(&mut server);
        for read in reads {
            server.receive(now, c, read);
            // The freed slots took the next messages (a wrong tag would
            // have closed the channel, and nothing would follow).
            assert!(drain(&mut server)[c.0 as usize] > 0, "no deliveries");
        }
    }
    report(
        "... each delivery acked alone",
        rounds * BATCH,
        started,
        ALLOCS.load(Relaxed) - allocs,
    );
}

fn main() {
    let rounds = std::env::var("PROTOCOL_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    // One case alone, without warm-up (for callgrind): publish, deliver,
    // confirms, persistent, spread or single.
    let only = std::env::var("PROTOCOL_CASE").ok();
    let run = |case: &str| only.as_deref().map_or(true, |o| o == case);
    if only.is_none() {
        // Warm up, then measure.
        publish_deliver_ack(rounds / 20, false, false, &["q"]);
    }
    println!(
        "native, {}-byte bodies, {BATCH} messages per read:",
        body().len()
    );
    if run("publish") {
        publish_only(rounds);
    }
    if run("deliver") {
        publish_deliver_ack(rounds, false, false, &["q"]);
    }
    if run("confirms") {
        publish_deliver_ack(rounds, true, false, &["q"]);
    }
    if run("persistent") {
        publish_deliver_ack(rounds, true, true, &["q"]);
    }
    if run("spread") {
        publish_deliver_ack(rounds, false, false, &["q0", "q1"]);
    }
    if run("single") {
        single_acks(rounds);
    }
}
