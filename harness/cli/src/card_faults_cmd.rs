//! `payhil card-faults`: every card-data fault class (issue 10, item 1) against one terminal,
//! each as its own small scenario on a fresh bench, and a table of what the terminal answered
//! and what the harness made of it.

use anyhow::Context;
use payhil_cards::faults::CardFault;
use payhil_scenario::runner::{RunOptions, TerminalTarget};
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `payhil card-faults`.
#[derive(clap::Args)]
pub struct CardFaultsArgs {
    /// Drive a physical terminal on this serial port instead of the embedded emulator.
    #[arg(long)]
    port: Option<PathBuf>,
    /// Baud rate for --port.
    #[arg(long, default_value_t = 115_200, requires = "port",
          value_parser = clap::value_parser!(u32).range(1..))]
    baud: u32,
    /// Where the acquirer proxy listens (a physical terminal's configured host address).
    #[arg(long, default_value = "127.0.0.1:0")]
    proxy_listen: std::net::SocketAddr,
    /// Bound on a terminal's start-up, in seconds (1 to 86400).
    #[arg(long, default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    boot_timeout: u64,
    /// Only these classes (default: all).
    #[arg(long = "class", value_name = "CLASS")]
    classes: Vec<String>,
}

/// The scenario that tries one class: a Dankort purchase online, judged by the model alone.
pub fn scenario_text(class: CardFault) -> String {
    format!(
        "name = \"card fault {name}\"\nrules = [\"SUPPORT-01\"]\n\n[[step]]\nset_clock = 2026-03-02T10:00:00Z\n\n[[step]]\npurchase = {{ amount = \"100.00 DKK\", card = \"dankort\", card_fault = \"{name}\" }}\n",
        name = class.name()
    )
}

/// What follows `terminal: ` up to the next `;` in a step's summary or failure.
fn answer(text: &str) -> Option<&str> {
    let rest = text.split("terminal: ").nth(1)?;
    Some(rest.split(';').next().unwrap_or(rest).trim())
}

/// Runs the table; the exit status is 0 only if every class passed.
pub async fn card_faults(args: CardFaultsArgs) -> anyhow::Result<i32> {
    let classes: Vec<CardFault> = if args.classes.is_empty() {
        CardFault::ALL.to_vec()
    } else {
        args.classes
            .iter()
            .map(|n| {
                CardFault::from_name(n).with_context(|| {
                    let names: Vec<&str> = CardFault::ALL.iter().map(|c| c.name()).collect();
                    format!("unknown class `{n}`; classes: {}", names.join(", "))
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    let target = match &args.port {
        Some(port) => TerminalTarget::Physical {
            port: port.clone(),
            baud: args.baud,
            // Card-data faults need no power cut.
            power_switch: None,
            reset_command: None,
        },
        None => TerminalTarget::Emulated {
            program: std::env::current_exe().context("locating the payhil executable")?,
            args: vec!["emulate".into()],
        },
    };
    let opts = RunOptions {
        target,
        // Nothing here draws on the seed (no faulty link); fixed so a run is a replay.
        seed: 1,
        boot_timeout: Duration::from_secs(args.boot_timeout),
        proxy_listen: args.proxy_listen,
        progress: None,
    };
    println!("{:<24} {:<36} verdict", "class", "terminal");
    let (mut passed, mut failed) = (0, 0);
    for class in classes {
        let path = PathBuf::from(format!("card-faults/{}.toml", class.name()));
        let scn = payhil_scenario::parse_str(&path, &scenario_text(class))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let report = payhil_scenario::run(&scn, &opts).await;
        let step = report.steps.iter().find(|s| s.index == 2);
        let failure = report.failure.as_ref().map(|f| f.message.clone());
        let said = step
            .and_then(|s| answer(&s.summary))
            .or_else(|| failure.as_deref().and_then(answer))
            .unwrap_or("-")
            .to_string();
        let verdict = if report.passed() {
            passed += 1;
            "PASS".to_string()
        } else {
            failed += 1;
            let why = failure
                .or_else(|| report.invariant_findings.first().cloned())
                .unwrap_or_default();
            format!("FAIL {why}")
        };
        println!("{:<24} {said:<36} {verdict}", class.name());
    }
    println!("{passed} passed, {failed} failed");
    Ok(i32::from(failed > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_makes_a_valid_scenario() {
        for c in CardFault::ALL {
            let p = PathBuf::from("x.toml");
            let s = payhil_scenario::parse_str(&p, &scenario_text(*c));
            assert!(s.is_ok(), "{c:?}: {s:?}");
        }
        assert_eq!(
            answer("card_fault x: terminal: declined/card_expired; model: y"),
            Some("declined/card_expired")
        );
    }
}
