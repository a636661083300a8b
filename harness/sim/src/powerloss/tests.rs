//! The power-loss run on the standard offline workload: no failure on the reference terminal,
//! and a terminal that approves before its record is durable is found.

use super::*;
use std::path::Path;

fn workload() -> (Scenario, String) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/power/offline_workload.toml");
    let source = std::fs::read_to_string(&path).unwrap();
    let scn = payhil_scenario::parse_str(&path, &source).unwrap();
    (scn, source)
}

#[test]
fn the_offline_workload_survives_a_cut_at_every_write() {
    let (scn, source) = workload();
    let r = powerloss(&scn, &source, &Options::default()).unwrap();
    assert!(r.writes >= 40, "{} writes", r.writes);
    assert_eq!(r.cut_points, 2 * u64::from(r.writes));
    assert!(r.failures.is_empty(), "{:#?}", r.failures.first());
    assert!(r.max_programs <= crate::flash::MAX_PROGRAMS);
    assert!(
        r.json_line().starts_with("{\"cut_points\": "),
        "{}",
        r.json_line()
    );
}

#[test]
fn every_pair_of_cuts_of_the_workload_passes() {
    let (scn, source) = workload();
    let opts = Options {
        pairs: true,
        ..Options::default()
    };
    let r = powerloss(&scn, &source, &opts).unwrap();
    assert!(r.cut_points > 4 * u64::from(r.writes), "{}", r.cut_points);
    assert!(r.failures.is_empty(), "{:#?}", r.failures.first());
}

/// The injected defect: every program is acknowledged before it reaches the chip, so the
/// terminal approves offline before its record is durable. A cut at the next write loses an
/// approval; the oracle must say so, and print the cut as a scenario with a power cut.
#[test]
fn a_terminal_that_approves_before_its_record_is_durable_is_found() {
    let (scn, source) = workload();
    let opts = Options {
        inject_write_behind: true,
        ..Options::default()
    };
    let r = powerloss(&scn, &source, &opts).unwrap();
    let lost = r
        .failures
        .iter()
        .find(|f| {
            f.message
                .contains("was approved and is not in the host's books")
        })
        .unwrap_or_else(|| panic!("no loss found: {:#?}", r.failures));
    assert!(
        lost.replay.contains("power_cut = { flash_write = "),
        "{}",
        lost.replay
    );
    // The replay is the scenario's own text up to the cut.
    assert!(
        lost.replay.contains("name = \"Standard offline workload"),
        "{}",
        lost.replay
    );
}

#[test]
fn a_step_the_bench_cannot_play_is_refused_with_its_place() {
    let text = "name = \"x\"\nrules = [\"NETS-01\"]\n[[step]]\nfaults = { downstream = { cut_after_bytes = 0 }, connections = 1 }\n";
    let scn = payhil_scenario::parse_str(Path::new("f.toml"), text).unwrap();
    let e = powerloss(&scn, text, &Options::default()).unwrap_err();
    assert!(e.to_string().contains("step 1 (line 4)"), "{e}");
}

/// Online purchases the host declines, then one it approves with the same card and amount: a cut
/// at any write leaves the interrupted purchase in the books declined (or approved, once), and a
/// decline is no approval the terminal gave. The oracle once took the first booked item that
/// looked like the interrupted purchase, declined or not, into its ledger as approved, and
/// reported "#2 was approved online by the terminal but declined by the host" (and the purchase
/// the cut really interrupted as settled without an approval), though the terminal never
/// reused a number.
#[test]
fn a_purchase_the_host_declined_is_no_approval_after_a_cut() {
    let text = r#"name = "declined online, then approved"
rules = ["SUPPORT-01"]
[[step]]
set_clock = 2026-03-02T10:15:00Z
[[step]]
purchase = { amount = "899.00 DKK", card = "dankort_low_funds" }
expect = { outcome = "declined", reason = "insufficient_funds" }
[[step]]
purchase = { amount = "125.50 DKK", card = "dankort", entry = "chip", pin = "1111" }
expect = { outcome = "declined", reason = "pin_incorrect" }
[[step]]
purchase = { amount = "125.50 DKK", card = "dankort", entry = "chip", pin = "739216" }
expect = { outcome = "approved_online" }
"#;
    let scn = payhil_scenario::parse_str(Path::new("declined.toml"), text).unwrap();
    let r = powerloss(&scn, text, &Options::default()).unwrap();
    assert!(r.writes >= 4, "{} writes", r.writes);
    assert!(r.failures.is_empty(), "{:#?}", r.failures);
}

/// A scenario that fills more of the offline queue than the bench's small chip's journal holds
/// (about 126 items) runs on the reference terminal's own chip: on the small one the terminal,
/// which reports its pending index's 1,024 as its capacity, refused the 127th offline purchase
/// as queue full, and `scenarios/offline/offline_queue_full.toml` failed without any cut.
#[test]
fn a_scenario_that_fills_the_queue_past_the_small_chip_runs_on_the_reference_chip() {
    let text = r#"name = "a long offline queue"
rules = ["NETS-01"]
[[step]]
set_clock = 2026-03-26T08:00:00Z
[[step]]
network = "down"
[[step]]
purchases = { count = 130, amount = "1.00 DKK", cards = ["dankort", "dankort_2", "visa_dankort", "mastercard"] }
[[step]]
expect_queue = { pending = 130 }
"#;
    let scn = payhil_scenario::parse_str(Path::new("long_queue.toml"), text).unwrap();
    let chip = chip_for(&scn);
    assert_eq!(chip, Geometry::REFERENCE);
    let cfg = bench::config(&scn.terminal);
    let (counted, _) = count(&scn, cfg, chip, false).unwrap_or_else(|e| panic!("{e}"));
    assert!(counted.ops.len() >= 130, "{} writes", counted.ops.len());
    // One snapshot at most per write, and one before the first.
    assert!(counted.snaps.len() <= counted.ops.len() + 1);
    // The workload still wraps the small chip's ring.
    assert_eq!(chip_for(&workload().0), Geometry::SMALL);
}
