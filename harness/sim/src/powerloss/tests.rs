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

/// The journal on the bench's small chip (4 pages of 32 slots) wrapping onto a page of queued
/// offline items, played without cuts and with its one cut placed by hand. On the emulator's chip
/// the same takes some 2,000 purchases (`journal_ring_wraps_with_items_queued.toml` is the one
/// such run the PTY suite affords); on this chip it is 95 purchases in process. The numbers are
/// the reference terminal's (two records per purchase, one per boot): 31 online purchases fill
/// pages 0 and 1, 16 offline ones queue their items in page 2, 47 online ones go round the ring
/// (erasing pages 0 and 1 to reuse them) and come to page 2: its 16 queued items are moved
/// ahead (copied to the head, the originals retired) and page 2 is reused too. The power cycle
/// then boots and writes its boot record, the queue is forwarded, and the next purchase is
/// taken. Nothing queued is lost or refused on the way (NETS-01, PBS-02).
const WRAP_ONTO_QUEUE: &str = r#"name = "The small chip's journal wraps onto a page of queued items"
rules = ["NETS-01", "PBS-02"]

[[step]]
set_clock = 2026-03-11T07:00:00Z

[[step]]
purchases = { count = 31, amount = "2.00 DKK", cards = ["dankort", "visa", "mastercard", "dankort_2"], expect = { outcome = "approved_online" } }

[[step]]
network = "down"

[[step]]
purchases = { count = 16, amount = "1.00 DKK", cards = ["dankort", "dankort_2", "visa_dankort", "mastercard"], expect = { outcome = "approved_offline" } }

[[step]]
network = "up"

[[step]]
purchases = { count = 47, amount = "3.00 DKK", cards = ["dankort", "visa", "mastercard", "dankort_2"], expect = { outcome = "approved_online" } }
note = "round the ring: pages 0 and 1 are erased and reused, page 2's queue is moved ahead and page 2 reused"

[[step]]
power_cycle = true
note = "the boot record has room: the queue no longer pins page 2"

[[step]]
expect_queue = { pending = 16 }

[[step]]
forward_until_empty = 3

[[step]]
purchase = { amount = "4.00 DKK", card = "visa" }
expect = { outcome = "approved_online" }
note = "taken as any other"

[[step]]
settle = true
"#;

fn wrap_onto_queue() -> (Scenario, Counted) {
    let scn = payhil_scenario::parse_str(Path::new("wrap_onto_queue.toml"), WRAP_ONTO_QUEUE)
        .unwrap_or_else(|e| panic!("{e}"));
    let cfg = bench::config(&scn.terminal);
    let (counted, _) = count(&scn, cfg, Geometry::SMALL, false).unwrap_or_else(|e| panic!("{e}"));
    (scn, counted)
}

/// Which write erases chip page `page` first (the journal's pages come first on the chip).
fn first_erase_of(counted: &Counted, page: u32) -> usize {
    counted
        .ops
        .iter()
        .position(|op| *op == Op::Erase { page })
        .unwrap_or_else(|| panic!("page {page} is never erased"))
}

/// The shape the comments describe. Before the journal moved queued items, page 2 was reused
/// only after the forwarding and the power cycle found no room for its boot record: one
/// queued page pinned the ring (what `one_queued_item_does_not_fill_the_journal.toml` shows on
/// the emulator's chip). A journal that never moves the items (or erases page 2 with them)
/// fails here or loses them in `drain_and_check`; a boot that owes its record is covered by the
/// journal's own `a_full_queue_refuses_and_overwrites_nothing`.
#[test]
fn a_ring_that_wraps_onto_queued_items_moves_them_ahead_and_keeps_them() {
    let (_, counted) = wrap_onto_queue();
    let step_of = |k: usize| counted.snaps[counted.op_snap[k]].step;
    let (page0, page1, page2) = (
        first_erase_of(&counted, 0),
        first_erase_of(&counted, 1),
        first_erase_of(&counted, 2),
    );
    // All three reuses in the round of online purchases, and the power cycle's boot record
    // written at once.
    let round = 6;
    assert_eq!(
        (step_of(page0), step_of(page1), step_of(page2)),
        (round, round, round)
    );
    assert_eq!(
        (0..counted.ops.len())
            .filter(|&k| step_of(k) == round + 1)
            .count(),
        1,
        "the power cycle's boot writes exactly its boot record"
    );
}

