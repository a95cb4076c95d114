//! Channel and connection exceptions as a client sees them: which close
//! comes back, with which code and text, and what still works afterwards.

mod protocol_support;

use protocol_support::*;

fn connection_close(
    h: &mut Harness,
    c: warren::amqp::server::ConnToken,
) -> (u16, String, u16, u16) {
    let f = h.take_frames(c);
    let close = f.last().expect("a frame");
    assert_eq!((close.channel, close.ids()), (0, (10, 50)), "{f:?}");
    close_args(close)
}

#[test]
fn missing_queue_closes_only_the_channel() {
    let mut h = Harness::new();
    let c = h.connect();
    h.send(c, &channel_open(2));
    h.take_bytes(c);
    h.send(c, &queue_declare(1, "missing", false, true));
    let f = h.take_frames(c);
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].channel, f[0].ids()), (1, (20, 40)));
    assert_eq!(
        close_args(&f[0]),
        (
            404,
            "NOT_FOUND - no queue 'missing' in vhost '/'".to_owned(),
            50,
            10
        )
    );
    // Until close-ok, the closed channel ignores everything.
    h.send(c, &queue_declare(1, "ignored", false, false));
    h.send(c, &publish_message(1, "", "ignored", b"x"));
    assert!(h.take_bytes(c).is_empty());
    h.send(c, &channel_close_ok(1));
    assert!(h.take_bytes(c).is_empty());
    // The other channel and the connection carry on; channel 1 reopens.
    h.send(c, &queue_declare(2, "here", false, false));
    assert_eq!(h.take_frames(c)[0].ids(), (50, 11));
    h.send(c, &channel_open(1));
    assert_eq!(h.take_frames(c)[0].ids(), (20, 11));
    assert!(!h.closed(c));
}

#[test]
fn a_method_on_an_unopened_channel_is_504() {
    let mut h = Harness::new();
    let c = h.connect();
    h.send(c, &queue_declare(5, "q", false, false));
    assert_eq!(
        connection_close(&mut h, c),
        (
            504,
            "CHANNEL_ERROR - expected 'channel.open' on channel 5".to_owned(),
            50,
            10
        )
    );
    // Nothing but close-ok counts now.
    h.send(c, &channel_open(6));
    assert!(h.take_bytes(c).is_empty());
    h.send(c, &connection_close_ok());
    assert!(h.closed(c));
    // The server had close-ok, so it closes the transport itself.
    assert!(!h.client_closes(c));
}

#[test]
fn a_second_channel_open_is_504() {
    let mut h = Harness::new();
    let c = h.connect();
    h.send(c, &channel_open(1));
    let (code, text, class, method) = connection_close(&mut h, c);
    assert_eq!((code, class, method), (504, 20, 10));
    assert!(
        text.starts_with("CHANNEL_ERROR - second 'channel.open'"),
        "{text}"
    );
}

#[test]
fn a_content_body_without_a_header_is_505() {
    let mut h = Harness::new();
    let c = h.connect();
    h.send(c, &body(1, b"stray"));
    let (code, text, _, _) = connection_close(&mut h, c);
    assert_eq!(code, 505);
    assert_eq!(
        text,
        "UNEXPECTED_FRAME - unexpected content body frame on channel 1"
    );
}

#[test]
fn a_method_where_content_is_expected_is_505() {
    let mut h = Harness::new();
    let c = h.connect();
    let mut bytes = publish(1, "", "q", false);
    bytes.extend(queue_declare(1, "q", false, false));
    h.send(c, &bytes);
    let (code, text, class, method) = connection_close(&mut h, c);
    assert_eq!((code, class, method), (505, 50, 10));
    assert!(
        text.starts_with("UNEXPECTED_FRAME - expected content frames"),
        "{text}"
    );
}

#[test]
fn a_bad_frame_end_is_501_and_the_transport_closes() {
    let mut h = Harness::new();
    let c = h.connect();
    let mut bytes = channel_open(2);
    *bytes.last_mut().unwrap() = 0x00;
    h.send(c, &bytes);
    let (code, text, _, _) = connection_close(&mut h, c);
    assert_eq!(code, 501);
    assert_eq!(text, "FRAME_ERROR - invalid frame end marker 0x00");
    assert!(h.closed(c));
}

