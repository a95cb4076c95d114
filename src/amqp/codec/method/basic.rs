//! Class `basic` (60): consuming, publishing, acknowledging. The hot path:
//! `publish`, `deliver` and `ack` carry no tables, so decoding them allocates
//! only their short strings.

use super::define::define_method;
use crate::broker::{FieldTable, ShortStr};

define_method! {
    /// Limits unacknowledged deliveries; `global` applies it per channel
    /// (RabbitMQ) instead of per consumer.
    BasicQos(60, 10, "basic.qos") {
        prefetch_size: u32,
        prefetch_count: u16,
        global: bool,
    }
}

define_method! {
    BasicQosOk(60, 11, "basic.qos-ok") from server {}
}

define_method! {
    BasicConsume(60, 20, "basic.consume") {
        ticket: u16,
        queue: ShortStr,
        /// Empty asks the server to make one up.
        consumer_tag: ShortStr,
        no_local: bool,
        no_ack: bool,
        exclusive: bool,
        nowait: bool,
        arguments: FieldTable,
    }
}

define_method! {
    BasicConsumeOk(60, 21, "basic.consume-ok") from server {
        consumer_tag: ShortStr,
    }
}

define_method! {
    /// Client to server, or (RabbitMQ) server to client when the queue went away.
    BasicCancel(60, 30, "basic.cancel") {
        consumer_tag: ShortStr,
        nowait: bool,
    }
}

define_method! {
    BasicCancelOk(60, 31, "basic.cancel-ok") {
        consumer_tag: ShortStr,
    }
}

define_method! {
    /// Followed by a content header and body.
    BasicPublish(60, 40, "basic.publish", content) {
        ticket: u16,
        exchange: ShortStr,
        routing_key: ShortStr,
        mandatory: bool,
        /// Not supported by RabbitMQ (closes with 540).
        immediate: bool,
    }
}

define_method! {
    /// An unroutable mandatory message coming back; content follows.
    BasicReturn(60, 50, "basic.return", content) from server {
        reply_code: u16,
        reply_text: ShortStr,
        exchange: ShortStr,
        routing_key: ShortStr,
    }
}

define_method! {
    /// A message pushed to a consumer; content follows.
    BasicDeliver(60, 60, "basic.deliver", content) from server {
        consumer_tag: ShortStr,
        delivery_tag: u64,
        redelivered: bool,
        exchange: ShortStr,
        routing_key: ShortStr,
    }
}

define_method! {
    BasicGet(60, 70, "basic.get") {
        ticket: u16,
        queue: ShortStr,
        no_ack: bool,
    }
}

define_method! {
    /// A message fetched with `basic.get`; content follows.
    BasicGetOk(60, 71, "basic.get-ok", content) from server {
        delivery_tag: u64,
        redelivered: bool,
        exchange: ShortStr,
        routing_key: ShortStr,
        /// Messages left in the queue.
        message_count: u32,
    }
}

define_method! {
    BasicGetEmpty(60, 72, "basic.get-empty") from server {
        /// Deprecated, empty.
        cluster_id: ShortStr,
    }
}

define_method! {
    /// Also sent by the server as a publisher confirm.
    BasicAck(60, 80, "basic.ack") {
        delivery_tag: u64,
        multiple: bool,
    }
}

define_method! {
    BasicReject(60, 90, "basic.reject") {
        delivery_tag: u64,
        requeue: bool,
    }
}

define_method! {
    /// Deprecated asynchronous `recover`.
    BasicRecoverAsync(60, 100, "basic.recover-async") {
        requeue: bool,
    }
}

define_method! {
    BasicRecover(60, 110, "basic.recover") {
        requeue: bool,
    }
}

define_method! {
    BasicRecoverOk(60, 111, "basic.recover-ok") from server {}
}

define_method! {
    /// RabbitMQ: reject one or (with `multiple`) many; also a negative confirm.
    BasicNack(60, 120, "basic.nack") {
        delivery_tag: u64,
        multiple: bool,
        requeue: bool,
    }
}
