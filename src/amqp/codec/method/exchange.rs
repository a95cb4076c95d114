//! Class `exchange` (40): declare, delete, and RabbitMQ's exchange-to-exchange
//! bindings.

use super::define::define_method;
use crate::broker::{FieldTable, ShortStr};

define_method! {
    ExchangeDeclare(40, 10, "exchange.declare") {
        /// Deprecated, 0.
        ticket: u16,
        exchange: ShortStr,
        /// The exchange type (`type` in the spec): direct, fanout, topic, headers.
        kind: ShortStr,
        passive: bool,
        durable: bool,
        auto_delete: bool,
        internal: bool,
        nowait: bool,
        arguments: FieldTable,
    }
}

define_method! {
    ExchangeDeclareOk(40, 11, "exchange.declare-ok") from server {}
}

define_method! {
    ExchangeDelete(40, 20, "exchange.delete") {
        ticket: u16,
        exchange: ShortStr,
        if_unused: bool,
        nowait: bool,
    }
}

define_method! {
    ExchangeDeleteOk(40, 21, "exchange.delete-ok") from server {}
}

define_method! {
    /// RabbitMQ: routes messages from `source` on to `destination`.
    ExchangeBind(40, 30, "exchange.bind") {
        ticket: u16,
        destination: ShortStr,
        source: ShortStr,
        routing_key: ShortStr,
        nowait: bool,
        arguments: FieldTable,
    }
}

define_method! {
    ExchangeBindOk(40, 31, "exchange.bind-ok") from server {}
}

define_method! {
    ExchangeUnbind(40, 40, "exchange.unbind") {
        ticket: u16,
        destination: ShortStr,
        source: ShortStr,
        routing_key: ShortStr,
        nowait: bool,
        arguments: FieldTable,
    }
}

define_method! {
    /// Method id 51, not 41: so RabbitMQ's spec file numbers it.
    ExchangeUnbindOk(40, 51, "exchange.unbind-ok") from server {}
}
