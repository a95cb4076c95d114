//! Arbitrary bytes into the frame decoder, whole and in chunks, and into the
//! method, content header and field table decoders. Nothing may panic, split
//! reads must agree with whole reads, and whatever decodes must re-encode to
//! bytes that decode to the same encoding.

#![no_main]

use libfuzzer_sys::fuzz_target;
use warren::amqp::codec::{
    check_protocol_header, decode_content_header, decode_field_table, encode_content_header,
    encode_field_table, parse_frame, DecodeError, Frame, FrameDecoder, Method,
};

/// A frame as comparable text (body payloads borrow their input).
fn describe(frame: &Frame<'_>) -> String {
    format!("{frame:?}")
}

fn whole(stream: &[u8], frame_max: u32) -> (Vec<String>, Option<DecodeError>) {
    let mut frames = Vec::new();
    let mut rest = stream;
    loop {
        match parse_frame(rest, frame_max) {
            Ok(Some((frame, used))) => {
                assert!(used >= 8 && used <= rest.len());
                frames.push(describe(&frame));
                if let Frame::Method { method, .. } = &frame {
                    check_method(method);
                }
                rest = rest.get(used..).unwrap_or_default();
            }
            Ok(None) => return (frames, None),
            Err(e) => return (frames, Some(e)),
        }
    }
}

fn chunked(stream: &[u8], frame_max: u32, chunk: usize) -> (Vec<String>, Option<DecodeError>) {
    let mut frames = Vec::new();
    let mut decoder = FrameDecoder::new(frame_max);
    for piece in stream.chunks(chunk) {
        decoder.push(piece);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => frames.push(describe(&frame)),
                Ok(None) => break,
                Err(e) => return (frames, Some(e)),
            }
        }
    }
    (frames, None)
}

/// encode(decode(encode(m))) == encode(m): byte equality holds even for NaN.
fn check_method(m: &Method) {
    let mut once = Vec::new();
    m.encode(&mut once);
    let again = Method::decode_payload(&once).expect("re-decode an encoded method");
    let mut twice = Vec::new();
    again.encode(&mut twice);
    assert_eq!(once, twice);
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let frame_max = match selector & 3 {
        0 => 0,
        1 => 4096,
        2 => 131_072,
        _ => u32::from(selector) * 64,
    };
    let chunk = usize::from(selector >> 2) + 1;

    let (frames, error) = whole(stream, frame_max);
    let (split_frames, split_error) = chunked(stream, frame_max, chunk);
    assert_eq!(frames, split_frames);
    assert_eq!(error, split_error);

    if let Ok(m) = Method::decode_payload(stream) {
        check_method(&m);
    }
    if let Ok(header) = decode_content_header(stream) {
        let mut once = Vec::new();
        encode_content_header(header.body_size, &header.properties, &mut once);
        let again = decode_content_header(&once).expect("re-decode a content header");
        let mut twice = Vec::new();
        encode_content_header(again.body_size, &again.properties, &mut twice);
        assert_eq!(once, twice);
    }
    if let Ok(table) = decode_field_table(stream) {
        let mut once = Vec::new();
        encode_field_table(&table, &mut once);
        let again = decode_field_table(&once).expect("re-decode a field table");
        let mut twice = Vec::new();
        encode_field_table(&again, &mut twice);
        assert_eq!(once, twice);
    }
    let _ = check_protocol_header(stream);
});
