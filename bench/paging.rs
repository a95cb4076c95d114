//! The native engine draining a backlog, paged or in memory: N messages with
//! 16-byte bodies published into a queue nobody consumes (a page budget of
//! 4 MiB, or none), then one consumer (prefetch 4000, acks every 1000 with
//! `multiple`) takes them all, page reads answered at once from a map. What
//! `bench/paging.mjs` measures on the Node host, without the host.
//!
//! Run: `cargo bench --bench paging [-- N]` prints both drains' msg/s.
//!
//! `-- --once MODE N` (MODE `paged` or `memory`) runs one backlog, untimed,
//! for an instruction counter; the drain alone is the function `drain_all`:
//! `valgrind --tool=callgrind --toggle-collect='*drain_all*' <binary> --once paged 1000000`

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;
use warren::bench_loop::BODY;
use warren::broker::{
    Broker, BrokerConfig, ChannelRef, ConnectionInfo, Consume, Effect, Message, PageOp, Props, Qos,
    QueueDeclare, ShortStr,
};

const BUDGET: usize = 4 << 20;

struct Backlog {
    broker: Broker,
    ch: ChannelRef,
    queue: ShortStr,
    pages: HashMap<u64, Vec<u8>>,
    reads: Vec<u64>,
    /// Pages written so far.
    written: usize,
    effects: Vec<Effect>,
}

impl Backlog {
    fn new(paged: bool) -> Backlog {
        let mut broker = Broker::new(BrokerConfig {
            page_budget_bytes: paged.then_some(BUDGET),
            ..Default::default()
        });
        let conn = broker
            .connection_open(0, ConnectionInfo::default())
            .unwrap();
        let ch = ChannelRef::new(conn, 1);
        broker.channel_open(0, ch).unwrap();
        let queue = ShortStr::truncated("bench");
        let declare = QueueDeclare {
            queue: queue.clone(),
            ..Default::default()
        };
        broker.queue_declare(0, ch, declare).unwrap();
        Backlog {
            broker,
            ch,
            queue,
            pages: HashMap::new(),
            reads: Vec::new(),
            written: 0,
            effects: Vec::new(),
        }
    }

    /// Carries out page operations: writes and deletes at once, reads kept
    /// for the next turn (a host answers them after its current call).
    fn serve_pages(&mut self) {
        for op in self.broker.take_page_ops() {
            match op {
                PageOp::Write { page, bytes, .. } => {
                    self.written += 1;
                    self.pages.insert(page, bytes);
                }
                PageOp::Read { page } => self.reads.push(page),
                PageOp::Delete { page } => {
                    self.pages.remove(&page);
                }
            }
        }
    }

    fn fill(&mut self, n: u64) {
        for i in 0..n {
            let m = Message::from_parts(&ShortStr::empty(), &self.queue, Props::default(), &BODY);
            self.broker
                .basic_publish(0, self.ch, m, false, false)
                .unwrap();
            if i % 2000 == 1999 {
                self.broker.flush(0);
                self.broker.drain_effects_into(&mut self.effects);
                self.effects.clear();
                self.serve_pages();
            }
        }
        self.broker.flush(0);
        self.serve_pages();
    }
}

/// Consumes all `n`; returns how many pages were read, and written again
/// (none, if reading ahead stays within the budget).
#[inline(never)]
fn drain_all(b: &mut Backlog, n: u64) -> (usize, usize) {
    let written = b.written;
    let qos = Qos {
        prefetch_count: 4000,
        ..Default::default()
    };
    b.broker.basic_qos(0, b.ch, qos).unwrap();
    let consume = Consume {
        queue: b.queue.clone(),
        ..Default::default()
    };
    b.broker.basic_consume(0, b.ch, consume).unwrap();
    let (mut got, mut acked, mut reads) = (0u64, 0u64, 0usize);
    while got < n {
        b.broker.flush(0);
        b.broker.drain_effects_into(&mut b.effects);
        for e in b.effects.drain(..) {
            if let Effect::Deliver {
                delivery_tag,
                message,
                ..
            } = e
            {
                black_box(message.body());
                got += 1;
                if got % 1000 == 0 || got == n {
                    acked = delivery_tag;
                }
            }
        }
        if acked > 0 {
            b.broker.basic_ack(0, b.ch, acked, true).unwrap();
            acked = 0;
        }
        b.serve_pages();
        for page in std::mem::take(&mut b.reads) {
            reads += 1;
            let bytes = b.pages.get(&page).expect("a page asked for exists");
            b.broker.page_loaded(0, page, bytes).unwrap();
        }
    }
    (reads, b.written - written)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--once") {
        let paged = args.get(at + 1).map(String::as_str) != Some("memory");
        let n = args
            .get(at + 2)
            .and_then(|a| a.parse().ok())
            .unwrap_or(1_000_000);
        let mut b = Backlog::new(paged);
        b.fill(n);
        let (reads, written) = drain_all(&mut b, n);
        println!("drained {n}: {reads} pages read, {written} written");
        return;
    }
    let n: u64 = args
        .iter()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3_000_000);
    for paged in [true, false] {
        let mut b = Backlog::new(paged);
        b.fill(n);
        let start = Instant::now();
        let (reads, written) = drain_all(&mut b, n);
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{} drain of {n} messages: {:.0}k msg/s ({reads} pages read, {written} written)",
            if paged { "paged " } else { "memory" },
            n as f64 / secs / 1e3,
        );
    }
}
