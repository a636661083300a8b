//! The serial line relay against the reference terminal on a real PTY (issue 10, item 2): a
//! noise flood each way costs bounded memory and time and the purchase goes through once; a
//! silent line ends the request with a timeout error within its bound, without spinning.

use payhil_bench::{Bench, BenchConfig, EmulatorSpec, Target, TerminalConfig};
use payhil_faults::{LineFault, SerialDirection, SerialFault, When};
use payhil_protocol::{Request, Response};
use payhil_transport::{LinkError, LinkSettings};
use std::time::{Duration, Instant};

const PAYHIL: &str = env!("CARGO_BIN_EXE_payhil");

async fn bench(link: LinkSettings) -> Bench {
    let spec = EmulatorSpec {
        program: PAYHIL.into(),
        args: vec!["emulate".into()],
        config: TerminalConfig::default(),
    };
    let mut cfg = BenchConfig::new(Target::Emulated(spec));
    cfg.link = link;
    cfg.seed = 42;
    Bench::start(cfg).await.unwrap()
}

/// CPU time this thread has used (user + system), from /proc: the test's runtime is on one
/// thread, the relay and link run on it, and other tests' threads do not count.
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<u64> = rest
        .split(' ')
        .skip(11)
        .take(2)
        .map(|v| v.parse().unwrap())
        .collect();
    // Clock ticks of 10 ms (USER_HZ is 100 on Linux).
    Duration::from_millis((f[0] + f[1]) * 10)
}

#[tokio::test]
async fn a_flood_each_way_costs_bounded_memory_and_the_request_is_carried_out_once() {
    let mut b = bench(LinkSettings::default()).await;
    const FROM: u64 = 16 << 20;
    const TO: u64 = 2 << 20;
    for (direction, bytes) in [
        (SerialDirection::FromTerminal, FROM),
        (SerialDirection::ToTerminal, TO),
    ] {
        b.set_serial_fault(Some(SerialFault {
            fault: LineFault::Flood(bytes),
            direction,
            when: When::AtFrame { first: 1, count: 1 },
        }));
        let started = Instant::now();
        let r = tokio::time::timeout(
            Duration::from_secs(120),
            b.link.request(&Request::StartPurchase {
                amount: payhil_protocol::Amount {
                    minor: 100,
                    currency: payhil_protocol::Currency::DKK,
                },
                forced_offline: true,
            }),
        )
        .await
        .expect("a flood is survived within a bound, not a hang")
        .unwrap();
        assert!(
            matches!(r.get(), Response::Accepted { .. }),
            "{:?}",
            r.get()
        );
        eprintln!(
            "{bytes} bytes of noise {direction:?}: {:?}, {:.1} MB/s",
            started.elapsed(),
            bytes as f64 / started.elapsed().as_secs_f64() / 1e6
        );
        // Back to idle for the next round. The repeats had the first start's id, so the
        // terminal answered them from its cache: had it carried one out again, it would have
        // answered Rejected(WrongState), not Accepted.
        b.set_serial_fault(None);
        let c = b.link.request(&Request::Cancel).await.unwrap();
        assert!(matches!(c.get(), Response::Done(_)), "{:?}", c.get());
    }
    let stats = b.line.stats();
    // At most one frame per direction and a read's worth, whatever the flood's size.
    assert!(stats.max_buffered <= 8 * 1024, "{stats:?}");
    assert_eq!(stats.noise_bytes, FROM + TO);
    assert!(
        b.link.stats.retries <= 2 * u64::from(LinkSettings::default().max_nak_repeats),
        "{:?}",
        b.link.stats
    );
    let _ = b.shutdown().await;
}

#[tokio::test]
async fn a_silent_line_is_a_timeout_error_within_its_bound_and_nothing_spins() {
    let link = LinkSettings {
        response_timeout: Duration::from_millis(300),
        ..LinkSettings::default()
    };
    let mut b = bench(link).await;
    for direction in [SerialDirection::ToTerminal, SerialDirection::FromTerminal] {
        b.set_serial_fault(Some(SerialFault {
            fault: LineFault::Silence,
            direction,
            when: When::Every,
        }));
        let (started, cpu) = (Instant::now(), thread_cpu());
        let err = b.link.request(&Request::QueueStatus).await.unwrap_err();
        let (took, used) = (started.elapsed(), thread_cpu().saturating_sub(cpu));
        assert!(
            matches!(err, LinkError::Timeout { attempts: 3, .. }),
            "{err}"
        );
        assert!(
            err.to_string().contains("no response to QueueStatus"),
            "{err}"
        );
        // Three response timeouts, and a margin for a loaded machine.
        assert!(took >= link.response_timeout * 3, "{took:?}");
        assert!(
            took < link.response_timeout * 3 + Duration::from_secs(2),
            "{took:?}"
        );
        // Waiting is idle: a spin would burn the whole wait.
        assert!(used < took / 4, "{used:?} of CPU in {took:?}");
        eprintln!("silence {direction:?}: error after {took:?}, {used:?} of CPU");
    }
    b.set_serial_fault(None);
    b.link
        .request(&Request::Ping { nonce: 3 })
        .await
        .expect("a clean line works again");
    let _ = b.shutdown().await;
}
