//! Batched commands of in-process clients: publishes without properties and
//! acknowledgements, queued by `js/client.js`, written by `js/core.js`
//! straight into the broker's command buffer in wasm memory
//! (`commandBuffer`) and run in one call (`runCommandBuffer`). Each
//! becomes the AMQP method a client would send and goes through the same
//! per-method layer as a single command (`commands.rs`); a publish and the
//! `PUBLISH_NEXT`s after it go straight to that layer's run of
//! `basic.publish`es with their content (`publish_run`: the engine's checks
//! once for the run), a method made only for the wire tap.
//!
//! Records, little-endian, each `op u8, conn u32, channel u16`, then:
//! - `PUBLISH`: `mandatory u8, exchange len u8 + UTF-8, routing key len u8 +
//!   UTF-8, body len u32 + bytes`;
//! - `ACK`, `NACK`, `REJECT`: `tag f64, multiple u8, requeue u8`;
//! - `ACK_RUN`: `first tag f64, count u32`: `basic.ack` of each of `count`
//!   consecutive tags alone, as a consumer acking one by one sends them.
//!
//! but `PUBLISH_NEXT` is only `op u8, body len u32 + bytes`: a publish with
//! the connection, channel, flag and names of the batch's previous `PUBLISH`
//! (a run of publishes to one place costs its body and five bytes).
//!
//! An error closes the channel (soft) or the connection (hard) as it would
//! on the wire; the close comes out of `takeOutput` as `CLOSE_CHANNEL` or
//! `CLOSE_CONNECTION`, and the batch's later commands on it are skipped.

use super::commands::chan;
use super::options::ms;
use super::{output, WasmBroker};
use crate::amqp::codec::method::{BasicAck, BasicNack, BasicPublish, BasicReject, Method};
use crate::amqp::connection::publish_run;
use crate::broker::{AmqpError, Effect, Message, Props, ShortStr};
use wasm_bindgen::prelude::*;

const PUBLISH: u8 = 1;
const ACK: u8 = 2;
const NACK: u8 = 3;
const REJECT: u8 = 4;
const PUBLISH_NEXT: u8 = 5;
const ACK_RUN: u8 = 6;

/// `basic.ack` (kind 0), `basic.nack` (1) or `basic.reject` (2).
pub(super) fn settle_method(kind: u8, delivery_tag: u64, multiple: bool, requeue: bool) -> Method {
    match kind {
        0 => BasicAck {
            delivery_tag,
            multiple,
        }
        .into(),
        1 => BasicNack {
            delivery_tag,
            multiple,
            requeue,
        }
        .into(),
        _ => BasicReject {
            delivery_tag,
            requeue,
        }
        .into(),
    }
}

/// A cursor over the command buffer; None once it is cut short.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn f64(&mut self) -> Option<f64> {
        Some(f64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    /// A short string; `last` keeps the previous one of the same field, which
    /// a run of publishes repeats.
    fn short(&mut self, last: &mut Option<ShortStr>) -> Option<ShortStr> {
        let n = self.u8()?;
        let bytes = self.take(usize::from(n))?;
        if let Some(s) = last.as_ref().filter(|s| s.as_bytes() == bytes) {
            return Some(s.clone());
        }
        let s = ShortStr::new(std::str::from_utf8(bytes).ok()?).ok()?;
        *last = Some(s.clone());
        Some(s)
    }
}

/// The previous publish in the batch: its names, and where and how it went.
#[derive(Default)]
struct Names {
    exchange: Option<ShortStr>,
    routing_key: Option<ShortStr>,
    /// conn, channel, mandatory
    to: Option<(u32, u16, bool)>,
}

impl Names {
    /// The message of a publish of `body` to the previous one's names.
    fn message(&self, body: &[u8]) -> Option<Message> {
        let (x, k) = (self.exchange.as_ref()?, self.routing_key.as_ref()?);
        Some(Message::from_parts(x, k, Props::default(), body))
    }

    /// A publish of `body` as the previous one: its message and `mandatory`.
    fn publish(&self, body: &[u8]) -> Option<Command> {
        let (_, _, mandatory) = self.to?;
        let message = self.message(body)?;
        Some(Command::Publish { message, mandatory })
    }

