//! What each fuzz target checks, as functions of the input bytes: each panics (with what it
//! found) on a finding and returns on anything else. The cargo-fuzz targets in `fuzz/` are one
//! line each around these, so the checks build on stable too: `cargo test -p payhil-fuzzing`
//! replays every input under `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/`
//! through them, and a fixed bug stays fixed where nightly is missing.
//!
//! Decoded values are compared as values, never through their `Debug` text (which masks card
//! numbers, so a corrupted one could not be seen).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use payhil_protocol::frame::{Decoded, FrameDecoder, MAX_ENCODED, encode_bytes};
use payhil_protocol::iso8583::Message;
use payhil_protocol::iso8583::mapping::{self, Fields, MAX_WIRE};
use payhil_protocol::{Event, Request, Response};

mod zvt;
pub use zvt::zvt_frame;

/// A target's check: panics on a finding.
pub type Check = fn(&[u8]);

/// The targets with a check here, by their name under `fuzz/`.
pub const TARGETS: [(&str, Check); 7] = [
    ("frame_decode", frame_decode),
    ("zvt_frame", zvt_frame),
    ("iso8583_decode", iso8583_decode),
    ("card_data", card_data),
    ("scenario_text", scenario_text),
    ("bench_sim", bench_sim),
    ("terminal_vs_model", terminal_vs_model),
];

/// Bytes on the serial line: the frame decoder and the message decoders never panic, and every
/// frame they accept re-encodes to bytes that decode to the same frame.
pub fn frame_decode(data: &[u8]) {
    let mut decoder = FrameDecoder::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (used, decoded) = decoder.feed(rest);
        if used == 0 && decoded.is_none() {
            panic!("the frame decoder took nothing and gave nothing: it would spin");
        }
        rest = rest.get(used..).unwrap_or_default();
        if let Some(Decoded::Frame(f)) = decoded {
            let _ = payhil_protocol::from_payload::<Request>(f.payload);
            let _ = payhil_protocol::from_payload::<Response>(f.payload);
            let _ = payhil_protocol::from_payload::<Event>(f.payload);
            let mut out = [0u8; MAX_ENCODED];
            let wire = encode_bytes(f.kind, f.seq, f.payload, &mut out)
                .unwrap_or_else(|e| panic!("an accepted frame does not re-encode: {e:?}"));
            let mut again = FrameDecoder::new();
            let (_, back) = again.feed(wire);
            assert_eq!(
                back,
                Some(Decoded::Frame(f)),
                "a frame re-encodes to itself"
            );
        }
    }
}

/// Bytes from the network: the ISO 8583 decoders never panic; a message they accept encodes
/// back to one that decodes to the same values; a request the terminal-side mapping accepts
/// encodes to a request that decodes to the same request (compared as values: card number,
/// amounts, codes).
pub fn iso8583_decode(data: &[u8]) {
    if let Ok(m) = Message::decode(data) {
        let mut out = [0u8; MAX_WIRE * 2];
        if let Ok(wire) = m.encode(&mut out) {
            let body = wire.get(2..).unwrap_or_default();
            assert_eq!(
                Message::decode(body),
                Ok(m),
                "a message re-encodes to itself"
            );
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
            let back = mapping::decode_request(wire.get(2..).unwrap_or_default())
                .unwrap_or_else(|e| panic!("a re-encoded request does not decode: {e:?}"));
            assert_eq!(back, req, "a request re-encodes to the same values");
        }
    }
    let _ = mapping::decode_response(data);
    // DE 55's BER-TLV reader: any bytes, never a panic.
    let _ = payhil_protocol::tlv::iter(data).count();
}

/// A card's data objects as the terminal reads them (EMV BER-TLV, PROTOCOL.md 4.7): never a
/// panic; what the strict reader accepts is well-formed BER-TLV for the generic reader too, its
/// card number is 12 to 19 digits passing Luhn, and its expiry month is a month.
pub fn card_data(data: &[u8]) {
    let Ok(card) = fut_core::card_read::read(data) else {
        return;
    };
    for object in payhil_protocol::tlv::iter(data) {
        assert!(
            object.is_ok(),
            "the card reader took malformed BER-TLV: {object:?}"
        );
    }
    let pan = card.pan();
    assert!(
        (12..=19).contains(&pan.len()) && pan.bytes().all(|b| b.is_ascii_digit()),
        "a card number of {} characters, or not all digits",
        pan.len()
    );
    let digits: Vec<u8> = pan.bytes().map(|b| b - b'0').collect();
    assert!(luhn(&digits), "an accepted card number fails Luhn");
    assert!(
        (1..=12).contains(&card.expiry.month),
        "month {}",
        card.expiry.month
    );
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// A scenario file's text: never a panic; an error names a line and column inside the text.
pub fn scenario_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = std::path::Path::new("fuzz.toml");
    if let Err(e) = payhil_scenario::parse_str(path, text) {
        let shown = e.to_string();
        let lines = text.lines().count().max(1);
        if let Some(line) = shown
            .strip_prefix("fuzz.toml:")
            .and_then(|r| r.split(':').next())
            .and_then(|l| l.parse::<usize>().ok())
        {
            assert!(
                line >= 1 && line <= lines + 1,
                "an error on line {line} of a {lines}-line text: {shown}"
            );
        }
    }
}

/// The whole bench in process (the reference core, the host's books, the fault plan: network,
/// power cuts at any flash write, the clock) driven by the input's bytes as the soak's
/// schedule: every answer is judged by the model and the oracle, and the run must pass. A
/// failure panics with the scenario file that replays it (`payhil fuzz-to-scenario` writes it
/// for any input).
pub fn bench_sim(data: &[u8]) {
    if let Err(f) = payhil_sim::soak::fuzz_window(data) {
        panic!("{}\n--- scenario ---\n{}", f.message, f.scenario);
    }
}

/// The reference core driven by the input as operations of every kind (purchases, refunds,
/// pre-authorisations and their captures, reversals, forced-offline and fallback reads, the
/// clock moved on and set back, the network, power cuts at any flash write, forwarding), each
/// answer checked against the harness's reference model and the oracle as it comes. A finding
/// panics with the scenario file that replays it.
pub fn terminal_vs_model(data: &[u8]) {
    if let Err(f) = payhil_sim::soak::fuzz_terminal_vs_model(data) {
        panic!("{}\n--- scenario ---\n{}", f.message, f.scenario);
    }
}
