//! Paged queues: a queue over its memory budget keeps runs of messages in
//! pages on the store (write effects), reads them back ahead of its
//! consumers (read effects answered with `page_loaded`), and every rule of
//! a queue holds for paged messages.

mod common;
use common::*;
use std::collections::BTreeMap;
use warren::amqp::connection::ServerConfig;
use warren::amqp::server::Server;
use warren::broker::{
    Broker, BrokerConfig, ChannelRef, FieldValue, PageOp, Properties, StoreRecord,
};

/// Each test message costs its body plus 96 bytes of bookkeeping: 100
/// bytes for the 4-byte bodies used here, so a budget of 1000 keeps about
/// ten in memory and pages of about three.
const BUDGET: usize = 1000;

fn config(durable: bool) -> BrokerConfig {
    BrokerConfig {
        durable_store: durable,
        events: true,
        page_budget_bytes: Some(BUDGET),
        ..Default::default()
    }
}

/// The host's page store.
#[derive(Default)]
struct Pages {
    store: BTreeMap<u64, Vec<u8>>,
    asked: Vec<u64>,
    writes: usize,
    synced: usize,
    reads: usize,
}

impl Pages {
    /// Carries out the engine's page operations; answers reads if `answer`.
    fn serve(&mut self, w: &mut World, answer: bool) {
        for _ in 0..10_000 {
            for op in w.broker.take_page_ops() {
                match op {
                    PageOp::Write { page, bytes, sync } => {
                        assert!(
                            self.store.insert(page, bytes).is_none(),
                            "page {page} twice"
                        );
                        self.writes += 1;
                        self.synced += usize::from(sync);
                    }
                    PageOp::Read { page } => self.asked.push(page),
                    PageOp::Delete { page } => {
                        self.store.remove(&page);
                    }
                }
            }
            if !answer || self.asked.is_empty() {
                return;
            }
            for page in std::mem::take(&mut self.asked) {
                self.reads += 1;
                let bytes = self
                    .store
                    .get(&page)
                    .expect("a page asked for exists")
                    .clone();
                w.broker.page_loaded(w.now, page, &bytes).unwrap();
            }
            w.settle();
        }
        panic!("page operations did not settle");
    }

    /// Messages held in pages (every page decoded by its header count).
    fn held(&self) -> usize {
        self.store.len()
    }
}

fn world(durable: bool) -> (World, ChannelRef, Pages) {
    let mut w = World::with(config(durable));
    let ch = w.client();
    (w, ch, Pages::default())
}

fn bodies(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("m{i:03}")).collect()
}

fn fill(w: &mut World, p: &mut Pages, ch: ChannelRef, q: &str, n: usize) {
    for b in bodies(n) {
        w.publish(ch, "", q, &b).unwrap();
        p.serve(w, false);
    }
}

/// The deliveries to `ch`'s consumer until none come, each acked, serving
/// pages as they are asked for.
fn take_acking(w: &mut World, p: &mut Pages, ch: ChannelRef) -> Vec<String> {
    let mut got = Vec::new();
    for _ in 0..100_000 {
        p.serve(w, true);
        let d = w.deliveries(ch);
        if d.is_empty() && p.asked.is_empty() {
            break;
        }
        for s in d {
            w.ack(ch, s.tag, false).unwrap();
            got.push(s.body);
            p.serve(w, true);
        }
    }
    got
}

/// Consumes everything with auto-ack, serving pages as they are asked for.
/// Queue "q" with `arg`, dead-lettering through the default exchange to "dlq".
fn declare_dead_lettering(w: &mut World, ch: ChannelRef, arg: (&str, FieldValue)) {
    w.declare(ch, "dlq");
    w.declare_with(
        ch,
        "q",
        table(&[
            arg,
            ("x-dead-letter-exchange", FieldValue::LongStr("".into())),
            (
                "x-dead-letter-routing-key",
                FieldValue::LongStr("dlq".into()),
            ),
        ]),
    );
}

