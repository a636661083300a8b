//! The soak's window driven by a fuzzer's bytes: the `bench_sim` and `terminal_vs_model`
//! targets and `payhil fuzz-to-scenario`. Every input starts from a clone of one terminal
//! booted once per thread (its chip copied, the harness's view of it copied), rather than from
//! a fresh chip mounted from scratch: the mount is most of what an input would otherwise cost.

use super::schedule::{Bytes, Mix, Schedule};
use super::{SoakFailure, Window, ended, play, render};
use crate::bench::{self, NoCheckpoints, Seen};
use crate::flash::{Fuse, FusedChip, Geometry};
use crate::steps::{self, Driver};
use fut_core::Terminal;
use payhil_model::Model;
use payhil_scenario::format::{Step, TerminalSettings};
use std::cell::RefCell;

/// Purchases a fuzzer's input may make (bounded so an input runs in milliseconds).
pub const MAX_FUZZ_PURCHASES: u64 = 400;

/// The chip a fuzzer's input runs on: the small one, whose journal ring wraps within a few
/// dozen purchases (so short inputs reach the wrap). Its scenario files replay with
/// `payhil run` (the emulator's chip) or in process on this chip with `payhil powerloss`.
pub const FUZZ_CHIP: Geometry = Geometry::SMALL;

/// A terminal booted and given the window's first step, and what the harness saw of it.
#[derive(Clone)]
struct Booted {
    t: Terminal<'static, FusedChip>,
    seen: Seen,
    model: Model,
    fuse: Fuse,
    first: Step,
}

thread_local! {
    static BOOTED: RefCell<Option<Booted>> = const { RefCell::new(None) };
}

/// Boots the prototype every input starts from.
fn boot(settings: &TerminalSettings) -> Result<Booted, String> {
    let (chip, fuse) = FusedChip::new(FUZZ_CHIP);
    let mut cp = NoCheckpoints;
    let mut d = Driver::new(
        bench::config(settings),
        Seen::new(settings, &[]),
        Some(steps::model_for(settings)),
        &mut cp,
    );
    // The schedule's first step does not depend on its source.
    let first = Schedule::from_rng(Bytes::new(&[])).start();
    d.boot(chip)
        .and_then(|()| d.start())
        .and_then(|()| d.step(&first))
        .map_err(ended)?;
    let t = d.t.take().ok_or("the booted terminal is off")?;
    let model = d.model.take().ok_or("no model")?;
    Ok(Booted {
        t,
        seen: d.seen.clone(),
        model,
        fuse,
        first,
    })
}

/// Plays `data` as `mix` from a clone of the booted prototype.
fn run(data: &[u8], mix: Mix) -> Window {
    let settings = TerminalSettings::default();
    let booted = BOOTED.with(|b| {
        let mut b = b.borrow_mut();
        if b.is_none() {
            *b = Some(boot(&settings).unwrap_or_else(|e| {
                panic!("the reference terminal does not boot on an erased chip: {e}")
            }));
        }
        b.clone()
    });
    let Some(booted) = booted else {
        unreachable!("booted just above");
    };
    booted.fuse.disarm();
    let mut cp = NoCheckpoints;
    let mut d = Driver::of_booted(
        bench::config(&settings),
        booted.t,
        booted.seen,
        Some(booted.model),
        &mut cp,
    );
    let mut schedule = Schedule::from_rng(Bytes::new(data)).with_mix(mix);
    // The prototype took the first step already.
    let _ = schedule.start();
    let w = Window {
        purchases: 0,
        cuts: 0,
        steps: vec![booted.first],
        verdict: None,
        failure: None,
    };
    let w = play(
        &mut d,
        &booted.fuse,
        &mut schedule,
        MAX_FUZZ_PURCHASES,
        |s| s.source().used_up(),
        w,
    );
    booted.fuse.disarm();
    w
}

fn outcome(w: Window) -> Result<(), SoakFailure> {
    match w.failure {
        None => Ok(()),
        Some(message) => Err(SoakFailure {
            window: 0,
            scenario: render::scenario_of_input(&message, &w.steps),
            message,
        }),
    }
}

/// One window with its steps drawn from a fuzzer's `data` (the soak's schedule, its choices
/// read from the bytes) until they are used up: `Err` is the finding, with the window as a
/// scenario file that replays it. The `bench_sim` fuzz target.
pub fn fuzz_window(data: &[u8]) -> Result<(), SoakFailure> {
    outcome(run(data, Mix::Soak))
}

/// The reference core driven by a fuzzer's `data` as operations of every kind (the model's
/// mix: purchases, refunds, pre-authorisations and captures, reversals, forced-offline and
/// fallback reads, a clock set back, besides the network, power cuts and clock jumps), each
/// answer judged against the reference model and the oracle: the `terminal_vs_model` target.
pub fn fuzz_terminal_vs_model(data: &[u8]) -> Result<(), SoakFailure> {
    outcome(run(data, Mix::Model))
}

/// The scenario file a fuzzer's input plays (whether it fails or not): `payhil
/// fuzz-to-scenario`; `model` for a `terminal_vs_model` input, else `bench_sim`.
pub fn fuzz_scenario(data: &[u8], model: bool) -> String {
    let w = run(data, if model { Mix::Model } else { Mix::Soak });
    render::scenario_of_input(w.failure.as_deref().unwrap_or("passes"), &w.steps)
}
