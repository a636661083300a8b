//! A soak window as a scenario file: the steps it played, in the scenario format, so the
//! normal runner (`payhil run FILE`, emulated or physical) replays it. The runner's model
//! judges every purchase, so no step needs an expectation; its end-of-run drain and
//! exactly-once check are the window's.

use payhil_protocol::{Amount, EntryMode, TxnKind};
use payhil_scenario::format::{Action, LinkSpec, PowerCutSpec, Step};
use std::fmt::Write;

/// The scenario for window `window` of seed `seed`, which failed with `message`.
pub fn scenario(seed: u64, window: u64, message: &str, steps: &[Step]) -> String {
    let mut out = format!(
        "# Replay of `payhil soak --seed {seed}`, window {window} (a fresh terminal), which failed:\n"
    );
    for line in message.lines() {
        let _ = writeln!(out, "#   {line}");
    }
    let _ = writeln!(
        out,
        "name = \"payhil soak seed {seed} window {window}\"\nrules = [\"PBS-02\", \"NETS-01\", \"NETS-04\"]\n"
    );
    body(&mut out, steps);
    out
}

/// The scenario for a fuzzer's input (`payhil fuzz-to-scenario`), whose run ended with
/// `message`.
pub fn scenario_of_input(message: &str, steps: &[Step]) -> String {
    let mut out =
        String::from("# A fuzz input as a scenario (payhil fuzz-to-scenario); its run:\n");
    for line in message.lines() {
        let _ = writeln!(out, "#   {line}");
    }
    let _ = writeln!(
        out,
        "name = \"payhil fuzz input\"\nrules = [\"PBS-02\", \"NETS-01\", \"NETS-04\"]\n"
    );
    body(&mut out, steps);
    out
}

fn body(out: &mut String, steps: &[Step]) {
    // Steps are numbered in the file as written: a step left out (an armed cut that never
    // fell) renumbers those after it, and a reversal or capture names its step by that number.
    let mut number = std::collections::BTreeMap::new();
    for s in steps {
        // The drain and the exactly-once check are the runner's end of run.
        if matches!(s.action, Action::Settle) && s.index == steps.len() {
            continue;
        }
        let renumbered = match &s.action {
            Action::Reverse { of, expect } => Action::Reverse {
                of: number.get(of).copied().unwrap_or(*of),
                expect: expect.clone(),
            },
            Action::Capture { of, amount, expect } => Action::Capture {
                of: number.get(of).copied().unwrap_or(*of),
                amount: *amount,
                expect: expect.clone(),
            },
            other => other.clone(),
        };
        if let Some(text) = action(&renumbered) {
            number.insert(s.index, number.len() + 1);
            let _ = writeln!(out, "[[step]]\n{text}\n");
        }
    }
}

fn amount(a: &Amount) -> String {
    format!(
        "{}.{:02} {}",
        a.minor / 100,
        a.minor % 100,
        a.currency.alpha()
    )
}

/// One step's action in the scenario format (`None`: none the soak makes).
fn action(a: &Action) -> Option<String> {
    Some(match a {
        Action::SetClock(t) => format!("set_clock = {}", rfc3339(*t)),
        Action::AdvanceClock(secs) => format!("advance_clock = \"{secs}s\""),
        Action::Network(l) => format!(
            "network = \"{}\"",
            match l {
                LinkSpec::Up => "up",
                LinkSpec::Down => "down",
                LinkSpec::Blackhole => "blackhole",
            }
        ),
        Action::Forward => "forward = true".into(),
        Action::PowerCycle => "power_cycle = true".into(),
        Action::Settle => "settle = true".into(),
        Action::PowerCut(PowerCutSpec::FlashWrite { n, torn }) => {
            format!("power_cut = {{ flash_write = {n}, torn = {torn} }}")
        }
        Action::Purchase(p, _) => {
            let mut s = format!(
                "purchase = {{ amount = \"{}\", card = \"{}\"",
                amount(&p.amount),
                p.card.name
            );
            match p.kind {
                TxnKind::Refund => s.push_str(", kind = \"refund\""),
                TxnKind::PreAuthorisation => s.push_str(", kind = \"preauth\""),
                _ => {}
            }
            match p.entry {
                EntryMode::Contactless => s.push_str(", entry = \"contactless\""),
                EntryMode::Magstripe => s.push_str(", entry = \"magstripe\""),
                _ => {}
            }
            if p.chip_unreadable {
                s.push_str(", chip_unreadable = true");
            }
            if p.forced_offline {
                s.push_str(", forced_offline = true");
            }
            match &p.pin {
                None => s.push_str(", pin = \"\""),
                Some(pin) if *pin != p.card.pin => {
                    let _ = write!(s, ", pin = \"{}\"", pin.reveal());
                }
                Some(_) => {}
            }
            s.push_str(" }");
            s
        }
        Action::Reverse { of, .. } => format!("reverse = {{ of = {of} }}"),
        Action::Capture { of, amount: a, .. } => {
            format!("capture = {{ of = {of}, amount = \"{}\" }}", amount(a))
        }
        _ => return None,
    })
}

/// `unix_s` as the scenario format writes a time (UTC, seconds).
fn rfc3339(unix_s: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix_s) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        // Outside what a date can say: the scenario check names it.
        Err(_) => format!("{unix_s}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_written_as_the_format_reads_them() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_772_445_600), "2026-03-02T10:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
