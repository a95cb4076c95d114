//! Batched commands of in-process clients: publishes without properties and
//! acknowledgements, queued by `js/client.js` and run in one call. Each
//! becomes the AMQP method a client would send and goes through the same
//! per-method layer as a single command (`commands.rs`).
//!
//! Records, little-endian, each `op u8, conn u32, channel u16`, then:
//! - `PUBLISH`: `mandatory u8, exchange len u8 + UTF-8, routing key len u8 +
//!   UTF-8, body len u32 + bytes`;
//! - `ACK`, `NACK`, `REJECT`: `tag f64, multiple u8, requeue u8`.
//!
//! An error closes the channel (soft) or the connection (hard) as it would
//! on the wire; the close comes out of `takeOutput` as `CLOSE_CHANNEL` or
//! `CLOSE_CONNECTION`, and the batch's later commands on it are skipped.

use super::commands::chan;
use super::options::ms;
use super::{output, WasmBroker};
use crate::amqp::codec::method::{BasicAck, BasicNack, BasicPublish, BasicReject, Method};
use crate::broker::{Effect, Message, Props, ShortStr};
use wasm_bindgen::prelude::*;

const PUBLISH: u8 = 1;
const ACK: u8 = 2;
const NACK: u8 = 3;
const REJECT: u8 = 4;

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

/// The names of the previous publish in the batch.
#[derive(Default)]
struct Names {
    exchange: Option<ShortStr>,
    routing_key: Option<ShortStr>,
}

/// One decoded command: the method and, for a publish, its message.
fn command(op: u8, r: &mut Reader<'_>, names: &mut Names) -> Option<(Method, Option<Message>)> {
    match op {
        PUBLISH => {
            let mandatory = r.u8()? != 0;
            let exchange = r.short(&mut names.exchange)?;
            let routing_key = r.short(&mut names.routing_key)?;
            let len = r.u32()? as usize;
            let body = r.take(len)?;
            let m = Message::from_parts(&exchange, &routing_key, Props::default(), body);
            let p = BasicPublish {
                ticket: 0,
                exchange,
                routing_key,
                mandatory,
                immediate: false,
            };
            Some((p.into(), Some(m)))
        }
        ACK | NACK | REJECT => {
            let t = r.f64()?;
            let multiple = r.u8()? != 0;
            let requeue = r.u8()? != 0;
            if !(t.is_finite() && t >= 0.0 && t.fract() == 0.0) {
                return None;
            }
            Some((settle_method(op - ACK, t as u64, multiple, requeue), None))
        }
        _ => None,
    }
}

#[wasm_bindgen]
impl WasmBroker {
    /// Runs a batch of commands (layout above), then routes what they
    /// caused. A malformed buffer is a `TypeError` (a JS and wasm build that
    /// do not match); the commands before the fault have run.
    #[wasm_bindgen(js_name = runCommands)]
    pub fn run_commands(&mut self, now: f64, commands: &[u8]) -> Result<(), JsValue> {
        let now = ms(now);
        let mut r = Reader(commands);
        // Channels (channel 0: whole connections) closed by an error in this batch.
        let mut failed: Vec<(u32, u16)> = Vec::new();
        let mut fault = false;
        let mut names = Names::default();
        while !r.0.is_empty() {
            let Some((op, conn, ch)) = (|| Some((r.u8()?, r.u32()?, r.u16()?)))() else {
                fault = true;
                break;
            };
            let Some((method, content)) = command(op, &mut r, &mut names) else {
                fault = true;
                break;
            };
            if failed.contains(&(conn, ch)) || failed.contains(&(conn, 0)) {
                continue;
            }
            if let Err(error) = self.run_method(now, conn, ch, method, content) {
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
