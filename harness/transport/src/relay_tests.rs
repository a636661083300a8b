//! The relay under a link, against a small terminal that follows PROTOCOL.md section 3 (NAK for
//! a bad run, a repeated id answered from its cache). The fault plans here are minimal stand-ins;
//! the real ones (`payhil-faults`) are tested with the emulator in `payhil`'s tests.

use super::*;
use crate::link::{FrameLink, LinkError, LinkSettings};
use payhil_protocol::frame::{Decoded, FrameDecoder, FrameKind, encode, encode_bytes};
use payhil_protocol::{Request, Response};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// A terminal that carries out each new request id once and counts it (pings apart: the link
/// sends them to read echoes), answering everything with a Pong.
fn terminal(mut io: DuplexStream, carried_out: Arc<AtomicU32>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut dec = FrameDecoder::new();
        let mut last: Option<(u16, Vec<u8>)> = None;
        let mut buf = [0u8; 4096];
        loop {
            let Ok(n) = io.read(&mut buf).await else {
                return;
            };
            if n == 0 {
                return;
            }
            let mut input = &buf[..n];
            while !input.is_empty() {
                let (used, d) = dec.feed(input);
                input = &input[used..];
                let mut out = [0u8; 2048];
                let wire = match d {
                    None => continue,
                    Some(Decoded::Error(_)) => encode_bytes(FrameKind::Nak, 0, &[], &mut out)
                        .unwrap()
                        .to_vec(),
                    Some(Decoded::Frame(f)) => match &last {
                        Some((id, cached)) if *id == f.seq => cached.clone(),
                        _ => {
                            // The link's own pings (reading echoes) are not purchases.
                            if !matches!(
                                payhil_protocol::from_payload::<Request>(f.payload),
                                Ok(Request::Ping { .. })
                            ) {
                                carried_out.fetch_add(1, Ordering::SeqCst);
                            }
                            let w = encode(
                                FrameKind::Response,
                                f.seq,
                                &Response::Pong { nonce: 5 },
                                &mut out,
                            )
                            .unwrap()
                            .to_vec();
                            last = Some((f.seq, w.clone()));
                            w
                        }
                    },
                };
                if io.write_all(&wire).await.is_err() {
                    return;
                }
            }
        }
    })
}

/// A stand-in plan: `make` decides for frames of `dir`, counting from 1.
struct Plan<F> {
    dir: Direction,
    n: u64,
    make: F,
}

impl<F: FnMut(u64, &[u8]) -> Option<Vec<Piece>> + Send> LineFaults for Plan<F> {
    fn frame(&mut self, dir: Direction, unit: &[u8]) -> Verdict {
        if dir != self.dir {
            return Verdict::pass(unit);
        }
        self.n += 1;
        match (self.make)(self.n, unit) {
            Some(pieces) => Verdict {
                pieces,
                note: Some(format!("frame {} changed", self.n)),
            },
            None => Verdict::pass(unit),
        }
    }
}

fn plan(
    dir: Direction,
    make: impl FnMut(u64, &[u8]) -> Option<Vec<Piece>> + Send + 'static,
) -> Box<dyn LineFaults> {
    Box::new(Plan { dir, n: 0, make })
}

/// Noise with a delimiter every 7 bytes: a garbled run per 7 bytes, the worst case for NAKs.
struct Zeros(u8);

impl NoiseSource for Zeros {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = (self.0 + 1) % 7;
            *b = self.0;
        }
    }
}

fn setup(
    settings: LinkSettings,
) -> (
    FrameLink<Relay<DuplexStream>>,
    LineControl,
    Arc<AtomicU32>,
    Transcript,
) {
    let (harness, term) = tokio::io::duplex(4096);
    let t = Transcript::new();
    let relay = Relay::new(harness, t.clone());
    let control = relay.control();
    let count = Arc::new(AtomicU32::new(0));
    terminal(term, count.clone());
    let link = FrameLink::new(relay, "dut", settings, t.clone()).with_relay(control.clone());
    (link, control, count, t)
}

#[tokio::test]
async fn without_faults_bytes_pass_unchanged() {
    let (mut link, control, count, _) = setup(LinkSettings::default());
    for _ in 0..3 {
        let r = link.request(&Request::QueueStatus).await.unwrap();
        assert_eq!(r.get(), Response::Pong { nonce: 5 });
    }
    assert_eq!(count.load(Ordering::SeqCst), 3);
    let s = control.stats();
    assert_eq!((s.frames_to_terminal, s.frames_from_terminal), (3, 3));
    assert_eq!(s.faulted, 0);
}

