//! `payhil powerloss`: a scenario cut at every single flash write, clean and torn.
//!
//! 1. The scenario runs once in process ([`crate::steps`]) on a recording flash, judged as the
//!    runner judges it; it must pass. Every write (program or erase) is logged with a copy of
//!    what the harness had seen when the core was called ([`Seen`]).
//! 2. For each write `k`, twice (clean: the write does nothing; torn: half of it, its boundary
//!    word only partly): the image before `k` (kept as one running image, advanced by replaying
//!    the log, never by running the scenario again) gets write `k` cut, the core boots on it,
//!    and the recovery runs: an online probe purchase (a sequence number used before is a
//!    finding), then the queue is drained on a clean link and the oracle checks the harness's
//!    ledger against the host's books (nothing approved lost, nothing settled twice; the
//!    interrupted transaction once or not at all) and the host's declined count (NETS-10).
//!    Every offline approval meets the limit invariants, and every advice the terminal sends
//!    again is flagged a repeat (0221/0421), a first one not (unless a cut may have hidden it).
//! 3. With `pairs`, each cut's recovery is itself counted and cut at each of its writes.

use crate::bench::{self, Checkpoint, NoCheckpoints, Seen};
use crate::flash::{Geometry, Image, Op, Recorder};
use crate::steps::{self, Driver, End};
use crate::{SimError, replay};
use payhil_scenario::Scenario;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Also cut each recovery at each of its writes (every pair of cuts).
    pub pairs: bool,
    /// The run's seed (printed; the in-process run draws nothing at random: every cut point is
    /// tried, in order).
    pub seed: u64,
    /// Stop after this many failures (0: never).
    pub max_failures: usize,
    /// Injects a defect into the counted run's storage (each program acknowledged before it
    /// reaches the chip: the terminal approves before its record is durable), to show that the
    /// oracle finds it. Never set outside tests of the harness itself.
    #[doc(hidden)]
    pub inject_write_behind: bool,
}

/// One cut the oracle failed.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The write cut (1-based, counted from the first boot).
    pub at: u32,
    /// Torn rather than clean.
    pub tear: bool,
    /// With pairs: the write of the recovery cut second, and whether torn.
    pub then: Option<(u32, bool)>,
    /// The scenario step the write belongs to (0: the first boot; past the last: the end of
    /// the run).
    pub step: usize,
    /// Which write of that step it was (1-based).
    pub write_in_step: u32,
    /// What the oracle found.
    pub message: String,
    /// The scenario with a power cut at that write, to replay it on any bench.
    pub replay: String,
}

/// What a power-loss run found.
#[derive(Debug, Clone)]
pub struct Report {
    /// Flash writes of the uncut run.
    pub writes: u32,
    /// Cut points tried (each write clean and torn; with pairs, every second cut too).
    pub cut_points: u64,
    /// Failing cuts.
    pub failures: Vec<Failure>,
    /// Wall time of the cuts (the counting run excluded).
    pub elapsed: Duration,
    /// The most programs any word took between erases in the uncut run.
    pub max_programs: u8,
    /// The chip the terminal ran on ([`chip_for`]).
    pub chip: Geometry,
}

impl Report {
    /// Cut points per second.
    pub fn points_per_s(&self) -> u64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            (self.cut_points as f64 / s) as u64
        } else {
            self.cut_points
        }
    }

    /// The last line `payhil powerloss` prints.
    pub fn json_line(&self) -> String {
        format!(
            "{{\"cut_points\": {}, \"points_per_s\": {}, \"failures\": {}}}",
            self.cut_points,
            self.points_per_s(),
            self.failures.len()
        )
    }
}

/// A counted run: every write, and what the harness had seen when it was made.
struct Counted {
    ops: Vec<Op>,
    /// Per write: which snapshot.
    op_snap: Vec<usize>,
    snaps: Vec<Seen>,
}

/// Keeps a copy of the harness's state before every call into the core, and tags each write
/// the call makes with it.
struct Counter {
    log: Rc<RefCell<Vec<Op>>>,
    snaps: Vec<Seen>,
    op_snap: Vec<usize>,
}

impl Counter {
    fn tag(&mut self) {
        let n = self.log.borrow().len();
        let last = self.snaps.len().saturating_sub(1);
        self.op_snap.resize(n, last);
    }

    fn finish(mut self) -> Counted {
        self.tag();
        let ops = std::mem::take(&mut *self.log.borrow_mut());
        Counted {
            ops,
            op_snap: self.op_snap,
            snaps: self.snaps,
        }
    }
}

