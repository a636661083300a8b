//! Power cuts at every point: nothing the journal acknowledged is lost or duplicated.
//!
//! The truth is kept outside the journal: which appends returned `Ok` (the terminal may have
//! approved those), which acknowledgements returned `Ok`, and the one operation a cut
//! interrupted. After every cut the journal is mounted again and must show:
//! * every acknowledged append exactly once: pending unless its forwarding was acknowledged;
//! * the interrupted append once or not at all; nothing else;
//! * no sequence number on flash twice, and the next one above every number ever handed out;
//! * after forwarding everything, each item sent at least once, and a second time only if a cut
//!   fell between the host's acknowledgement and the journal's marker.

extern crate std;

use super::tests::rec;
use super::*;
use crate::flash::{NorFlash, PowerCut, Storage};
use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use std::collections::{BTreeMap, BTreeSet};
use std::format;
use std::println;
use std::vec;
use std::vec::Vec;

/// Small pages so a short workload wraps the ring and exercises erase intents and erases.
const PAGE: u32 = 256;
const PAGES: usize = 8;

#[derive(Debug, Clone)]
struct Ram(Vec<u8>);

impl Storage for Ram {
    fn bytes(&self) -> &[u8] {
        &self.0
    }
    fn write(&mut self, offset: usize, data: &[u8]) -> Result<(), crate::flash::FlashError> {
        self.0[offset..offset + data.len()].copy_from_slice(data);
        Ok(())
    }
}

type J = Journal<NorFlash<Ram>, 1024>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Offline,
    Online,
    ForwardAll {
        decline_every: u8,
    },
    /// Reverses (voids) the oldest pending item, which must then never be forwarded (PBS-03).
    VoidOldest,
    /// Sends the newest pending item's advice, which goes unanswered: from then on it must
    /// read as sent (a repeat, and never voided locally), wherever the journal moves it.
    SendNewest,
}

#[derive(Debug, Default, Clone)]
struct Truth {
    taken: BTreeSet<u32>,
    offline: BTreeSet<u32>,
    acked: BTreeSet<u32>,
    in_flight_append: Option<(u32, bool)>,
    in_flight_ack: Option<u32>,
    /// Acks interrupted by a cut, per sequence number: these may be sent again.
    cut_acks: BTreeSet<u32>,
    voided: BTreeSet<u32>,
    /// Forwards each voided item had had when it was voided: none may follow.
    forwards_at_void: BTreeMap<u32, u32>,
    in_flight_void: Option<u32>,
    /// Voids interrupted by a cut that did not take: these may still be forwarded.
    cut_voids: BTreeSet<u32>,
    forwards: BTreeMap<u32, u32>,
    /// Items whose advice was sent (marker written).
    sent: BTreeSet<u32>,
}

fn is_cut(e: JournalError) -> bool {
    e == JournalError::Flash(FlashError::PowerLost)
}

/// Runs one operation. `Err` only for a power cut (anything else is a test failure).
fn apply(j: &mut J, t: &mut Truth, op: Op) -> Result<(), JournalError> {
    match op {
        Op::Offline | Op::Online => {
            let offline = op == Op::Offline;
            match j.ensure_room() {
                Ok(()) => {}
                Err(JournalError::Full) => return Ok(()), // refused before a number was taken
                Err(e) => return Err(e),
            }
            let seq = j.take_seq();
            t.taken.insert(seq);
            t.in_flight_append = Some((seq, offline));
            let status = if offline {
                TxnStatus::ApprovedOffline
            } else {
                TxnStatus::ApprovedOnline
            };
            j.record(&rec(seq, u64::from(seq), status))?;
            t.in_flight_append = None;
            if offline {
                t.offline.insert(seq);
            }
        }
        Op::ForwardAll { decline_every } => {
            while let Some(r) = j.pending(0)? {
                t.in_flight_ack = Some(r.seq);
                j.mark_sent(r.seq)?;
                t.sent.insert(r.seq);
                *t.forwards.entry(r.seq).or_default() += 1;
                let declined = decline_every > 0 && r.seq % u32::from(decline_every) == 0;
                j.acknowledge(r.seq, declined)?;
                t.in_flight_ack = None;
                t.acked.insert(r.seq);
            }
        }
        Op::SendNewest => {
            if let Some(r) = j.pending(j.pending_len().saturating_sub(1))? {
                j.mark_sent(r.seq)?;
                t.sent.insert(r.seq);
            }
        }
        Op::VoidOldest => {
            if let Some(r) = j.pending(0)? {
                t.in_flight_void = Some(r.seq);
                t.forwards_at_void
                    .insert(r.seq, t.forwards.get(&r.seq).copied().unwrap_or(0));
                assert!(j.mark_reversed(r.seq)?);
                t.in_flight_void = None;
                t.voided.insert(r.seq);
            }
        }
    }
    Ok(())
}

