//! The host's records and decisions.

use des::TdesEde2;
use des::cipher::{BlockDecrypt, KeyInit};
use payhil_cards::catalogue::{self, IssuerBehaviour, TestCard};
use payhil_cards::{MaskedPan, Pan};
use payhil_protocol::host_link::{
    AuthMark, EncryptedPinBlock, HostRequest, HostResponse, PanList, ReconcileTotals, ResponseCode,
    TEST_PIN_KEY, TxnData, response_code as rc,
};
use payhil_protocol::{Amount, EntryMode, Expiry, Network, PinBlock, TxnKind};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// How an item reached the books.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SettledKind {
    /// Authorised online.
    Online,
    /// Forwarded offline purchase (advice).
    Offline,
}

/// One transaction in the host's books.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    /// Terminal id.
    pub terminal_id: String,
    /// Terminal's sequence number (stable id).
    pub seq: u32,
    /// Online or forwarded.
    pub kind: SettledKind,
    /// Network.
    pub network: Network,
    /// Entry mode.
    pub entry_mode: EntryMode,
    /// Masked card number.
    pub pan: MaskedPan,
    /// Amount.
    pub amount: Amount,
    /// Local time at the terminal.
    pub local_time: i64,
    /// Authorisation code.
    pub auth_code: String,
    /// "00" if in the settlement; otherwise the response code it was declined with (NETS-10).
    /// Compares equal to a number when it is that number's two digits (`== 0`: approved).
    pub response_code: ResponseCode,
    /// Purchase, refund, pre-authorisation, capture or reversal.
    pub txn: TxnKind,
    /// A later reversal cancelled it (PBS-03).
    pub reversed: bool,
    /// Captures and reversals: the transaction referred to.
    pub related_seq: u32,
    /// The harness's controlled clock when the host first received it (Unix seconds).
    pub received: i64,
}

impl Settled {
    /// The banking day the acquirer settles it on (CARD-09, CARD-11): from the transaction's
    /// date, but never before the host has it (an offline item settles from the day it was
    /// forwarded). `None` for a time outside the calendar.
    pub fn settles(&self) -> Option<time::Date> {
        crate::banking::settles_at(self.network, self.local_time, self.received)
    }
}

/// One request as it arrived, duplicates included (for the oracle's duplicate check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Terminal id.
    pub terminal_id: String,
    /// Stable id.
    pub seq: u32,
    /// The harness's fault epoch when it arrived (see [`Books::fault_context`]).
    pub epoch: u64,
    /// Faults were active on the link when it arrived.
    pub faulty: bool,
    /// The terminal flagged it a repeat (0221 / 0421, or a repeated 0200): it may have sent
    /// it before. The harness checks the flag against what the host saw (PBS-02).
    pub repeat: bool,
}

/// One reconciliation request (0500) and the host's verdict, as the host saw them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciliation {
    /// Terminal id.
    pub terminal_id: String,
    /// The totals the terminal sent.
    pub totals: ReconcileTotals,
    /// What the host answered.
    pub in_balance: bool,
}

/// Everything the host has seen and decided.
#[derive(Debug, Clone, Default)]
pub struct Books {
    /// By (terminal, seq): each transaction once.
    pub items: BTreeMap<(String, u32), Settled>,
    /// Every advice delivery in arrival order.
    pub advice_deliveries: Vec<Delivery>,
    /// Every authorisation request in arrival order.
    pub auth_requests: Vec<Delivery>,
    /// Every reconciliation in arrival order.
    pub reconciliations: Vec<Reconciliation>,
    /// The harness's fault epoch and whether faults are active, stamped on each delivery: a
    /// request delivered twice in one clean epoch was sent again after its answer.
    pub fault_context: (u64, bool),
    /// The harness's controlled clock (the host has no clock of its own in a test: it lives at
    /// the terminal's time), stamped on each item as it arrives.
    pub clock: i64,
    /// Response codes configured for cards (see [`Books::answer_card_with`]); they replace the
    /// issuer's decision for the card's purchases, refunds and pre-authorisations.
    pub configured_answers: Vec<(Pan, ResponseCode)>,
    /// Test cards a scenario defined for this run, known to the issuer besides the catalogue's.
    pub cards: Vec<TestCard>,
    /// The issuer's PIN-try counter per card (online PIN), where it is not full: a wrong PIN
    /// uses a try, the right one resets it, none left refuses every PIN (75).
    pub pin_tries: Vec<(Pan, u8)>,
}

