//! The card's own side of a payment: what a chip card does when the terminal asks it to verify
//! the PIN offline (EMV VERIFY with a plaintext PIN block). The harness plays the card, so the
//! card's state lives here: its PIN (in [`TestCard::pin`]) and its PIN-try counter, which
//! every verification moves as a real card's does, for the whole scenario run (a power cut of
//! the terminal does not reset a card).

use crate::Pan;
use crate::catalogue::TestCard;
use payhil_protocol::{PinBlock, PinVerdict};
use std::collections::HashMap;

/// How many wrong PINs in a row a test card takes before it blocks its PIN (EMV's PIN try
/// limit, tag 9F17's starting value on most issuers' cards).
pub const PIN_TRY_LIMIT: u8 = 3;

/// The cards of one scenario run, each with its PIN-try counter (by card number: a card
/// presented on either of its applications is one card).
#[derive(Debug, Default, Clone)]
pub struct CardInstrument {
    tries_left: HashMap<Pan, u8>,
}

impl CardInstrument {
    /// Cards fresh from the issuer: every counter at [`PIN_TRY_LIMIT`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The card's PIN-try counter now.
    pub fn tries_left(&self, card: &TestCard) -> u8 {
        self.tries_left
            .get(&card.pan)
            .copied()
            .unwrap_or(PIN_TRY_LIMIT)
    }

    /// The card verifies `block` against its PIN, as EMV VERIFY does: a blocked PIN is
    /// refused without a try; the right PIN resets the counter; a wrong one (or a block that
    /// is not a well-formed format 2 block, which matches no PIN) uses a try.
    pub fn verify(&mut self, card: &TestCard, block: &PinBlock) -> PinVerdict {
        let left = self.tries_left(card);
        if left == 0 {
            return PinVerdict::Blocked;
        }
        if block.is_of(card.pin.reveal()) {
            self.tries_left.insert(card.pan.clone(), PIN_TRY_LIMIT);
            PinVerdict::Verified
        } else {
            let tries_left = left - 1;
            self.tries_left.insert(card.pan.clone(), tries_left);
            PinVerdict::Wrong { tries_left }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::by_name as card;

    #[test]
    fn three_wrong_pins_block_the_card_and_the_right_one_resets_it() {
        let dankort = card("dankort").expect("catalogue card");
        let other = card("dankort_2").expect("catalogue card");
        let right = PinBlock::format2(dankort.pin.reveal()).expect("a valid PIN");
        let wrong = PinBlock::format2("0000").expect("a valid PIN");
        let mut cards = CardInstrument::new();
        assert_eq!(
            cards.verify(dankort, &wrong),
            PinVerdict::Wrong { tries_left: 2 }
        );
        // The right PIN resets the counter.
        assert_eq!(cards.verify(dankort, &right), PinVerdict::Verified);
        for left in [2, 1, 0] {
            assert_eq!(
                cards.verify(dankort, &wrong),
                PinVerdict::Wrong { tries_left: left }
            );
        }
        assert_eq!(cards.verify(dankort, &right), PinVerdict::Blocked);
        assert_eq!(cards.tries_left(dankort), 0);
        // Each card has its own counter; a malformed block matches no PIN.
        assert_eq!(
            cards.verify(other, &PinBlock([0xFF; 8])),
            PinVerdict::Wrong { tries_left: 2 }
        );
    }
}
