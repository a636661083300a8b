//! The ZVT codec under arbitrary bytes (`zvt_frame`): the serial decoder, the TCP header rule,
//! the APDU, bitmap and message decoders.

use payhil_protocol::zvt::apdu::{self, Apdu, Header};
use payhil_protocol::zvt::message::{Command, PtMessage};
use payhil_protocol::zvt::serial::{self, Decoder, Received};

/// Bytes on a ZVT line, read both ways:
/// * as a serial line: the decoder never panics and never holds more than its bound; every
///   frame it accepts carries an APDU that frames again into bytes that decode to the same APDU;
/// * as TCP: what the header says of the APDU's length is what [`Apdu::decode`] takes;
/// * every APDU taken decodes (or is refused) as a command and as a terminal's message, and
///   what decodes encodes to an APDU that decodes to the same value (compared as values).
pub fn zvt_frame(data: &[u8]) {
    let mut d = Decoder::<512>::new();
    for &b in data {
        if d.feed(b) == Some(Received::Frame) {
            let apdu = d.apdu().to_vec();
            assert!(apdu.len() <= 512, "the decoder held more than its bound");
            let mut out = vec![0u8; serial::max_framed(apdu.len())];
            let framed = serial::encode(&apdu, &mut out).expect("max_framed is enough");
            let mut again = Decoder::<512>::new();
            let back: Vec<Option<Received>> = framed.iter().map(|b| again.feed(*b)).collect();
            assert_eq!(
                back.last(),
                Some(&Some(Received::Frame)),
                "a frame re-frames"
            );
            assert_eq!(again.apdu(), &apdu[..], "to the same APDU");
            messages(&apdu);
        }
    }
    // The same bytes as a TCP stream of bare APDUs.
    let mut rest = data;
    while let Header::Total(n) = apdu::header(rest) {
        let Some(one) = rest.get(..n) else { break };
        let a = Apdu::decode(one)
            .unwrap_or_else(|e| panic!("the header's length is not the APDU's: {e:?}"));
        messages(one);
        let _ = a;
        rest = &rest[n..];
    }
}

fn messages(bytes: &[u8]) {
    let Ok(a) = Apdu::decode(bytes) else { return };
    let mut out = vec![0u8; bytes.len() + 8];
    let enc = a.encode(&mut out).expect("an APDU re-encodes");
    assert_eq!(Apdu::decode(enc), Ok(a), "an APDU re-encodes to itself");
    if let Ok(c) = Command::decode(&a) {
        let (mut scratch, mut out) = (vec![0u8; bytes.len() + 16], vec![0u8; bytes.len() + 32]);
        let enc = c
            .encode(&mut scratch, &mut out)
            .unwrap_or_else(|e| panic!("a decoded command does not encode: {c:?}: {e:?}"));
        let back = Apdu::decode(enc).expect("an APDU");
        assert_eq!(
            Command::decode(&back),
            Ok(c),
            "a command re-encodes to itself"
        );
    }
    if let Ok(m) = PtMessage::decode(&a) {
        // A message re-encodes to at most its own length (a field given twice keeps one).
        let (mut scratch, mut out) = (vec![0u8; bytes.len() + 16], vec![0u8; bytes.len() + 32]);
        let enc = m
            .encode(&mut scratch, &mut out)
            .unwrap_or_else(|e| panic!("a decoded message does not encode: {m:?}: {e:?}"));
        let back = Apdu::decode(enc).expect("an APDU");
        assert_eq!(
            PtMessage::decode(&back),
            Ok(m),
            "a message re-encodes to itself"
        );
    }
}