/// The issuer's PIN-try limit, the same as the card's own (`payhil_cards::instrument`).
const PIN_TRY_LIMIT: u8 = payhil_cards::instrument::PIN_TRY_LIMIT;

/// The PIN inside DE 52: decrypted with the documented test PIN key (2-key TDES), then read as
/// an ISO 9564 format 0 block for the card. `None` if it is not one.
fn online_pin(block: &EncryptedPinBlock, pan: &str) -> Option<PinBlock> {
    let cipher = TdesEde2::new(&TEST_PIN_KEY.into());
    let mut b = block.0.into();
    cipher.decrypt_block(&mut b);
    PinBlock::from_iso0(&b.into(), pan)
}

impl Books {
    /// A test card the issuer knows, by card number: the run's own first, then the catalogue's.
    fn card(&self, pan: &str) -> Option<&TestCard> {
        self.cards
            .iter()
            .find(|c| c.pan.reveal() == pan)
            .or_else(|| catalogue::by_pan(pan))
    }

    /// The issuer checks an online PIN (DE 52) against the card's: `None` when it is right
    /// (the counter is reset), else 55 (wrong or unreadable; one try used) or 75 (no tries
    /// left, whatever the PIN). Called once per transaction: a repeat gets the booked answer.
    fn check_pin(&mut self, pan: &Pan, block: &EncryptedPinBlock) -> Option<ResponseCode> {
        let card_pin = self.card(pan.reveal())?.pin.clone();
        let at = self.pin_tries.iter().position(|(p, _)| p == pan);
        let left = at.map_or(PIN_TRY_LIMIT, |i| self.pin_tries[i].1);
        if left == 0 {
            return Some(rc::PIN_TRIES_EXCEEDED);
        }
        let right = online_pin(block, pan.reveal()).is_some_and(|p| p.is_of(card_pin.reveal()));
        let now = if right { PIN_TRY_LIMIT } else { left - 1 };
        match at {
            Some(i) => self.pin_tries[i].1 = now,
            None => self.pin_tries.push((pan.clone(), now)),
        }
        (!right).then_some(rc::INCORRECT_PIN)
    }

    /// Card numbers of the test cards the issuer has blocked (CARD-10).
    fn blocked_cards(&self) -> String {
        catalogue::all()
            .iter()
            .chain(&self.cards)
            .filter(|c| c.issuer == IssuerBehaviour::Blocked)
            .map(|c| c.pan.reveal().to_string())
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn issuer_decision(card: Option<&TestCard>, d: &TxnData<'_>) -> ResponseCode {
    let Some(card) = card else {
        return rc::INVALID_CARD;
    };
    let txn = time::OffsetDateTime::from_unix_timestamp(d.local_time).ok();
    let expired = d.expiry != Expiry { year: 0, month: 0 }
        && txn.is_some_and(|t| {
            (t.year(), u8::from(t.month())) > (i32::from(card.expiry.year), card.expiry.month)
        });
    match card.issuer {
        IssuerBehaviour::Blocked => rc::BLOCKED,
        _ if expired => rc::EXPIRED,
        IssuerBehaviour::Approve => rc::APPROVED,
        IssuerBehaviour::InsufficientFunds => rc::INSUFFICIENT_FUNDS,
        IssuerBehaviour::IssuerUnavailable => rc::ISSUER_UNAVAILABLE,
    }
}

/// The host's answer to one request, owned so the books need not outlive it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Answer to an authorisation or an advice.
    Txn {
        /// True for an advice acknowledgement, false for an authorisation result.
        advice: bool,
        /// The request's sequence number.
        txn_seq: u32,
        /// ISO 8583 response code.
        response_code: ResponseCode,
        /// Authorisation code (approved authorisations only).
        auth_code: String,
    },
    /// The blocked-card list, comma-separated (CARD-10).
    BlockList(String),
    /// Whether a terminal's reconciliation totals match the books (0510).
    Reconciled(bool),
}

impl Reply {
    /// The wire message.
    pub fn message(&self) -> HostResponse<'_> {
        match self {
            Reply::Txn {
                advice: true,
                txn_seq,
                response_code,
                ..
            } => HostResponse::AdviceAck {
                txn_seq: *txn_seq,
                response_code: *response_code,
            },
            Reply::Txn {
                txn_seq,
                response_code,
                auth_code,
                ..
            } => HostResponse::AuthResult {
                txn_seq: *txn_seq,
                response_code: *response_code,
                auth_code,
            },
            Reply::BlockList(pans) => HostResponse::BlockList {
                pans: PanList(pans),
            },
            Reply::Reconciled(ok) => HostResponse::ReconcileResult { in_balance: *ok },
        }
    }