fn pending_seqs(j: &mut J) -> Vec<u32> {
    (0..j.pending_len())
        .map(|i| j.pending(i).unwrap().unwrap().seq)
        .collect()
}

/// The checks after a mount; then resolves what the cut left uncertain.
fn check_after_mount(j: &mut J, t: &mut Truth, context: &str) {
    let pending = pending_seqs(j);
    let set: BTreeSet<u32> = pending.iter().copied().collect();
    assert_eq!(
        set.len(),
        pending.len(),
        "{context}: a pending item appears twice: {pending:?}"
    );
    let maybe_append = t.in_flight_append.filter(|a| a.1).map(|a| a.0);
    for s in &t.offline {
        let acked = t.acked.contains(s);
        let acking = t.in_flight_ack == Some(*s);
        let voided = t.voided.contains(s);
        let voiding = t.in_flight_void == Some(*s);
        if !acked && !acking && !voided && !voiding {
            assert!(set.contains(s), "{context}: offline item #{s} was lost");
        }
        if acked {
            assert!(
                !set.contains(s),
                "{context}: acknowledged item #{s} came back as pending"
            );
        }
        if voided {
            assert!(
                !set.contains(s),
                "{context}: voided item #{s} came back as pending"
            );
        }
    }
    for s in &set {
        assert!(
            t.offline.contains(s) || maybe_append == Some(*s),
            "{context}: unexpected pending item #{s}"
        );
    }
    for (i, s) in pending.iter().enumerate() {
        if t.sent.contains(s) {
            assert!(
                j.pending_was_sent(i).unwrap(),
                "{context}: #{s} was sent, and reads as never sent"
            );
        }
    }
    let mut on_flash = BTreeMap::<u32, u32>::new();
    j.for_each(|f| *on_flash.entry(f.record.seq).or_default() += 1)
        .unwrap();
    for (s, n) in &on_flash {
        assert_eq!(*n, 1, "{context}: #{s} is on flash {n} times");
    }
    if let Some(max) = t.taken.iter().next_back() {
        assert!(
            j.next_seq() > *max,
            "{context}: next sequence number {} reuses one handed out (max {max})",
            j.next_seq()
        );
    }
    // Resolve: the interrupted append either made it (now pending) or never happened.
    if let Some(s) = maybe_append {
        if set.contains(&s) {
            t.offline.insert(s);
        }
    }
    if let Some(s) = t.in_flight_ack.take() {
        t.cut_acks.insert(s);
        if !set.contains(&s) {
            t.acked.insert(s);
        }
    }
    if let Some(s) = t.in_flight_void.take() {
        if set.contains(&s) {
            t.cut_voids.insert(s);
        } else {
            t.voided.insert(s);
        }
    }
    t.in_flight_append = None;
}

fn finish(j: &mut J, t: &mut Truth, context: &str) {
    apply(j, t, Op::ForwardAll { decline_every: 0 }).unwrap();
    for s in &t.offline {
        let n = t.forwards.get(s).copied().unwrap_or(0);
        if t.voided.contains(s) {
            let before = t.forwards_at_void.get(s).copied().unwrap_or(0);
            assert_eq!(
                n, before,
                "{context}: voided item #{s} was forwarded after the void"
            );
            continue;
        }
        assert!(n >= 1, "{context}: offline item #{s} was never forwarded");
        assert!(
            n == 1 || t.cut_acks.contains(s),
            "{context}: #{s} forwarded {n} times without a cut in between"
        );
    }
}

