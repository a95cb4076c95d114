//! Engine events as plain data (`data.rs`): `{ at, type, ...fields }`, the
//! type in kebab-case and the fields in camelCase.

use super::data::Data;
use crate::broker::{DeadLetterReason, DropReason, Event, EventKind};

/// Every event in one array.
pub fn write_events(events: &[Event], d: &mut Data) {
    d.array();
    for e in events {
        d.object();
        d.key_num("at", e.at_ms as f64);
        write_kind(&e.kind, d);
        d.end();
    }
    d.end();
}

fn dead_letter_reason(r: DeadLetterReason) -> &'static str {
    match r {
        DeadLetterReason::Rejected => "rejected",
        DeadLetterReason::Expired => "expired",
        DeadLetterReason::MaxLen => "max_len",
        DeadLetterReason::DeliveryLimit => "delivery_limit",
    }
}

fn drop_reason(r: DropReason) -> &'static str {
    match r {
        DropReason::MaxLen => "max-len",
        DropReason::Expired => "expired",
        DropReason::Rejected => "rejected",
        DropReason::DeliveryLimit => "delivery-limit",
        DropReason::Purged => "purged",
        DropReason::QueueDeleted => "queue-deleted",
        DropReason::Duplicate => "duplicate",
        DropReason::DeadLetterFailed => "dead-letter-failed",
    }
}

fn write_kind(kind: &EventKind, d: &mut Data) {
    use EventKind as K;
    let (ty, msg) = match kind {
        K::Published { msg, .. } => ("published", Some(msg)),
        K::Routed { msg, .. } => ("routed", Some(msg)),
        K::Returned { msg } => ("returned", Some(msg)),
        K::Refused { msg, .. } => ("refused", Some(msg)),
        K::Enqueued { msg, .. } => ("enqueued", Some(msg)),
        K::Delivered { msg, .. } => ("delivered", Some(msg)),
        K::Acked { msg, .. } => ("acked", Some(msg)),
        K::Nacked { msg, .. } => ("nacked", Some(msg)),
        K::Rejected { msg, .. } => ("rejected", Some(msg)),
        K::Requeued { msg, .. } => ("requeued", Some(msg)),
        K::DeadLettered { msg, .. } => ("dead-lettered", Some(msg)),
        K::Expired { msg, .. } => ("expired", Some(msg)),
        K::Dropped { msg, .. } => ("dropped", Some(msg)),
        K::PagedDropped { .. } => ("paged-dropped", None),
        K::Confirmed { .. } => ("confirmed", None),
        K::ConsumerAdded { .. } => ("consumer-added", None),
        K::ConsumerRemoved { .. } => ("consumer-removed", None),
        K::QueueCreated { .. } => ("queue-created", None),
        K::QueueDeleted { .. } => ("queue-deleted", None),
        K::ChannelOpened { .. } => ("channel-opened", None),
        K::ChannelClosed { .. } => ("channel-closed", None),
        K::ConnectionOpened { .. } => ("connection-opened", None),
        K::ConnectionClosed { .. } => ("connection-closed", None),
    };
    d.key_str("type", ty);
    if let Some(msg) = msg {
        d.key_num("msg", *msg as f64);
    }
    match kind {
        K::Published {
            channel,
            exchange,
            routing_key,
            size,
            persistent,
            confirm_seq,
            ..
        } => {
            d.key_opt_channel("channel", *channel);
            d.key_str("exchange", exchange);
            d.key_str("routingKey", routing_key);
            d.key_num("size", *size as f64);
            d.key_bool("persistent", *persistent);
            d.key_opt_num("confirmSeq", confirm_seq.map(|s| s as f64));
        }
        K::Routed { queues, .. } => {
            d.key("queues");
            d.array();
            for q in queues {
                d.str(q);
            }
            d.end();
        }
        K::Returned { .. } => {}
        K::Refused { queue, .. }
        | K::Enqueued { queue, .. }
        | K::Acked { queue, .. }
        | K::Expired { queue, .. }
        | K::QueueCreated { queue }
        | K::QueueDeleted { queue } => d.key_str("queue", queue),
        K::Delivered {
            queue,
            to,
            consumer_tag,
            delivery_tag,
            redelivered,
            delivery_count,
            auto_ack,
            ..
        } => {
            d.key_str("queue", queue);
            d.channel("to", *to);
            d.key_opt_str("consumerTag", consumer_tag.as_deref());
            d.key_num("deliveryTag", *delivery_tag as f64);
            d.key_bool("redelivered", *redelivered);
            d.key_num("deliveryCount", (*delivery_count).into());
            d.key_bool("autoAck", *auto_ack);
        }
        K::Nacked { queue, requeue, .. } | K::Rejected { queue, requeue, .. } => {
            d.key_str("queue", queue);
            d.key_bool("requeue", *requeue);
        }
        K::Requeued {
            queue, delay_ms, ..
        } => {
            d.key_str("queue", queue);
            d.key_num("delayMs", *delay_ms as f64);
        }
        K::DeadLettered {
            queue,
            reason,
            exchange,
            ..
        } => {
            d.key_str("queue", queue);
            d.key_str("reason", dead_letter_reason(*reason));
            d.key_str("exchange", exchange);
        }
        K::Dropped { queue, reason, .. } => {
            d.key_str("queue", queue);
            d.key_str("reason", drop_reason(*reason));
        }
        K::PagedDropped {
            queue,
            count,
            reason,
        } => {
            d.key_str("queue", queue);
            d.key_num("count", *count as f64);
            d.key_str("reason", drop_reason(*reason));
        }
        K::Confirmed { to, seq, ack } => {
            d.channel("to", *to);
            d.key_num("seq", *seq as f64);
            d.key_bool("ack", *ack);
        }
        K::ConsumerAdded {
            queue,
            to,
            consumer_tag,
        }
        | K::ConsumerRemoved {
            queue,
            to,
            consumer_tag,
        } => {
            d.key_str("queue", queue);
            d.channel("to", *to);
            d.key_str("consumerTag", consumer_tag);
        }
        K::ChannelOpened { channel } | K::ChannelClosed { channel } => {
            d.channel("channel", *channel)
        }
        K::ConnectionOpened { conn } | K::ConnectionClosed { conn } => {
            d.key_num("conn", conn.0.into())
        }
    }
}
