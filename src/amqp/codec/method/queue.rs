//! Class `queue` (50): declare, bind, unbind, purge and delete.

use super::define::define_method;
use crate::broker::{FieldTable, ShortStr};

define_method! {
    /// An empty `queue` asks the server to name the queue.
    QueueDeclare(50, 10, "queue.declare") {
        ticket: u16,
        queue: ShortStr,
        passive: bool,
        durable: bool,
        exclusive: bool,
        auto_delete: bool,
        nowait: bool,
        arguments: FieldTable,
    }
}

define_method! {
    QueueDeclareOk(50, 11, "queue.declare-ok") from server {
        queue: ShortStr,
        message_count: u32,
        consumer_count: u32,
    }
}

define_method! {
    QueueBind(50, 20, "queue.bind") {
        ticket: u16,
        queue: ShortStr,
        exchange: ShortStr,
        routing_key: ShortStr,
        nowait: bool,
        arguments: FieldTable,
    }
}

define_method! {
    QueueBindOk(50, 21, "queue.bind-ok") from server {}
}

define_method! {
    QueuePurge(50, 30, "queue.purge") {
        ticket: u16,
        queue: ShortStr,
        nowait: bool,
    }
}

define_method! {
    QueuePurgeOk(50, 31, "queue.purge-ok") from server {
        message_count: u32,
    }
}

define_method! {
    QueueDelete(50, 40, "queue.delete") {
        ticket: u16,
        queue: ShortStr,
        if_unused: bool,
        if_empty: bool,
        nowait: bool,
    }
}

define_method! {
    QueueDeleteOk(50, 41, "queue.delete-ok") from server {
        message_count: u32,
    }
}

define_method! {
    /// Has no `nowait`, unlike `queue.bind`.
    QueueUnbind(50, 50, "queue.unbind") {
        ticket: u16,
        queue: ShortStr,
        exchange: ShortStr,
        routing_key: ShortStr,
        arguments: FieldTable,
    }
}

define_method! {
    QueueUnbindOk(50, 51, "queue.unbind-ok") from server {}
}
