//! Arbitrary bytes into a server connection: raw, or after a valid
//! handshake, whole or in chunks, with time moving on. Nothing may panic,
//! and once every transport is closed the broker holds no connection.

#![no_main]

use libfuzzer_sys::fuzz_target;
use warren::amqp::codec::method::{
    ChannelOpen, ConnectionOpen, ConnectionStartOk, ConnectionTuneOk, Method,
};
use warren::amqp::codec::{write_method_frame, PROTOCOL_HEADER};
use warren::amqp::server::{Output, Server};
use warren::broker::{FieldTable, ShortStr};

fn handshake() -> Vec<u8> {
    let mut v = PROTOCOL_HEADER.to_vec();
    let methods: [Method; 5] = [
        ConnectionStartOk {
            client_properties: FieldTable::new(),
            mechanism: ShortStr::truncated("PLAIN"),
            response: b"\0guest\0guest".to_vec(),
            locale: ShortStr::truncated("en_US"),
        }
        .into(),
        ConnectionTuneOk {
            channel_max: 16,
            frame_max: 4096,
            heartbeat: 1,
        }
        .into(),
        ConnectionOpen {
            virtual_host: ShortStr::truncated("/"),
            capabilities: ShortStr::empty(),
            insist: false,
        }
        .into(),
        ChannelOpen {
            out_of_band: ShortStr::empty(),
        }
        .into(),
        ChannelOpen {
            out_of_band: ShortStr::empty(),
        }
        .into(),
    ];
    for (i, m) in methods.iter().enumerate() {
        write_method_frame(
            if i == 4 {
                2
            } else if i == 3 {
                1
            } else {
                0
            },
            m,
            &mut v,
        );
    }
    v
}

fn drain(server: &mut Server) {
    while let Some(out) = server.poll_output() {
        if let Output::Send { bytes, .. } = out {
            server.recycle(bytes);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some((&chunk, rest)) = rest.split_first() else {
        return;
    };
    let mut server = Server::new(Default::default(), Default::default());
    let a = server.accept(0, "127.0.0.1:1");
    let b = server.accept(0, "127.0.0.1:2");
    let mut now = 0;
    if mode & 1 == 1 {
        let prefix = handshake();
        server.receive(now, a, &prefix);
        server.receive(now, b, &prefix);
    }
    let chunk = usize::from(chunk.max(1));
    for (i, piece) in rest.chunks(chunk).enumerate() {
        // Mostly the first connection; some bytes go to the second.
        let to = if mode & 2 == 2 && i % 3 == 2 { b } else { a };
        server.receive(now, to, piece);
        if mode & 4 == 4 {
            now += 700;
            server.tick(now);
        }
        drain(&mut server);
    }
    server.tick(now + 10_000);
    drain(&mut server);
    server.transport_closed(now, a);
    server.transport_closed(now, b);
    drain(&mut server);
    assert_eq!(server.connection_count(), 0);
});
