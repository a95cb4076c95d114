//! Warren: an AMQP 0-9-1 broker whose engine runs natively and in WebAssembly.
//!
//! - [`broker`]: the engine. Pure and deterministic: commands in, effects out;
//!   time is an argument (`now_ms`), never read from a clock.
//! - [`amqp`]: the wire protocol, sans-IO: a codec and a per-connection state
//!   machine that turns bytes into engine calls and engine effects into bytes.
//! - `wasm` (wasm32 only): the thin binding layer for JavaScript.
//!
//! Hosts (Node, browsers, edge workers) own sockets, timers and storage; they
//! feed bytes and the time in, and carry bytes and store records out.

// The wasm build's allocator has a cache of small blocks in front; natively
// only its tests build it (over the system allocator).
#[cfg(any(target_family = "wasm", test))]
mod alloc_cache;
pub mod amqp;
// Native benchmarks always have it; the wasm only with the `bench` feature.
#[cfg(any(not(target_family = "wasm"), feature = "bench"))]
#[doc(hidden)]
pub mod bench_loop;
pub mod broker;
pub mod image;
mod short_bytes;
pub mod storage;
#[cfg(target_family = "wasm")]
pub mod wasm;