fn drain(w: &mut World, p: &mut Pages, ch: ChannelRef, q: &str) -> Vec<String> {
    w.consume(ch, q, true);
    let mut got = Vec::new();
    for _ in 0..1000 {
        p.serve(w, true);
        let more = w.bodies(ch);
        if more.is_empty() && p.asked.is_empty() {
            break;
        }
        got.extend(more);
    }
    got
}

#[test]
fn a_backlog_over_budget_goes_to_pages_and_comes_back_in_order() {
    let (mut w, ch, mut p) = world(false);
    w.declare(ch, "q");
    fill(&mut w, &mut p, ch, "q", 200);
    assert!(p.writes > 50, "paged: {} pages", p.writes);
    assert_eq!(p.synced, 0, "transient messages need no sync");
    // Counts include paged messages.
    assert_eq!(w.ready("/", "q"), 200);
    let c = w.broker.queue_counts("/", "q").unwrap();
    assert!(c.memory <= BUDGET, "memory {} over budget", c.memory);
    assert!(c.paged > 150, "{} paged", c.paged);
    assert_eq!(p.reads, 0, "nothing is read while nobody consumes");
    assert_eq!(drain(&mut w, &mut p, ch, "q"), bodies(200));
    assert_eq!(p.held(), 0, "every page was deleted once read");
    assert_eq!(w.ready("/", "q"), 0);
}

#[test]
fn consumers_wait_while_the_next_page_is_being_read() {
    let (mut w, ch, mut p) = world(false);
    w.declare(ch, "q");
    fill(&mut w, &mut p, ch, "q", 40);
    w.consume(ch, "q", true);
    p.serve(&mut w, false);
    // The head in memory is delivered; then the next message is on a page.
    let first = w.bodies(ch);
    assert!(!first.is_empty() && first.len() < 40, "{}", first.len());
    assert!(!p.asked.is_empty(), "the next page is asked for");
    assert!(w.bodies(ch).is_empty(), "no delivery while it is read");
    // Answer the reads in reverse order: the queue keeps its order anyway.
    for _ in 0..100 {
        let mut asked = std::mem::take(&mut p.asked);
        if asked.is_empty() {
            break;
        }
        asked.reverse();
        for page in asked {
            let bytes = p.store[&page].clone();
            w.broker.page_loaded(w.now, page, &bytes).unwrap();
        }
        w.settle();
        p.serve(&mut w, false);
    }
    let mut got = first;
    got.extend(w.bodies(ch));
    assert_eq!(got, bodies(40));
}

#[test]
fn a_requeued_message_goes_back_to_its_position_ahead_of_paged_runs() {
    let (mut w, ch, mut p) = world(false);
    w.declare(ch, "q");
    fill(&mut w, &mut p, ch, "q", 3);
    let got = w.get(ch, "q", false).unwrap();
    assert_eq!(got.body, "m000");
    // Many more arrive and are paged while m000 is out.
    for b in bodies(60).into_iter().skip(3) {
        w.publish(ch, "", "q", &b).unwrap();
        p.serve(&mut w, false);
    }
    assert!(p.writes > 0);
    w.reject(ch, got.tag, true).unwrap();
    w.settle();
    let again = drain(&mut w, &mut p, ch, "q");
    assert_eq!(again, bodies(60));
}

#[test]
fn basic_get_reads_the_page_it_needs_and_counts_paged_messages() {
    let (mut w, ch, mut p) = world(false);
    w.declare(ch, "q");
    fill(&mut w, &mut p, ch, "q", 30);
    let mut got = Vec::new();
    for _ in 0..200 {
        match w.get(ch, "q", true) {
            Some(m) => got.push(m.body),
            None if w.ready("/", "q") == 0 => break,
            None => p.serve(&mut w, true), // get-empty while the page is read
        }
        p.serve(&mut w, false);
    }
    assert_eq!(got, bodies(30));
}

