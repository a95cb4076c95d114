//! Class `access` (30): deprecated realms and tickets. RabbitMQ still answers
//! `access.request` so that very old clients work.

use super::define::define_method;
use crate::broker::ShortStr;

define_method! {
    AccessRequest(30, 10, "access.request") {
        realm: ShortStr,
        exclusive: bool,
        passive: bool,
        active: bool,
        write: bool,
        read: bool,
    }
}

define_method! {
    AccessRequestOk(30, 11, "access.request-ok") from server {
        ticket: u16,
    }
}