#[test]
fn a_frame_over_frame_max_is_501() {
    let mut h = Harness::new();
    let c = h.connect_with(4096, 0);
    h.send(c, &channel_open(1));
    h.take_bytes(c);
    // Only the 7-byte header of a 10000-byte frame: refused at once.
    h.send(c, &[3, 0, 1, 0, 0, 0x27, 0x10]);
    let (code, _, _, _) = connection_close(&mut h, c);
    assert_eq!(code, 501);
    assert!(h.closed(c));
}

#[test]
fn a_channel_method_on_channel_zero_is_504() {
    let mut h = Harness::new();
    let c = h.connect();
    h.send(c, &queue_declare(0, "q", false, false));
    assert_eq!(
        connection_close(&mut h, c),
        (
            504,
            "CHANNEL_ERROR - unexpected method queue.declare in connection state running"
                .to_owned(),
            50,
            10
        )
    );
}

#[test]
fn a_channel_above_channel_max_is_530() {
    let mut h = Harness::new();
    let c = h.connect();
    h.send(c, &channel_open(2048));
    assert_eq!(
        connection_close(&mut h, c),
        (
            530,
            "NOT_ALLOWED - channel number 2048 is higher than the negotiated channel_max (2047)"
                .to_owned(),
            20,
            10
        )
    );
}

#[test]
fn an_unknown_method_is_540() {
    let mut h = Harness::new();
    let c = h.connect();
    h.send(c, &method(1, 60, 99, Args::new()));
    assert_eq!(
        connection_close(&mut h, c),
        (
            540,
            "NOT_IMPLEMENTED - unknown method 60.99".to_owned(),
            60,
            99
        )
    );
}

#[test]
fn a_method_only_servers_send_is_503() {
    let mut h = Harness::new();
    let c = h.connect();
    let deliver = method(
        1,
        60,
        60,
        Args::new()
            .short("t")
            .u64(1)
            .bits(&[false])
            .short("")
            .short("q"),
    );
    h.send(c, &deliver);
    let (code, text, class, method) = connection_close(&mut h, c);
    assert_eq!((code, class, method), (503, 60, 60));
    assert_eq!(
        text,
        "COMMAND_INVALID - basic.deliver is not a method a client may send"
    );
}

#[test]
fn malformed_arguments_are_502() {
    let mut h = Harness::new();
    let c = h.connect();
    // queue.declare cut short after its queue name
    h.send(c, &method(1, 50, 10, Args::new().u16(0).short("q")));
    let (code, _, class, method) = connection_close(&mut h, c);
    assert_eq!((code, class, method), (502, 50, 10));
}

#[test]
fn ack_of_an_unknown_tag_is_406_on_the_channel() {
    let mut h = Harness::new();
    let c = h.connect();
    h.send(c, &ack(1, 42, false));
    let f = h.take_frames(c);
    assert_eq!((f[0].channel, f[0].ids()), (1, (20, 40)));
    assert_eq!(
        close_args(&f[0]),
        (
            406,
            "PRECONDITION_FAILED - unknown delivery tag 42".to_owned(),
            60,
            80
        )
    );
}

#[test]
fn access_request_and_update_secret_are_answered() {
    let mut h = Harness::new();
    let c = h.connect();
    let request = method(
        1,
        30,
        10,
        Args::new()
            .short("/data")
            .bits(&[false, true, true, true, true]),
    );
    h.send(c, &request);
    assert_eq!(h.take_bytes(c), method(1, 30, 11, Args::new().u16(1)));
    let update = method(0, 10, 70, Args::new().long(b"token").short("refresh"));
    h.send(c, &update);
    assert_eq!(h.take_bytes(c), method(0, 10, 71, Args::new()));
}

// `basic.publish` is read in place on an open channel; these are the cases
// it leaves to the method decoder and the channel checks.