    /// The response code of a transaction reply (`None` for a block list).
    pub fn response_code(&self) -> Option<ResponseCode> {
        match self {
            Reply::Txn { response_code, .. } => Some(*response_code),
            Reply::BlockList(_) => None,
            Reply::Reconciled(_) => None,
        }
    }
}

impl Books {
    /// From now on the host answers `code` to every new purchase, refund or pre-authorisation
    /// (and advice) for the card `pan`, whatever its issuer would say: how a test makes the host
    /// give an answer no test card gives, e.g. an alphanumeric code such as "N7" (issue 9).
    pub fn answer_card_with(&mut self, pan: &Pan, code: ResponseCode) {
        self.configured_answers.retain(|(p, _)| p != pan);
        self.configured_answers.push((pan.clone(), code));
    }

    fn configured_answer(&self, pan: &Pan) -> Option<ResponseCode> {
        self.configured_answers
            .iter()
            .find(|(p, _)| p == pan)
            .map(|(_, c)| *c)
    }

    /// Decides and records one request. Requests for a card number the issuer does not know
    /// are declined (14) and not booked.
    pub fn handle(&mut self, req: &HostRequest<'_>) -> Reply {
        let (advice, d) = match req {
            HostRequest::Authorise(d) => (false, d),
            HostRequest::Advice(d) => (true, d),
            HostRequest::FetchBlockList { .. } => return Reply::BlockList(self.blocked_cards()),
            HostRequest::Reconcile {
                terminal_id,
                totals,
            } => {
                let in_balance = self.reconcile(terminal_id, totals);
                self.reconciliations.push(Reconciliation {
                    terminal_id: terminal_id.to_string(),
                    totals: *totals,
                    in_balance,
                });
                return Reply::Reconciled(in_balance);
            }
        };
        let delivery = Delivery {
            terminal_id: d.terminal_id.into(),
            seq: d.txn_seq,
            epoch: self.fault_context.0,
            faulty: self.fault_context.1,
            repeat: d.repeat,
        };
        if advice {
            &mut self.advice_deliveries
        } else {
            &mut self.auth_requests
        }
        .push(delivery);
        let key = (d.terminal_id.to_string(), d.txn_seq);
        let (code, auth) = match (self.items.get(&key), Pan::parse(d.pan.0)) {
            // A repeat: the same answer, booked once (PBS-02).
            (Some(prev), _) => (prev.response_code, prev.auth_code.clone()),
            (None, Err(_)) => (rc::INVALID_CARD, String::new()),
            (None, Ok(pan)) if d.kind == TxnKind::Capture || d.kind == TxnKind::Reversal => {
                let code = self.follow_up(d);
                let kind = if advice {
                    SettledKind::Offline
                } else {
                    SettledKind::Online
                };
                let auth = if code == rc::APPROVED {
                    auth_code(d.txn_seq)
                } else {
                    String::new()
                };
                let item = settled(d, pan.masked(), kind, code, auth.clone(), self.clock);
                self.items.insert(key, item);
                (code, auth)
            }
            (None, Ok(pan)) => {
                let configured = self.configured_answer(&pan);
                let (kind, code, auth) = if advice {
                    // The purchase already happened; the issuer can still refuse to pay
                    // (blocked card, no funds): the merchant's risk (NETS-10).
                    let code = match configured
                        .unwrap_or_else(|| issuer_decision(self.card(d.pan.0), d))
                    {
                        rc::ISSUER_UNAVAILABLE | rc::EXPIRED => rc::APPROVED,
                        other => other,
                    };
                    // The host's own code: the terminal's offline or reserve marker is not an
                    // authorisation code; an issuer's phone code for a reserve payment is.
                    let auth = match d.auth_mark() {
                        AuthMark::Code(c) => c.to_string(),
                        _ => auth_code(d.txn_seq),
                    };
                    (SettledKind::Offline, code, auth)
                } else {
                    // The PIN first: an issuer answers nothing else for a wrong one.
                    let pin_refusal = d.pin_block.and_then(|b| self.check_pin(&pan, &b));
                    (
                        SettledKind::Online,
                        pin_refusal
                            .or(configured)
                            .unwrap_or_else(|| issuer_decision(self.card(d.pan.0), d)),
                        auth_code(d.txn_seq),
                    )
                };
                let item = settled(d, pan.masked(), kind, code, auth, self.clock);
                let auth = item.auth_code.clone();
                self.items.insert(key, item);
                (code, auth)
            }
        };
        let auth_code = if advice { String::new() } else { auth };
        Reply::Txn {
            advice,
            txn_seq: d.txn_seq,
            response_code: code,
            auth_code,
        }
    }