#[test]
fn paged_messages_expire_when_due_and_dead_letter_with_x_death() {
    let (mut w, ch, mut p) = world(false);
    declare_dead_lettering(&mut w, ch, ("x-message-ttl", FieldValue::I32(1000)));
    fill(&mut w, &mut p, ch, "q", 50);
    assert!(p.writes > 0);
    // Nobody consumes: the timer reads the first run when it is due, and so on.
    for _ in 0..200 {
        w.advance(500);
        p.serve(&mut w, true);
    }
    assert_eq!(w.ready("/", "q"), 0);
    assert_eq!(w.ready("/", "dlq"), 50);
    let m = w.get(ch, "dlq", true).unwrap();
    assert_eq!(m.body, "m000");
    let death = &deaths(&m.message)[0];
    assert_eq!(text(death, "reason").as_deref(), Some("expired"));
    assert_eq!(text(death, "queue").as_deref(), Some("q"));
    // The dead letters are a backlog of their own, paged in turn.
    assert!(w.broker.queue_counts("/", "dlq").unwrap().paged > 0);
}

#[test]
fn length_limits_count_paged_messages_and_bytes() {
    let (mut w, ch, mut p) = world(false);
    w.declare_with(
        ch,
        "q",
        table(&[
            ("x-max-length", FieldValue::I32(40)),
            ("x-overflow", FieldValue::LongStr("reject-publish".into())),
        ]),
    );
    fill(&mut w, &mut p, ch, "q", 60);
    assert!(p.writes > 0);
    assert_eq!(w.ready("/", "q"), 40);
    assert_eq!(drain(&mut w, &mut p, ch, "q"), bodies(40));

    w.declare_with(
        ch,
        "b",
        table(&[
            ("x-max-length-bytes", FieldValue::I32(100)), // 25 bodies of 4 bytes
            ("x-overflow", FieldValue::LongStr("reject-publish".into())),
        ]),
    );
    fill(&mut w, &mut p, ch, "b", 30);
    assert_eq!(w.ready("/", "b"), 25);
}

#[test]
fn a_queue_that_drops_its_head_at_a_limit_is_not_paged() {
    let (mut w, ch, mut p) = world(false);
    w.declare_with(ch, "q", table(&[("x-max-length", FieldValue::I32(30))]));
    fill(&mut w, &mut p, ch, "q", 50);
    assert_eq!(p.writes, 0);
    assert_eq!(w.ready("/", "q"), 30);
    let got = drain(&mut w, &mut p, ch, "q");
    assert_eq!(got, bodies(50)[20..].to_vec());
}

