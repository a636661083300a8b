//! Test cards: what a scenario names, what the card simulator presents, and how the host
//! simulator's issuer answers. One table so the three never disagree.

use crate::{Cvc, Pan, Pin};
use payhil_protocol::{CardData, EntryMode, Expiry, Network, PanText};
use std::sync::LazyLock;

/// How the simulated issuer answers an online authorisation for a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssuerBehaviour {
    /// Approves.
    Approve,
    /// Declines with insufficient funds (51).
    InsufficientFunds,
    /// Declines: card blocked (62).
    Blocked,
    /// Declines: issuer unavailable (91).
    IssuerUnavailable,
}

/// A test card.
#[derive(Debug, Clone)]
pub struct TestCard {
    /// Name used in scenario files.
    pub name: String,
    /// Card number.
    pub pan: Pan,
    /// Expiry month.
    pub expiry: Expiry,
    /// PAN sequence number.
    pub pan_seq: u8,
    /// Applications on the chip, in priority order (co-badged cards have two, CARD-01).
    pub networks: Vec<Network>,
    /// Issuer's answer online.
    pub issuer: IssuerBehaviour,
    /// The card's PIN.
    pub pin: Pin,
    /// The card's verification code (printed on the back; never presented to the terminal, so
    /// any trace of it in evidence is a leak: PBS-01, BAX-05).
    pub cvc: Cvc,
    /// Bank account number on the card (BankAxept), empty if none.
    pub account: String,
}

impl TestCard {
    /// What the card simulator presents to a terminal for this card, read by `entry_mode` on
    /// application `network` (one of [`TestCard::networks`] for a well-behaved read).
    pub fn presented(&self, network: Network, entry_mode: EntryMode) -> CardData<'_> {
        CardData {
            entry_mode,
            network,
            pan: PanText(self.pan.reveal()),
            expiry: self.expiry,
            pan_seq: self.pan_seq,
            account: &self.account,
        }
    }
}

/// Name, PAN, expiry year and month, applications, issuer, CVC.
struct Row(
    &'static str,
    &'static str,
    u16,
    u8,
    &'static [Network],
    IssuerBehaviour,
    &'static str,
);

const ROWS: &[Row] = &[
    Row(
        "dankort",
        "5019100000000006",
        2030,
        12,
        &[Network::Dankort],
        IssuerBehaviour::Approve,
        "047",
    ),
    Row(
        "dankort_2",
        "5019100000000014",
        2030,
        12,
        &[Network::Dankort],
        IssuerBehaviour::Approve,
        "068",
    ),
    Row(
        "dankort_low_funds",
        "5019100000000022",
        2030,
        12,
        &[Network::Dankort],
        IssuerBehaviour::InsufficientFunds,
        "083",
    ),
    Row(
        "dankort_blocked",
        "5019100000000030",
        2030,
        12,
        &[Network::Dankort],
        IssuerBehaviour::Blocked,
        "059",
    ),
    Row(
        "visa_dankort",
        "4571100000000009",
        2029,
        6,
        &[Network::Dankort, Network::Visa],
        IssuerBehaviour::Approve,
        "071",
    ),
    Row(
        "visa",
        "4111111111111111",
        2031,
        1,
        &[Network::Visa],
        IssuerBehaviour::Approve,
        "092",
    ),
    Row(
        "visa_debit",
        "4757100000000005",
        2030,
        3,
        &[Network::VisaDebit],
        IssuerBehaviour::Approve,
        "036",
    ),
    Row(
        "mastercard",
        "5200000000000007",
        2030,
        8,
        &[Network::Mastercard],
        IssuerBehaviour::Approve,
        "064",
    ),
    Row(
        "bankaxept",
        "7000000000000005",
        2030,
        5,
        &[Network::BankAxept],
        IssuerBehaviour::Approve,
        "079",
    ),
    Row(
        "issuer_down",
        "5019100000000048",
        2030,
        12,
        &[Network::Dankort],
        IssuerBehaviour::IssuerUnavailable,
        "053",
    ),
];

/// PIN of every test card.
pub const TEST_PIN: &str = "739216";

// The CVCs above are three digits with a leading zero, so that nothing the reference terminal or
// the harness legitimately shows reads as one: sequence numbers, frame and event counters,
// process ids, byte counts and seeded cut offsets take every three-digit value in a long run,
// but none is printed zero-padded to three digits; and none is a standalone "0xy" in the
// reviewed receipts and settlement files or in the scenario files. The end-of-run CVC scan
// (PBS-01) would report any such number. (Receipts print the sequence number zero-padded to
// six digits: "0030xy" is why the scan takes a CVC behind a two-digit length only.)

/// All test cards (built once: the host simulator looks cards up on every request).
pub fn all() -> &'static [TestCard] {
    static CARDS: LazyLock<Vec<TestCard>> = LazyLock::new(build);
    &CARDS
}

fn build() -> Vec<TestCard> {
    ROWS.iter()
        .map(|r| TestCard {
            name: r.0.to_string(),
            pan: Pan::parse(r.1)
                .unwrap_or_else(|e| panic!("catalogue card {} is invalid: {e}", r.0)),
            expiry: Expiry {
                year: r.2,
                month: r.3,
            },
            pan_seq: 1,
            networks: r.4.to_vec(),
            issuer: r.5,
            pin: Pin::parse(TEST_PIN).unwrap_or_else(|| panic!("catalogue PIN is invalid")),
            cvc: Cvc::parse(r.6)
                .unwrap_or_else(|| panic!("catalogue card {} has an invalid CVC", r.0)),
            // A MOD-11-valid Norwegian account number for the BankAxept card (BAX-06).
            account: if r.4.contains(&Network::BankAxept) {
                "12345678903".to_string()
            } else {
                String::new()
            },
        })
        .collect()
}

/// Looks a card up by scenario name.
pub fn by_name(name: &str) -> Option<&'static TestCard> {
    all().iter().find(|c| c.name == name)
}

/// Looks a card up by number (the host simulator's issuer lookup).
pub fn by_pan(digits: &str) -> Option<&'static TestCard> {
    all().iter().find(|c| c.pan.reveal() == digits)
}

/// Names of all test cards, for error messages.
pub fn names() -> Vec<&'static str> {
    ROWS.iter().map(|r| r.0).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_catalogue_card_is_valid_and_unique() {
        let all = super::all();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a.pan, b.pan);
                assert_ne!(a.name, b.name);
                assert_ne!(a.cvc, b.cvc, "{} and {}", a.name, b.name);
            }
        }
    }

    #[test]
    fn pbs_01_a_test_card_never_shows_its_cvc_or_pin() {
        for card in super::all() {
            let shown = format!("{card:?}");
            assert!(shown.contains("Cvc(<redacted>)"), "{shown}");
            assert!(!shown.contains(card.pin.reveal()), "{shown}");
            assert!(
                cvc_hidden(&shown, card.cvc.reveal()),
                "{}: the CVC shows in {shown}",
                card.name
            );
        }
    }

    #[test]
    fn pbs_01_test_cvcs_never_read_as_a_counter() {
        // A CVC of 100 to 999 is some txn_seq, frame number or cut offset in every long run.
        for card in super::all() {
            assert!(card.cvc.reveal().starts_with('0'), "{}", card.name);
        }
    }

    /// True if the CVC scan finds nothing in `text`.
    fn cvc_hidden(text: &str, cvc: &str) -> bool {
        crate::pci::scan_cvcs(text, &[cvc]).is_empty()
    }
}
