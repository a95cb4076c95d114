//! Batches of store records as the hosts write them, and the broker they
//! recover.

mod common;
use common::*;
use warren::broker::{Broker, BrokerConfig, ChannelRef, StoreRecord};

fn config() -> BrokerConfig {
    BrokerConfig {
        durable_store: true,
        ..Default::default()
    }
}

fn take(w: &mut World) -> Vec<StoreRecord> {
    w.broker.take_store_records().1
}

fn world() -> (World, ChannelRef, Vec<StoreRecord>) {
    let mut w = World::with(config());
    let ch = w.client();
    w.durable_queue(ch, "dq");
    let topology = take(&mut w);
    (w, ch, topology)
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
