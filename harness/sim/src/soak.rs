//! `payhil soak`: the in-process bench under a seeded schedule of purchases, network changes,
//! forwarding, clock jumps, power cycles and power cuts at any flash write (clean or torn), for
//! as many transactions as asked, VOPR style. Every answer is judged as the scenario runner
//! judges it (the reference model, the limit invariants, the queue reports), and every window
//! of transactions ends with a drain on a clean link and the exactly-once check of the harness's
//! ledger against the host's books.
//!
//! The run is a sequence of windows, each on a fresh terminal with an erased chip of the
//! emulator's size (so a window is replayable from nothing, on the emulator or a physical
//! terminal): its steps are scenario steps, and a failing window is printed as a scenario file
//! ([`render`]) that reproduces it through the normal runner. Everything random comes from the
//! seed: the same seed replays the same run.

mod fuzz;
mod render;
mod schedule;

use crate::bench::{self, InFlight, NoCheckpoints, Seen};
use crate::flash::{Fuse, FusedChip, Geometry};
use crate::steps::{self, Driver, End};
use payhil_model::ledger::Phase;
use payhil_scenario::format::{Action, PowerCutSpec, Step, TerminalSettings};
use std::time::{Duration, Instant};

pub use fuzz::{FUZZ_CHIP, MAX_FUZZ_PURCHASES, fuzz_scenario, fuzz_terminal_vs_model, fuzz_window};
pub use render::scenario as render;

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct SoakOptions {
    /// Purchases to make in all.
    pub transactions: u64,
    /// The seed every choice comes from.
    pub seed: u64,
    /// Purchases per window (per fresh terminal); at least 1.
    pub window: u64,
    /// Run the terminal on a chip that acknowledges programs before they land (a write-back
    /// cache lost at a cut): a broken terminal, to show the soak finds what it costs.
    pub inject_write_behind: bool,
}

impl SoakOptions {
    /// `transactions` purchases from `seed`, in windows of 5,000 (enough to wrap the
    /// emulator's journal ring more than once).
    pub fn new(transactions: u64, seed: u64) -> Self {
        Self {
            transactions,
            seed,
            window: 5_000,
            inject_write_behind: false,
        }
    }
}

/// A window that failed.
#[derive(Debug, Clone)]
pub struct SoakFailure {
    /// Which window (from 0).
    pub window: u64,
    /// What went wrong, as the oracle says it.
    pub message: String,
    /// The window as a scenario file that replays it through the normal runner.
    pub scenario: String,
}

/// What a soak did.
#[derive(Debug, Clone)]
pub struct SoakReport {
    /// The seed.
    pub seed: u64,
    /// Purchases made (every outcome).
    pub transactions: u64,
    /// Purchases approved offline and, after forwarding, in the host's books.
    pub acknowledged_offline: u64,
    /// Approvals not in the books after the drain.
    pub lost: u64,
    /// Items settled twice, or delivered again after an answer the terminal had.
    pub duplicated: u64,
    /// Items in the books without an approval the harness saw.
    pub unexpected: u64,
    /// Power cuts that fell inside a request.
    pub cuts: u64,
    /// Windows run.
    pub windows: u64,
    /// How long it took.
    pub elapsed: Duration,
    /// The first failing window, if any (the run stops there).
    pub failure: Option<SoakFailure>,
}

impl SoakReport {
    /// Purchases per second.
    pub fn per_s(&self) -> u64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            (self.transactions as f64 / s) as u64
        } else {
            0
        }
    }

    /// The summary as one JSON line (the command's last line).
    pub fn json_line(&self) -> String {
        format!(
            "{{\"transactions\": {}, \"acknowledged_offline\": {}, \"lost\": {}, \"duplicated\": {}, \"unexpected\": {}, \"per_s\": {}, \"seed\": {}}}",
            self.transactions,
            self.acknowledged_offline,
            self.lost,
            self.duplicated,
            self.unexpected,
            self.per_s(),
            self.seed
        )
    }
}