#[tokio::test]
async fn a_duplicated_request_is_carried_out_once() {
    let (mut link, control, count, t) = setup(LinkSettings::default());
    control.set(Some(plan(Direction::ToTerminal, |n, unit| {
        (n == 1).then(|| vec![Piece::Bytes(unit.to_vec()), Piece::Bytes(unit.to_vec())])
    })));
    link.request(&Request::QueueStatus).await.unwrap();
    link.request(&Request::QueueStatus).await.unwrap();
    assert_eq!(
        count.load(Ordering::SeqCst),
        2,
        "one purchase per request id"
    );
    assert_eq!(link.stats.stale_responses, 1);
    assert!(t.render().contains("line to terminal: frame 1 changed"));
}

#[tokio::test(start_paused = true)]
async fn silence_ends_the_request_with_a_timeout_within_its_bound() {
    let settings = LinkSettings::default();
    let (mut link, control, count, _) = setup(settings);
    control.set(Some(plan(Direction::ToTerminal, |_, _| Some(Vec::new()))));
    let started = tokio::time::Instant::now();
    let err = link.request(&Request::QueueStatus).await.unwrap_err();
    let waited = started.elapsed();
    assert!(
        matches!(err, LinkError::Timeout { attempts: 3, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("no response to QueueStatus"),
        "{err}"
    );
    // Three response timeouts and the short pauses, nothing more.
    assert!(waited <= settings.response_timeout * 3 + Duration::from_millis(100));
    assert_eq!(count.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_flood_from_the_terminal_costs_bounded_memory_and_is_survived() {
    let (mut link, control, count, t) = setup(LinkSettings::default());
    const FLOOD: u64 = 8 << 20;
    control.set(Some(plan(Direction::FromTerminal, |n, unit| {
        (n == 1).then(|| {
            vec![
                Piece::Noise {
                    len: FLOOD,
                    source: Box::new(Zeros(0)),
                },
                Piece::Bytes(unit.to_vec()),
            ]
        })
    })));
    let r = tokio::time::timeout(Duration::from_secs(60), link.request(&Request::QueueStatus))
        .await
        .expect("bounded")
        .unwrap();
    assert_eq!(r.get(), Response::Pong { nonce: 5 });
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert!(control.stats().max_buffered <= 2 * MAX_UNIT + 2048);
    // A million garbled runs, a bounded transcript: the streak is recorded by a count.
    assert!(t.len() < 60, "{}", t.render());
    assert!(t.render().contains("more bad frames and NAKs not shown"));
    assert!(link.stats.retries <= u64::from(LinkSettings::default().max_nak_repeats));
}

#[tokio::test]
async fn a_flood_to_the_terminal_is_nacked_then_the_request_goes_through() {
    let (mut link, control, count, t) = setup(LinkSettings::default());
    control.set(Some(plan(Direction::ToTerminal, |n, unit| {
        (n == 1).then(|| {
            vec![
                Piece::Noise {
                    len: 1 << 20,
                    source: Box::new(Zeros(0)),
                },
                Piece::Bytes(unit.to_vec()),
            ]
        })
    })));
    let r = tokio::time::timeout(Duration::from_secs(60), link.request(&Request::QueueStatus))
        .await
        .expect("bounded")
        .unwrap();
    assert_eq!(r.get(), Response::Pong { nonce: 5 });
    assert_eq!(count.load(Ordering::SeqCst), 1, "carried out once");
    assert_eq!(
        link.stats.retries,
        u64::from(LinkSettings::default().max_nak_repeats),
        "a NAK per garbled run, but no more repeats than the budget"
    );
    assert!(control.stats().max_buffered <= 2 * MAX_UNIT + 2048);
    assert!(t.len() < 60, "{}", t.render());
}

#[tokio::test]
async fn a_frame_split_into_single_bytes_arrives_whole() {
    let (mut link, control, count, _) = setup(LinkSettings::default());
    for dir in [Direction::ToTerminal, Direction::FromTerminal] {
        control.set(Some(plan(dir, |_, unit| {
            Some(unit.iter().map(|b| Piece::Bytes(vec![*b])).collect())
        })));
        link.request(&Request::QueueStatus).await.unwrap();
    }
    assert_eq!(count.load(Ordering::SeqCst), 2);
    assert_eq!(link.stats.retries, 0);
}
