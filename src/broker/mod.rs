//! The engine: exchanges, queues, consumers, acknowledgments, confirms and
//! every delivery policy. Pure and deterministic: no I/O, no clock reads.

pub mod error;
pub mod message;
pub mod value;

pub use error::{AmqpError, ReplyCode};
pub use message::{Message, Properties, Props};
pub use value::{FieldTable, FieldValue, ShortStr};
