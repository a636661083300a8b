//! The in-process bench: the core handles a request, host exchanges go to the host's books as
//! function calls (or nowhere, as the link says), and everything the harness saw is kept in one
//! cloneable value ([`Seen`]) so that a power-loss run can start again from any write.

use fut_core::flash::Flash;
use fut_core::limits::{Limits, ReserveLimits};
use fut_core::terminal::HostUnreachable;
use fut_core::{Config, Step, Terminal};
use payhil_acquirer::Books;
use payhil_cards::instrument::CardInstrument;
use payhil_model::ledger::Ledger;
use payhil_model::oracle::OfflineInvariants;
use payhil_protocol::{
    Awaiting, Currency, Identity, Outcome, PinBlock, QueueStatus, Reason, Request, Response,
};
use payhil_scenario::format::{LinkSpec, PurchaseSpec, TerminalSettings};

/// The terminal's identity in process (the emulator's defaults).
pub const TERMINAL_ID: &str = "TERM0001";

/// The terminal's configuration for a scenario's settings, as the emulator builds it.
pub fn config(t: &TerminalSettings) -> Config<'static> {
    Config {
        identity: Identity {
            model: "PAYHIL-REF-1",
            serial: "SIM-0001",
            firmware_version: "sim",
            build_hash: "0000000000000000000000000000000000000000000000000000000000000000",
            terminal_id: TERMINAL_ID,
            merchant_id: "100200300",
        },
        merchant_name: "PAYHIL TEST SHOP",
        limits: Limits {
            currency: Currency::DKK,
            offline_per_transaction_minor: t.offline_limit.minor,
            offline_per_card_minor: t.card_limit.minor,
            contactless_cvm_limit_minor: t.cvm_limit.minor,
            gambling_daily_max_minor: t.gambling_daily_max.map(|a| a.minor),
            split_window_s: 600,
            self_service: t.self_service,
            reserve: ReserveLimits {
                currency: Currency::NOK,
                phone_auth_above_minor: t.reserve_phone_auth_above.minor,
                aggregate_cap_minor: (t.reserve_cap.minor > 0).then_some(t.reserve_cap.minor),
            },
        },
        forward_retry_s: t.forward_retry_s,
        forward_deadline_s: fut_core::terminal::TWO_WEEKS_S,
        reserve_deadline_s: fut_core::terminal::TWO_WEEKS_S,
    }
}

/// A transaction whose answer the harness had not seen when power was cut: the terminal may
/// have journaled it (and the host may have it) or not; either is allowed, once.
#[derive(Debug, Clone)]
pub enum InFlight {
    /// A purchase (of any kind).
    Purchase(Box<PurchaseSpec>),
    /// A reversal or void of the transaction with this sequence number.
    Reversal(u32),
    /// A capture of a pre-authorisation.
    Capture(Box<PurchaseSpec>, payhil_protocol::Amount),
}

/// Everything the harness saw and the host did: the oracle's side, cloned at every write of a
/// counted run so that a cut there starts from exactly what the harness knew then.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The controlled clock.
    pub now: i64,
    /// What the terminal answered as approved.
    pub ledger: Ledger,
    /// The host's books.
    pub books: Books,
    /// The link.
    pub link: LinkSpec,
    /// The fault epoch (a new one at every network change and power cut).
    pub epoch: u64,
    /// The cards, played by the harness (PIN-try counters).
    pub cards: CardInstrument,
    /// Limit invariants over offline approvals.
    pub invariants: OfflineInvariants,
    /// The transaction in progress, if any.
    pub in_flight: Option<InFlight>,
    /// Sequence numbers by step (steps that made a transaction), for follow-ups.
    pub txns: std::collections::BTreeMap<usize, (u32, PurchaseSpec)>,
    /// Transactions power cuts interrupted: each may be in the books once or not at all.
    pub excused: Vec<InFlight>,
    /// The scenario step being played (1-based; 0: the first boot; past the last: the end of
    /// the run).
    pub step: usize,
    /// Sequence numbers of the advices the terminal sent (whether or not the link delivered
    /// them): a second advice of one must be flagged a repeat (0221/0421), its first not.
    pub advised: std::collections::BTreeSet<u32>,
    /// Power was cut since the run began: the terminal may have marked an advice sent and lost
    /// power before it left, so a first advice flagged a repeat is no finding any more.
    pub cut_since_start: bool,
    /// Advices whose repeat flag was wrong (reported by the exactly-once check).
    pub repeat_findings: Vec<String>,
    /// Advices the host answered since the terminal's last boot: what its queue status must
    /// report as forwarded.
    pub answered_advices: u32,
}

