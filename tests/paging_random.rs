//! Paged queues under random work: publishes with priorities, per-message
//! TTLs and persistence; consumers that ack, requeue and reject (to a
//! dead-letter queue), cancel and consume again; `basic.get`; time passing;
//! and a host that answers page reads at once, later, or out of order.
//! Whatever happens, page operations settle, memory stays near the budget,
//! and every message is acked or dead-lettered exactly once.

mod common;
use common::*;
use std::collections::{BTreeMap, HashMap};
use warren::broker::{BrokerConfig, ChannelRef, FieldValue, PageOp, Properties};

/// A xorshift generator: the same seed, the same run.
struct Rng(u64);

impl Rng {
    /// A number below `n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
}

/// The host's page store, with the reads it has not answered yet.
#[derive(Default)]
struct Host {
    pages: BTreeMap<u64, Vec<u8>>,
    unanswered: Vec<u64>,
}

impl Host {
    /// Carries out the engine's page operations. Answers every read when
    /// `at_once` (as a host does for a page it still holds), else some of
    /// them, in any order, or none.
    fn serve(&mut self, w: &mut World, rng: &mut Rng, at_once: bool, what: &str) {
        for _ in 0..1000 {
            for op in w.broker.take_page_ops() {
                match op {
                    PageOp::Write { page, bytes, .. } => {
                        assert!(
                            self.pages.insert(page, bytes).is_none(),
                            "{what}: page {page} twice"
                        );
                    }
                    PageOp::Read { page } => self.unanswered.push(page),
                    PageOp::Delete { page } => {
                        self.pages.remove(&page);
                    }
                }
            }
            if self.unanswered.is_empty() || (!at_once && rng.chance(2)) {
                return;
            }
            let n = if at_once {
                self.unanswered.len()
            } else {
                1 + rng.below(self.unanswered.len() as u64) as usize
            };
            let mut answered: Vec<u64> = self.unanswered.drain(..n).collect();
            if rng.chance(3) {
                answered.reverse();
            }
            for page in answered {
                let bytes = self
                    .pages
                    .get(&page)
                    .unwrap_or_else(|| panic!("{what}: page {page} read but not held"));
                w.broker.page_loaded(w.now, page, &bytes.clone()).unwrap();
            }
            w.settle();
        }
        panic!("{what}: page operations did not settle");
    }
}

/// What became of each message body: acked, or dead-lettered.
#[derive(Default)]
struct Outcomes {
    acked: HashMap<String, u32>,
    dead: HashMap<String, u32>,
    /// The consumer's deliveries not settled yet, by tag (in order: the
    /// same seed, the same run).
    outstanding: BTreeMap<u64, String>,
}

impl Outcomes {
    fn take(&mut self, w: &mut World, consumer: ChannelRef, dlq: ChannelRef) {
        for d in w.deliveries(consumer) {
            self.outstanding.insert(d.tag, d.body);
        }
        for d in w.deliveries(dlq) {
            *self.dead.entry(d.body).or_default() += 1;
        }
    }
}

const PRIORITIES: u64 = 5;

