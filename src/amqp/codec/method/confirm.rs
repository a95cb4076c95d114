//! Class `confirm` (85), a RabbitMQ extension: publisher confirms.

use super::define::define_method;

define_method! {
    /// Puts the channel in confirm mode: publishes are acked (or nacked).
    ConfirmSelect(85, 10, "confirm.select") {
        nowait: bool,
    }
}

define_method! {
    ConfirmSelectOk(85, 11, "confirm.select-ok") from server {}
}
