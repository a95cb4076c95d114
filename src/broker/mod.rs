//! The engine: exchanges, queues, consumers, acknowledgments, confirms and
//! every delivery policy. Pure and deterministic: no I/O, no clock reads;
//! see [`Broker`] for the calling contract.
//!
//! A panic would abort the wasm instance and every queue in it, so the same
//! lints as in `src/amqp` keep indexing, `unwrap` and friends out.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]

pub(crate) mod access;
pub(crate) mod args;
mod block;
pub(crate) mod channel;
pub(crate) mod command;
pub(crate) mod conn_table;
pub(crate) mod dead_letter;
pub(crate) mod dedup;
pub(crate) mod definitions;
pub(crate) mod delayed;
mod delivery;
mod direct_reply;
pub(crate) mod effect;
mod engine;
pub(crate) mod error;
pub(crate) mod event;
pub(crate) mod exchange;
pub(crate) mod float_text;
pub(crate) mod fxhash;
pub(crate) mod ids;
pub(crate) mod message;
pub(crate) mod paging;
pub(crate) mod policy;
mod publish;
mod publish_run;
pub(crate) mod queue;
mod regex;
mod route_cache;
pub(crate) mod routing;
mod settle;
mod slab;
pub(crate) mod snapshot;
pub(crate) mod sort;
pub(crate) mod store;
pub(crate) mod timer_set;
mod timers;
mod topology;
pub(crate) mod value;
pub(crate) mod vhost;

pub use access::{Password, Permission, User};
pub use command::{
    Bind, ConnectionInfo, Consume, ExchangeDeclare, Qos, QueueDeclare, QueueDeclareOk,
};
pub use dead_letter::DeadLetterReason;
pub use delivery::DISPATCH_ROUND;
pub use effect::Effect;
pub use engine::{Broker, BrokerConfig};
pub(crate) use engine::{Conn, QueueSlot, Vhost};
pub use error::{AmqpError, ReplyCode};
pub use event::{DropReason, Event, EventKind};
pub use ids::{ChannelRef, ConnId, MsgId};
pub use message::{BlockBuf, Message, Properties, Props};
pub use paging::PageOp;
pub use policy::{ApplyTo, Policy, PolicyError};
pub use publish_run::PublishRun;
pub use queue::QueueStats;
pub use snapshot::{
    ChannelView, ConnectionView, ConsumerView, ExchangeView, QueueCounts, QueueView, Snapshot,
};
pub use store::{RecoveryError, StoreRecord};
pub use value::{FieldTable, FieldValue, ShortStr};
pub use vhost::VhostLimits;
