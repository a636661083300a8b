//! The driver against a terminal played by the test over an in-memory pipe: the happy paths
//! over serial and TCP, and each way a terminal can misbehave, on tokio's paused clock (no
//! test waits out a timeout in real time).

use super::*;
use crate::zvt::link::{Framing, Link};
use payhil_protocol::zvt::message::{code, result, status};
use payhil_protocol::zvt::serial::{self, ACK, Decoder, NAK, Received};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// The terminal's end, played by the test.
struct Pt {
    io: DuplexStream,
    framing: Framing,
    decoder: Decoder<1024>,
}

impl Pt {
    async fn write(&mut self, b: &[u8]) {
        self.io.write_all(b).await.expect("pipe");
    }

    async fn byte(&mut self) -> u8 {
        let mut b = [0u8; 1];
        self.io.read_exact(&mut b).await.expect("pipe");
        b[0]
    }

    /// Receives one APDU from the ECR (and ACKs it on serial).
    async fn recv(&mut self) -> Vec<u8> {
        match self.framing {
            Framing::Tcp => {
                let mut head = [0u8; 3];
                self.io.read_exact(&mut head).await.expect("pipe");
                let mut data = vec![0u8; usize::from(head[2])];
                self.io.read_exact(&mut data).await.expect("pipe");
                [head.to_vec(), data].concat()
            }
            Framing::Serial => loop {
                let b = self.byte().await;
                if self.decoder.feed(b) == Some(Received::Frame) {
                    let apdu = self.decoder.apdu().to_vec();
                    self.write(&[ACK]).await;
                    return apdu;
                }
            },
        }
    }

    /// Sends one APDU to the ECR (and takes its link ACK on serial).
    async fn send(&mut self, apdu: &[u8]) {
        match self.framing {
            Framing::Tcp => self.write(apdu).await,
            Framing::Serial => {
                let mut out = [0u8; 512];
                let f = serial::encode(apdu, &mut out).expect("room").to_vec();
                self.write(&f).await;
                assert_eq!(self.byte().await, ACK, "the ECR ACKs every good frame");
            }
        }
    }

    async fn send_msg(&mut self, m: PtMessage<'_>) {
        let (mut scratch, mut out) = ([0u8; 256], [0u8; 300]);
        let bytes = m.encode(&mut scratch, &mut out).expect("encodes").to_vec();
        self.send(&bytes).await;
        assert_eq!(
            self.recv().await,
            Ack::Positive.bytes(),
            "the ECR acknowledges {m:?}"
        );
    }
}

fn pair(framing: Framing) -> (Driver<DuplexStream>, Pt) {
    let (a, b) = tokio::io::duplex(4096);
    let driver = Driver::new(
        Link::new(a, framing, None),
        Password(0),
        Timeouts::default(),
    );
    let pt = Pt {
        io: b,
        framing,
        decoder: Decoder::new(),
    };
    (driver, pt)
}

const PURCHASE: Command = Command::Authorisation {
    amount_minor: 1250,
    currency: Some(208),
    payment_type: None,
};

async fn approve(mut pt: Pt) -> Pt {
    let cmd = pt.recv().await;
    assert_eq!(&cmd[..2], &code::AUTHORISATION);
    pt.send(&Ack::Positive.bytes()).await;
    pt.send_msg(PtMessage::IntermediateStatus {
        status: status::INSERT_CARD,
    })
    .await;
    let info = StatusInfo {
        result: Some(0),
        amount_minor: Some(1250),
        currency: Some(208),
        receipt: Some(7),
        pan: Some(&[0x45, 0x71, 0xEE, 0xEE, 0xEE, 0xEE, 0x12, 0x34]),
        card_name: Some(b"Dankort\0"),
        auth_attribute: Some(b"123456\0\0"),
        ..StatusInfo::default()
    };
    pt.send_msg(PtMessage::StatusInformation(info)).await;
    for line in [&b"PAYHIL TEST SHOP"[..], b"DKK 12.50"] {
        pt.send_msg(PtMessage::PrintLine {
            attribute: 0,
            text: line,
        })
        .await;
    }
    pt.send_msg(PtMessage::Completion { data: &[] }).await;
    pt
}