    /// The `basic.publish` method of the previous publish, for the wire tap.
    fn method(&self, mandatory: bool) -> Option<Method> {
        let p = BasicPublish {
            ticket: 0,
            exchange: self.exchange.clone()?,
            routing_key: self.routing_key.clone()?,
            mandatory,
            immediate: false,
        };
        Some(p.into())
    }
}

/// A delivery tag sent as f64: a whole number from 0 to 2^53.
fn tag(r: &mut Reader<'_>) -> Option<u64> {
    let t = r.f64()?;
    (t.is_finite() && t >= 0.0 && t.fract() == 0.0 && t <= 9_007_199_254_740_992.0)
        .then_some(t as u64)
}

/// One decoded command: the methods it stands for and, for a publish, its message.
enum Command {
    /// A publish to the batch's current names (`Names`): with the wire tap
    /// off, it starts a run of publishes with no method made.
    Publish {
        message: Message,
        mandatory: bool,
    },
    One(Method, Option<Message>),
    /// `basic.ack` of `count` tags from `first`, each alone.
    Acks {
        first: u64,
        count: u32,
    },
}

/// The command of record `op` on `(conn, ch)`.
fn command(op: u8, r: &mut Reader<'_>, names: &mut Names, conn: u32, ch: u16) -> Option<Command> {
    match op {
        PUBLISH => {
            let mandatory = r.u8()? != 0;
            names.exchange = Some(r.short(&mut names.exchange)?);
            names.routing_key = Some(r.short(&mut names.routing_key)?);
            names.to = Some((conn, ch, mandatory));
            let len = r.u32()? as usize;
            names.publish(r.take(len)?)
        }
        ACK | NACK | REJECT => {
            let t = tag(r)?;
            let multiple = r.u8()? != 0;
            let requeue = r.u8()? != 0;
            Some(Command::One(
                settle_method(op - ACK, t, multiple, requeue),
                None,
            ))
        }
        ACK_RUN => {
            let first = tag(r)?;
            let count = r.u32()?;
            Some(Command::Acks { first, count })
        }
        _ => None,
    }
}

/// The record at the reader: `(conn, channel, command)`, None if malformed.
fn record(r: &mut Reader<'_>, names: &mut Names) -> Option<(u32, u16, Command)> {
    let op = r.u8()?;
    if op == PUBLISH_NEXT {
        let (conn, ch, _) = names.to?;
        let len = r.u32()? as usize;
        return Some((conn, ch, names.publish(r.take(len)?)?));
    }
    let conn = r.u32()?;
    let ch = r.u16()?;
    Some((conn, ch, command(op, r, names, conn, ch)?))
}

/// The message of the `PUBLISH_NEXT` record at the reader, if there is
/// one; `fault` is set if it is cut short.
fn next_publish(r: &mut Reader<'_>, names: &Names, fault: &mut bool) -> Option<Message> {
    if r.0.first() != Some(&PUBLISH_NEXT) {
        return None;
    }
    let mut rest = Reader(r.0.get(1..).unwrap_or_default());
    let message = rest
        .u32()
        .and_then(|n| rest.take(n as usize))
        .and_then(|body| names.message(body));
    *fault = message.is_none();
    r.0 = rest.0;
    message
}

#[wasm_bindgen]
impl WasmBroker {
    /// Makes the command buffer `len` bytes long (keeping what it holds, up
    /// to `len`) and returns its address in wasm memory, where JS writes
    /// commands for `runCommandBuffer`: a batch is not copied to cross.
    #[wasm_bindgen(js_name = commandBuffer)]
    pub fn command_buffer(&mut self, len: u32) -> u32 {
        self.commands.resize(len as usize, 0);
        self.commands.shrink_to_fit();
        self.commands.as_ptr() as usize as u32
    }

    /// [`run_commands`](Self::run_commands) of the command buffer's first `len` bytes.
    #[wasm_bindgen(js_name = runCommandBuffer)]
    pub fn run_command_buffer(&mut self, now: f64, len: u32) -> Result<(), JsValue> {
        let commands = std::mem::take(&mut self.commands);
        let r = match commands.get(..len as usize) {
            Some(batch) => self.run_commands(now, batch),
            None => {
                Err(js_sys::RangeError::new("runCommandBuffer: past the command buffer").into())
            }
        };
        self.commands = commands;
        r
    }
}

