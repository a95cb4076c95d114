//! The server's part of a broker image: which transport token holds which
//! connection, the timer entries, then the engine. Lookup maps are rebuilt.
//! Timer entries are kept as they are, stale ones included: they decide the
//! order in which connections that fall due in one tick are handled.

use super::{conn_key, IdMap, Server, Slot};
use crate::amqp::connection::{Connection, ServerConfig, Settings};
use crate::broker::BrokerConfig;
use crate::image::codec::{Bad, Dec, Enc};
use crate::image::{open, read_broker, seal, write_broker, ImageError};
use std::rc::Rc;

impl Server {
    /// The whole server as an image: the engine, every connection on it and
    /// which transport token holds which. The server goes on unchanged; a
    /// host about to sleep keeps the image and, on waking, [`resume`]s from
    /// it. Take it between calls, with [`poll_output`](Self::poll_output)
    /// drained (else [`ImageError::OutputPending`]). Events not yet taken
    /// from the broker are not part of it.
    ///
    /// [`resume`]: Self::resume
    pub fn image(&self) -> Result<Vec<u8>, ImageError> {
        if !self.outputs.is_empty() || !self.ready.is_empty() {
            return Err(ImageError::OutputPending);
        }
        let mut w = Enc::default();
        w.u64(self.now);
        w.u64(self.next_token);
        w.usize(self.slots.len());
        for slot in &self.slots {
            match slot.conn.as_deref().filter(|_| slot.token != 0) {
                None => w.u64(0),
                Some(c) => {
                    w.u64(slot.token);
                    w.opt_u64(slot.timer_at);
                    c.write_image(&mut w);
                }
            }
        }
        // Sorted by the heap's own order (no sort of another type in wasm).
        let timers = self.timers.clone().into_sorted_vec();
        w.usize(timers.len());
        for std::cmp::Reverse((at, index, token)) in timers {
            w.u64(at);
            w.u64(u64::from(index));
            w.u64(token);
        }
        w.usize(self.free.len());
        for &i in &self.free {
            w.u64(u64::from(i));
        }
        write_broker(&self.broker, &mut w)?;
        Ok(seal(&w.buf))
    }

    /// A server exactly as [`image`](Self::image) found it, with the host's
    /// settings (users, limits) and engine configuration. Transports keep
    /// their tokens: the host matches its surviving sockets to them and
    /// reports the ones that are gone with
    /// [`transport_closed`](Self::transport_closed).
    pub fn resume(
        config: ServerConfig,
        broker_config: BrokerConfig,
        image: &[u8],
    ) -> Result<Server, ImageError> {
        let mut d = Dec::new(open(image)?);
        Self::read_image(config, broker_config, &mut d).map_err(|Bad| d.error())
    }

    fn read_image(
        config: ServerConfig,
        broker_config: BrokerConfig,
        d: &mut Dec<'_>,
    ) -> Result<Server, Bad> {
        let now = d.u64()?;
        let next_token = d.u64()?;
        let settings = Rc::new(Settings::new(config));
        let mut slots = Vec::new();
        let mut by_token = IdMap::default();
        for index in 0..d.count()? {
            let token = d.u64()?;
            let (timer_at, conn) = match token {
                0 => (None, None),
                _ => (
                    d.opt_u64()?,
                    Some(Box::new(Connection::read_image(d, settings.clone())?)),
                ),
            };
            if token >= next_token || (token != 0 && by_token.insert(token, index as u64).is_some())
            {
                return Err(d.bad_n("transport token ", token, " is not valid"));
            }
            slots.push(Slot {
                token,
                conn,
                queued: false,
                timer_at,
            });
        }
        let mut timers = std::collections::BinaryHeap::new();
        for _ in 0..d.count()? {
            timers.push(std::cmp::Reverse((d.u64()?, d.u32()?, d.u64()?)));
        }
        let mut free = Vec::new();
        for _ in 0..d.count()? {
            let i = d.u32()?;
            if slots.get(i as usize).map_or(true, |s| s.token != 0) || free.contains(&i) {
                return Err(d.bad_n("connection slot ", u64::from(i), " is not free"));
            }
            free.push(i);
        }
        let mut broker = read_broker(broker_config, d)?;
        d.finish()?;
        // Vhosts the resuming host configures that the image never had; one
        // deleted before the image stays deleted.
        for v in &settings.config.vhosts {
            if !broker.vhosts.iter().any(|x| x.name.as_str() == v) {
                broker.add_vhost(v);
            }
        }
        // Users are the resuming host's (as at `Server::new`); the open
        // connections' permissions are compiled from them again.
        let _ = broker.set_users(settings.config.users.clone());
        let mut by_conn = IdMap::default();
        for (index, slot) in slots.iter().enumerate() {
            let Some(id) = slot.conn.as_ref().and_then(|c| c.conn_id()) else {
                continue;
            };
            // A closing connection keeps its id after the engine forgot it.
            if by_conn.insert(conn_key(id), index as u64).is_some() {
                return Err(d.bad_n("connection ", u64::from(id.0), " is in two slots"));
            }
        }
        let mut server = Server {
            settings,
            broker,
            slots,
            free,
            by_token,
            by_conn,
            next_token,
            ready: Default::default(),
            outputs: Default::default(),
            timers,
            spare: Vec::new(),
            fx: Vec::new(),
            now,
        };
        for index in 0..server.slots.len() {
            server.schedule(index as u32);
        }
        Ok(server)
    }

    /// Closes the connections opened on the broker directly (in-process
    /// clients), not through this server: after a resume their clients are
    /// gone, as after a crash, so their unacked deliveries are requeued and
    /// their exclusive queues deleted.
    pub fn close_direct_connections(&mut self, now_ms: u64) {
        let now = self.advance(now_ms);
        for id in self.broker.connection_ids() {
            if id.0 != 0 && !self.by_conn.contains_key(&conn_key(id)) {
                self.broker.connection_close(now, id);
            }
        }
        self.tick(now);
    }
}
