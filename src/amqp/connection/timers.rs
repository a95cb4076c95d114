//! Time: heartbeats both ways, the handshake deadline and the wait for
//! `connection.close-ok`.
//!
//! Heartbeats go out after half the negotiated interval without other
//! output, as RabbitMQ sends them, so a client that checks once per interval
//! always sees traffic even when the host's timer fires late. A peer silent
//! for two intervals is dropped, as the spec says.

use super::{Connection, Env, Phase};
use crate::amqp::codec::write_heartbeat;

impl Connection {
    /// When [`handle_timeout`](Self::handle_timeout) should next run.
    pub fn deadline(&self) -> Option<u64> {
        let Some((send, silent)) = self.heartbeat_deadlines() else {
            return self.phase_deadline;
        };
        let beat = send.min(silent);
        Some(self.phase_deadline.map_or(beat, |d| d.min(beat)))
    }

    /// (next heartbeat to send, when the peer counts as gone).
    fn heartbeat_deadlines(&self) -> Option<(u64, u64)> {
        if self.heartbeat_ms == 0 || !matches!(self.phase, Phase::AwaitOpen | Phase::Open) {
            return None;
        }
        // While paused the host reads nothing, so silence proves nothing
        // (RabbitMQ pauses its receive monitor while blocked, too).
        let silent = match self.paused {
            true => u64::MAX,
            false => self
                .last_recv
                .saturating_add(self.heartbeat_ms.saturating_mul(2)),
        };
        Some((self.last_send.saturating_add(self.heartbeat_ms / 2), silent))
    }

    pub fn handle_timeout(&mut self, env: &mut Env<'_>) {
        self.enter(env.now);
        let now = self.now;
        if self.phase_deadline.is_some_and(|d| now >= d) {
            // Handshake too slow, or no close-ok: drop the transport.
            if self.phase != Phase::Closing {
                self.report_drop("handshake timeout");
            }
            return self.finish(env);
        }
        let Some((send, silent)) = self.heartbeat_deadlines() else {
            return;
        };
        if now >= silent {
            let secs = self.heartbeat_ms / 1000;
            self.report_drop(&format!("missed heartbeats from client, timeout: {secs}s"));
            return self.finish(env);
        }
        if now >= send {
            write_heartbeat(&mut self.out);
            self.last_send = now;
        }
    }
}