impl Seen {
    /// Before anything happened.
    pub fn new(t: &TerminalSettings, cards: &[payhil_cards::catalogue::TestCard]) -> Self {
        let mut books = Books::default();
        books.cards.extend_from_slice(cards);
        books.clock = payhil_scenario::runner::DEFAULT_CLOCK;
        Self {
            now: payhil_scenario::runner::DEFAULT_CLOCK,
            ledger: Ledger::default(),
            books,
            link: LinkSpec::Up,
            epoch: 0,
            cards: CardInstrument::new(),
            invariants: OfflineInvariants::new(t.offline_limit, t.card_limit.minor),
            in_flight: None,
            txns: std::collections::BTreeMap::new(),
            excused: Vec::new(),
            step: 0,
            advised: std::collections::BTreeSet::new(),
            cut_since_start: false,
            repeat_findings: Vec::new(),
            answered_advices: 0,
        }
    }

    /// Power was cut: whatever transaction was in progress may or may not have been kept.
    pub fn power_cut(&mut self) {
        if let Some(f) = self.in_flight.take() {
            self.excused.push(f);
        }
        self.cut_since_start = true;
        self.new_epoch();
    }

    /// A new fault epoch: a request the host sees again after this may repeat one whose answer
    /// was lost.
    pub fn new_epoch(&mut self) {
        self.epoch += 1;
        self.books.fault_context = (self.epoch, false);
    }
}

/// A terminal's answer, copied out of the core's borrowed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Accepted, now waiting for this.
    Accepted(Awaiting),
    /// The card must verify this PIN block.
    VerifyPin(PinBlock),
    /// A finished transaction.
    Done {
        /// Outcome.
        outcome: Outcome,
        /// Reason.
        reason: Reason,
        /// Sequence number (0: none).
        seq: u32,
    },
    /// The queue.
    Queue(QueueStatus),
    /// The clock.
    Clock(i64),
    /// Reconciliation totals were reported.
    Totals,
    /// Anything else, as text.
    Other(String),
}

impl Answer {
    fn of(r: &Response<'_>) -> Self {
        match r {
            Response::Accepted { awaiting } => Answer::Accepted(*awaiting),
            Response::VerifyPin(b) => Answer::VerifyPin(*b),
            Response::Done(d) => Answer::Done {
                outcome: d.outcome,
                reason: d.reason,
                seq: d.txn_seq,
            },
            Response::Queue(q) => Answer::Queue(*q),
            Response::Clock { unix_s } => Answer::Clock(*unix_s),
            Response::Totals(_) => Answer::Totals,
            other => Answer::Other(format!("{other:?}")),
        }
    }
}

/// The terminal lost power (its flash was cut) while handling a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Halted;

/// Called before every call into the core, with what the harness knows at that moment: a
/// counted run keeps a copy per write there.
pub trait Checkpoint {
    /// The core is about to be called.
    fn before_call(&mut self, seen: &Seen);
}

/// No checkpoints (a run that is not counted).
pub struct NoCheckpoints;

impl Checkpoint for NoCheckpoints {
    fn before_call(&mut self, _seen: &Seen) {}
}

/// One host exchange as the link allows it.
fn exchange(
    seen: &mut Seen,
    req: &payhil_protocol::host_link::HostRequest<'_>,
) -> Result<payhil_acquirer::Reply, HostUnreachable> {
    if let payhil_protocol::host_link::HostRequest::Advice(d) = req {
        let sent_before = !seen.advised.insert(d.txn_seq);
        if sent_before && !d.repeat {
            seen.repeat_findings.push(format!(
                "#{} was advised again without the repeat flag (0221/0421)",
                d.txn_seq
            ));
        } else if !sent_before && d.repeat && !seen.cut_since_start {
            seen.repeat_findings.push(format!(
                "#{}'s first advice was flagged a repeat, though it was never sent and no power \
                 cut could have hidden a send",
                d.txn_seq
            ));
        }
    }
    match seen.link {
        LinkSpec::Up => {
            if let payhil_protocol::host_link::HostRequest::Advice(_) = req {
                seen.answered_advices += 1;
            }
            Ok(seen.books.handle(req))
        }
        LinkSpec::Down => Err(HostUnreachable::NotSent),
        LinkSpec::Blackhole => Err(HostUnreachable::NoAnswer),
    }
}

/// Sends one request to the terminal, carrying out its host exchanges, and returns its answer.
pub fn request<F: Flash>(
    t: &mut Terminal<'static, F>,
    seen: &mut Seen,
    cp: &mut impl Checkpoint,
    req: &Request<'_>,
) -> Result<Answer, Halted> {
    cp.before_call(seen);
    let mut step = t.handle(req);
    loop {
        match step {
            Step::Halt => return Err(Halted),
            Step::Reply(r) => return Ok(Answer::of(&r)),
            Step::Host(msg) => {
                let result = exchange(seen, &msg);
                cp.before_call(seen);
                step = match &result {
                    Ok(reply) => t.host_result(Ok(reply.message())),
                    Err(e) => t.host_result(Err(*e)),
                };
            }
        }
    }
}