fn mount(storage: Ram, cut: Option<PowerCut>) -> Result<J, Ram> {
    let mut flash = NorFlash::new(storage, PAGE);
    flash.cut_power_at(cut);
    match Journal::mount_keep(flash, crate::journal::PanKey::test_key("TEST")) {
        Ok(j) => Ok(j),
        Err((e, flash)) if is_cut(e) => Err(flash.into_storage()),
        Err((e, _)) => panic!("mount failed: {e:?}"),
    }
}

fn workload() -> Vec<Op> {
    let mut ops = Vec::new();
    for i in 0..50 {
        ops.push(if i % 3 == 2 { Op::Online } else { Op::Offline });
        if i % 10 == 4 {
            ops.push(Op::VoidOldest);
        }
        if i % 10 == 9 {
            ops.push(Op::ForwardAll { decline_every: 7 });
        }
    }
    ops
}

/// Two items stay pending (one of them sent, unanswered) while the log goes round the ring
/// several times with online payments: the journal must move them, never fill up.
fn pinned_workload() -> Vec<Op> {
    let mut ops = vec![Op::Offline, Op::Offline, Op::SendNewest];
    ops.extend(std::iter::repeat_n(Op::Online, 3 * 4 * PAGES));
    ops.push(Op::VoidOldest);
    ops.extend(std::iter::repeat_n(Op::Online, 4 * PAGES));
    ops.push(Op::ForwardAll { decline_every: 0 });
    ops
}

/// Runs the workload from a fresh device until it ends or power is cut; returns the storage,
/// the truth, and whether the cut happened.
fn run_until_cut(
    workload: fn() -> Vec<Op>,
    cut: Option<PowerCut>,
) -> (Ram, Truth, bool, (u32, u32)) {
    let mut t = Truth::default();
    let mut j = match mount(Ram(vec![0xFF; PAGE as usize * PAGES]), cut) {
        Ok(j) => j,
        Err(storage) => return (storage, t, true, (0, 0)),
    };
    for op in workload() {
        if let Err(e) = apply(&mut j, &mut t, op) {
            assert!(is_cut(e), "{e:?}");
            let counts = (j.flash_mut().writes(), j.flash_mut().erases());
            return (j.into_flash().into_storage(), t, true, counts);
        }
    }
    let counts = (j.flash_mut().writes(), j.flash_mut().erases());
    (j.into_flash().into_storage(), t, false, counts)
}

#[test]
fn every_single_power_cut_in_a_50_transaction_workload_loses_and_duplicates_nothing() {
    every_single_power_cut(workload);
}

#[test]
fn every_single_power_cut_while_pinned_items_are_moved_loses_and_duplicates_nothing() {
    let (storage, t, cut, _) = run_until_cut(pinned_workload, None);
    assert!(!cut);
    assert_eq!(t.offline.len(), 2, "the journal refused an item");
    assert_eq!(
        t.taken.len(),
        2 + 4 * 4 * PAGES,
        "the journal refused a payment"
    );
    let j = mount(storage, None).unwrap_or_else(|_| panic!("no cut armed"));
    assert_eq!(j.pending_len(), 0);
    assert_eq!(j.unreadable_slots(), 0, "a retired record is not damage");
    every_single_power_cut(pinned_workload);
}

fn every_single_power_cut(workload: fn() -> Vec<Op>) {
    let (_, _, cut, (total, erases)) = run_until_cut(workload, None);
    assert!(!cut);
    assert!(
        erases >= 4,
        "the workload must wrap the ring and erase pages ({erases} erases)"
    );
    println!(
        "{total} flash writes ({erases} erases): {} power-cut cases",
        2 * total
    );
    for at in 1..=total {
        for tear in [false, true] {
            let context = format!("cut at write {at}/{total}, tear {tear}");
            let (storage, mut t, was_cut, _) = run_until_cut(workload, Some(PowerCut { at, tear }));
            assert!(was_cut, "{context}: the cut did not happen");
            let mut j = mount(storage, None).unwrap_or_else(|_| panic!("{context}: no cut armed"));
            check_after_mount(&mut j, &mut t, &context);
            finish(&mut j, &mut t, &context);
            // And once more from cold: everything forwarded stays forwarded.
            let j =
                mount(j.into_flash().into_storage(), None).unwrap_or_else(|_| panic!("{context}"));
            assert_eq!(
                j.pending_len(),
                0,
                "{context}: items pending after everything was forwarded"
            );
        }
    }
}

