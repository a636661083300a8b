//! A card transaction from the card to the decision: the card read (CARD-03, SUPPORT-03), the
//! PIN, the limit engine's route (online, offline, the BankAxept reserve solution) and the
//! offline approval (NETS-01..08, BAX-02..08).

use super::{Card, HostUnreachable, NoRoom, State, Step, Terminal, Txn, done};
use crate::block_list::CardTag;
use crate::card_read;
use crate::flash::{Flash, FlashError};
use crate::journal::{JournalError, StoredPan, TxnStatus};
use crate::limits::{self, Attempt, Route};
use crate::reserve;
use des::TdesEde2;
use des::cipher::{BlockEncrypt, KeyInit};
use payhil_protocol::host_link::{
    EncryptedPinBlock, HostRequest, HostResponse, ResponseCode, TEST_PIN_KEY, TxnData,
    response_code,
};
use payhil_protocol::{
    Amount, Awaiting, CardData, EntryMode, Expiry, Network, Outcome, PanText, PinBlock, PinVerdict,
    Reason, RequestError, ReserveDetails, Response, TxnKind,
};

#[cfg(test)]
mod card_tlv_tests;
#[cfg(test)]
mod tests;

/// Host answers that the card must not be used (PROTOCOL.md section 7): 62 restricted or blocked,
/// 41 lost, 43 stolen. A card so declined is blocked for offline approvals (CARD-10).
const BLOCKING_CODES: [ResponseCode; 3] = [
    response_code::BLOCKED,
    ResponseCode(*b"41"),
    ResponseCode(*b"43"),
];

/// The largest amount a transaction can carry: twelve digits of minor units (ISO 8583 DE 4).
pub const MAX_AMOUNT_MINOR: u64 = 999_999_999_999;

/// The online PIN (ISO 8583 DE 52): the ISO 9564 format 0 block of the PIN entered for card
/// `pan`, encrypted with 2-key TDES under the documented test PIN key (PROTOCOL.md section 8).
/// `None` for a card number the block cannot be made of (the request then goes without a PIN).
fn online_pin(pin: &PinBlock, pan: &str) -> Option<EncryptedPinBlock> {
    let clear = pin.iso0(pan)?;
    let cipher = TdesEde2::new(&TEST_PIN_KEY.into());
    let mut block = clear.into();
    cipher.encrypt_block(&mut block);
    Some(EncryptedPinBlock(block.into()))
}

/// A card is valid through the last day of its expiry month (CARD-03).
fn expired(expiry: Expiry, now: i64) -> bool {
    let t = crate::calendar::from_unix(now);
    (t.year, t.month) > (i32::from(expiry.year), expiry.month)
}

