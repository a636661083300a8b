//! Arbitrary bytes on the serial line: the frame decoder and the message decoders must never
//! panic, and every frame they accept must re-encode to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payhil_protocol::frame::{Decoded, FrameDecoder, MAX_ENCODED, encode_bytes};
use payhil_protocol::{Event, Request, Response};

fuzz_target!(|data: &[u8]| {
    let mut decoder = FrameDecoder::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (used, decoded) = decoder.feed(rest);
        rest = &rest[used..];
        if let Some(Decoded::Frame(f)) = decoded {
            let _ = payhil_protocol::from_payload::<Request>(f.payload);
            let _ = payhil_protocol::from_payload::<Response>(f.payload);
            let _ = payhil_protocol::from_payload::<Event>(f.payload);
            let mut out = [0u8; MAX_ENCODED];
            let wire = encode_bytes(f.kind, f.seq, f.payload, &mut out)
                .expect("an accepted frame re-encodes");
            let mut again = FrameDecoder::new();
            let (_, back) = again.feed(wire);
            assert_eq!(back, Some(Decoded::Frame(f)));
        }
    }
});