#[test]
fn priorities_hold_across_paged_levels() {
    let (mut w, ch, mut p) = world(false);
    w.declare_with(ch, "q", table(&[("x-max-priority", FieldValue::I32(5))]));
    let prio = |n| Properties {
        priority: Some(n),
        ..Default::default()
    };
    for i in 0..40 {
        w.publish_props(ch, "", "q", &format!("lo{i:02}"), prio(1))
            .unwrap();
        w.publish_props(ch, "", "q", &format!("hi{i:02}"), prio(4))
            .unwrap();
        p.serve(&mut w, false);
    }
    assert!(p.writes > 0);
    let got = drain(&mut w, &mut p, ch, "q");
    let want: Vec<String> = (0..40)
        .map(|i| format!("hi{i:02}"))
        .chain((0..40).map(|i| format!("lo{i:02}")))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn purge_and_delete_count_paged_messages_and_delete_their_pages() {
    let (mut w, ch, mut p) = world(false);
    w.declare(ch, "q");
    fill(&mut w, &mut p, ch, "q", 50);
    assert!(p.held() > 0);
    let n = w.broker.queue_purge(w.now, ch, "q").unwrap();
    assert_eq!(n, 50);
    p.serve(&mut w, false);
    assert_eq!(p.held(), 0);
    fill(&mut w, &mut p, ch, "q", 50);
    assert!(p.held() > 0);
    let n = w.broker.queue_delete(w.now, ch, "q", false, false).unwrap();
    assert_eq!(n, 50);
    p.serve(&mut w, false);
    assert_eq!(p.held(), 0);
}

#[test]
fn delivery_limits_hold_for_messages_read_back_from_pages() {
    let (mut w, ch, mut p) = world(false);
    declare_dead_lettering(&mut w, ch, ("x-delivery-limit", FieldValue::I32(1)));
    fill(&mut w, &mut p, ch, "q", 40);
    // Reject every delivery with requeue: each message dies on its second return.
    w.consume(ch, "q", false);
    for _ in 0..500 {
        p.serve(&mut w, true);
        let got = w.deliveries(ch);
        if got.is_empty() && p.asked.is_empty() {
            break;
        }
        for m in got {
            w.reject(ch, m.tag, true).unwrap();
        }
        w.settle();
    }
    assert_eq!(w.ready("/", "q"), 0);
    assert_eq!(w.ready("/", "dlq"), 40);
}

fn persistent_props() -> Properties {
    Properties {
        delivery_mode: Some(2),
        ..Default::default()
    }
}

#[test]
fn a_compacted_log_names_pages_and_recovery_reads_none_of_them() {
    let (mut w, ch, mut p) = world(true);
    w.durable_queue(ch, "q");
    for (i, b) in bodies(60).iter().enumerate() {
        let props = if i % 3 == 0 {
            Properties::default() // transient: gone after a restart
        } else {
            persistent_props()
        };
        w.publish_props(ch, "", "q", b, props).unwrap();
        p.serve(&mut w, false);
    }
    assert!(p.synced > 0, "pages of persistent messages are synced");
    let records = w.broker.snapshot_records();
    let paged = records
        .iter()
        .filter(|r| matches!(r, StoreRecord::Paged { .. }))
        .count();
    let messages = records
        .iter()
        .filter(|r| matches!(r, StoreRecord::Message { .. }))
        .count();
    assert!(paged > 0);
    assert!(
        messages < 40,
        "paged messages have no records of their own: {messages}"
    );

    let mut b = Broker::recover(config(true), w.now, records).unwrap();
    assert!(
        !b.take_page_ops()
            .iter()
            .any(|op| matches!(op, PageOp::Read { .. })),
        "recovery reads no page"
    );
    let mut live = b.live_pages();
    live.retain(|pg| !p.store.contains_key(pg));
    assert!(live.is_empty(), "every live page is on the store");
    let mut w2 = World {
        broker: b,
        now: w.now,
        effects: Vec::new(),
    };
    let ch2 = w2.client();
    assert_eq!(w2.ready("/", "q"), 40);
    let want: Vec<String> = bodies(60)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(drain(&mut w2, &mut p, ch2, "q"), want);
}

#[test]
fn a_page_read_back_is_logged_again_before_it_is_deleted() {
    let (mut w, ch, mut p) = world(true);
    w.durable_queue(ch, "q");
    for b in bodies(30) {
        w.publish_props(ch, "", "q", &b, persistent_props())
            .unwrap();
        p.serve(&mut w, false);
    }
    // A compaction now: the log names the pages.
    let mut log = w.broker.snapshot_records();
    w.broker.take_store_records();
    // Half is consumed and acked; the pages read back are logged again.
    w.consume(ch, "q", false);
    let mut acked = 0;
    for _ in 0..100 {
        p.serve(&mut w, true);
        for m in w.deliveries(ch) {
            if acked < 15 {
                w.ack(ch, m.tag, false).unwrap();
                acked += 1;
            }
        }
        w.settle();
        if acked >= 15 {
            break;
        }
    }
    log.extend(w.broker.take_store_records().1);
    assert!(log.iter().any(|r| matches!(r, StoreRecord::Unpaged { .. })));
    // A crash: the rest comes back, flagged redelivered, from records and pages.
    let b = Broker::recover_after_crash(config(true), w.now, log).unwrap();
    let mut w2 = World {
        broker: b,
        now: w.now,
        effects: Vec::new(),
    };
    let ch2 = w2.client();
    assert_eq!(w2.ready("/", "q"), 15);
    w2.consume(ch2, "q", true);
    let mut got = Vec::new();
    for _ in 0..100 {
        p.serve(&mut w2, true);
        let more = w2.deliveries(ch2);
        if more.is_empty() && p.asked.is_empty() {
            break;
        }
        got.extend(more);
    }
    assert!(got.iter().all(|m| m.redelivered));
    let got: Vec<String> = got.into_iter().map(|m| m.body).collect();
    assert_eq!(got, bodies(30)[15..].to_vec());
}

#[test]
fn an_image_keeps_paged_runs_without_their_pages() {
    let (mut w, ch, mut p) = world(false);
    w.declare(ch, "q");
    fill(&mut w, &mut p, ch, "q", 80);
    let server = Server::new(ServerConfig::default(), std::mem::take(&mut w.broker));
    let image = server.image().unwrap();
    assert!(image.len() < 80 * 30, "image of {} bytes", image.len());
    let mut resumed = Server::resume(ServerConfig::default(), config(false), &image).unwrap();
    let b = std::mem::take(resumed.broker_mut());
    let mut w2 = World {
        broker: b,
        now: w.now,
        effects: Vec::new(),
    };
    let ch2 = w2.client();
    assert_eq!(w2.ready("/", "q"), 80);
    assert_eq!(drain(&mut w2, &mut p, ch2, "q"), bodies(80));
}

#[test]
fn without_a_budget_nothing_is_paged() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    for b in bodies(200) {
        w.publish(ch, "", "q", &b).unwrap();
    }
    assert!(w.broker.take_page_ops().is_empty());
}

