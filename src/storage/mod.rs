//! Store records as bytes, and the append-only log that holds them.
//!
//! The engine emits [`StoreRecord`](crate::broker::StoreRecord)s; hosts keep
//! them in files, IndexedDB or Durable Object storage. [`record`] turns one
//! record into bytes and back (reusing the AMQP codec for tables and
//! properties); [`log`] frames records with a length and a checksum so a torn
//! or corrupt tail is found and cut on recovery, never replayed.

pub mod log;
pub mod page;
pub mod record;