#[test]
fn a_publish_or_an_ack_where_content_is_expected_is_505_naming_it() {
    for (next, ids) in [
        (publish(1, "", "q", false), (60, 40)),
        (ack(1, 1, false), (60, 80)),
    ] {
        let mut h = Harness::new();
        let c = h.connect();
        let mut bytes = publish(1, "", "q", false);
        bytes.extend(next);
        h.send(c, &bytes);
        let (code, text, class, method) = connection_close(&mut h, c);
        assert_eq!((code, (class, method)), (505, ids));
        assert!(
            text.starts_with("UNEXPECTED_FRAME - expected content frames"),
            "{text}"
        );
    }
}

#[test]
fn a_publish_or_an_ack_on_an_unopened_channel_is_504_naming_it() {
    for (bytes, ids) in [
        (publish_message(5, "", "q", b"x"), (60, 40)),
        (ack(5, 1, false), (60, 80)),
    ] {
        let mut h = Harness::new();
        let c = h.connect();
        h.send(c, &bytes);
        let text = "CHANNEL_ERROR - expected 'channel.open' on channel 5".to_owned();
        assert_eq!(connection_close(&mut h, c), (504, text, ids.0, ids.1));
    }
}

#[test]
fn a_publish_with_a_routing_key_not_utf8_is_502() {
    let mut h = Harness::new();
    let c = h.connect();
    // ticket, exchange "", routing key of 2 bytes that are not UTF-8, bits
    let payload = [0, 60, 0, 40, 0, 0, 0, 2, 0xc3, 0x28, 0];
    h.send(c, &frame(1, 1, &payload));
    let (code, text, class, method) = connection_close(&mut h, c);
    assert_eq!((code, class, method), (502, 60, 40));
    assert!(text.contains("UTF-8"), "{text}");
}

// `basic.ack`, which a client acking each delivery sends once per message:
// the channel checks name it, and what a read's earlier frames made goes out
// before the close a bad one makes.

#[test]
fn an_ack_with_a_byte_too_many_is_502() {
    let mut h = Harness::new();
    let c = h.connect();
    h.send(c, &method(1, 60, 80, Args::new().u64(1).u8(0).u8(0)));
    let (code, _, class, method) = connection_close(&mut h, c);
    assert_eq!((code, class, method), (502, 60, 80));
}

#[test]
fn an_ack_on_a_closing_channel_is_ignored() {
    let mut h = Harness::new();
    let c = h.connect();
    h.send(c, &ack(1, 42, false));
    assert_eq!(close_args(&h.take_frames(c)[0]).0, 406);
    h.send(c, &ack(1, 43, false));
    assert!(h.take_bytes(c).is_empty());
    assert!(!h.closed(c));
}

#[test]
fn a_bad_ack_after_a_publish_in_one_read_closes_the_channel_after_the_delivery() {
    let mut h = Harness::new();
    let c = h.connect();
    h.send(c, &queue_declare(1, "q", false, false));
    h.send(c, &consume(1, "q", "c1", false));
    h.take_bytes(c);
    let mut bytes = publish_message(1, "", "q", b"hello");
    bytes.extend(ack(1, 1, false));
    bytes.extend(publish_message(1, "", "q", b"again"));
    bytes.extend(ack(1, 7, false));
    h.send(c, &bytes);
    let f = h.take_frames(c);
    // deliver, header, body; the ack of tag 1 settles it; deliver, header,
    // body; then the close the unknown tag 7 makes, last.
    let kinds: Vec<u8> = f.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, [1, 2, 3, 1, 2, 3, 1]);
    assert_eq!((f[0].ids(), f[3].ids()), ((60, 60), (60, 60)));
    assert_eq!(
        (f[2].payload.as_slice(), f[5].payload.as_slice()),
        (&b"hello"[..], &b"again"[..])
    );
    assert_eq!(f[6].ids(), (20, 40));
    assert_eq!(
        close_args(&f[6]),
        (
            406,
            "PRECONDITION_FAILED - unknown delivery tag 7".to_owned(),
            60,
            80
        )
    );
}
