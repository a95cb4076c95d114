//! Batches of store records as the hosts write them (`log::append_batch`): a
//! message settled within the batch that recorded it is never written, and
//! the shorter batch recovers the same broker as the whole one.

mod common;
use common::*;
use warren::broker::{Broker, BrokerConfig, ChannelRef, StoreRecord};
use warren::storage::log;

fn config() -> BrokerConfig {
    BrokerConfig {
        durable_store: true,
        ..Default::default()
    }
}

fn take(w: &mut World) -> Vec<StoreRecord> {
    w.broker.take_store_records().1
}

/// `records` framed as one batch, and what a scan of those bytes reads back.
fn written(records: &[StoreRecord]) -> (Vec<u8>, Vec<StoreRecord>) {
    let mut bytes = log::header().to_vec();
    log::append_batch(records, &mut bytes);
    let scanned = log::scan(&bytes).unwrap();
    assert!(scanned.damage.is_none());
    (bytes, scanned.records)
}

/// Ready bodies of `q` in order, and whether each comes back redelivered.
fn contents(records: Vec<StoreRecord>, q: &str, crash: bool) -> Vec<(String, bool)> {
    let mut w = World::with(config());
    w.broker = if crash {
        Broker::recover_after_crash(config(), w.now, records).unwrap()
    } else {
        Broker::recover(config(), w.now, records).unwrap()
    };
    let c = w.client();
    std::iter::from_fn(|| w.get(c, q, true))
        .map(|m| (m.body, m.redelivered))
        .collect()
}

fn world() -> (World, ChannelRef, Vec<StoreRecord>) {
    let mut w = World::with(config());
    let ch = w.client();
    w.durable_queue(ch, "dq");
    let topology = take(&mut w);
    (w, ch, topology)
}

#[test]
fn a_message_settled_in_its_own_batch_is_not_written() {
    let (mut w, ch, _) = world();
    for body in ["acked-body", "requeued-then-acked", "kept-body"] {
        w.send(ch, "", "dq", body, persistent(), false).unwrap();
    }
    w.prefetch(ch, 3);
    w.consume(ch, "dq", false);
    assert_eq!(w.deliveries(ch).len(), 3);
    w.ack(ch, 1, false).unwrap();
    w.reject(ch, 2, true).unwrap();
    let again = w.deliveries(ch);
    assert_eq!(again[0].body, "requeued-then-acked");
    w.ack(ch, again[0].tag, false).unwrap();
    let batch = take(&mut w);
    let seq_of = |body: &str| {
        batch.iter().find_map(|r| match r {
            StoreRecord::Message { seq, message, .. } if message.body() == body.as_bytes() => {
                Some(*seq)
            }
            _ => None,
        })
    };
    let (acked, requeued, kept) = (
        seq_of("acked-body").unwrap(),
        seq_of("requeued-then-acked").unwrap(),
        seq_of("kept-body").unwrap(),
    );
    let (bytes, read) = written(&batch);
    // Of the two settled messages only their Settled records are left; the
    // kept one is written with its delivery record.
    let about = |seq: u64| {
        read.iter()
            .filter(|r| match r {
                StoreRecord::Message { seq: s, .. }
                | StoreRecord::Delivered { seq: s, .. }
                | StoreRecord::Returned { seq: s, .. }
                | StoreRecord::Settled { seq: s } => *s == seq,
                _ => false,
            })
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(about(acked), [StoreRecord::Settled { seq: acked }]);
    assert_eq!(about(requeued), [StoreRecord::Settled { seq: requeued }]);
    assert_eq!(about(kept).len(), 2);
    assert!(matches!(about(kept)[0], StoreRecord::Message { .. }));
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!has(b"acked-body") && !has(b"requeued-then-acked"));
    assert!(has(b"kept-body"));
    // Every record the batch left out is one the whole batch settles.
    assert!(read.len() < batch.len());
    assert!(read.iter().all(|r| batch.contains(r)));
}