impl Checkpoint for Counter {
    fn before_call(&mut self, seen: &Seen) {
        self.tag();
        // A snapshot no write was made under is never read: replaced, not kept (a scenario of a
        // thousand purchases calls the core thousands of times more than it writes).
        let last = self.snaps.len().checked_sub(1);
        match self.snaps.last_mut() {
            Some(s) if self.op_snap.last().copied() != last => *s = seen.clone(),
            _ => self.snaps.push(seen.clone()),
        }
    }
}

/// The chip a scenario runs on: the bench's small one ([`Geometry::SMALL`], whose ring wraps
/// within a short scenario, so that erase intents and erases are cut too), unless the scenario
/// makes more transactions than half the small journal's slots: then the offline queue it can
/// fill may outgrow the small journal (which holds about 126 items), while the terminal reports
/// the capacity of its pending index (1,024), so the reference terminal's own chip
/// ([`Geometry::REFERENCE`], the emulator's).
pub fn chip_for(scn: &Scenario) -> Geometry {
    let transactions: u64 = scn
        .steps
        .iter()
        .map(|s| match &s.action {
            payhil_scenario::format::Action::Purchases { count, .. } => u64::from(*count),
            payhil_scenario::format::Action::Purchase(..)
            | payhil_scenario::format::Action::Capture { .. }
            | payhil_scenario::format::Action::Reverse { .. } => 1,
            _ => 0,
        })
        .sum();
    if transactions > u64::from(Geometry::SMALL.journal_slots() / 2) {
        Geometry::REFERENCE
    } else {
        Geometry::SMALL
    }
}