impl<F: Flash> Terminal<'_, F> {
    pub(super) fn start(
        &mut self,
        kind: TxnKind,
        amount: Amount,
        tip_minor: u64,
        forced_offline: bool,
        reference: u32,
    ) -> Step<'_> {
        if !matches!(self.state, State::Idle) {
            return self.wrong_state();
        }
        let Some(total) = amount.minor.checked_add(tip_minor) else {
            return Step::Reply(Response::Rejected(RequestError::BadAmount));
        };
        // ISO 8583 DE 4 and EMV 9F02 are n12: a larger amount cannot be authorised (an ECR's
        // negative amount sent as an unsigned one lands here too).
        if (amount.minor == 0 && kind != TxnKind::Reversal)
            || total > MAX_AMOUNT_MINOR
            || amount.currency.alpha() == "XXX"
        {
            return Step::Reply(Response::Rejected(RequestError::BadAmount));
        }
        let amount = Amount {
            minor: total,
            currency: amount.currency,
        };
        match kind {
            TxnKind::Purchase | TxnKind::Refund | TxnKind::PreAuthorisation => {
                self.state = State::AwaitingCard {
                    kind,
                    amount,
                    tip_minor,
                    forced_offline,
                    fallback: false,
                };
                Step::Reply(Response::Accepted {
                    awaiting: Awaiting::Card,
                })
            }
            TxnKind::Capture | TxnKind::Reversal => self.follow_up(kind, amount, reference),
        }
    }

    pub(super) fn present_card(&mut self, c: &CardData<'_>) -> Step<'_> {
        let State::AwaitingCard { fallback, .. } = self.state else {
            return self.wrong_state();
        };
        let account = c.account.as_bytes();
        let card = match StoredPan::from_ascii(c.pan.0) {
            Some(pan)
                if crate::card_read::luhn_ok(pan.as_str().as_bytes())
                    && (1..=12).contains(&c.expiry.month)
                    && (account.is_empty()
                        || (account.len() == 11 && account.iter().all(u8::is_ascii_digit))) =>
            {
                let mut acc = [b'0'; 11];
                acc[..account.len()].copy_from_slice(account);
                Card {
                    pan,
                    expiry: c.expiry,
                    pan_seq: c.pan_seq,
                    network: c.network,
                    entry_mode: c.entry_mode,
                    account: acc,
                    has_account: !account.is_empty(),
                    // A chip card read another way after the chip failed (SUPPORT-03).
                    fallback: fallback && c.entry_mode != EntryMode::Chip,
                }
            }
            _ => return self.abort(Reason::CardDataInvalid),
        };
        self.with_card(card)
    }

    /// A card presented as EMV BER-TLV (PROTOCOL.md 4.7): read strictly; data that is not a
    /// well-formed, consistent card of an accepted range is declined with the reason that says
    /// what is wrong (SUPPORT-01), and nothing of it is journaled (the number may not even be
    /// one). An expired card is declined as a read card is (CARD-03).
    pub(super) fn present_card_tlv(
        &mut self,
        entry_mode: EntryMode,
        network: Network,
        tlv: &[u8],
    ) -> Step<'_> {
        let State::AwaitingCard {
            amount, fallback, ..
        } = self.state
        else {
            return self.wrong_state();
        };
        let read = match card_read::read(tlv) {
            Ok(r) => r,
            Err(reason) => return self.decline_card(reason),
        };
        let Some(pan) = StoredPan::from_ascii(read.pan()) else {
            return self.decline_card(Reason::CardNumberInvalid);
        };
        if !card_read::bin_accepted(network, pan.as_str()) {
            return self.decline_card(Reason::CardNotSupported);
        }
        if read.currency.is_some_and(|c| c != amount.currency) {
            return self.decline_card(Reason::CurrencyMismatch);
        }
        if let Some((y, m, d)) = read.effective {
            let t = crate::calendar::from_unix(self.now);
            if (t.year, t.month, t.day) < (i32::from(y), m, d) {
                return self.decline_card(Reason::CardNotYetValid);
            }
        }
        self.with_card(Card {
            pan,
            expiry: read.expiry,
            pan_seq: read.pan_seq,
            network,
            entry_mode,
            account: read.account.unwrap_or([b'0'; 11]),
            has_account: read.account.is_some(),
            // A chip card read another way after the chip failed (SUPPORT-03).
            fallback: fallback && entry_mode != EntryMode::Chip,
        })
    }

    /// Declines a card whose data the terminal refuses, before anything is journaled.
    fn decline_card(&mut self, reason: Reason) -> Step<'_> {
        self.state = State::Idle;
        self.receipt.clear();
        self.auth_len = 0;
        Step::Reply(done(Outcome::Declined, reason))
    }

    /// The card is read: the expiry (CARD-03), then the PIN or the authorisation.
    fn with_card(&mut self, card: Card) -> Step<'_> {
        let State::AwaitingCard {
            kind,
            amount,
            tip_minor,
            forced_offline,
            ..
        } = self.state
        else {
            return self.wrong_state();
        };
        let entry_mode = card.entry_mode;
        let txn = Txn {
            seq: 0,
            kind,
            amount,
            tip_minor,
            related_seq: 0,
            forced_offline,
            card,
            pin: None,
            pin_verified: false,
        };
        if expired(card.expiry, self.now) {
            return match self.claim_seq(txn) {
                Ok(txn) => self.finish(
                    txn,
                    Outcome::Declined,
                    Reason::CardExpired,
                    TxnStatus::Declined,
                ),
                Err(why) => self.refuse(why),
            };
        }
        // A refund credits the cardholder: no PIN needed (CARD-07).
        if kind != TxnKind::Refund && limits::pin_required(&self.cfg.limits, amount, entry_mode) {
            self.state = State::AwaitingPin(txn);
            Step::Reply(Response::Accepted {
                awaiting: Awaiting::Pin,
            })
        } else {
            self.authorise(txn)
        }
    }

    /// Gives the transaction its sequence number, once the journal is sure to have room for its
    /// record: a number that went to the host is always journaled before the next is taken.
    pub(super) fn claim_seq(&mut self, mut txn: Txn) -> Result<Txn, NoRoom> {
        match self.journal.ensure_room() {
            Ok(()) => {
                txn.seq = self.journal.take_seq();
                Ok(txn)
            }
            Err(JournalError::Full | JournalError::TooManyPending) => Err(NoRoom::Full),
            Err(e) => Err(NoRoom::Fault(e)),
        }
    }

    /// Nothing more can be journaled until the queue is forwarded: refuse before the host or
    /// the cardholder is involved.
    pub(super) fn refuse(&mut self, why: NoRoom) -> Step<'_> {
        if let NoRoom::Fault(e) = why {
            return self.storage_fault(e);
        }
        self.state = State::Idle;
        self.receipt.clear();
        self.auth_len = 0;
        Step::Reply(done(Outcome::Declined, Reason::OfflineQueueFull))
    }

    /// The facts the limit engine needs, from the card, the journal and the clock.
    pub(super) fn attempt(
        &mut self,
        txn: &Txn,
        host_reachable: bool,
    ) -> Result<Attempt, JournalError> {
        let mut a = Attempt {
            amount: txn.amount,
            network: txn.card.network,
            entry_mode: txn.card.entry_mode,
            fallback: txn.card.fallback,
            pin_entered: txn.pin_entered(),
            // Learned blocks count whenever the decision may be offline (CARD-10).
            blocked: self.is_blocked(&txn.card.pan, !host_reachable || txn.forced_offline),
            host_reachable,
            forced_offline: txn.forced_offline,
            card_exposure_minor: 0,
            card_recent_offline_minor: 0,
            card_today_minor: 0,
            reserve_pending_minor: 0,
        };
        let window_start = self.now - i64::from(self.cfg.limits.split_window_s);
        for i in 0..self.journal.pending_len() {
            let Some(r) = self.journal.pending(i)? else {
                continue;
            };
            // BAX-09 caps reserve payments: a stored reversal (e.g. of a request that may have
            // reached the host before a cut) is none, and must not use up the cap.
            if r.network == Network::BankAxept && r.kind == TxnKind::Purchase {
                a.reserve_pending_minor = a.reserve_pending_minor.saturating_add(r.amount.minor);
            }
            // Only purchases are offline exposure; stored captures and reversals were authorised.
            if r.pan == txn.card.pan && r.kind == TxnKind::Purchase {
                a.card_exposure_minor = a.card_exposure_minor.saturating_add(r.amount.minor);
                if r.local_time >= window_start {
                    a.card_recent_offline_minor =
                        a.card_recent_offline_minor.saturating_add(r.amount.minor);
                }
            }
        }
        if self.cfg.limits.gambling_daily_max_minor.is_some() {
            // CARD-04: this card's approved purchases on the same (UTC) day.
            let day = self.now.div_euclid(86_400);
            let mut today = 0u64;
            self.journal.for_each(|f| {
                let r = f.record;
                let approved = matches!(
                    r.status,
                    TxnStatus::ApprovedOnline | TxnStatus::ApprovedOffline
                ) && matches!(r.kind, TxnKind::Purchase | TxnKind::Capture)
                    && !f.reversed;
                if approved
                    && r.pan == txn.card.pan
                    && r.local_time.div_euclid(86_400) == day
                    && !f.host_declined
                {
                    today = today.saturating_add(r.amount.minor);
                }
            })?;
            a.card_today_minor = today;
        }
        Ok(a)
    }

    pub(super) fn authorise(&mut self, txn: Txn) -> Step<'_> {
        // Card-level and merchant-level refusals come before anything is sent (CARD-04, CARD-10).
        let facts = match self.attempt(&txn, true) {
            Ok(f) => f,
            Err(e) => return self.storage_fault(e),
        };
        let pre = match txn.kind {
            // Expiry, the gambling day and every deadline are judged by the clock: one set
            // behind what the journal shows has passed would let them be fooled.
            _ if self.now < self.time_floor => Err(Reason::ClockNotTrusted),
            TxnKind::Purchase => limits::route(&self.cfg.limits, &facts),
            // Refunds and pre-authorisations need the host: never offline.
            _ if txn.forced_offline => Err(Reason::OnlineOnly),
            TxnKind::Refund => Ok(Route::Online),
            _ => limits::card_check(&facts).map(|()| Route::Online),
        };
        let txn = match self.claim_seq(txn) {
            Ok(t) => t,
            Err(why) => return self.refuse(why),
        };
        match pre {
            Err(reason) => self.finish(txn, Outcome::Declined, reason, TxnStatus::Declined),
            Ok(Route::Online) => {
                // Journaled before it leaves: if the power goes before its outcome is journaled,
                // the next boot finds it and stores a reversal (PBS-03).
                let sent = self.record_of(&txn, TxnStatus::Sent, Reason::Approved);
                match self.journal_record(&sent) {
                    Ok(()) => {}
                    Err(JournalError::Flash(FlashError::PowerLost)) => return Step::Halt,
                    Err(e) => {
                        self.storage_fault = Some(e);
                        return self.finish(
                            txn,
                            Outcome::Declined,
                            Reason::StorageFailure,
                            TxnStatus::Declined,
                        );
                    }
                }
                self.await_host(State::AwaitingHost(txn));
                let State::AwaitingHost(ref t) = self.state else {
                    unreachable!()
                };
                Step::Host(HostRequest::Authorise(self.txn_data(t)))
            }
            // Forced offline (NETS-02), which the limit engine routed without the host.
            Ok(_) => self.offline(txn, true),
        }
    }

    pub(super) fn txn_data<'s>(&'s self, t: &'s Txn) -> TxnData<'s> {
        TxnData {
            repeat: false,
            kind: t.kind,
            related_seq: t.related_seq,
            terminal_id: self.cfg.identity.terminal_id,
            merchant_id: self.cfg.identity.merchant_id,
            txn_seq: t.seq,
            pan: PanText(t.card.pan.as_str()),
            expiry: t.card.expiry,
            pan_seq: t.card.pan_seq,
            network: t.card.network,
            entry_mode: t.card.entry_mode,
            amount: t.amount,
            local_time: self.now,
            // DE 22 / 9F34 say what the cardholder did: entered the PIN.
            pin_verified: t.pin_entered(),
            auth_code: "",
            pin_block: t.pin.and_then(|p| online_pin(&p, t.card.pan.as_str())),
        }
    }

    /// The host's answer to an authorisation (or its absence): approved, declined with the
    /// reason its code stands for (PROTOCOL.md section 7), or offline when no answer came.
    pub(super) fn auth_result(
        &mut self,
        txn: Txn,
        result: Result<HostResponse<'_>, HostUnreachable>,
    ) -> Step<'_> {
        match result {
            Ok(HostResponse::AuthResult {
                txn_seq,
                response_code: code,
                auth_code,
            }) if txn_seq == txn.seq => {
                let mut txn = txn;
                // The issuer verified the PIN it was sent when it approves (a wrong one is 55).
                if code.is_approved() && txn.pin.is_some() && txn.kind != TxnKind::Refund {
                    txn.pin_verified = true;
                }
                txn.pin = None;
                self.set_auth(auth_code);
                if let Err(e) = self.learn_from(&txn, code) {
                    if e == JournalError::Flash(FlashError::PowerLost) {
                        return Step::Halt;
                    }
                    // The answer stands; the fault is reported and the card is blocked in RAM.
                    self.storage_fault = Some(e);
                }
                if code.is_approved() {
                    if txn.kind == TxnKind::Reversal {
                        // Not found: the ring reused the original's page for the reversal's
                        // own records since it was found (it was done, so not kept); nothing
                        // is left on flash to settle, and the host has reversed it.
                        if let Err(e) = self.journal.mark_reversed(txn.related_seq) {
                            return self.storage_fault(e);
                        }
                    }
                    self.finish(
                        txn,
                        Outcome::ApprovedOnline,
                        Reason::Approved,
                        TxnStatus::ApprovedOnline,
                    )
                } else {
                    // Every answer is understood (issue 9): a code with a reason of its own
                    // gets it; any other code is a decline that shows the code, never a
                    // fallback to offline (PROTOCOL.md, "Host response codes").
                    let reason = match code {
                        response_code::INSUFFICIENT_FUNDS => Reason::InsufficientFunds,
                        response_code::BLOCKED => Reason::CardBlocked,
                        response_code::EXPIRED => Reason::CardExpired,
                        response_code::ISSUER_UNAVAILABLE => Reason::IssuerUnavailable,
                        response_code::INCORRECT_PIN => Reason::PinIncorrect,
                        response_code::PIN_TRIES_EXCEEDED => Reason::PinTriesExceeded,
                        other => Reason::HostDeclined(other),
                    };
                    // An approval with a condition this terminal cannot meet (partial
                    // amount, identification): the host may hold the funds, so the decline
                    // is followed by a stored reversal (PBS-03), as for a lost answer.
                    if response_code::CONDITIONAL_APPROVALS.contains(&code)
                        && matches!(
                            txn.kind,
                            TxnKind::Purchase | TxnKind::Refund | TxnKind::PreAuthorisation
                        )
                    {
                        self.unresolved = Some(txn.seq);
                    }
                    self.finish(txn, Outcome::Declined, reason, TxnStatus::Declined)
                }
            }
            // No usable answer: the host is unreachable, so try offline (NETS-01). If the
            // request may have reached the host, the outcome must be resolved with it.
            other => {
                // Nothing left: the authorisation's trace is resolved, so that a power cut
                // during the offline attempt stores no reversal of it.
                if matches!(other, Err(HostUnreachable::NotSent)) {
                    match self.journal.mark_unsent(txn.seq) {
                        Ok(_) => {}
                        Err(JournalError::Flash(FlashError::PowerLost)) => return Step::Halt,
                        Err(e) => return self.storage_fault(e),
                    }
                }
                if !matches!(other, Err(HostUnreachable::NotSent))
                    && matches!(
                        txn.kind,
                        TxnKind::Purchase | TxnKind::Refund | TxnKind::PreAuthorisation
                    )
                {
                    self.unresolved = Some(txn.seq);
                }
                self.after_no_answer(txn)
            }
        }
    }

    /// What a host answer says about the card (CARD-10): declined as blocked, lost or stolen, it
    /// is refused offline from now on, across power cycles; a purchase or pre-authorisation
    /// approved online lifts such a block (the issuer lifted it). Kept in flash on a change.
    fn learn_from(&mut self, txn: &Txn, code: ResponseCode) -> Result<(), JournalError> {
        let tag = CardTag::of(&self.key, &txn.card.pan);
        let changed = if BLOCKING_CODES.contains(&code) {
            self.blocks.learn(tag)
        } else if code.is_approved()
            && matches!(txn.kind, TxnKind::Purchase | TxnKind::PreAuthorisation)
        {
            self.blocks.forget(&tag)
        } else {
            false
        };
        if changed {
            self.blocks.save(self.journal.flash_mut())?;
        }
        Ok(())
    }

    /// The host gave no usable answer: purchases try offline (NETS-01); captures and reversals
    /// were authorised already and are stored; refunds and pre-authorisations need the host.
    pub(super) fn after_no_answer(&mut self, txn: Txn) -> Step<'_> {
        match txn.kind {
            TxnKind::Purchase => self.offline(txn, false),
            // Already authorised: store and forward (CARD-06, PBS-03).
            TxnKind::Capture | TxnKind::Reversal => self.store_follow_up(txn),
            TxnKind::Refund | TxnKind::PreAuthorisation => self.finish(
                txn,
                Outcome::Declined,
                Reason::OnlineOnly,
                TxnStatus::Declined,
            ),
        }
    }

    /// The offline decision once the host is known unreachable (or forced offline).
    pub(super) fn offline(&mut self, txn: Txn, forced: bool) -> Step<'_> {
        let facts = match self.attempt(&txn, forced && !txn.forced_offline) {
            Ok(f) => f,
            Err(e) => return self.storage_fault(e),
        };
        let route = limits::route(&self.cfg.limits, &facts);
        if let (Ok(_), Some(block), false) = (route, txn.pin, txn.pin_verified) {
            // Everything else allows the offline payment: the card verifies the PIN the
            // cardholder entered before it is approved (EMV offline plaintext PIN). Asked
            // last, so that the card's try counter moves only when the PIN decides.
            self.state = State::AwaitingCardVerdict { txn, forced };
            return Step::Reply(Response::VerifyPin(block));
        }
        match route {
            Ok(Route::Reserve) => {
                self.state = State::AwaitingReserve(txn);
                Step::Reply(Response::Accepted {
                    awaiting: Awaiting::ReserveDetails,
                })
            }
            Ok(_) => {
                // EMV offline approval codes: Y1 offline by choice, Y3 unable to go online.
                self.set_auth(if txn.forced_offline { "Y1" } else { "Y3" });
                self.approve_stored(txn, None)
            }
            Err(reason) => self.finish(txn, Outcome::Declined, reason, TxnStatus::Declined),
        }
    }

    /// The card's verdict on the PIN block it was sent: verified, the offline decision goes
    /// on; wrong or blocked, the payment is declined with its own reason. The block is dropped
    /// either way: the PIN is not kept past the card's answer.
    pub(super) fn card_verdict(&mut self, verdict: PinVerdict) -> Step<'_> {
        let State::AwaitingCardVerdict { mut txn, forced } = self.state else {
            return self.wrong_state();
        };
        txn.pin = None;
        match verdict {
            PinVerdict::Verified => {
                txn.pin_verified = true;
                self.offline(txn, forced)
            }
            PinVerdict::Wrong { .. } => self.finish(
                txn,
                Outcome::Declined,
                Reason::PinIncorrect,
                TxnStatus::Declined,
            ),
            PinVerdict::Blocked => self.finish(
                txn,
                Outcome::Declined,
                Reason::PinTriesExceeded,
                TxnStatus::Declined,
            ),
        }
    }

    pub(super) fn approve_stored(
        &mut self,
        txn: Txn,
        note: Option<&ReserveDetails<'_>>,
    ) -> Step<'_> {
        if self.journal.pending_len() == 0 {
            self.next_forward_at = self.now + i64::from(self.cfg.forward_retry_s);
        }
        self.finish_with(
            txn,
            Outcome::ApprovedOffline,
            Reason::Approved,
            TxnStatus::ApprovedOffline,
            note,
        )
    }

    /// BankAxept reserve: the debit-note checks, then store or reverse (BAX-02..08).
    pub(super) fn reserve(&mut self, txn: Txn, note: &ReserveDetails<'_>) -> Step<'_> {
        match reserve::check_note(&self.cfg.limits, txn.amount, note, txn.card.account()) {
            Ok(()) => {
                self.set_auth(if note.phone_auth_code.is_empty() {
                    "R"
                } else {
                    note.phone_auth_code
                });
                self.approve_stored(txn, Some(note))
            }
            // BAX-07: a check failed or could not be done; the payment is reversed.
            Err(reason) => self.finish(txn, Outcome::Declined, reason, TxnStatus::Declined),
        }
    }

    pub(super) fn set_auth(&mut self, code: &str) {
        let n = code.len().min(6);
        self.auth = [b' '; 6];
        self.auth[..n].copy_from_slice(&code.as_bytes()[..n]);
        self.auth_len = n;
    }
}