async fn purchase_over(framing: Framing) {
    let (mut driver, pt) = pair(framing);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (got, _pt) = tokio::join!(driver.execute(PURCHASE, Some(&tx), None), approve(pt));
    let got = got.expect("completes");
    assert!(got.succeeded(), "{got:?}");
    assert_eq!(got.statuses, vec![status::INSERT_CARD]);
    let r = got.result.expect("a result");
    assert_eq!(
        (r.amount_minor, r.currency, r.receipt),
        (Some(1250), Some(208), Some(7))
    );
    assert_eq!(r.masked_pan.as_deref(), Some("4571********1234"));
    assert_eq!(r.card_name.as_deref(), Some("Dankort"));
    assert_eq!(r.auth_code.as_deref(), Some("123456"));
    assert_eq!(got.receipt, vec!["PAYHIL TEST SHOP", "DKK 12.50"]);
    assert_eq!(rx.recv().await, Some(Progress::Accepted));
    assert_eq!(rx.recv().await, Some(Progress::Status(status::INSERT_CARD)));
}

#[tokio::test]
async fn a_purchase_over_serial_is_followed_to_its_completion() {
    purchase_over(Framing::Serial).await;
}

#[tokio::test]
async fn a_purchase_over_tcp_is_followed_to_its_completion() {
    purchase_over(Framing::Tcp).await;
}