/// Runs `scn` once, then cut at every write (see the module's description).
pub fn powerloss(scn: &Scenario, source: &str, opts: &Options) -> Result<Report, SimError> {
    for s in &scn.steps {
        if let Some(what) = steps::unsupported(s) {
            return Err(SimError::Unsupported {
                file: scn.path.display().to_string(),
                step: s.index,
                line: s.line,
                what: what.into(),
            });
        }
    }
    let cfg = bench::config(&scn.terminal);
    let chip = chip_for(scn);
    let (counted, max_programs) = count(scn, cfg, chip, opts.inject_write_behind)?;
    let writes = u32::try_from(counted.ops.len()).map_err(|_| SimError::TooManyWrites(u32::MAX))?;
    let started = Instant::now();
    let mut report = Report {
        writes,
        cut_points: 0,
        failures: Vec::new(),
        elapsed: Duration::ZERO,
        max_programs,
        chip,
    };
    // The image before write k, advanced one write at a time.
    let mut before = Image::erased(chip);
    let mut cut = Image::erased(chip);
    let mut first_of_step = (usize::MAX, 0u32);
    for (k, op) in counted.ops.iter().enumerate() {
        let snap = &counted.snaps[counted.op_snap[k]];
        let at = k as u32 + 1;
        if first_of_step.0 != snap.step {
            first_of_step = (snap.step, at);
        }
        for tear in [false, true] {
            cut.copy_from(&before);
            cut.apply(op, Some(tear)).map_err(|e| SimError::Baseline {
                step: snap.step,
                line: 0,
                message: format!("write {at} does not replay on its image: {e:?}"),
            })?;
            let mut found = Vec::new();
            if opts.pairs {
                report.cut_points += 1 + pairs(&cut, snap, cfg, &mut found);
            } else {
                report.cut_points += 1;
                if let Err(m) = recover(&mut cut, snap, cfg) {
                    found.push((None, m));
                }
            }
            for (then, message) in found {
                let write_in_step = at - first_of_step.1 + 1;
                report.failures.push(Failure {
                    at,
                    tear,
                    then,
                    step: snap.step,
                    write_in_step,
                    replay: replay::scenario(source, scn, snap.step, write_in_step, tear, at),
                    message,
                });
            }
            if opts.max_failures > 0 && report.failures.len() >= opts.max_failures {
                report.elapsed = started.elapsed();
                return Ok(report);
            }
        }
        before.apply(op, None).map_err(|e| SimError::Baseline {
            step: snap.step,
            line: 0,
            message: format!("write {at} does not replay: {e:?}"),
        })?;
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// The uncut run on a recording flash; it must pass. Also returns the most programs a word took.
fn count(
    scn: &Scenario,
    cfg: fut_core::Config<'static>,
    chip: Geometry,
    write_behind: bool,
) -> Result<(Counted, u8), SimError> {
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut counter = Counter {
        log: log.clone(),
        snaps: Vec::new(),
        op_snap: Vec::new(),
    };
    let mut image = Image::erased(chip);
    let baseline = |step: usize, line: usize, e: End| SimError::Baseline {
        step,
        line,
        message: match e {
            End::Halted => "the flash lost power without a cut".into(),
            End::Failed(m) => m,
        },
    };
    {
        let seen = Seen::new(&scn.terminal, &scn.cards);
        let mut d = Driver::new(cfg, seen, Some(steps::model(scn)), &mut counter);
        let mut flash = Recorder::new(image.chip(), log.clone());
        if write_behind {
            flash = flash.write_behind();
        }
        d.boot(flash)
            .and_then(|()| d.start())
            .map_err(|e| baseline(0, 0, e))?;
        for s in &scn.steps {
            d.seen.step = s.index;
            d.step(s).map_err(|e| baseline(s.index, s.line, e))?;
        }
        d.seen.step = scn.steps.len() + 1;
        let end = if scn.end_with_pending {
            d.check_exactly_once(payhil_model::ledger::Phase::Running)
        } else {
            d.drain_and_check()
        };
        end.map_err(|e| baseline(0, 0, e))?;
    }
    let max = image.tally.iter().copied().max().unwrap_or(0);
    Ok((counter.finish(), max))
}

/// After a cut: boot on the cut image, probe, drain, check. `Err` is the oracle's finding.
fn recover(image: &mut Image, snap: &Seen, cfg: fut_core::Config<'static>) -> Result<(), String> {
    let mut seen = snap.clone();
    seen.power_cut();
    let mut cp = NoCheckpoints;
    let mut d = Driver::new(cfg, seen, None, &mut cp);
    recovery(&mut d, image.chip()).map_err(ended)
}

/// What follows a cut, on any flash: boot, an online probe purchase, the drain and the checks.
fn recovery<F: fut_core::flash::Flash, C: Checkpoint>(
    d: &mut Driver<'_, F, C>,
    flash: F,
) -> Result<(), End> {
    d.boot(flash)?;
    d.seen.link = payhil_scenario::format::LinkSpec::Up;
    if let Some(spec) = chip_purchase("dankort_2", 1_00) {
        d.purchase(0, &spec, None)?;
    }
    d.drain_and_check()
}

/// A chip purchase of `minor` DKK øre with the test card `name` and its PIN (`None`: no such
/// card in the catalogue).
fn chip_purchase(name: &str, minor: u64) -> Option<payhil_scenario::format::PurchaseSpec> {
    let card = payhil_cards::catalogue::by_name(name)?;
    Some(payhil_scenario::format::PurchaseSpec {
        amount: payhil_protocol::Amount {
            minor,
            currency: payhil_protocol::Currency::DKK,
        },
        network: card.networks[0],
        entry: payhil_protocol::EntryMode::Chip,
        pin: Some(card.pin.clone()),
        card: card.clone(),
        forced_offline: false,
        tip_minor: 0,
        kind: payhil_protocol::TxnKind::Purchase,
        chip_unreadable: false,
        card_fault: None,
        ecr_result_lost: false,
        reserve: None,
    })
}

/// What a run that ended early says.
fn ended(e: End) -> String {
    match e {
        End::Halted => "the flash lost power again without a cut".into(),
        End::Failed(m) => m,
    }
}

/// A cut's recovery counted, then cut at each of its writes; returns the second cuts tried.
fn pairs(
    cut: &Image,
    snap: &Seen,
    cfg: fut_core::Config<'static>,
    found: &mut Vec<(Option<(u32, bool)>, String)>,
) -> u64 {
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut counter = Counter {
        log: log.clone(),
        snaps: Vec::new(),
        op_snap: Vec::new(),
    };
    let mut first = cut.clone();
    {
        let mut seen = snap.clone();
        seen.power_cut();
        let mut d = Driver::new(cfg, seen, None, &mut counter);
        if let Err(e) = recovery(&mut d, Recorder::new(first.chip(), log.clone())) {
            found.push((
                None,
                match e {
                    End::Halted => "the flash lost power again without a cut".into(),
                    End::Failed(m) => m,
                },
            ));
            return 0;
        }
    }
    let counted = counter.finish();
    let mut before = cut.clone();
    let mut second = cut.clone();
    let mut tried = 0;
    for (j, op) in counted.ops.iter().enumerate() {
        let snap = &counted.snaps[counted.op_snap[j]];
        for tear in [false, true] {
            second.copy_from(&before);
            if second.apply(op, Some(tear)).is_err() {
                continue;
            }
            tried += 1;
            if let Err(m) = recover(&mut second, snap, cfg) {
                found.push((Some((j as u32 + 1, tear)), m));
            }
        }
        if before.apply(op, None).is_err() {
            break;
        }
    }
    tried
}

#[cfg(test)]
mod tests;