impl WasmBroker {
    /// Runs one decoded command through the per-method layer.
    fn run_command(
        &mut self,
        now: u64,
        conn: u32,
        ch: u16,
        command: Command,
        names: &Names,
    ) -> Result<Option<Method>, AmqpError> {
        match command {
            // With the wire tap on (off, run_commands makes runs of them).
            Command::Publish { message, mandatory } => match names.method(mandatory) {
                Some(p) => self.run_method(now, conn, ch, p, Some(message)),
                None => Ok(None), // a Publish is decoded only with its names
            },
            Command::One(method, content) => self.run_method(now, conn, ch, method, content),
            Command::Acks { first, count } => (0..u64::from(count))
                .try_for_each(|i| {
                    let ack = settle_method(0, first + i, false, false);
                    self.run_method(now, conn, ch, ack, None).map(|_| ())
                })
                .map(|()| None),
        }
    }

    /// `first` and the `PUBLISH_NEXT`s right after it at the reader, as one
    /// run of publishes to `(conn, channel, mandatory)` with `names`;
    /// `fault` is set if a record is cut short.
    fn run_publishes(
        &mut self,
        now: u64,
        r: &mut Reader<'_>,
        names: &Names,
        fault: &mut bool,
        (conn, ch, mandatory): (u32, u16, bool),
        first: Message,
    ) -> Result<Option<Method>, AmqpError> {
        let max = self.server.config().limits.max_message_size;
        let next = || next_publish(r, names, fault);
        let broker = self.server.broker_mut();
        let flags = (mandatory, false);
        publish_run(broker, now, chan(conn, ch), flags, first, next, max).map(|()| None)
    }

    /// Runs a batch of commands (layout above), then routes what they
    /// caused. A malformed buffer is a `TypeError` (a JS and wasm build that
    /// do not match); the commands before the fault have run.
    pub fn run_commands(&mut self, now: f64, commands: &[u8]) -> Result<(), JsValue> {
        let now = ms(now);
        let mut r = Reader(commands);
        // Channels (channel 0: whole connections) closed by an error in this batch.
        let mut failed: Vec<(u32, u16)> = Vec::new();
        let mut fault = false;
        let mut names = Names::default();
        while let Some(&op) = r.0.first() {
            let (conn, ch, result) = if op == PUBLISH_NEXT && !self.wire {
                // A body to the previous publish's place after another
                // command: it starts a run of its own.
                let message = next_publish(&mut r, &names, &mut fault);
                let (Some((conn, ch, mandatory)), Some(message)) = (names.to, message) else {
                    fault = true;
                    break;
                };
                if failed.contains(&(conn, ch)) || failed.contains(&(conn, 0)) {
                    continue;
                }
                let to = (conn, ch, mandatory);
                let result = self.run_publishes(now, &mut r, &names, &mut fault, to, message);
                if fault {
                    break;
                }
                (conn, ch, result)
            } else {
                let Some((conn, ch, command)) = record(&mut r, &mut names) else {
                    fault = true;
                    break;
                };
                if failed.contains(&(conn, ch)) || failed.contains(&(conn, 0)) {
                    continue;
                }
                match command {
                    // A publish and the PUBLISH_NEXTs after it: one run.
                    Command::Publish { message, mandatory } if !self.wire => {
                        let to = (conn, ch, mandatory);
                        let result =
                            self.run_publishes(now, &mut r, &names, &mut fault, to, message);
                        if fault {
                            break;
                        }
                        (conn, ch, result)
                    }
                    command => (conn, ch, self.run_command(now, conn, ch, command, &names)),
                }
            };
            if let Err(error) = result {
                let e = if error.is_soft() {
                    failed.push((conn, ch));
                    Effect::CloseChannel {
                        to: chan(conn, ch),
                        error,
                    }
                } else {
                    failed.push((conn, 0));
                    Effect::CloseConnection {
                        to: chan(conn, 0).conn,
                        error,
                    }
                };
                output::pack(&e, &mut self.front);
            }
        }
        self.server.tick(now);
        if fault {
            return Err(js_sys::TypeError::new(
                "runCommands: malformed command buffer (the JS and wasm builds do not match?)",
            )
            .into());
        }
        Ok(())
    }
}