/// The same run, its power cut when the log erases page 1 to reuse it (a clean cut: the erase
/// intent is on flash, the page not erased), with page 2 full of queued items. The restart must
/// finish that erase and take a purchase at once. Killed mutants of the journal's `free_slot`
/// that look for the page to erase elsewhere (only ever page 0; the page after the stale one,
/// which is the queue's, so the terminal refuses as full) and of `page_has_live_records_after`
/// reading the wrong page or taking stale records for live ones.
#[test]
fn a_cut_at_the_erase_of_a_page_before_the_queue_is_finished_at_the_restart() {
    let (scn, counted) = wrap_onto_queue();
    let cfg = bench::config(&scn.terminal);
    let k = first_erase_of(&counted, 1);
    let mut image = Image::erased(Geometry::SMALL);
    for op in &counted.ops[..k] {
        image.apply(op, None).unwrap();
    }
    image.apply(&counted.ops[k], Some(false)).unwrap();
    let mut seen = counted.snaps[counted.op_snap[k]].clone();
    seen.power_cut();
    let mut cp = NoCheckpoints;
    let mut d = Driver::new(cfg, seen, None, &mut cp);
    let spec = chip_purchase("visa", 5_00).unwrap();
    let approved = approved_online();
    let run = d
        .boot(image.chip())
        .and_then(|()| {
            d.seen.link = payhil_scenario::format::LinkSpec::Up;
            d.purchase(0, &spec, Some(&approved))
        })
        .and_then(|()| d.drain_and_check());
    if let Err(e) = run {
        panic!("{}", ended(e));
    }
}

/// The same run, its power cut tearing the erase intent for page 1 (the write before the erase
/// of the previous test's cut): the intent reads back as garbage, so at the restart the page
/// after it is not known to be (being) erased. Once the queue is forwarded the terminal must
/// store again. The reference terminal took the page's records, all of the ring's last round,
/// for the page it was filling, never erased it, and refused every transaction as queue full.
#[test]
fn a_torn_erase_intent_leaves_the_journal_usable_once_the_queue_is_forwarded() {
    let (scn, counted) = wrap_onto_queue();
    let cfg = bench::config(&scn.terminal);
    let k = first_erase_of(&counted, 1) - 1;
    let mut image = Image::erased(Geometry::SMALL);
    for op in &counted.ops[..k] {
        image.apply(op, None).unwrap();
    }
    image.apply(&counted.ops[k], Some(true)).unwrap();
    let mut seen = counted.snaps[counted.op_snap[k]].clone();
    seen.power_cut();
    let mut cp = NoCheckpoints;
    let mut d = Driver::new(cfg, seen, None, &mut cp);
    let spec = chip_purchase("visa", 5_00).unwrap();
    let approved = approved_online();
    let run = d
        .boot(image.chip())
        .and_then(|()| {
            d.seen.link = payhil_scenario::format::LinkSpec::Up;
            d.drain_and_check()
        })
        .and_then(|()| d.purchase(0, &spec, Some(&approved)));
    if let Err(e) = run {
        panic!("{}", ended(e));
    }
}

/// The scenario expectation of an online approval, nothing else said.
fn approved_online() -> payhil_scenario::format::Expectation {
    payhil_scenario::format::Expectation {
        outcome: payhil_protocol::Outcome::ApprovedOnline,
        reason: None,
        pin_prompted: None,
        settles: None,
        settled_as: None,
        receipt_has: Vec::new(),
        receipt_lacks: Vec::new(),
    }
}
