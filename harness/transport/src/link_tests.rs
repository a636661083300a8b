//! The link against small scripted terminals.
use super::*;
use payhil_protocol::frame::encode;

/// A terminal that answers the first try with garbage and the second properly.
#[tokio::test]
async fn a_corrupted_response_is_retried_with_the_same_id() {
    let (harness, mut terminal) = tokio::io::duplex(4096);
    let t = Transcript::new();
    let mut link = FrameLink::new(harness, "dut", LinkSettings::default(), t.clone());
    let term = tokio::spawn(async move {
        let mut dec = FrameDecoder::new();
        let mut buf = [0u8; 256];
        let mut seen = Vec::new();
        // The corrupted answer, its repeat, and the ping that reads the echoes after it.
        while seen.len() < 3 {
            let n = terminal.read(&mut buf).await.unwrap();
            let mut input = &buf[..n];
            while !input.is_empty() {
                let (used, d) = dec.feed(input);
                input = &input[used..];
                if let Some(Decoded::Frame(f)) = d {
                    seen.push(f.seq);
                    let mut out = [0u8; MAX_ENCODED];
                    let mut w = encode(
                        FrameKind::Response,
                        f.seq,
                        &Response::Pong { nonce: 9 },
                        &mut out,
                    )
                    .unwrap()
                    .to_vec();
                    if seen.len() == 1 {
                        w[3] ^= 0xFF; // corrupt the first answer
                    }
                    terminal.write_all(&w).await.unwrap();
                }
            }
        }
        seen
    });
    let r = link.request(&Request::Ping { nonce: 9 }).await.unwrap();
    assert_eq!(r.get(), Response::Pong { nonce: 9 });
    let seen = term.await.unwrap();
    assert_eq!(seen[0], seen[1], "the repeat carries the same request id");
    assert_eq!(link.stats.retries, 1);
}

#[tokio::test(start_paused = true)]
async fn a_silent_terminal_is_a_timeout_error_not_a_hang() {
    let (harness, _terminal) = tokio::io::duplex(4096);
    let mut link = FrameLink::new(harness, "dut", LinkSettings::default(), Transcript::new());
    let err = link.request(&Request::QueueStatus).await.unwrap_err();
    assert!(
        matches!(err, LinkError::Timeout { attempts: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("QueueStatus"), "{err}");
}

#[tokio::test]
async fn eof_is_device_gone() {
    let (harness, terminal) = tokio::io::duplex(4096);
    drop(terminal);
    let mut link = FrameLink::new(harness, "dut", LinkSettings::default(), Transcript::new());
    let err = link.request(&Request::QueueStatus).await.unwrap_err();
    assert!(
        matches!(err, LinkError::DeviceGone { .. } | LinkError::Write { .. }),
        "{err}"
    );
}
