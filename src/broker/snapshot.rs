//! A read-only view of the broker for management APIs and the tutorial page:
//! cheap enough to take every animation frame for a small broker.

use super::engine::Broker;
use super::ids::{ChannelRef, ConnId, MsgId};
use super::sort;
use super::value::ShortStr;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueCounts {
    pub ready: usize,
    pub ready_bytes: usize,
    /// Ready messages in pages on the store (counted in `ready` too).
    pub paged: usize,
    /// Memory the ready messages in memory take (bodies and bookkeeping).
    pub memory: usize,
    /// Pages on the store holding `paged` (read back or not yet).
    pub pages: usize,
    pub unacked: usize,
    pub delayed: usize,
    pub consumers: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueView {
    pub vhost: ShortStr,
    pub name: ShortStr,
    pub durable: bool,
    pub exclusive: bool,
    pub auto_delete: bool,
    pub counts: QueueCounts,
    /// Totals since the queue was declared.
    pub stats: super::queue::QueueStats,
    /// The policy in force, if any.
    pub policy: Option<ShortStr>,
    /// Ready messages in delivery order: (message id, earlier deliveries).
    pub ready: Vec<(MsgId, u32)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExchangeView {
    pub vhost: ShortStr,
    pub name: ShortStr,
    pub kind: &'static str,
    pub durable: bool,
    pub bindings: Vec<(ShortStr, ShortStr)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerView {
    pub queue: ShortStr,
    pub channel: ChannelRef,
    pub tag: ShortStr,
    pub no_ack: bool,
    pub prefetch: u16,
    pub unacked: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelView {
    pub channel: ChannelRef,
    pub prefetch: u16,
    pub global_prefetch: u16,
    /// (delivery tag, message id, queue) of each unacked delivery.
    pub unacked: Vec<(u64, MsgId, ShortStr)>,
    pub confirm: bool,
    /// Publishes on a confirm channel not yet confirmed.
    pub confirms_pending: usize,
    pub tx: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionView {
    pub id: ConnId,
    pub name: String,
    pub user: ShortStr,
    pub vhost: ShortStr,
    pub channels: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub now_ms: u64,
    pub exchanges: Vec<ExchangeView>,
    pub queues: Vec<QueueView>,
    pub consumers: Vec<ConsumerView>,
    pub channels: Vec<ChannelView>,
    pub connections: Vec<ConnectionView>,
}

impl Broker {
    /// Message counts of one queue.
    pub fn queue_counts(&self, vhost: &str, queue: &str) -> Option<QueueCounts> {
        let q = self.queue(self.queue_id(vhost, queue)?)?;
        Some(QueueCounts {
            ready: q.ready.len(),
            ready_bytes: q.ready.bytes(),
            paged: q.ready.len() - q.ready.in_mem(),
            memory: q.ready.mem(),
            pages: q.ready.runs().count(),
            unacked: q.unacked as usize,
            delayed: q.delayed.len(),
            consumers: q.consumers.len(),
        })
    }

    /// What the broker holds in memory for its queues: messages (ready,
    /// delayed and unacked copies; not those in pages) and their body bytes.
    /// Walks every queue and channel, so it is for a periodic check such as
    /// a memory high-watermark.
    pub fn held(&self) -> (usize, usize) {
        let mut messages = 0;
        let mut bytes = 0;
        for q in self.queues.iter().filter_map(|s| s.queue.as_deref()) {
            let in_mem = q.ready.in_mem();
            let ready_bytes = q.ready.mem() - in_mem * super::queue::ENTRY_OVERHEAD;
            messages += in_mem + q.delayed.len();
            bytes += ready_bytes + q.delayed.iter().map(|(_, e)| e.size()).sum::<usize>();
        }
        for ch in self
            .conns
            .values()
            .flat_map(|c| c.channels.iter().flatten())
        {
            messages += ch.unacked.len();
            bytes += ch.unacked.iter().map(|u| u.entry.size()).sum::<usize>();
        }
        (messages, bytes)
    }

    pub fn snapshot(&self) -> Snapshot {
        self.snapshot_with(true)
    }

    /// The snapshot without each queue's list of ready messages (empty):
    /// what management views and metrics need, at a cost that does not grow
    /// with the backlog.
    pub fn summary(&self) -> Snapshot {
        self.snapshot_with(false)
    }

    fn snapshot_with(&self, messages: bool) -> Snapshot {
        let mut snap = Snapshot {
            now_ms: self.now,
            ..Default::default()
        };
        // Built in their final order (vhosts, then names; connections by id
        // and their channels by number) rather than each list sorted after:
        // a sort's code is compiled per element type.
        let mut vhosts: Vec<_> = self.live_vhosts().collect();
        sort::sort_by(&mut vhosts, |a, b| a.name.cmp(&b.name));
        for v in vhosts {
            for x in v.exchanges_by_name() {
                snap.exchanges.push(ExchangeView {
                    vhost: v.name.clone(),
                    name: x.name.clone(),
                    kind: x.kind.as_str(),
                    durable: x.durable,
                    bindings: x
                        .bindings
                        .iter()
                        .map(|b| (b.destination.name().clone(), b.routing_key.clone()))
                        .collect(),
                });
            }
            for id in v.queue_ids_by_name() {
                let Some(q) = self.queue(id) else { continue };
                snap.queues.push(QueueView {
                    vhost: v.name.clone(),
                    name: q.name.clone(),
                    durable: q.durable,
                    exclusive: q.exclusive_owner.is_some(),
                    auto_delete: q.auto_delete,
                    counts: QueueCounts {
                        ready: q.ready.len(),
                        ready_bytes: q.ready.bytes(),
                        paged: q.ready.len() - q.ready.in_mem(),
                        memory: q.ready.mem(),
                        pages: q.ready.runs().count(),
                        unacked: q.unacked as usize,
                        delayed: q.delayed.len(),
                        consumers: q.consumers.len(),
                    },
                    stats: q.stats,
                    policy: q.policy.clone(),
                    ready: match messages {
                        true => q
                            .ready
                            .iter()
                            .map(|e| (e.msg_id, e.deliveries.into()))
                            .collect(),
                        false => Vec::new(),
                    },
                });
                for c in &q.consumers {
                    snap.consumers.push(ConsumerView {
                        queue: q.name.clone(),
                        channel: c.channel,
                        tag: c.tag.clone(),
                        no_ack: c.no_ack,
                        prefetch: c.prefetch,
                        unacked: c.unacked,
                    });
                }
            }
        }
        for id in self.connection_ids() {
            let Some(conn) = self.conns.get(&id).filter(|_| id.0 != 0) else {
                continue; // 0: the engine's own recovery connection
            };
            snap.connections.push(ConnectionView {
                id,
                name: conn.info.name.clone(),
                user: conn.info.user.clone(),
                vhost: conn.info.vhost.clone(),
                channels: conn.channels.iter().flatten().count(),
            });
            for ch in conn.channels.iter().flatten() {
                snap.channels.push(ChannelView {
                    channel: ch.id,
                    prefetch: ch.consumer_prefetch,
                    global_prefetch: ch.channel_prefetch,
                    unacked: ch
                        .unacked
                        .iter()
                        .map(|u| (u.tag, u.entry.msg_id, self.queue_name(u.queue)))
                        .collect(),
                    confirm: matches!(ch.mode, super::channel::Mode::Confirm { .. }),
                    confirms_pending: match &ch.mode {
                        super::channel::Mode::Confirm { pending, .. } => pending.len(),
                        _ => 0,
                    },
                    tx: matches!(ch.mode, super::channel::Mode::Tx { .. }),
                });
            }
        }
        sort::sort_by(&mut snap.consumers, |a, b| {
            (a.channel, &a.tag).cmp(&(b.channel, &b.tag))
        });
        snap
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::broker::{BrokerConfig, ConnectionInfo};

    #[test]
    fn snapshot_lists_open_connections_with_their_channels() {
        let mut b = Broker::new(BrokerConfig::default());
        let info = ConnectionInfo {
            name: "10.0.0.7:5000".into(),
            ..Default::default()
        };
        let c = b.connection_open(0, info).unwrap();
        b.channel_open(0, ChannelRef::new(c, 1)).unwrap();
        b.channel_open(0, ChannelRef::new(c, 2)).unwrap();
        let snap = b.snapshot();
        assert_eq!(snap.connections.len(), 1);
        let v = &snap.connections[0];
        assert_eq!(
            (
                v.name.as_str(),
                v.user.as_str(),
                v.vhost.as_str(),
                v.channels
            ),
            ("10.0.0.7:5000", "guest", "/", 2)
        );
        b.connection_close(0, c);
        assert!(b.snapshot().connections.is_empty());
    }

    #[test]
    fn lists_are_in_vhost_and_name_order_connections_by_id() {
        use crate::broker::{ExchangeDeclare, QueueDeclare};
        let mut b = Broker::new(BrokerConfig::default());
        let s = |x: &str| ShortStr::new(x).unwrap();
        b.add_vhost("b");
        b.add_vhost("a");
        let mut conns = Vec::new();
        for (vhost, names) in [("b", ["y", "x"]), ("/", ["q2", "q1"]), ("a", ["z", "w"])] {
            let info = ConnectionInfo {
                vhost: s(vhost),
                ..Default::default()
            };
            let c = b.connection_open(0, info).unwrap();
            for n in [2, 1] {
                b.channel_open(0, ChannelRef::new(c, n)).unwrap();
            }
            let ch = ChannelRef::new(c, 1);
            for name in names {
                let queue = QueueDeclare {
                    queue: s(name),
                    ..Default::default()
                };
                b.queue_declare(0, ch, queue).unwrap();
                let exchange = ExchangeDeclare {
                    exchange: s(&format!("x-{name}")),
                    kind: s("fanout"),
                    ..Default::default()
                };
                b.exchange_declare(0, ch, exchange).unwrap();
            }
            conns.push(c);
        }
        let snap = b.snapshot();
        let queues: Vec<String> = snap
            .queues
            .iter()
            .map(|q| format!("{}:{}", q.vhost, q.name))
            .collect();
        assert_eq!(queues, ["/:q1", "/:q2", "a:w", "a:z", "b:x", "b:y"]);
        let exchanges: Vec<String> = snap
            .exchanges
            .iter()
            .filter(|x| x.name.starts_with("x-"))
            .map(|x| format!("{}:{}", x.vhost, x.name))
            .collect();
        assert_eq!(
            exchanges,
            ["/:x-q1", "/:x-q2", "a:x-w", "a:x-z", "b:x-x", "b:x-y"]
        );
        let ids: Vec<ConnId> = snap.connections.iter().map(|c| c.id).collect();
        assert_eq!(ids, conns);
        let channels: Vec<ChannelRef> = snap.channels.iter().map(|c| c.channel).collect();
        let expected: Vec<ChannelRef> = conns
            .iter()
            .flat_map(|&c| [ChannelRef::new(c, 1), ChannelRef::new(c, 2)])
            .collect();
        assert_eq!(channels, expected);
    }

    #[test]
    fn held_counts_ready_and_unacked_copies_and_their_bytes() {
        use crate::broker::{Consume, Message, Properties, QueueDeclare, ShortStr};
        let mut b = Broker::new(BrokerConfig::default());
        let c = b.connection_open(0, ConnectionInfo::default()).unwrap();
        let ch = ChannelRef::new(c, 1);
        b.channel_open(0, ch).unwrap();
        let q = ShortStr::new("q").unwrap();
        b.queue_declare(
            0,
            ch,
            QueueDeclare {
                queue: q.clone(),
                ..Default::default()
            },
        )
        .unwrap();
        for body in ["abc", "defgh"] {
            let m = Message::new(
                ShortStr::empty(),
                q.clone(),
                Properties::default(),
                body.as_bytes(),
            );
            b.basic_publish(0, ch, m, false, false).unwrap();
        }
        assert_eq!(b.held(), (2, 8));
        b.basic_qos(
            0,
            ch,
            crate::broker::Qos {
                prefetch_count: 1,
                ..Default::default()
            },
        )
        .unwrap();
        b.basic_consume(
            0,
            ch,
            Consume {
                queue: q,
                ..Default::default()
            },
        )
        .unwrap();
        b.poll(0);
        assert_eq!(b.held(), (2, 8), "one ready, one unacked");
        b.basic_ack(0, ch, 1, false).unwrap();
        b.poll(0);
        assert_eq!(b.held(), (1, 5));
    }
}
