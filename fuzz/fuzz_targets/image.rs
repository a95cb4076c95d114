//! Arbitrary bytes as a broker image: raw (the frame's checks), or sealed
//! with a valid header and checksum so that the body decoder itself is
//! fuzzed. Resuming never panics; a resumed server images again, and that
//! image is a fixed point (a body may decode without being written the way
//! the encoder writes it, so the first re-image may differ from the input);
//! the server survives its transports closing and time passing.

#![no_main]

use libfuzzer_sys::fuzz_target;
use warren::amqp::server::Server;
use warren::image::seal;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let image = if mode & 1 == 0 { rest.to_vec() } else { seal(rest) };
    let Ok(mut server) = Server::resume(Default::default(), Default::default(), &image) else {
        return;
    };
    let again = server.image().expect("a resumed server images again");
    let twice = Server::resume(Default::default(), Default::default(), &again)
        .expect("a server's own image resumes")
        .image()
        .expect("and images again");
    assert_eq!(again, twice, "a server's own image is a fixed point");
    let now = server.broker().snapshot().now_ms;
    for t in server.tokens() {
        server.transport_closed(now, t);
    }
    server.close_direct_connections(now);
    server.tick(now.saturating_add(3_600_000));
    while server.poll_output().is_some() {}
});
