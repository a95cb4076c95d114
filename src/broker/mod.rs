//! The engine: exchanges, queues, consumers, acknowledgments, confirms and
//! every delivery policy. Pure and deterministic: no I/O, no clock reads;
//! see [`Broker`] for the calling contract.

pub mod args;
pub mod channel;
pub mod command;
pub mod dead_letter;
pub mod dedup;
pub mod definitions;
mod delivery;
mod direct_reply;
pub mod effect;
mod engine;
pub mod error;
pub mod event;
pub mod exchange;
mod fxhash;
pub mod ids;
pub mod message;
pub mod policy;
mod publish;
pub mod queue;
pub mod routing;
mod settle;
pub mod snapshot;
pub mod store;
mod timers;
mod topology;
pub mod value;

pub use command::{
    Bind, ConnectionInfo, Consume, ExchangeDeclare, Qos, QueueDeclare, QueueDeclareOk,
};
pub use effect::Effect;
pub use engine::{Broker, BrokerConfig};
pub use error::{AmqpError, ReplyCode};
pub use event::{Event, EventKind};
pub use ids::{ChannelRef, ConnId, MsgId};
pub use message::{Message, Properties, Props};
pub use policy::{ApplyTo, Policy, PolicyError};
pub use store::StoreRecord;
pub use value::{FieldTable, FieldValue, ShortStr};