// ---- the same truth, driven by proptest-state-machine with several cuts per case ----

#[derive(Debug, Clone)]
enum Transition {
    Do(Op),
    /// Cut power after this many more flash writes (optionally tearing that write).
    ArmCut {
        after: u8,
        tear: bool,
    },
    /// Power off and on (cleanly if no cut is armed).
    Reboot,
}

struct Reference;

impl ReferenceStateMachine for Reference {
    type State = ();
    type Transition = Transition;

    fn init_state() -> BoxedStrategy<Self::State> {
        Just(()).boxed()
    }

    fn transitions(_: &Self::State) -> BoxedStrategy<Self::Transition> {
        prop_oneof![
            4 => Just(Transition::Do(Op::Offline)),
            2 => Just(Transition::Do(Op::Online)),
                        1 => (0u8..5).prop_map(|d| Transition::Do(Op::ForwardAll { decline_every: d })),
            1 => Just(Transition::Do(Op::VoidOldest)),
            1 => Just(Transition::Do(Op::SendNewest)),
            1 => (1u8..30, any::<bool>()).prop_map(|(after, tear)| Transition::ArmCut { after, tear }),
            1 => Just(Transition::Reboot),
        ]
        .boxed()
    }

    fn apply(state: Self::State, _: &Self::Transition) -> Self::State {
        state
    }
}

struct Sut {
    journal: Option<J>,
    storage: Option<Ram>,
    armed: Option<(u8, bool)>,
    truth: Truth,
    boots: u32,
}

impl Sut {
    fn power_on(&mut self) {
        let storage = self.storage.take().expect("powered off with storage");
        let cut = self.armed.take().map(|(after, tear)| PowerCut {
            at: u32::from(after),
            tear,
        });
        match mount(storage, cut) {
            Ok(mut j) => {
                self.boots += 1;
                check_after_mount(&mut j, &mut self.truth, &format!("boot {}", self.boots));
                self.journal = Some(j);
            }
            Err(storage) => self.storage = Some(storage),
        }
    }

    fn power_off(&mut self) {
        if let Some(j) = self.journal.take() {
            self.storage = Some(j.into_flash().into_storage());
        }
    }
}

struct JournalUnderCuts;

impl StateMachineTest for JournalUnderCuts {
    type SystemUnderTest = Sut;
    type Reference = Reference;

    fn init_test(_: &()) -> Sut {
        let mut sut = Sut {
            journal: None,
            storage: Some(Ram(vec![0xFF; PAGE as usize * PAGES])),
            armed: None,
            truth: Truth::default(),
            boots: 0,
        };
        sut.power_on();
        sut
    }

    fn apply(mut sut: Sut, _: &(), transition: Transition) -> Sut {
        match transition {
            Transition::Do(op) => {
                if let Some(j) = sut.journal.as_mut() {
                    if let Err(e) = apply(j, &mut sut.truth, op) {
                        assert!(is_cut(e), "{e:?}");
                        sut.power_off();
                    }
                }
            }
            Transition::ArmCut { after, tear } => match sut.journal.as_mut() {
                Some(j) => {
                    let at = j.flash_mut().writes() + u32::from(after);
                    j.flash_mut().cut_power_at(Some(PowerCut { at, tear }));
                }
                None => sut.armed = Some((after, tear)),
            },
            Transition::Reboot => {
                sut.power_off();
                sut.power_on();
            }
        }
        sut
    }

    fn teardown(mut sut: Sut) {
        sut.power_off();
        sut.armed = None;
        sut.power_on();
        let j = sut.journal.as_mut().expect("a boot without a cut succeeds");
        finish(j, &mut sut.truth, "teardown");
    }
}

prop_state_machine! {
    // Cases: PROPTEST_CASES (default 256).
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn random_operations_and_repeated_power_cuts_lose_and_duplicate_nothing(sequential 1..120 => JournalUnderCuts);
}