/// Runs the soak; stops at the first failing window.
pub fn soak(opts: &SoakOptions) -> SoakReport {
    let started = Instant::now();
    let mut report = SoakReport {
        seed: opts.seed,
        transactions: 0,
        acknowledged_offline: 0,
        lost: 0,
        duplicated: 0,
        unexpected: 0,
        cuts: 0,
        windows: 0,
        elapsed: Duration::ZERO,
        failure: None,
    };
    let mut schedule = schedule::Schedule::new(opts.seed);
    while report.transactions < opts.transactions {
        let n = opts
            .window
            .max(1)
            .min(opts.transactions - report.transactions);
        let w = window(
            &mut schedule,
            Geometry::REFERENCE,
            n,
            opts.inject_write_behind,
            |_| false,
        );
        report.windows += 1;
        report.transactions += w.purchases;
        report.cuts += w.cuts;
        if let Some(v) = &w.verdict {
            report.acknowledged_offline += u64::from(v.recovered);
            report.lost += u64::from(v.lost);
            report.duplicated += u64::from(v.duplicated);
            report.unexpected += u64::from(v.unexpected);
        }
        if let Some(message) = w.failure {
            report.failure = Some(SoakFailure {
                window: report.windows - 1,
                scenario: render::scenario(opts.seed, report.windows - 1, &message, &w.steps),
                message,
            });
            break;
        }
    }
    report.elapsed = started.elapsed();
    report
}

/// Purchases made past the end of a window to let an armed cut fall before it is given up.
const MAX_PURCHASES_FOR_A_CUT: u32 = 64;

/// One window's result.
struct Window {
    purchases: u64,
    cuts: u64,
    steps: Vec<Step>,
    verdict: Option<payhil_model::ledger::ExactlyOnce>,
    failure: Option<String>,
}

/// `n` purchases on a fresh terminal, then the drain and the exactly-once check.
fn window<R: rand::Rng>(
    schedule: &mut schedule::Schedule<R>,
    chip: Geometry,
    n: u64,
    write_behind: bool,
    used_up: impl Fn(&schedule::Schedule<R>) -> bool,
) -> Window {
    let settings = TerminalSettings::default();
    let (chip, fuse) = FusedChip::new(chip);
    let chip = if write_behind {
        chip.write_behind()
    } else {
        chip
    };
    let mut cp = NoCheckpoints;
    let seen = Seen::new(&settings, &[]);
    let mut d = Driver::new(
        bench::config(&settings),
        seen,
        Some(steps::model_for(&settings)),
        &mut cp,
    );
    let mut w = Window {
        purchases: 0,
        cuts: 0,
        steps: Vec::new(),
        verdict: None,
        failure: None,
    };
    if let Err(e) = d.boot(chip).and_then(|()| d.start()) {
        w.failure = Some(ended(e));
        return w;
    }
    let first = schedule.start();
    w.steps.push(first.clone());
    if let Err(e) = d.step(&first) {
        w.failure = Some(ended(e));
        return w;
    }
    play(&mut d, &fuse, schedule, n, used_up, w)
}

