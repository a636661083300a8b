//! Arbitrary bytes from the network: the ISO 8583 decoders must never panic, and a request or
//! response they accept must encode back to a message that decodes to the same thing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payhil_protocol::iso8583::Message;
use payhil_protocol::iso8583::mapping::{self, Fields, MAX_WIRE};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::decode(data) {
        let mut out = [0u8; MAX_WIRE * 2];
        if let Ok(wire) = m.encode(&mut out) {
            assert_eq!(Message::decode(&wire[2..]), Ok(m));
        }
    }
    if let Ok(req) = mapping::decode_request(data) {
        let mut f = Fields::new();
        let mut out = [0u8; MAX_WIRE];
        let env = mapping::Envelope {
            transmitted_at: 0,
            stan: 1,
            cryptogram: None,
        };
        if let Ok(wire) = mapping::encode_request(&req, &env, &mut f, &mut out) {
            let wire = wire.to_vec();
            // Re-encoding normalises (padding, defaults), so compare the decoded forms.
            assert_eq!(
                mapping::decode_request(&wire[2..]).map(|r| format!("{r:?}")),
                Ok(format!("{req:?}"))
            );
        }
    }
    let _ = mapping::decode_response(data);
    // DE 55's BER-TLV reader: any bytes, never a panic.
    let _ = payhil_protocol::tlv::iter(data).count();
});