    /// Checks a capture against its pre-authorisation (CARD-06) or applies a reversal to its
    /// original (PBS-03); returns the response code.
    fn follow_up(&mut self, d: &TxnData<'_>) -> ResponseCode {
        let original = self
            .items
            .get_mut(&(d.terminal_id.to_string(), d.related_seq));
        let Some(o) = original.filter(|o| o.response_code == rc::APPROVED && !o.reversed) else {
            return rc::NOT_FOUND;
        };
        match d.kind {
            TxnKind::Capture if o.txn != TxnKind::PreAuthorisation => rc::NOT_FOUND,
            TxnKind::Capture if d.amount.minor > o.amount.minor => rc::INVALID_AMOUNT,
            TxnKind::Capture => {
                let already = self.items.values().any(|i| {
                    i.txn == TxnKind::Capture
                        && i.response_code == rc::APPROVED
                        && i.related_seq == d.related_seq
                });
                if already { rc::DUPLICATE } else { rc::APPROVED }
            }
            _ => {
                o.reversed = true;
                rc::APPROVED
            }
        }
    }

    /// Compares a terminal's totals with the books for it, currency by currency: debits are
    /// purchases and captures, credits refunds, each settled once and not reversed.
    pub fn reconcile(&self, terminal_id: &str, t: &ReconcileTotals) -> bool {
        let mut mine = ReconcileTotals::default();
        for s in self.settled().filter(|s| s.terminal_id == terminal_id) {
            if mine.add(s.amount, s.txn == TxnKind::Refund).is_err() {
                // More currencies than one reconciliation carries: no terminal can match.
                return false;
            }
        }
        mine.same_as(t)
    }

    /// Items in the settlement, in settlement order: approved purchases, captures and refunds
    /// that were not reversed.
    pub fn settled(&self) -> impl Iterator<Item = &Settled> {
        self.items.values().filter(|s| {
            s.response_code == rc::APPROVED
                && !s.reversed
                && matches!(
                    s.txn,
                    TxnKind::Purchase | TxnKind::Capture | TxnKind::Refund
                )
        })
    }