#[test]
fn a_deleted_queue_drops_its_pages_unread_as_one_event() {
    let (mut w, ch, mut p) = world(false);
    w.broker
        .queue_declare(
            w.now,
            ch,
            warren::broker::QueueDeclare {
                queue: s("q"),
                auto_delete: true,
                ..Default::default()
            },
        )
        .unwrap();
    fill(&mut w, &mut p, ch, "q", 30);
    let paged = w.broker.queue_counts("/", "q").unwrap().paged;
    assert!(paged > 0);
    let c2 = w.client();
    w.consume(c2, "q", false);
    p.serve(&mut w, false);
    let out = w.bodies(c2).len();
    w.events();
    // The last consumer goes: the queue is deleted, its pages unread.
    w.close_connection(c2);
    p.serve(&mut w, false);
    let events = w.events();
    let dropped: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            warren::broker::EventKind::PagedDropped { count, .. } => Some(*count),
            _ => None,
        })
        .collect();
    let one_by_one = events
        .iter()
        .filter(|e| matches!(e, warren::broker::EventKind::Dropped { .. }))
        .count();
    assert_eq!(dropped, [paged as u64]);
    assert_eq!(one_by_one as u64 + dropped[0], 30, "{out} were out");
    assert_eq!(p.held(), 0);
}

#[test]
fn runs_are_read_back_even_when_the_queue_may_no_longer_page() {
    let (mut w, ch, mut p) = world(false);
    w.declare(ch, "q");
    fill(&mut w, &mut p, ch, "q", 40);
    assert!(p.writes > 0);
    // A policy makes it drop its head at a limit: it pages no more, but
    // what is paged comes back, and the limit applies as messages return.
    w.broker
        .set_policy(
            w.now,
            "/",
            warren::broker::Policy {
                name: s("cap"),
                pattern: "^q$".into(),
                apply_to: warren::broker::ApplyTo::Queues,
                priority: 0,
                definition: table(&[("max-length", FieldValue::I32(100))]),
            },
        )
        .unwrap();
    w.settle();
    assert_eq!(drain(&mut w, &mut p, ch, "q"), bodies(40));
}

