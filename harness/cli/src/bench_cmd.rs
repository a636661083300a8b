//! `payhil bench`: end-to-end throughput and latency on one emulated terminal over the real PTY
//! and TCP path. The last line printed is one JSON object for tools to read.

use anyhow::{Context, bail};
use payhil_bench::{Bench, BenchConfig, EmulatorSpec, Target, TerminalConfig};
use payhil_cards::catalogue;
use payhil_protocol::{Amount, Awaiting, Currency, Outcome, PinText, Request, Response};
use std::time::{Duration, Instant};

/// Arguments of `payhil bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Online purchases to time (at least 1).
    // Zero purchases would time nothing and report 0 purchases/s.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    purchases: u32,
    /// Pings to time (1 to 1000000).
    // The percentiles index the sorted round trips, so there must be at least one; the upper
    // bound keeps the buffer they are kept in (16 bytes each) to 16 MB.
    #[arg(long, default_value_t = 2000,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pings: u32,
    /// Emulated terminals run at once after the single-terminal figures (1 to 64): their
    /// aggregate purchases per second.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    terminals: u32,
}

/// One terminal's figures.
struct Measured {
    purchases: u32,
    elapsed: Duration,
    rtts: Vec<Duration>,
}

/// Starts an emulated terminal, times `pings` pings (if any) and `purchases` online purchases.
async fn one_terminal(purchases: u32, pings: u32) -> anyhow::Result<Measured> {
    let program = std::env::current_exe().context("locating the payhil executable")?;
    let spec = EmulatorSpec {
        program,
        args: vec!["emulate".into()],
        config: TerminalConfig::default(),
    };
    let mut bench = Bench::start(BenchConfig::new(Target::Emulated(spec)))
        .await
        .context("starting the bench")?;
    bench
        .link
        .request(&Request::SetClock {
            unix_s: 1_772_446_500,
        })
        .await?;
    for i in 0..100 {
        bench.link.request(&Request::Ping { nonce: i }).await?;
    }
    let mut rtts = Vec::with_capacity(pings as usize);
    for i in 0..pings {
        let t = Instant::now();
        let r = bench.link.request(&Request::Ping { nonce: i }).await?;
        rtts.push(t.elapsed());
        if r.get() != (Response::Pong { nonce: i }) {
            bail!("ping {i}: unexpected answer {:?}", r.get());
        }
    }
    let card = catalogue::by_name("visa").context("test card")?;
    let data = card.presented(card.networks[0], payhil_protocol::EntryMode::Chip);
    let amount = Amount {
        minor: 4_995,
        currency: Currency::DKK,
    };
    let started = Instant::now();
    for i in 0..purchases {
        bench
            .link
            .request(&Request::StartPurchase {
                amount,
                forced_offline: false,
            })
            .await?;
        let r = bench.link.request(&Request::PresentCard(data)).await?;
        if r.get()
            != (Response::Accepted {
                awaiting: Awaiting::Pin,
            })
        {
            bail!("purchase {i}: card not accepted: {:?}", r.get());
        }
        let r = bench
            .link
            .request(&Request::EnterPin(PinText(card.pin.reveal())))
            .await?;
        match r.get() {
            Response::Done(d) if d.outcome == Outcome::ApprovedOnline => {}
            other => bail!("purchase {i}: not approved online: {other:?}"),
        }
    }
    let elapsed = started.elapsed();
    let settled = bench.host.books().settled().count();
    let _ = bench.shutdown().await;
    if settled != purchases as usize {
        bail!("host settled {settled} of {purchases} purchases");
    }
    Ok(Measured {
        purchases,
        elapsed,
        rtts,
    })
}

