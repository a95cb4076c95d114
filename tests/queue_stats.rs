//! Per-queue totals for metrics: published, delivered, redelivered, acked,
//! dead-lettered, as the snapshot reports them.

mod common;

use common::*;
use warren::broker::QueueStats;

fn stats(w: &World, q: &str) -> QueueStats {
    w.broker
        .snapshot()
        .queues
        .into_iter()
        .find(|v| v.name.as_str() == q)
        .unwrap()
        .stats
}

#[test]
fn totals_follow_what_goes_through_a_queue() {
    let (mut w, ch) = dead_lettering_queue(&[]);
    w.fill(ch, "q", &["a", "b", "c"]);
    let first = w.get(ch, "q", false).unwrap();
    w.reject(ch, first.tag, true).unwrap();
    let again = w.get(ch, "q", false).unwrap();
    assert!(again.redelivered);
    w.ack(ch, again.tag, false).unwrap();
    let b = w.get(ch, "q", false).unwrap();
    w.reject(ch, b.tag, false).unwrap();
    w.settle();
    assert_eq!(
        stats(&w, "q"),
        QueueStats {
            published: 3,
            delivered: 3,
            redelivered: 1,
            acked: 1,
            dead_lettered: 1,
        }
    );
    assert_eq!(stats(&w, "dead").published, 1);
}