#[test]
fn a_page_keeps_properties_and_a_damaged_page_is_refused_and_asked_again() {
    let (mut w, ch, mut p) = world(false);
    w.declare(ch, "q");
    for b in bodies(30) {
        let props = with_headers(&[("n", FieldValue::LongStr(b.clone().into()))]);
        w.publish_props(ch, "", "q", &b, props).unwrap();
        p.serve(&mut w, false);
    }
    w.consume(ch, "q", true);
    p.serve(&mut w, false);
    let head = w.deliveries(ch).len();
    let page = *p.asked.first().expect("a page is asked for");
    let e = w
        .broker
        .page_loaded(w.now, page, b"WP\x01\x05garbage")
        .unwrap_err();
    assert!(e.contains(&format!("page {page}")), "{e}");
    // Still waiting: the page is asked for again, then read for real.
    w.settle();
    p.asked.retain(|&a| a != page);
    p.serve(&mut w, false);
    assert!(p.asked.contains(&page), "asked again: {:?}", p.asked);
    p.serve(&mut w, true);
    let rest = w.deliveries(ch);
    assert_eq!(head + rest.len(), 30);
    for m in rest {
        assert_eq!(
            header_text(&m.message, "n").as_deref(),
            Some(m.body.as_str())
        );
    }
}

#[test]
fn no_image_is_taken_while_page_writes_wait_for_the_host() {
    let (mut w, ch, mut p) = world(false);
    w.declare(ch, "q");
    for b in bodies(30) {
        w.publish(ch, "", "q", &b).unwrap();
    }
    let mut server = Server::new(ServerConfig::default(), std::mem::take(&mut w.broker));
    assert_eq!(
        server.image().err(),
        Some(warren::image::ImageError::OutputPending)
    );
    let mut w2 = World {
        broker: std::mem::take(server.broker_mut()),
        now: w.now,
        effects: Vec::new(),
    };
    p.serve(&mut w2, false);
    let server = Server::new(ServerConfig::default(), std::mem::take(&mut w2.broker));
    assert!(server.image().is_ok());
}

/// Reading ahead for a consumer stays within the budget: runs brought back
/// are never paged out again (before, a read-ahead past the budget cut
/// the messages it had just read into a new page, over and over).
#[test]
fn reading_ahead_never_pages_out_what_it_read() {
    let budget = 64 * 1024;
    let cfg = BrokerConfig {
        durable_store: true,
        events: true,
        page_budget_bytes: Some(budget),
        ..Default::default()
    };
    let mut w = World::with(cfg.clone());
    let ch = w.client();
    let mut p = Pages::default();
    w.durable_queue(ch, "q");
    let pad = "x".repeat(1017);
    for i in 0..3000 {
        w.publish_props(ch, "", "q", &format!("{i:06}{pad}"), persistent_props())
            .unwrap();
        p.serve(&mut w, false);
    }
    let records = w.broker.snapshot_records();
    let b = Broker::recover_after_crash(cfg, w.now, records).unwrap();
    let mut w = World {
        broker: b,
        now: w.now,
        effects: Vec::new(),
    };
    let ch = w.client();
    w.prefetch(ch, 50);
    w.consume(ch, "q", false);
    let written = p.writes;
    let got: Vec<usize> = take_acking(&mut w, &mut p, ch)
        .iter()
        .map(|b| b[..6].parse().unwrap())
        .collect();
    assert_eq!(got, (0..3000).collect::<Vec<_>>());
    assert!(
        p.writes - written <= 1,
        "{} pages written while draining",
        p.writes - written
    );
}

