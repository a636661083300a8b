//! The soak on the reference core: correct terminal, no finding; one seed, one run.

use super::*;

#[test]
fn a_short_soak_of_the_reference_terminal_loses_and_doubles_nothing() {
    let r = soak(&SoakOptions {
        transactions: 3_000,
        seed: 1,
        window: 1_000,
        inject_write_behind: false,
    });
    assert!(r.failure.is_none(), "{:#?}", r.failure);
    assert_eq!(r.transactions, 3_000);
    assert_eq!(r.windows, 3);
    assert_eq!((r.lost, r.duplicated, r.unexpected), (0, 0, 0));
    assert!(r.acknowledged_offline > 100, "{}", r.json_line());
    assert!(r.cuts > 10, "power cuts fell inside requests: {}", r.cuts);
}

#[test]
fn one_seed_replays_the_same_soak() {
    let run = |seed| {
        let r = soak(&SoakOptions {
            transactions: 500,
            seed,
            window: 500,
            inject_write_behind: false,
        });
        (r.acknowledged_offline, r.cuts, r.failure.map(|f| f.message))
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}

/// A terminal whose chip acknowledges writes before they land loses approvals at a cut: the
/// soak finds it, and prints a scenario the normal parser takes that replays the window.
#[test]
fn a_terminal_that_approves_before_its_write_lands_fails_the_soak_with_a_replayable_scenario() {
    let r = soak(&SoakOptions {
        transactions: 20_000,
        seed: 3,
        window: 2_000,
        inject_write_behind: true,
    });
    let f = r.failure.expect("the broken chip is found");
    assert!(
        r.transactions < 20_000,
        "the soak stops at the first failing window"
    );
    let scn = payhil_scenario::parse_str(std::path::Path::new("soak.toml"), &f.scenario)
        .unwrap_or_else(|e| panic!("{e}\n{}", f.scenario));
    assert!(scn.steps.len() > 1);
    assert!(
        f.scenario
            .contains(&format!("payhil soak --seed 3`, window {}", f.window))
    );
}
/// Seed 1 found a bug in the in-process bench itself: a forwarding round cut by power at its
/// first write was counted as a round, so the model took the queue for forwarded while the
/// terminal kept every item, and a later offline purchase the terminal refused as a split was
/// predicted approved. The first window of seed 1 failed at step 5,752 before the fix.
#[test]
fn a_forwarding_round_cut_by_power_leaves_the_queue_uncertain_not_forwarded() {
    let r = soak(&SoakOptions {
        transactions: 5_000,
        seed: 1,
        window: 5_000,
        inject_write_behind: false,
    });
    assert!(r.failure.is_none(), "{:?}", r.failure.map(|f| f.message));
}
