//! AMQP over any byte transport the host holds (a WebSocket, a TCP socket,
//! a MessagePort): bytes in through `receive`, bytes out through
//! `takeOutput` (`SEND` and `CLOSE` records addressed by the id `accept`
//! returned).

use super::options::ms;
use super::WasmBroker;
use crate::amqp::connection::PeerAuth;
use crate::amqp::server::ConnToken;
use wasm_bindgen::prelude::*;

fn token(id: u32) -> ConnToken {
    ConnToken(u64::from(id))
}

#[wasm_bindgen]
impl WasmBroker {
    /// A new transport; `name` names the peer (an address, "websocket").
    /// Returns its id. The server speaks first once the client's protocol
    /// header arrives.
    /// `loopback`: the peer is on this machine (undefined: judged from a
    /// `name` of the form `address:port`); `cert_user`: the CN of a client
    /// certificate the host verified, offered as the `EXTERNAL` login.
    pub fn accept(
        &mut self,
        now: f64,
        name: &str,
        loopback: Option<bool>,
        cert_user: Option<String>,
    ) -> u32 {
        let mut auth = PeerAuth::from_peer_name(name);
        if let Some(l) = loopback {
            auth.loopback = l;
        }
        auth.cert_user = cert_user;
        // Ids count up from 1 per broker; u32 lasts 4 billion connections.
        self.server.accept_with(ms(now), name, auth).0 as u32
    }

    /// The engine's id of the connection this transport carries (the `conn`
    /// of its events and snapshot), once `connection.open` has been
    /// accepted; undefined before.
    #[wasm_bindgen(js_name = engineConn)]
    pub fn engine_conn(&self, id: u32) -> Option<u32> {
        self.server.conn_id(token(id)).map(|c| c.0)
    }

    /// Bytes from the transport, split anywhere.
    pub fn receive(&mut self, now: f64, id: u32, bytes: &[u8]) {
        self.server.receive(ms(now), token(id), bytes);
    }

    /// The transport is gone: unacked deliveries are requeued.
    #[wasm_bindgen(js_name = transportClosed)]
    pub fn transport_closed(&mut self, now: f64, id: u32) {
        self.server.transport_closed(ms(now), token(id));
    }

    /// Closes the connection from the server side (320 CONNECTION_FORCED).
    #[wasm_bindgen(js_name = forceClose)]
    pub fn force_close(&mut self, now: f64, id: u32, reason: &str) {
        self.server.close(ms(now), token(id), reason);
    }

    /// False while the connection's unsent output is over the limit: stop
    /// reading from the transport until it is true again.
    #[wasm_bindgen(js_name = wantsRead)]
    pub fn wants_read(&self, id: u32) -> bool {
        self.server.wants_read(token(id))
    }

    /// Bytes handed out that the transport still holds (a socket's
    /// `writableLength`, a WebSocket's `bufferedAmount`).
    #[wasm_bindgen(js_name = setBacklog)]
    pub fn set_backlog(&mut self, id: u32, bytes: f64) {
        self.server.set_backlog(token(id), ms(bytes) as usize);
    }
}
