//! A connection's part of a broker image: its phase, negotiated limits,
//! heartbeat clocks, channel states and any content still arriving, and the
//! bytes of a frame cut in two by the sleep. The host's settings are not
//! part of it: a resumed connection takes the resuming server's.

use super::channels::{ChanState, Channels, Slot};
use super::content::{Assembly, PublishFlags};
use super::{Client, CloseReport, Connection, PeerAuth, Phase, Settings};
use crate::broker::ConnId;
use crate::image::codec::{Bad, Dec, Enc};
use std::rc::Rc;

const PHASES: [Phase; 7] = [
    Phase::AwaitHeader,
    Phase::AwaitStartOk,
    Phase::AwaitTuneOk,
    Phase::AwaitOpen,
    Phase::Open,
    Phase::Closing,
    Phase::Closed,
];

const CHAN_STATES: [ChanState; 3] = [ChanState::Closed, ChanState::Open, ChanState::Closing];

impl Connection {
    pub(crate) fn write_image(&self, w: &mut Enc) {
        let phase = PHASES.iter().position(|p| *p == self.phase).unwrap_or(0);
        w.usize(phase);
        w.opt_u64(self.id.map(|c| u64::from(c.0)));
        w.str(&self.peer);
        w.str(&self.client.user);
        w.bool(self.client.consumer_cancel_notify);
        w.bool(self.client.connection_blocked);
        w.bool(self.client.authentication_failure_close);
        w.opt_str(self.client.connection_name.as_deref());
        w.u64(self.now);
        w.bytes(&self.partial);
        w.bool(self.input_dead);
        w.u64(u64::from(self.frame_max));
        w.u64(u64::from(self.channel_max));
        w.u64(self.heartbeat_ms);
        w.u64(self.last_recv);
        w.u64(self.last_send);
        w.opt_u64(self.phase_deadline);
        self.channels.write_image(w);
        w.bytes(&self.out);
        w.usize(self.out_cut);
        w.usize(self.backlog);
        w.bool(self.paused);
        w.bool(self.peer_auth.loopback);
        w.opt_str(self.peer_auth.cert_user.as_deref());
        w.usize(self.closes.len());
        for c in &self.closes {
            w.u64(u64::from(c.channel));
            w.u64(u64::from(c.code));
            w.str(&c.text);
            w.u64(u64::from(c.class_id));
            w.u64(u64::from(c.method_id));
        }
    }

    pub(crate) fn read_image(d: &mut Dec<'_>, settings: Rc<Settings>) -> Result<Connection, Bad> {
        let phase = d.usize()?;
        let phase = *PHASES
            .get(phase)
            .ok_or_else(|| d.bad_n("connection phase ", phase as u64, ""))?;
        let id = d.opt_u64()?;
        let id = id
            .map(|i| u32::try_from(i).map(ConnId))
            .transpose()
            .map_err(|_| d.bad("connection id does not fit 32 bits"))?;
        let peer = d.string()?;
        let client = Client {
            user: d.short_str()?,
            consumer_cancel_notify: d.bool()?,
            connection_blocked: d.bool()?,
            authentication_failure_close: d.bool()?,
            connection_name: d.opt_string()?,
        };
        let now = d.u64()?;
        let mut c = Connection::new(now, &peer, settings);
        c.phase = phase;
        c.id = id;
        c.client = client;
        c.partial = d.bytes()?.to_vec();
        c.input_dead = d.bool()?;
        c.frame_max = d.u32()?;
        c.channel_max = d.u16()?;
        c.heartbeat_ms = d.u64()?;
        c.last_recv = d.u64()?;
        c.last_send = d.u64()?;
        c.phase_deadline = d.opt_u64()?;
        c.channels = Channels::read_image(d)?;
        c.out = d.bytes()?.to_vec();
        c.out_cut = d.usize()?;
        c.backlog = d.usize()?;
        c.paused = d.bool()?;
        c.peer_auth = PeerAuth {
            loopback: d.bool()?,
            cert_user: d.opt_string()?,
        };
        for _ in 0..d.count()? {
            c.closes.push(CloseReport {
                channel: d.u16()?,
                code: d.u16()?,
                text: d.string()?,
                class_id: d.u16()?,
                method_id: d.u16()?,
            });
        }
        Ok(c)
    }
}

impl Channels {
    fn write_image(&self, w: &mut Enc) {
        w.usize(self.slots.len());
        for s in &self.slots {
            w.usize(CHAN_STATES.iter().position(|c| *c == s.state).unwrap_or(0));
            w.bool(s.client_flow);
            match &s.content {
                None => w.bool(false),
                Some(a) => {
                    w.bool(true);
                    a.write_image(w);
                }
            }
        }
    }

    fn read_image(d: &mut Dec<'_>) -> Result<Channels, Bad> {
        let n = d.count()?;
        if n > usize::from(u16::MAX) + 1 {
            return Err(d.bad("more than 65536 channels"));
        }
        let mut slots = Vec::with_capacity(n);
        for _ in 0..n {
            let state = d.usize()?;
            let state = *CHAN_STATES
                .get(state)
                .ok_or_else(|| d.bad_n("channel state ", state as u64, ""))?;
            slots.push(Slot {
                state,
                client_flow: d.bool()?,
                content: match d.bool()? {
                    false => None,
                    true => Some(Box::new(Assembly::read_image(d)?)),
                },
            });
        }
        Ok(Channels { slots, spare: None })
    }
}

impl Assembly {
    fn write_image(&self, w: &mut Enc) {
        match &self.publish {
            None => w.bool(false),
            Some(p) => {
                let (exchange, routing_key) = self.block.names();
                w.bool(true);
                w.u64(u64::from(p.ticket));
                w.str(exchange);
                w.str(routing_key);
                w.bool(p.mandatory);
                w.bool(p.immediate);
            }
        }
        w.bool(self.has_header);
        w.properties(&self.properties);
        w.u64(self.body_size);
        w.bytes(self.block.body());
    }

    fn read_image(d: &mut Dec<'_>) -> Result<Assembly, Bad> {
        let mut a = Assembly::default();
        if d.bool()? {
            let ticket = d.u16()?;
            let (exchange, routing_key) = (d.short_str()?, d.short_str()?);
            a.block.begin(&exchange, &routing_key);
            a.publish = Some(PublishFlags {
                ticket,
                mandatory: d.bool()?,
                immediate: d.bool()?,
            });
        }
        let has_header = d.bool()?;
        let properties = d.properties()?;
        let body_size = d.u64()?;
        let body = d.bytes()?;
        if body.len() as u64 > body_size {
            return Err(d.bad("more content than its header announced"));
        }
        a.has_header = has_header;
        a.properties = properties;
        a.body_size = body_size;
        a.block.extend_body(body);
        Ok(a)
    }
}
