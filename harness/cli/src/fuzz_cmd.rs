//! `payhil fuzz-to-scenario INPUT`: a fuzz input of `bench_sim` or `terminal_vs_model` (or a
//! soak window, which is printed as a scenario already) as a scenario file that reproduces it
//! through the normal runner: `payhil run FILE`, on the emulator or a physical terminal.

use anyhow::Context;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// The target an input was found by.
#[derive(Clone, Copy, ValueEnum)]
pub enum FuzzTarget {
    /// The whole bench in process under a fault schedule.
    BenchSim,
    /// The core against the model with operations of every kind.
    TerminalVsModel,
}

/// Arguments of `payhil fuzz-to-scenario`.
#[derive(Args)]
pub struct FuzzToScenarioArgs {
    /// The input (a crash file from fuzz/artifacts, or any corpus file).
    input: PathBuf,
    /// The target that found it.
    #[arg(long, value_enum, default_value = "bench-sim")]
    target: FuzzTarget,
    /// Where to write the scenario (default: print it).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Writes or prints the scenario; the exit status is 0.
pub fn fuzz_to_scenario(args: FuzzToScenarioArgs) -> anyhow::Result<i32> {
    let data = std::fs::read(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    let model = matches!(args.target, FuzzTarget::TerminalVsModel);
    let scenario = payhil_sim::soak::fuzz_scenario(&data, model);
    match &args.out {
        Some(path) => {
            std::fs::write(path, &scenario)
                .with_context(|| format!("writing {}", path.display()))?;
            println!("scenario written to {} (payhil run {0})", path.display());
        }
        None => print!("{scenario}"),
    }
    Ok(0)
}