/// Plays a window's steps on a booted terminal (`w` holds the steps so far) until `n`
/// purchases are made or `used_up` says the source is, then drains and checks.
fn play<R: rand::Rng>(
    d: &mut Driver<'_, FusedChip, NoCheckpoints>,
    fuse: &Fuse,
    schedule: &mut schedule::Schedule<R>,
    n: u64,
    used_up: impl Fn(&schedule::Schedule<R>) -> bool,
    mut w: Window,
) -> Window {
    // A failing window ends where it failed: a cut armed and not yet fallen there is left out
    // of its replay (the runner requires every armed cut to fall).
    let fail = |w: &mut Window, what: String| {
        if fuse.armed() {
            if let Some(i) = w
                .steps
                .iter()
                .rposition(|s| matches!(s.action, Action::PowerCut(_)))
            {
                w.steps.remove(i);
            }
        }
        w.failure = Some(what);
    };
    // Until `n` purchases are made (or the source is used up) and no armed cut is left to fall
    // (the runner requires every armed cut to fire, so a replay must not end with one).
    let mut extra = 0u32;
    loop {
        let more = w.purchases < n && !used_up(schedule);
        if !more && !fuse.armed() {
            break;
        }
        if !more {
            extra += 1;
            if extra > MAX_PURCHASES_FOR_A_CUT {
                // Nothing writes any more (every purchase refused before it is journaled):
                // the cut is taken back, and out of the replay.
                fuse.disarm();
                if let Some(i) = w
                    .steps
                    .iter()
                    .rposition(|s| matches!(s.action, Action::PowerCut(_)))
                {
                    w.steps.remove(i);
                }
                break;
            }
        }
        let step = match schedule.next_step(w.steps.len() + 1) {
            // A reversal or capture names a transaction of this run, drawn from those made
            // (a capture, from the pre-authorisations); with none, the step is not made.
            s if matches!(s.action, Action::Reverse { .. } | Action::Capture { .. }) => {
                let capture = matches!(s.action, Action::Capture { .. });
                let made: Vec<usize> = d
                    .seen
                    .txns
                    .iter()
                    .filter(|(_, (_, p))| {
                        !capture || p.kind == payhil_protocol::TxnKind::PreAuthorisation
                    })
                    .map(|(step, _)| *step)
                    .collect();
                // Never while a cut is armed: the runner (and the model) judge power cuts in
                // purchases only, and a replay must run there.
                if made.is_empty() || !more || fuse.armed() {
                    continue;
                }
                let of = made[schedule.pick(made.len())];
                let action = match s.action {
                    Action::Capture { amount, .. } => Action::Capture {
                        of,
                        amount,
                        expect: None,
                    },
                    _ => Action::Reverse { of, expect: None },
                };
                Step { action, ..s }
            }
            // A cut falls inside a request, never in a boot: while one is armed the power
            // stays on (a boot that loses power gives no chip back to boot again).
            s if fuse.armed() && matches!(s.action, Action::PowerCycle | Action::PowerCut(_)) => {
                continue;
            }
            // Past the window's purchases only what makes the armed cut fall.
            s if !more && !matches!(s.action, Action::Purchase(..)) => continue,
            s => s,
        };
        d.seen.step = step.index;
        let index = step.index;
        let played = match &step.action {
            // Armed now, fired at the Nth program or erase from here, wherever it falls.
            Action::PowerCut(PowerCutSpec::FlashWrite { n, torn }) => {
                fuse.arm(*n, *torn);
                Ok(())
            }
            action => {
                if matches!(action, Action::Purchase(..)) {
                    w.purchases += 1;
                }
                d.step(&step)
            }
        };
        // Kept once played (moved, not cloned: a fuzzer's input makes hundreds of steps).
        w.steps.push(step);
        match played {
            Ok(()) => {}
            Err(End::Halted) => {
                w.cuts += 1;
                if let Err(e) = restart(d) {
                    fail(
                        &mut w,
                        format!("step {index}: after the power cut: {}", ended(e)),
                    );
                    return w;
                }
            }
            Err(End::Failed(m)) => {
                fail(&mut w, format!("step {index}: {m}"));
                return w;
            }
        }
    }
    let drained = d.drain_and_check();
    w.verdict = Some(d.exactly_once(Phase::Drained));
    w.steps.push(Step {
        index: w.steps.len() + 1,
        line: 0,
        action: Action::Settle,
        note: None,
        link_error: None,
    });
    if let Err(e) = drained {
        fail(&mut w, format!("end of window: {}", ended(e)));
    }
    w
}

/// After a cut: what was under way may or may not have been kept; power comes back on the
/// same chip and the terminal boots, and the model and the ledger know the cut happened.
fn restart(d: &mut Driver<'_, FusedChip, NoCheckpoints>) -> Result<(), End> {
    let interrupted = match &d.seen.in_flight {
        Some(InFlight::Purchase(spec)) => Some(spec.model_input()),
        _ => None,
    };
    d.seen.power_cut();
    if let Some(m) = &mut d.model {
        m.power_lost();
        m.restarted();
        if let Some(p) = &interrupted {
            m.interrupted(p);
        }
    }
    let mut chip = d
        .power_off()
        .ok_or_else(|| End::Failed("the terminal was off when the cut fell".into()))?;
    chip.power_up();
    d.boot(chip)
}

/// What a run that ended early says.
fn ended(e: End) -> String {
    match e {
        End::Halted => "the flash lost power without a cut".into(),
        End::Failed(m) => m,
    }
}

#[cfg(test)]
mod tests;
