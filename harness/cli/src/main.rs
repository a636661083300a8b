//! `payhil`: run scenarios against a terminal, check scenario files, measure, or (internally)
//! be the embedded reference terminal.
#![warn(missing_docs)]

mod bench_cmd;
mod card_faults_cmd;
mod evidence_cmd;
mod fuzz_cmd;
mod inventory;
mod inventory_run;
mod output;
mod powerloss_cmd;
mod rules_cmd;
mod run_cmd;
mod soak_cmd;
mod suite;
mod zvt_cmd;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "payhil",
    version,
    about = "Hardware-in-the-loop test harness for offline card-payment terminals"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios (all under scenarios/ by default) against the embedded emulated terminal
    /// or a physical one.
    Run(run_cmd::RunArgs),
    /// Check scenario files without a terminal: syntax, rule IDs, cards, steps.
    Check {
        /// Scenario files (default: all under scenarios/).
        files: Vec<PathBuf>,
    },
    /// Coverage of the requirement catalogue by the scenarios, with their last results.
    Rules(rules_cmd::RulesArgs),
    /// Run every card-data fault class (malformed TLV, bad card numbers, dates, amounts,
    /// currency) against a terminal and print a table: class, the terminal's answer, verdict.
    CardFaults(card_faults_cmd::CardFaultsArgs),
    /// Measure purchases per second and protocol round-trip time on one emulated terminal.
    Bench(bench_cmd::BenchArgs),
    /// Cut a scenario at every flash write (clean and torn) in process and check the oracle
    /// after each; the last line is JSON `{"cut_points": N, "points_per_s": N, "failures": N}`.
    Powerloss(powerloss_cmd::PowerlossArgs),
    /// Soak the in-process bench: N purchases under a seeded schedule of network faults, power
    /// cuts at any flash write and clock jumps, judged by the model and the exactly-once oracle;
    /// the last line is JSON `{"transactions": N, ..., "lost": 0, "duplicated": 0, ...}`.
    Soak(soak_cmd::SoakArgs),
    /// Turn a fuzz input of `bench_sim` or `terminal_vs_model` into a scenario file the normal
    /// runner replays (on the emulator or a physical terminal).
    FuzzToScenario(fuzz_cmd::FuzzToScenarioArgs),
    /// Make a key pair for signing evidence: PREFIX.key (secret) and PREFIX.pub (minisign).
    Keygen {
        /// Path prefix of the two files.
        prefix: PathBuf,
    },
    /// Verify an evidence bundle: every file against MANIFEST.sha256, no file missing or extra,
    /// the in-toto statement, and the signature (against --pubkey if given).
    Verify {
        /// The bundle's directory.
        dir: PathBuf,
        /// The public key it must be signed with (minisign .pub file).
        #[arg(long)]
        pubkey: Option<PathBuf>,
    },
    /// Drive a terminal through its ZVT cash-register interface, one command at a time (serial
    /// or tcp://), with a card robot command as the card instrument; prints each status, print
    /// line and the result.
    Zvt(zvt_cmd::ZvtArgs),
    /// Serve the reference terminal firmware on a serial device (spawned by `run` and `bench`).
    #[command(hide = true)]
    Emulate(fut_emulator::EmulatorArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Emulate(args) => std::process::exit(fut_emulator::run(&args)),
        Command::Zvt(args) => std::process::exit(zvt_cmd::run(args).unwrap_or_else(|e| {
            eprintln!("payhil zvt: {e:#}");
            2
        })),
        Command::Check { files } => std::process::exit(run_cmd::check(files)),
        Command::Keygen { prefix } => std::process::exit(evidence_cmd::keygen(&prefix)),
        Command::Verify { dir, pubkey } => {
            std::process::exit(evidence_cmd::verify(&dir, pubkey.as_deref()))
        }
        Command::Rules(args) => std::process::exit(rules_cmd::rules(args)),
        Command::Run(args) => {
            let rt = tokio::runtime::Runtime::new()?;
            std::process::exit(rt.block_on(run_cmd::run(args))?)
        }
        Command::Powerloss(args) => std::process::exit(powerloss_cmd::powerloss(args)?),
        Command::Soak(args) => std::process::exit(soak_cmd::soak(args)?),
        Command::FuzzToScenario(args) => std::process::exit(fuzz_cmd::fuzz_to_scenario(args)?),
        Command::CardFaults(args) => {
            let rt = tokio::runtime::Runtime::new()?;
            std::process::exit(rt.block_on(card_faults_cmd::card_faults(args))?)
        }
        Command::Bench(args) => {
            // One thread for the link, the proxy and the host simulator: a request and its
            // host exchange then cross no thread boundary in the harness (the emulator is
            // its own process), as a latency benchmark wants.
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(bench_cmd::bench(args))
        }
    }
}