fn run(seed: u64, steps: usize) {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let budget = 1000 + rng.below(6000) as usize;
    let priorities = rng.chance(2);
    let what = format!("seed {seed}, budget {budget}, priorities {priorities}");
    let mut w = World::with(BrokerConfig {
        durable_store: true,
        events: true,
        page_budget_bytes: Some(budget),
        ..Default::default()
    });
    let p = w.client();
    w.durable_queue(p, "dlq");
    let mut args = vec![
        ("x-dead-letter-exchange", FieldValue::LongStr("".into())),
        (
            "x-dead-letter-routing-key",
            FieldValue::LongStr("dlq".into()),
        ),
    ];
    if priorities {
        args.push(("x-max-priority", FieldValue::I32(PRIORITIES as i32)));
    }
    w.durable_queue_with(p, "q", table(&args));
    let c = w.client();
    w.prefetch(c, 1 + rng.below(40) as u16);
    let mut tag = w.consume(c, "q", false);
    let g = w.client();
    let d = w.client();
    w.consume(d, "dlq", true);
    let mut host = Host::default();
    let mut out = Outcomes::default();
    let mut sent = 0;
    // Each priority level keeps up to half the budget before it is cut.
    let levels = if priorities {
        PRIORITIES as usize + 1
    } else {
        1
    };
    let bound = budget + levels * budget / 2 + 200;

    for step in 0..steps {
        let what = format!("{what}, step {step}");
        match rng.below(10) {
            0..=3 => {
                for _ in 0..rng.below(120) {
                    let mut props = Properties::default();
                    if rng.chance(2) {
                        props.delivery_mode = Some(2);
                    }
                    if priorities {
                        props.priority = Some(rng.below(PRIORITIES + 2) as u8);
                    }
                    if rng.chance(5) {
                        props.expiration = Some(s(&rng.below(50).to_string()));
                    }
                    w.publish_props(p, "", "q", &format!("m{sent:06}"), props)
                        .unwrap();
                    sent += 1;
                    let at_once = rng.chance(2);
                    host.serve(&mut w, &mut rng, at_once, &what);
                }
            }
            4 => w.advance(rng.below(40)),
            5 => {
                let tags: Vec<u64> = out.outstanding.keys().copied().collect();
                for t in tags {
                    if rng.chance(2) {
                        continue;
                    }
                    let body = out.outstanding.remove(&t).unwrap();
                    match rng.below(4) {
                        0 => w.nack(c, t, false, true).unwrap(),
                        1 => w.reject(c, t, false).unwrap(),
                        _ => {
                            w.ack(c, t, false).unwrap();
                            *out.acked.entry(body).or_default() += 1;
                        }
                    }
                }
            }
            6 => {
                w.broker.basic_get(w.now, g, "q", false).unwrap();
                w.settle();
            }
            7 => {
                w.broker.basic_cancel(w.now, c, &tag).unwrap();
                w.settle();
                tag = w.consume(c, "q", false);
            }
            _ => {}
        }
        host.serve(&mut w, &mut rng, false, &what);
        out.take(&mut w, c, d);
        // A get-ok can come later, once its page is read.
        for m in w.deliveries(g) {
            if rng.chance(3) {
                w.reject(g, m.tag, rng.chance(2)).unwrap();
            } else {
                w.ack(g, m.tag, false).unwrap();
                *out.acked.entry(m.body).or_default() += 1;
            }
        }
        let memory = w.broker.queue_counts("/", "q").unwrap().memory;
        assert!(
            memory <= bound,
            "{what}: {memory} bytes in memory, bound {bound}"
        );
    }

    // Drain: a consumer with a large prefetch acks everything.
    w.prefetch(c, 1000);
    w.broker.basic_cancel(w.now, c, &tag).unwrap();
    w.settle();
    w.consume(c, "q", false);
    for _ in 0..10_000 {
        for (t, body) in std::mem::take(&mut out.outstanding) {
            w.ack(c, t, false).unwrap();
            *out.acked.entry(body).or_default() += 1;
        }
        w.advance(100);
        host.serve(&mut w, &mut rng, true, &format!("{what}, drain"));
        out.take(&mut w, c, d);
        for m in w.deliveries(g) {
            w.ack(g, m.tag, false).unwrap();
            *out.acked.entry(m.body).or_default() += 1;
        }
        if out.outstanding.is_empty() && w.ready("/", "q") == 0 && w.ready("/", "dlq") == 0 {
            break;
        }
    }
    for i in 0..sent {
        let body = format!("m{i:06}");
        let acked = out.acked.get(&body).copied().unwrap_or(0);
        let dead = out.dead.get(&body).copied().unwrap_or(0);
        assert_eq!(
            acked + dead,
            1,
            "{what}: {body} acked {acked}, dead-lettered {dead} times"
        );
    }
    assert!(
        host.pages.is_empty(),
        "{what}: {} pages left",
        host.pages.len()
    );
}

#[test]
fn random_work_on_paged_queues_settles_stays_near_the_budget_and_loses_nothing() {
    for seed in 1..=12 {
        run(seed, 300);
    }
}
