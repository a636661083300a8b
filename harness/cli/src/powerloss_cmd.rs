//! `payhil powerloss SCENARIO`: the scenario in process, cut at every flash write (clean and
//! torn), each cut's recovery checked by the oracle (payhil_sim::powerloss). Prints each failing
//! cut with a replayable scenario, and as its last line
//! `{"cut_points": N, "points_per_s": N, "failures": N}`.

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `payhil powerloss`.
#[derive(Args)]
pub struct PowerlossArgs {
    /// The scenario file.
    scenario: PathBuf,
    /// Also cut every cut's recovery at each of its writes (every pair of writes; for short
    /// scenarios).
    #[arg(long)]
    pairs: bool,
    /// The run's seed (printed; every cut point is tried in order, nothing is drawn at random).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Failing cuts printed with their replayable scenario (the rest as one line each).
    #[arg(long, default_value_t = 3)]
    show: usize,
    /// Stop after this many failing cuts (0: never).
    #[arg(long, default_value_t = 0)]
    max_failures: usize,
}

/// Runs it; the exit status is 0 only without failures.
pub fn powerloss(args: PowerlossArgs) -> anyhow::Result<i32> {
    let source = std::fs::read_to_string(&args.scenario)
        .with_context(|| format!("cannot read {}", args.scenario.display()))?;
    let scn = payhil_scenario::parse_str(&args.scenario, &source)?;
    println!(
        "powerloss {} (seed {}{})",
        args.scenario.display(),
        args.seed,
        if args.pairs { ", pairs" } else { "" }
    );
    let opts = payhil_sim::Options {
        pairs: args.pairs,
        seed: args.seed,
        max_failures: args.max_failures,
        inject_write_behind: false,
    };
    let report = payhil_sim::powerloss(&scn, &source, &opts)?;
    println!(
        "{} flash writes in the uncut run on a {} KiB chip of {} KiB pages (a word programmed at most {} times between erases); {} cut points in {:.3} s",
        report.writes,
        report.chip.bytes() / 1024,
        report.chip.page / 1024,
        report.max_programs,
        report.cut_points,
        report.elapsed.as_secs_f64()
    );
    for (i, f) in report.failures.iter().enumerate() {
        let then = f
            .then
            .map(|(j, t)| {
                format!(
                    ", then write {j} of the recovery ({})",
                    if t { "torn" } else { "clean" }
                )
            })
            .unwrap_or_default();
        // The oracle's messages name cards only masked; redacted again all the same.
        println!(
            "FAIL cut at write {} ({}){then}, write {} of step {}: {}",
            f.at,
            if f.tear { "torn" } else { "clean" },
            f.write_in_step,
            f.step,
            payhil_scenario::runner::redact(&f.message)
        );
        if i < args.show {
            println!("--- replayable scenario ---\n{}---", f.replay);
        }
    }
    println!("{}", report.json_line());
    Ok(if report.failures.is_empty() { 0 } else { 1 })
}
