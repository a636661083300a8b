//! The soak's seeded schedule: which step comes next. Weights are chosen so that a window
//! sees every state the offline queue can be in: long stretches offline that run into the
//! per-card limit, forwarding on a link that goes down or swallows requests, power cycles
//! and power cuts at any flash write, and the clock moving from seconds to days.

use payhil_cards::Pin;
use payhil_cards::catalogue::{TestCard, by_name};
use payhil_protocol::{Amount, Currency, EntryMode, TxnKind};
use payhil_scenario::format::{Action, LinkSpec, PowerCutSpec, PurchaseSpec, Step};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The cards the soak pays with: Danish debit, co-badged, and international credit, all in
/// DKK with the terminal's default limits.
const CARDS: [&str; 5] = ["dankort", "dankort_2", "visa_dankort", "visa", "mastercard"];

/// A PIN that is no test card's. Six digits, as the test cards' own: the end-of-run scan looks
/// for every PIN a scenario enters in the terminal's storage too, and a short one made of
/// zeros ("0000") is in any flash image as packed BCD by chance.
const WRONG_PIN: &str = "582914";

/// Which steps a schedule draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mix {
    /// The soak's: plain purchases under network faults, power cuts and clock jumps.
    Soak,
    /// The terminal-versus-model fuzzer's: also refunds, pre-authorisations and their
    /// captures, reversals, forced-offline and fallback purchases, and a clock set back.
    Model,
}

/// The source of steps: seeded (ChaCha), or a fuzzer's bytes ([`Bytes`]).
pub(super) struct Schedule<R = ChaCha8Rng> {
    rng: R,
    mix: Mix,
    cards: Vec<TestCard>,
    wrong_pin: Option<Pin>,
    now: i64,
}

impl Schedule {
    /// Steps from `seed`.
    pub(super) fn new(seed: u64) -> Self {
        Self::from_rng(ChaCha8Rng::seed_from_u64(seed))
    }
}

impl<R: Rng> Schedule<R> {
    /// Steps drawn from `rng`.
    pub(super) fn from_rng(rng: R) -> Self {
        Self {
            rng,
            mix: Mix::Soak,
            cards: CARDS.iter().filter_map(|n| by_name(n).cloned()).collect(),
            wrong_pin: Pin::parse(WRONG_PIN),
            now: payhil_scenario::runner::DEFAULT_CLOCK,
        }
    }

    /// The same source drawing the model's mix of steps.
    pub(super) fn with_mix(mut self, mix: Mix) -> Self {
        self.mix = mix;
        self
    }

    /// One of `n` (n > 0), drawn.
    pub(super) fn pick(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n.max(1))
    }

    /// The source, e.g. to ask a fuzzer's bytes whether they are used up.
    pub(super) fn source(&self) -> &R {
        &self.rng
    }

    /// A window's first step: the clock, back at the runner's default time (a fresh terminal;
    /// carried on from window to window, the clock passed the test cards' expiry after some
    /// twenty windows and every later purchase was refused).
    pub(super) fn start(&mut self) -> Step {
        self.now = payhil_scenario::runner::DEFAULT_CLOCK;
        step(1, Action::SetClock(self.now))
    }

    /// The step numbered `index`.
    pub(super) fn next_step(&mut self, index: usize) -> Step {
        let roll = self.rng.random_range(0..1000u32);
        let action = match roll {
            0..700 => self.purchase(),
            700..780 => Action::Forward,
            780..860 => Action::Network(match self.rng.random_range(0..20u32) {
                0..10 => LinkSpec::Up,
                10..17 => LinkSpec::Down,
                _ => LinkSpec::Blackhole,
            }),
            860..920 => {
                let secs = if self.rng.random_bool(0.03) {
                    self.rng.random_range(86_400..=3 * 86_400)
                } else {
                    self.rng.random_range(1..=6 * 3_600)
                };
                self.now = self.now.saturating_add(i64::from(secs));
                Action::AdvanceClock(secs)
            }
            // Every power-up reads the whole journal (a thousand slots and more): power
            // events are what a soak spends most of its time on, so about one step in
            // thirty (still hundreds per window) rather than more.
            920..930 => Action::PowerCycle,
            930..952 => Action::PowerCut(PowerCutSpec::FlashWrite {
                n: self.rng.random_range(1..=6),
                torn: self.rng.random_bool(0.5),
            }),
            952..957 => Action::Settle,
            // The model's mix: what the offline queue holds besides purchases, and a clock set
            // back (a terminal whose clock is corrected).
            957..975 if self.mix == Mix::Model => Action::Reverse {
                of: 0,
                expect: None,
            },
            975..990 if self.mix == Mix::Model => Action::Capture {
                of: 0,
                amount: Amount {
                    minor: self.rng.random_range(1..=50_000),
                    currency: Currency::DKK,
                },
                expect: None,
            },
            990..1000 if self.mix == Mix::Model => {
                self.now = self
                    .now
                    .saturating_sub(i64::from(self.rng.random_range(1..=86_400u32)));
                Action::SetClock(self.now)
            }
            _ => self.purchase(),
        };
        step(index, action)
    }

    fn purchase(&mut self) -> Action {
        let card = self.cards[self.rng.random_range(0..self.cards.len())].clone();
        let minor = match self.rng.random_range(0..100u32) {
            0..80 => self.rng.random_range(100..=30_000),
            80..95 => self.rng.random_range(30_001..=150_000),
            _ => self.rng.random_range(150_001..=300_000),
        };
        let entry = if self.rng.random_bool(0.15) {
            EntryMode::Contactless
        } else {
            EntryMode::Chip
        };
        let (kind, forced_offline, fallback) = if self.mix == Mix::Model {
            let kind = match self.rng.random_range(0..100u32) {
                0..8 => TxnKind::Refund,
                8..16 => TxnKind::PreAuthorisation,
                _ => TxnKind::Purchase,
            };
            (kind, self.rng.random_bool(0.08), self.rng.random_bool(0.05))
        } else {
            (TxnKind::Purchase, false, false)
        };
        // An unreadable chip is read from the magnetic stripe (SUPPORT-03).
        let entry = if fallback {
            EntryMode::Magstripe
        } else {
            entry
        };
        let pin = match self.rng.random_range(0..1000u32) {
            0..5 => None,
            5..10 => self.wrong_pin.clone(),
            _ => Some(card.pin.clone()),
        };
        Action::Purchase(
            Box::new(PurchaseSpec {
                amount: Amount {
                    minor,
                    currency: Currency::DKK,
                },
                network: card.networks[0],
                entry,
                pin,
                card,
                forced_offline,
                tip_minor: 0,
                kind,
                chip_unreadable: fallback,
                reserve: None,
                card_fault: None,
                ecr_result_lost: false,
            }),
            None,
        )
    }
}

/// A fuzzer's input as the schedule's source of randomness: each draw takes the next bytes, and
/// once they are used up every draw is zero (the schedule then ends its window).
pub(super) struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Bytes<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        Self { data, at: 0 }
    }

    /// Every byte was drawn.
    pub(super) fn used_up(&self) -> bool {
        self.at >= self.data.len()
    }
}

impl rand::RngCore for Bytes<'_> {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for d in dst {
            *d = self.data.get(self.at).copied().unwrap_or(0);
            self.at = self.at.saturating_add(1);
        }
    }
}

fn step(index: usize, action: Action) -> Step {
    Step {
        index,
        line: 0,
        action,
        note: None,
        link_error: None,
    }
}