    /// The settlement file: one batch per network, totals per batch, declined forwarded items
    /// listed apart (NETS-10). Deterministic for snapshots: sorted, no wall-clock time.
    pub fn settlement_file(&self) -> String {
        let mut by_network: BTreeMap<Network, Vec<&Settled>> = BTreeMap::new();
        for s in self.settled() {
            by_network.entry(s.network).or_default().push(s);
        }
        let mut out = String::from("PAYHIL ACQUIRER SETTLEMENT\n");
        let mut count = 0;
        for (network, items) in &by_network {
            let _ = writeln!(out, "BATCH {}", network.label());
            // Per currency: a count and a sum of that currency only (never two added).
            let mut totals: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
            let mut refunds: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
            for s in items {
                let _ = writeln!(out, "  {}", line(s));
                // Refunds are credits to the cardholder: totalled apart (CARD-07).
                let sums = if s.txn == TxnKind::Refund {
                    &mut refunds
                } else {
                    &mut totals
                };
                let (n, minor) = sums.entry(s.amount.currency.alpha()).or_default();
                *n += 1;
                *minor = minor.saturating_add(s.amount.minor);
                count += 1;
            }
            let label = network.label();
            for (cur, (n, minor)) in totals {
                let _ = writeln!(
                    out,
                    "  TOTAL {label} COUNT {n} {cur} {}.{:02}",
                    minor / 100,
                    minor % 100
                );
            }
            for (cur, (n, minor)) in refunds {
                let _ = writeln!(
                    out,
                    "  REFUNDS {label} COUNT {n} {cur} -{}.{:02}",
                    minor / 100,
                    minor % 100
                );
            }
        }
        let declined: Vec<_> = self
            .items
            .values()
            .filter(|s| {
                // Offline purchases the issuer refused (NETS-10); a reversal of something the
                // host never had is not a loss and is not listed.
                s.kind == SettledKind::Offline
                    && s.response_code != rc::APPROVED
                    && s.txn == TxnKind::Purchase
            })
            .collect();
        if !declined.is_empty() {
            out.push_str("DECLINED AFTER FORWARDING\n");
            for s in declined {
                let _ = writeln!(out, "  {} RC {}", line(s), s.response_code);
            }
        }
        let _ = writeln!(out, "END COUNT {count}");
        out
    }
}

fn line(s: &Settled) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(s.local_time).ok();
    let at = t
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| s.local_time.to_string());
    // CARD-09/CARD-11: when the acquirer settles it, on a banking day.
    let settles = s.settles().map(|d| d.to_string()).unwrap_or_default();
    format!(
        "{} {:06} {:<7} {}{:<16} {} {}.{:02} AUTH {:<6} {} SETTLES {}",
        s.terminal_id,
        s.seq,
        match s.kind {
            SettledKind::Online => "ONLINE",
            SettledKind::Offline => "OFFLINE",
        },
        match s.txn {
            TxnKind::Refund => "REFUND ",
            TxnKind::Capture => "CAPTURE ",
            _ => "",
        },
        s.pan.to_string(),
        s.amount.currency.alpha(),
        s.amount.minor / 100,
        s.amount.minor % 100,
        s.auth_code,
        at,
        settles
    )
}

fn settled(
    d: &TxnData<'_>,
    pan: MaskedPan,
    kind: SettledKind,
    code: ResponseCode,
    auth: String,
    received: i64,
) -> Settled {
    Settled {
        terminal_id: d.terminal_id.to_string(),
        seq: d.txn_seq,
        kind,
        network: d.network,
        entry_mode: d.entry_mode,
        pan,
        amount: d.amount,
        local_time: d.local_time,
        auth_code: if code == rc::APPROVED {
            auth
        } else {
            String::new()
        },
        response_code: code,
        txn: d.kind,
        reversed: false,
        related_seq: d.related_seq,
        received,
    }
}

/// Deterministic six-digit authorisation code for a sequence number (stable snapshots).
fn auth_code(seq: u32) -> String {
    format!("{:06}", (u64::from(seq) * 7919 + 100_003) % 1_000_000)
}

mod oracle_view;

#[cfg(test)]
mod tests;