/// A read counts what the queue holds behind its runs: with a consumer at
/// its prefetch limit, a publisher fills the tail. Before, a read-ahead that
/// left out the tail put the queue over its budget, so the page it read was
/// written out again at once and asked for again, without end while reads
/// were answered at once (a host answers so for a page it still holds).
#[test]
fn a_read_ahead_counts_the_tail_behind_the_runs() {
    let (mut w, ch, mut p) = world(false);
    w.declare(ch, "q");
    let c = w.client();
    w.prefetch(c, 2);
    w.consume(c, "q", false);
    for b in bodies(60) {
        w.publish(ch, "", "q", &b).unwrap();
        p.serve(&mut w, true);
    }
    let written = p.writes;
    assert!(written < 30, "{written} pages written for 60 messages");
    let c_mem = w.broker.queue_counts("/", "q").unwrap().memory;
    assert!(c_mem <= BUDGET, "memory {c_mem} over budget");
    assert_eq!(take_acking(&mut w, &mut p, c), bodies(60));
    assert_eq!(p.held(), 0, "every page was deleted once read");
}

/// Random bursts of publishes and acks against a consumer with a random
/// prefetch, reads answered at once: paging always settles, and every
/// message is delivered once, in order.
#[test]
fn random_publishes_and_acks_under_a_budget_settle_and_keep_order() {
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    for _ in 0..12 {
        let (mut w, ch, mut p) = world(true);
        w.durable_queue(ch, "q");
        let c = w.client();
        w.prefetch(c, 1 + next(30) as u16);
        w.consume(c, "q", false);
        let (mut sent, mut got, mut unacked) = (0, Vec::new(), Vec::new());
        for _ in 0..150 {
            for _ in 0..next(40) {
                w.publish_props(ch, "", "q", &format!("m{sent:05}"), persistent_props())
                    .unwrap();
                sent += 1;
                p.serve(&mut w, true);
            }
            for d in w.deliveries(c) {
                got.push(d.body);
                unacked.push(d.tag);
            }
            for tag in unacked.drain(..next(30).min(unacked.len() as u64) as usize) {
                w.ack(c, tag, false).unwrap();
            }
            p.serve(&mut w, true);
        }
        for _ in 0..10_000 {
            for tag in unacked.drain(..) {
                w.ack(c, tag, false).unwrap();
            }
            p.serve(&mut w, true);
            let d = w.deliveries(c);
            if d.is_empty() {
                break;
            }
            for s in d {
                got.push(s.body);
                unacked.push(s.tag);
            }
        }
        let want: Vec<String> = (0..sent).map(|i| format!("m{i:05}")).collect();
        assert_eq!(got, want);
        assert_eq!(p.held(), 0, "every page was deleted once read");
    }
}

/// A paged run due to expire is read past the budget only once its level's
/// head is empty. Before, every due run was read: what had not expired
/// joined the head, which is not paged while runs follow it, so a backlog
/// of mixed TTLs came back into memory whole.
#[test]
fn runs_with_some_messages_expired_stay_paged_until_the_head_reaches_them() {
    let (mut w, ch, mut p) = world(false);
    w.declare(ch, "q");
    let n = 300;
    for i in 0..n {
        let props = if i % 3 == 1 {
            expiring("100")
        } else {
            Properties::default()
        };
        w.publish_props(ch, "", "q", &format!("m{i:03}"), props)
            .unwrap();
        p.serve(&mut w, false);
    }
    for _ in 0..20 {
        w.advance(50);
        p.serve(&mut w, true);
        let c = w.broker.queue_counts("/", "q").unwrap();
        assert!(c.memory <= BUDGET, "memory {} over budget", c.memory);
    }
    assert!(p.reads <= 1, "{} pages read with nobody consuming", p.reads);
    // And no timer stays due for runs that wait: a host would spin on it.
    let next = w.broker.next_deadline();
    assert!(
        next.map_or(true, |t| t > w.now),
        "deadline {next:?} at {}",
        w.now
    );
    // Expired messages are dropped as a consumer reaches them.
    let want: Vec<String> = (0..n)
        .filter(|i| i % 3 != 1)
        .map(|i| format!("m{i:03}"))
        .collect();
    assert_eq!(drain(&mut w, &mut p, ch, "q"), want);
    assert_eq!(w.ready("/", "q"), 0);
}
