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
}

pub async fn bench(args: BenchArgs) -> anyhow::Result<()> {
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
    let mut rtts = Vec::with_capacity(args.pings as usize);
    for i in 0..args.pings {
        let t = Instant::now();
        let r = bench.link.request(&Request::Ping { nonce: i }).await?;
        rtts.push(t.elapsed());
        if r.get() != (Response::Pong { nonce: i }) {
            bail!("ping {i}: unexpected answer {:?}", r.get());
        }
    }
    rtts.sort();
    let pct = |p: f64| rtts[((rtts.len() as f64 - 1.0) * p) as usize];
    let median = pct(0.5);

    let card = catalogue::by_name("visa").context("test card")?;
    let data = card.presented(card.networks[0], payhil_protocol::EntryMode::Chip);
    let amount = Amount {
        minor: 4_995,
        currency: Currency::DKK,
    };
    let started = Instant::now();
    for i in 0..args.purchases {
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
    let per_s = f64::from(args.purchases) / elapsed.as_secs_f64();
    let settled = bench.host.books().settled().count();
    let _ = bench.shutdown().await;
    if settled != args.purchases as usize {
        bail!("host settled {settled} of {} purchases", args.purchases);
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "ping round trip over the PTY: median {:.1} us, p90 {:.1} us, p99 {:.1} us ({} pings)",
        us(median),
        us(pct(0.9)),
        us(pct(0.99)),
        args.pings
    );
    println!(
        "online purchases end to end (3 requests + 1 host exchange each): {per_s:.0}/s ({} in {:.2} s)",
        args.purchases,
        elapsed.as_secs_f64()
    );
    println!(
        "{}",
        serde_json::json!({ "purchases_per_s": per_s.round() as u64, "ping_rtt_us": us(median).round() as u64 })
    );
    Ok(())
}
