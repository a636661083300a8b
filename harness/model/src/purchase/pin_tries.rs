//! PIN-try counters as the model knows them: the card's own (offline PIN, the card verifies)
//! and the issuer's (online PIN, ISO 8583 DE 52). EMV: a wrong PIN uses a try, the right one
//! resets the counter, none left blocks the PIN. A payment a power cut interrupted may or may
//! not have reached whoever counts, so a counter is a range of tries left, narrowed again by
//! what the next check answers.

use super::*;

/// Tries left, somewhere in `lo..=hi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tries {
    lo: u8,
    hi: u8,
}

impl Tries {
    /// Untouched: the full count.
    pub(super) const FULL: Tries = Tries {
        lo: PIN_TRY_LIMIT,
        hi: PIN_TRY_LIMIT,
    };

    /// What checking a PIN (`right` or not) may answer: `None` verified, else the refusal.
    /// A blocked PIN is refused whatever was entered.
    pub(super) fn verdicts(self, right: bool) -> Vec<Option<Reason>> {
        let mut v = Vec::with_capacity(2);
        if self.lo == 0 {
            v.push(Some(Reason::PinTriesExceeded));
        }
        if self.hi > 0 {
            v.push(if right {
                None
            } else {
                Some(Reason::PinIncorrect)
            });
        }
        v
    }

    /// After a check that answered: a blocked PIN (`exceeded`) says no try was left; any
    /// other answer, that one was, and it is used (wrong) or the count restored (right).
    pub(super) fn checked(self, right: bool, exceeded: bool) -> Tries {
        if exceeded {
            return Tries { lo: 0, hi: 0 };
        }
        if right {
            return Tries::FULL;
        }
        Tries {
            lo: self.lo.max(1) - 1,
            hi: self.hi.max(1) - 1,
        }
    }

    /// After a check that may or may not have happened (its payment cut by the power).
    pub(super) fn maybe_checked(self, right: bool) -> Tries {
        if self.hi == 0 {
            return self;
        }
        if right {
            Tries {
                lo: self.lo,
                hi: PIN_TRY_LIMIT,
            }
        } else {
            Tries {
                lo: self.lo.saturating_sub(1),
                hi: self.hi,
            }
        }
    }
}

impl Model {
    pub(super) fn card_tries(&self, pan: &Pan) -> Tries {
        self.pin_tries.get(pan).copied().unwrap_or(Tries::FULL)
    }

    pub(super) fn issuer_tries(&self, pan: &Pan) -> Tries {
        self.issuer_pin_tries
            .get(pan)
            .copied()
            .unwrap_or(Tries::FULL)
    }

    /// What the card may say of the PIN entered, when the terminal asks it (offline, once
    /// nothing else refuses the payment): `None` verified, else the decline's reason.
    pub(super) fn card_verdicts(&self, p: &PurchaseInput) -> Vec<Option<Reason>> {
        match &p.pin {
            Some(pin) => self.card_tries(&p.card.pan).verdicts(*pin == p.card.pin),
            None => vec![None],
        }
    }

    /// What the issuer answers online: with a PIN, it checks it first (55 PinIncorrect, 75
    /// PinTriesExceeded once its counter is used up), then decides as ever.
    pub(super) fn online(&self, p: &PurchaseInput) -> Prediction {
        let Some(pin) = &p.pin else {
            return issuer(&p.card);
        };
        if p.kind == TxnKind::Refund {
            return issuer(&p.card);
        }
        let verdicts = self.issuer_tries(&p.card.pan).verdicts(*pin == p.card.pin);
        let optional = self.pin_sent_online(p) == PinPrompt::Optional;
        let mut out: Option<Prediction> = None;
        for v in verdicts {
            let one = match v {
                None => issuer(&p.card),
                // The terminal may not ask for the PIN, and then sends none.
                Some(r) if optional => declined(r).or(issuer(&p.card)),
                Some(r) => declined(r),
            };
            out = Some(match out {
                Some(o) => o.or(one),
                None => one,
            });
        }
        out.unwrap_or_else(|| issuer(&p.card))
    }

    /// The card's and the issuer's counters after the payment: each moves only when it was
    /// asked, which the outcome tells (the card is asked last, once nothing else refuses
    /// offline; the issuer checks every PIN it is sent, whatever it then answers).
    pub(super) fn observe_pin(&mut self, p: &PurchaseInput, outcome: Outcome, reason: Reason) {
        let Some(pin) = &p.pin else { return };
        let right = *pin == p.card.pin;
        let exceeded = reason == Reason::PinTriesExceeded;
        // On a faulty link the model cannot know whether the answer came: it leaves the
        // counter.
        let answered =
            self.network_up && !self.blackhole && !self.flaky && self.reaches_for_host(p);
        if answered && self.pin_sent_online(p) == PinPrompt::Required {
            let now = self.issuer_tries(&p.card.pan).checked(right, exceeded);
            self.issuer_pin_tries.insert(p.card.pan.clone(), now);
            return;
        }
        let asked = match (outcome, reason) {
            (Outcome::Declined, Reason::PinIncorrect | Reason::PinTriesExceeded) => true,
            (Outcome::ApprovedOffline, _) => true,
            // A BankAxept reserve payment refused on its note was verified before the note.
            (
                Outcome::Declined,
                Reason::ReserveAttendantRequired
                | Reason::ReserveIdInvalid
                | Reason::ReserveAccountInvalid
                | Reason::ReserveAuthCodeRequired
                | Reason::Cancelled,
            ) => p.network == Network::BankAxept,
            _ => false,
        };
        if asked {
            let now = self.card_tries(&p.card.pan).checked(right, exceeded);
            self.pin_tries.insert(p.card.pan.clone(), now);
        }
    }

    /// A payment with a PIN was cut by the power before it answered: the issuer (if the
    /// request may have left) and the card may or may not have checked the PIN.
    pub(super) fn pin_maybe_checked(&mut self, p: &PurchaseInput) {
        let Some(pin) = &p.pin else { return };
        let right = *pin == p.card.pin;
        if self.reaches_for_host(p) && p.kind != TxnKind::Refund {
            let now = self.issuer_tries(&p.card.pan).maybe_checked(right);
            self.issuer_pin_tries.insert(p.card.pan.clone(), now);
        }
        let now = self.card_tries(&p.card.pan).maybe_checked(right);
        self.pin_tries.insert(p.card.pan.clone(), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_that_may_have_been_used_allows_both_answers_until_one_comes() {
        let t = Tries::FULL.checked(false, false).checked(false, false);
        assert_eq!(t.verdicts(true), vec![None]);
        // One more wrong PIN may have been checked before the cut.
        let t = t.maybe_checked(false);
        assert_eq!(t.verdicts(true), vec![Some(Reason::PinTriesExceeded), None]);
        assert_eq!(
            t.checked(true, true).verdicts(true),
            vec![Some(Reason::PinTriesExceeded)]
        );
        assert_eq!(t.checked(true, false), Tries::FULL);
    }
}
