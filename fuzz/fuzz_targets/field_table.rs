//! Arbitrary bytes into the field-table and content-header (properties)
//! decoders, on their own rather than behind a frame: the first byte picks
//! the decoder. Nothing may panic; whatever decodes re-encodes to bytes that
//! decode and encode to the same bytes again (the encoding is canonical), and
//! a content header cut short never decodes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use warren::amqp::codec::{
    decode_content_header, decode_field_table, encode_content_header, encode_field_table,
};

fn table(bytes: &[u8]) {
    let Ok(t) = decode_field_table(bytes) else {
        return;
    };
    let mut once = Vec::new();
    encode_field_table(&t, &mut once);
    let again = decode_field_table(&once).expect("re-decode a field table");
    let mut twice = Vec::new();
    encode_field_table(&again, &mut twice);
    assert_eq!(once, twice);
}

fn properties(bytes: &[u8]) {
    let Ok(h) = decode_content_header(bytes) else {
        return;
    };
    let mut once = Vec::new();
    encode_content_header(h.body_size, &h.properties, &mut once);
    let again = decode_content_header(&once).expect("re-decode a content header");
    assert_eq!(again.body_size, h.body_size);
    let mut twice = Vec::new();
    encode_content_header(again.body_size, &again.properties, &mut twice);
    assert_eq!(once, twice);
    for cut in [once.len() - 1, once.len() / 2] {
        assert!(
            decode_content_header(&once[..cut]).is_err(),
            "a content header cut to {cut} of {} bytes decoded",
            once.len()
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector & 1 {
        0 => table(rest),
        _ => properties(rest),
    }
});