#[tokio::test(start_paused = true)]
async fn a_nak_storm_ends_after_three_sends() {
    let (mut driver, mut pt) = pair(Framing::Serial);
    let storm = async move {
        let mut d = Decoder::<1024>::new();
        let mut naks = 0;
        while naks < 3 {
            if d.feed(pt.byte().await) == Some(Received::Frame) {
                pt.write(&[NAK]).await;
                naks += 1;
            }
        }
        pt
    };
    let (got, _pt) = tokio::join!(driver.execute(PURCHASE, None, None), storm);
    assert!(
        matches!(got, Err(ZvtError::NakStorm { sends: 3 })),
        "{got:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn damaged_frames_are_naked_then_named() {
    let (mut driver, mut pt) = pair(Framing::Serial);
    let garble = async move {
        pt.recv().await;
        let mut out = [0u8; 32];
        let mut bad = serial::encode(&Ack::Positive.bytes(), &mut out)
            .expect("room")
            .to_vec();
        let n = bad.len();
        bad[n - 1] ^= 0xFF;
        for _ in 0..3 {
            pt.write(&bad).await;
            assert_eq!(pt.byte().await, NAK, "a damaged frame is NAKed");
        }
        pt
    };
    let (got, _pt) = tokio::join!(driver.execute(PURCHASE, None, None), garble);
    assert!(
        matches!(
            got,
            Err(ZvtError::Garbled {
                frames: 3,
                last: serial::LinkError::BadCrc { .. }
            })
        ),
        "{got:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_terminal_that_never_completes_ends_at_t4_with_what_it_last_said() {
    let (mut driver, mut pt) = pair(Framing::Serial);
    let started = Instant::now();
    let silent = async move {
        pt.recv().await;
        pt.send(&Ack::Positive.bytes()).await;
        pt.send_msg(PtMessage::IntermediateStatus {
            status: status::INSERT_CARD,
        })
        .await;
        pt
    };
    let (got, _pt) = tokio::join!(driver.execute(PURCHASE, None, None), silent);
    let err = got.expect_err("never completes");
    assert!(
        matches!(err, ZvtError::Timeout { partial: false, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("nothing arrived"), "{err}");
    assert_eq!(started.elapsed(), Timeouts::default().master);
}

#[tokio::test(start_paused = true)]
async fn a_silent_terminal_fails_at_t3_and_a_cut_off_frame_says_so() {
    let (mut driver, mut pt) = pair(Framing::Tcp);
    let half = async move {
        pt.recv().await;
        pt.write(&[0x80, 0x00]).await;
        pt
    };
    let (got, _pt) = tokio::join!(driver.execute(PURCHASE, None, None), half);
    let err = got.expect_err("no acknowledgement");
    assert!(
        matches!(err, ZvtError::Timeout { partial: true, after, .. } if after == Duration::from_secs(5)),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn garbage_is_named() {
    // Garbage: bytes that never start a frame.
    let (mut driver, mut pt) = pair(Framing::Serial);
    let noise = async move {
        pt.recv().await;
        pt.write(&[0x41; 400]).await;
        pt
    };
    let (got, _pt) = tokio::join!(driver.execute(PURCHASE, None, None), noise);
    assert!(matches!(got, Err(ZvtError::Garbage { .. })), "{got:?}");
}

#[tokio::test(start_paused = true)]
async fn a_refusal_is_named() {
    let (mut driver, mut pt) = pair(Framing::Tcp);
    let refuse = async move {
        pt.recv().await;
        pt.send(&Ack::Negative(result::NOT_POSSIBLE).bytes()).await;
        pt
    };
    let (got, _pt) = tokio::join!(driver.execute(PURCHASE, None, None), refuse);
    assert!(
        matches!(got, Err(ZvtError::Refused { code: 0x83 })),
        "{got:?}"
    );

    // The terminal goes away.
    let (mut driver, mut pt) = pair(Framing::Tcp);
    let gone = async move {
        pt.recv().await;
        drop(pt);
    };
    let (got, ()) = tokio::join!(driver.execute(PURCHASE, None, None), gone);
    assert!(matches!(got, Err(ZvtError::Closed)), "{got:?}");
}

#[tokio::test(start_paused = true)]
async fn a_flood_is_named() {
    let (mut driver, mut pt) = pair(Framing::Tcp);
    let flood = async move {
        pt.recv().await;
        pt.send(&Ack::Positive.bytes()).await;
        for _ in 0..MAX_MESSAGES {
            pt.send_msg(PtMessage::IntermediateStatus {
                status: status::PLEASE_WAIT,
            })
            .await;
        }
        // One more, which the driver refuses to take.
        pt.send(&[0x04, 0xFF, 0x01, status::PLEASE_WAIT]).await;
        pt
    };
    let (got, _pt) = tokio::join!(driver.execute(PURCHASE, None, None), flood);
    assert!(matches!(got, Err(ZvtError::Flood { .. })), "{got:?}");
}

#[tokio::test(start_paused = true)]
async fn an_abort_is_sent_once_and_the_terminal_ends_the_command() {
    let (mut driver, mut pt) = pair(Framing::Serial);
    let signal = Arc::new(Notify::new());
    let trigger = signal.clone();
    let terminal = async move {
        pt.recv().await;
        pt.send(&Ack::Positive.bytes()).await;
        pt.send_msg(PtMessage::IntermediateStatus {
            status: status::INSERT_CARD,
        })
        .await;
        trigger.notify_one();
        let abort = pt.recv().await;
        assert_eq!(&abort[..2], &code::ABORT);
        pt.send(&Ack::Positive.bytes()).await;
        pt.send_msg(PtMessage::Abort {
            result: result::ABORTED,
        })
        .await;
        pt
    };
    let (got, _pt) = tokio::join!(driver.execute(PURCHASE, None, Some(signal)), terminal);
    let got = got.expect("ends");
    assert_eq!(
        got.ended,
        Ended::Aborted {
            result: result::ABORTED
        }
    );
    assert!(!got.succeeded());
}

/// A terminal that prints through the cash register in text blocks (06 D3) rather than line
/// by line, and sends a message this ECR does not take (06 E0, display text) on the way: the
/// block's lines are the receipt, the unknown message is refused with 84 83 and the command
/// goes on to its completion.
async fn text_block_over(framing: Framing) {
    let (mut driver, mut pt) = pair(framing);
    let terminal = async {
        let cmd = pt.recv().await;
        assert_eq!(&cmd[..2], &code::AUTHORISATION);
        pt.send(&Ack::Positive.bytes()).await;
        // 06 E0 with a display text: not something this ECR takes.
        pt.send(&[0x06, 0xE0, 0x04, 0xF1, 0xF2, b'h', b'i']).await;
        assert_eq!(pt.recv().await, Ack::Negative(result::NOT_POSSIBLE).bytes());
        pt.send_msg(PtMessage::StatusInformation(StatusInfo {
            result: Some(0),
            amount_minor: Some(1250),
            ..StatusInfo::default()
        }))
        .await;
        // 1F07 02 (customer receipt); 25 { 07 "PAYHIL TEST SHOP", 07 "DKK 12.50" }.
        let mut objects = vec![0x1F, 0x07, 0x01, 0x02, 0x25, 0x1D, 0x07, 0x10];
        objects.extend_from_slice(b"PAYHIL TEST SHOP");
        objects.extend_from_slice(&[0x07, 0x09]);
        objects.extend_from_slice(b"DKK 12.50");
        pt.send_msg(PtMessage::PrintTextBlock { objects: &objects })
            .await;
        pt.send_msg(PtMessage::Completion { data: &[] }).await;
    };
    let (got, ()) = tokio::join!(driver.execute(PURCHASE, None, None), terminal);
    let got = got.expect("completes");
    assert!(got.succeeded(), "{got:?}");
    assert_eq!(got.receipt, vec!["PAYHIL TEST SHOP", "DKK 12.50"]);
    assert_eq!(got.refused, vec![[0x06, 0xE0]]);
}

#[tokio::test]
async fn text_blocks_are_receipts_and_unknown_messages_are_refused_over_serial() {
    text_block_over(Framing::Serial).await;
}

#[tokio::test]
async fn text_blocks_are_receipts_and_unknown_messages_are_refused_over_tcp() {
    text_block_over(Framing::Tcp).await;
}