#[test]
fn the_shorter_batch_recovers_the_same_broker_cleanly_and_after_a_crash() {
    let (mut w, ch, topology) = world();
    // An earlier batch, already written: two messages, one of them delivered.
    for body in ["old-1", "old-2"] {
        w.send(ch, "", "dq", body, persistent(), false).unwrap();
    }
    w.consume(ch, "dq", false);
    assert_eq!(w.bodies(ch), ["old-1", "old-2"]);
    let earlier = take(&mut w);
    // This batch: new messages published and acked at once, one nacked back,
    // one left delivered, one old message settled.
    for body in ["new-1", "new-2", "new-3", "new-4"] {
        w.send(ch, "", "dq", body, persistent(), false).unwrap();
    }
    w.settle();
    let seen = w.deliveries(ch);
    assert_eq!(seen.len(), 4);
    w.ack(ch, 1, false).unwrap(); // old-1
    w.ack(ch, seen[0].tag, false).unwrap(); // new-1
    w.nack(ch, seen[1].tag, false, true).unwrap(); // new-2 back to the queue
    w.ack(ch, seen[2].tag, false).unwrap(); // new-3
    let batch = take(&mut w);
    let (_, short) = written(&batch);
    assert!(short.len() < batch.len());
    let whole: Vec<StoreRecord> = [topology.clone(), earlier.clone(), batch].concat();
    let shorter: Vec<StoreRecord> = [topology, earlier, short].concat();
    for crash in [false, true] {
        let want = contents(whole.clone(), "dq", crash);
        assert_eq!(
            contents(shorter.clone(), "dq", crash),
            want,
            "crash: {crash}"
        );
        let bodies: Vec<&str> = want.iter().map(|(b, _)| b.as_str()).collect();
        assert_eq!(bodies, ["old-2", "new-2", "new-4"], "crash: {crash}");
    }
}

#[test]
fn a_message_read_back_under_an_old_seq_and_settled_stays_settled() {
    // A record of the seq from before the batch (as a message read back from
    // a page logs again): the batch's Settled still removes it.
    let (mut w, ch, topology) = world();
    w.send(ch, "", "dq", "once", persistent(), false).unwrap();
    let earlier = take(&mut w);
    let seq = earlier
        .iter()
        .find_map(|r| match r {
            StoreRecord::Message { seq, .. } => Some(*seq),
            _ => None,
        })
        .unwrap();
    let batch = [earlier.clone(), vec![StoreRecord::Settled { seq }]].concat();
    let (_, short) = written(&batch);
    assert_eq!(short, [StoreRecord::Settled { seq }]);
    let log: Vec<StoreRecord> = [topology, earlier, short].concat();
    assert!(contents(log, "dq", false).is_empty());
}

#[test]
fn after_a_crash_and_a_compaction_new_messages_are_not_flagged_redelivered() {
    let (mut w, ch, mut log) = world();
    for body in ["a", "b"] {
        w.send(ch, "", "dq", body, persistent(), false).unwrap();
    }
    log.extend(take(&mut w));
    // A crash: both come back flagged, and the log says below which id.
    let mut r = World::with(config());
    r.broker = Broker::recover_after_crash(config(), r.now, log.clone()).unwrap();
    log.extend(take(&mut r));
    let c = r.client();
    assert!(r.get(c, "dq", true).unwrap().redelivered);
    assert!(r.get(c, "dq", true).unwrap().redelivered);
    // Both settled, then compacted: no message record is left, only the mark.
    let snapshot = r.broker.snapshot_records();
    assert!(snapshot
        .iter()
        .any(|r| matches!(r, StoreRecord::CrashRecovered { .. })));
    let mut s = World::with(config());
    s.broker = Broker::recover(config(), s.now, snapshot).unwrap();
    let c = s.client();
    s.send(c, "", "dq", "new", persistent(), false).unwrap();
    let got = s.get(c, "dq", true).unwrap();
    assert_eq!(got.body, "new");
    assert!(
        !got.redelivered,
        "a message published after the restart is new"
    );
}