/// The floor a ping's round trip stands on, measured the same way: a Ping frame written to a
/// PTY and the same bytes read back from a process that echoes them on the PTY's other end
/// (`sh -c "exec cat"` with the line in raw mode): two PTY crossings, two wake-ups of the
/// harness and one of a separate process, no protocol.
async fn bare_pty_rtts(pings: u32) -> anyhow::Result<Vec<Duration>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let pty = payhil_transport::serial::pty_pair().context("opening a PTY pair")?;
    let mut harness = pty.harness;
    let mut echo = tokio::process::Command::new("sh")
        .arg("-c")
        .arg("stty raw -echo 2>/dev/null; exec cat")
        .stdin(
            std::fs::File::options()
                .read(true)
                .open(&pty.terminal_path)?,
        )
        .stdout(
            std::fs::File::options()
                .write(true)
                .open(&pty.terminal_path)?,
        )
        .kill_on_drop(true)
        .spawn()
        .context("starting the echo process")?;
    drop(pty.keepalive);
    let mut frame = [0u8; payhil_protocol::frame::MAX_ENCODED];
    let wire = payhil_protocol::frame::encode(
        payhil_protocol::FrameKind::Request,
        1,
        &Request::Ping { nonce: 1 },
        &mut frame,
    )
    .map_err(|e| anyhow::anyhow!("encoding a ping: {e:?}"))?
    .to_vec();
    let mut back = vec![0u8; wire.len()];
    let mut rtts = Vec::with_capacity(pings as usize);
    for i in 0..pings + 100 {
        let t = Instant::now();
        harness.write_all(&wire).await?;
        tokio::time::timeout(Duration::from_secs(5), harness.read_exact(&mut back))
            .await
            .context("the echo process did not answer")??;
        if i >= 100 {
            rtts.push(t.elapsed());
        }
    }
    let _ = echo.start_kill();
    Ok(rtts)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted
        .get(((sorted.len().saturating_sub(1)) as f64 * p) as usize)
        .copied()
        .unwrap_or_default()
}

pub async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    // The floor first, then the terminal, in the same run: this machine is noisy.
    let mut bare = bare_pty_rtts(args.pings).await?;
    bare.sort();
    let mut one = one_terminal(args.purchases, args.pings).await?;
    one.rtts.sort();
    let (median, floor) = (percentile(&one.rtts, 0.5), percentile(&bare, 0.5));
    println!(
        "ping round trip over the PTY: median {:.1} us, p90 {:.1} us, p99 {:.1} us ({} pings)",
        us(median),
        us(percentile(&one.rtts, 0.9)),
        us(percentile(&one.rtts, 0.99)),
        args.pings
    );
    println!(
        "bare PTY round trip of a ping frame (echoed by a process): median {:.1} us; ping / bare = {:.2}",
        us(floor),
        median.as_secs_f64() / floor.as_secs_f64().max(1e-9)
    );
    let per_s = f64::from(one.purchases) / one.elapsed.as_secs_f64();
    println!(
        "online purchases end to end, one terminal (3 requests + 1 host exchange each): {per_s:.0}/s ({} in {:.2} s)",
        one.purchases,
        one.elapsed.as_secs_f64()
    );
    let mut json = serde_json::json!({
        "purchases_per_s": per_s.round() as u64,
        "ping_rtt_us": us(median).round() as u64,
        "bare_pty_rtt_us": us(floor).round() as u64,
    });
    if args.terminals > 1 {
        let started = Instant::now();
        let all = futures_util::future::try_join_all(
            (0..args.terminals).map(|_| one_terminal(args.purchases, 0)),
        )
        .await?;
        let wall = started.elapsed();
        let total: u32 = all.iter().map(|m| m.purchases).sum();
        // Each terminal's clock starts at its own boot; the aggregate is over the whole wall.
        let aggregate = f64::from(total) / wall.as_secs_f64();
        println!(
            "online purchases end to end, {} terminals at once: {aggregate:.0}/s aggregate ({total} in {:.2} s, start-up included)",
            args.terminals,
            wall.as_secs_f64()
        );
        json["terminals"] = args.terminals.into();
        json["aggregate_purchases_per_s"] = (aggregate.round() as u64).into();
    }
    println!("{json}");
    Ok(())
}
