//! `payhil soak --transactions N --seed S`: the in-process bench under a seeded schedule of
//! network faults, power cuts and clock jumps (payhil_sim::soak). Prints the seed first; a
//! failing window is written as a scenario file that replays it through `payhil run`; the last
//! line is `{"transactions": N, "acknowledged_offline": N, "lost": 0, "duplicated": 0,
//! "unexpected": 0, "per_s": N, "seed": S}`.

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `payhil soak`.
#[derive(Args)]
pub struct SoakArgs {
    /// Purchases to make in all (1 to 1,000,000,000).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    transactions: u64,
    /// The seed every choice comes from (default: drawn, and printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Purchases per fresh terminal (a window ends with a drain and the exactly-once check).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    window: u64,
    /// Where a failing window's scenario is written (default:
    /// target/payhil/soak/seed-S-window-W.toml).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs it; the exit status is 0 only without a finding.
pub fn soak(args: SoakArgs) -> anyhow::Result<i32> {
    let seed = args.seed.unwrap_or_else(crate::run_cmd::seed_from_time);
    println!(
        "payhil soak: seed {seed}, {} transactions in windows of {}",
        args.transactions, args.window
    );
    let opts = payhil_sim::soak::SoakOptions {
        transactions: args.transactions,
        seed,
        window: args.window,
        inject_write_behind: false,
    };
    let report = payhil_sim::soak::soak(&opts);
    println!(
        "{} windows, {} power cuts inside a request, {:.1} s",
        report.windows,
        report.cuts,
        report.elapsed.as_secs_f64()
    );
    let failed = report.failure.is_some();
    if let Some(f) = &report.failure {
        let path = args.out.clone().unwrap_or_else(|| {
            PathBuf::from(format!(
                "target/payhil/soak/seed-{seed}-window-{}.toml",
                f.window
            ))
        });
        // The oracle's messages name cards only masked; redacted again all the same.
        println!(
            "FAIL window {} (seed {seed}): {}",
            f.window,
            payhil_scenario::runner::redact(&f.message)
        );
        path.parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, &f.scenario))
            .with_context(|| format!("writing the replayable scenario {}", path.display()))?;
        println!(
            "replay: payhil run {} (or payhil soak --seed {seed} --transactions {})",
            path.display(),
            args.transactions
        );
    }
    println!("{}", report.json_line());
    Ok(i32::from(failed))
}
