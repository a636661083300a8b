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

/// The seeded source of steps.
pub(super) struct Schedule {
    rng: ChaCha8Rng,
    cards: Vec<TestCard>,
    wrong_pin: Option<Pin>,
    now: i64,
}

impl Schedule {
    /// Steps from `seed`.
    pub(super) fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            cards: CARDS.iter().filter_map(|n| by_name(n).cloned()).collect(),
            wrong_pin: Pin::parse(WRONG_PIN),
            now: payhil_scenario::runner::DEFAULT_CLOCK,
        }
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
                forced_offline: false,
                tip_minor: 0,
                kind: TxnKind::Purchase,
                chip_unreadable: false,
                reserve: None,
                card_fault: None,
            }),
            None,
        )
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
