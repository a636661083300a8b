//! Deliberate bugs, for testing the harness (hidden `--inject-bug`): each makes the reference
//! terminal misbehave the way real terminals were found to, at its interface only (what it
//! answers the harness, what it sends the host), so a test can show the harness's verdict
//! catches it. Never on by default; the core's logic is untouched.

use payhil_protocol::host_link::{HostRequest, HostResponse, response_code};
use payhil_protocol::{
    HostBalance, Outcome, QueueStatus, Reason, Response, SettlementTotals, TxnResult,
};

/// One injectable bug.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bug {
    /// The first forwarded offline item is never sent, but taken off the queue as if the host
    /// had acknowledged it (a lost approval).
    DropFirstAdvice,
    /// Every advice is sent a second time (flagged a repeat) after the host acknowledged it.
    ResendAdvice,
    /// Advices carry the time they are forwarded a day later, not the purchase's.
    RedateAdvice,
    /// Co-badged Visa purchases are sent to the host as Dankort.
    RouteVisaAsDankort,
    /// The reconciliation sent to the host is one øre high, and the terminal reports the
    /// host's verdict as "in balance" whatever it was.
    ClaimInBalance,
    /// The queue report counts one item fewer declined by the host than there were.
    HideHostDeclines,
    /// The queue report says one more item is pending than there is.
    PhantomPending,
    /// Card data the core refused (malformed, inconsistent, a bad card number) is answered as
    /// approved online: a terminal whose card reader trusts whatever the card says.
    ApproveBadCardData,
    /// Flash writes go to a write-back cache in RAM and reach the flash only when the next
    /// request comes in: the terminal answers (approves) before its journal write is durable,
    /// so a power cut right after an approval loses it. A polite power-off request flushed the
    /// cache first and hid this; a real cut does not.
    ApproveBeforeWrite,
    /// Advices are never flagged a repeat (always 0220/0420), also when sent again after a
    /// lost acknowledgement: a host that does not keep every answer books them twice.
    NeverFlagRepeat,
    /// Every advice is flagged a repeat (0221/0421), also the first send of an item.
    AlwaysFlagRepeat,
    /// The queue report counts one more item forwarded since boot than the host acknowledged.
    OvercountForwarded,
    /// ZVT: a declined or aborted transaction is reported to the cash register as a success
    /// (result 00), the way a terminal that forgets to copy the result code does.
    ZvtDeclineAsApproved,
    /// ZVT: an offline approval is reported to the cash register as an online one (payment
    /// type 60 instead of 40), so the merchant believes the money is authorised.
    ZvtOfflineAsOnline,
    /// ZVT: a result the cash register never acknowledged is not reversed (the terminal keeps
    /// a payment the cash register believes failed).
    ZvtNoAutoReversal,
    /// ZVT: a payment of 0.00 from the cash register is taken as nothing to do and completed
    /// (80 00 00, then 06 0F) instead of refused, so the cash register books a sale as paid.
    ZvtZeroAmountCompleted,
    /// ZVT: an approval's status information names an amount one krone above the one charged
    /// (the cash register books what it is told).
    ZvtWrongAmount,
}

/// The bugs in force and their state.
#[derive(Debug, Default)]
pub struct Bugs {
    on: Vec<Bug>,
    dropped_one: bool,
}

impl Bugs {
    /// These bugs.
    pub fn new(on: &[Bug]) -> Self {
        Self {
            on: on.to_vec(),
            dropped_one: false,
        }
    }

    fn has(&self, b: Bug) -> bool {
        self.on.contains(&b)
    }

    /// What the terminal sends the host, as the bugs change it.
    pub fn request<'a>(&self, msg: HostRequest<'a>) -> HostRequest<'a> {
        let msg = match msg {
            HostRequest::Advice(mut d)
                if self.has(Bug::NeverFlagRepeat) || self.has(Bug::AlwaysFlagRepeat) =>
            {
                d.repeat = self.has(Bug::AlwaysFlagRepeat);
                HostRequest::Advice(d)
            }
            other => other,
        };
        match msg {
            HostRequest::Advice(mut d) if self.has(Bug::RedateAdvice) => {
                d.local_time = d.local_time.saturating_add(86_400);
                HostRequest::Advice(d)
            }
            HostRequest::Authorise(mut d) | HostRequest::Advice(mut d)
                if self.has(Bug::RouteVisaAsDankort)
                    && d.network == payhil_protocol::Network::Visa =>
            {
                d.network = payhil_protocol::Network::Dankort;
                if matches!(msg, HostRequest::Advice(_)) {
                    HostRequest::Advice(d)
                } else {
                    HostRequest::Authorise(d)
                }
            }
            HostRequest::Reconcile {
                terminal_id,
                mut totals,
            } if self.has(Bug::ClaimInBalance) => {
                if let Some(Some(first)) = totals.per_currency.first_mut() {
                    first.debits_minor = first.debits_minor.saturating_add(1);
                }
                HostRequest::Reconcile {
                    terminal_id,
                    totals,
                }
            }
            other => other,
        }
    }

    /// An answer made up instead of sending `msg` (the dropped advice), if a bug says so.
    pub fn instead_of_sending(&mut self, msg: &HostRequest<'_>) -> Option<HostResponse<'static>> {
        match msg {
            HostRequest::Advice(d) if self.has(Bug::DropFirstAdvice) && !self.dropped_one => {
                self.dropped_one = true;
                Some(HostResponse::AdviceAck {
                    txn_seq: d.txn_seq,
                    response_code: response_code::APPROVED,
                })
            }
            _ => None,
        }
    }

    /// What to send once more after the host answered `msg`: the same advice, flagged a
    /// repeat as a re-send should be, so only the host's delivery log shows the duplicate.
    pub fn send_again<'a>(&self, msg: &HostRequest<'a>) -> Option<HostRequest<'a>> {
        match msg {
            HostRequest::Advice(d) if self.has(Bug::ResendAdvice) => {
                let mut d = *d;
                d.repeat = true;
                Some(HostRequest::Advice(d))
            }
            _ => None,
        }
    }

    /// What the terminal answers the harness, as the bugs change it.
    pub fn reply<'a>(&self, resp: Response<'a>) -> Response<'a> {
        match resp {
            Response::Totals(t) if self.has(Bug::ClaimInBalance) => {
                Response::Totals(SettlementTotals {
                    host: HostBalance::InBalance,
                    ..t
                })
            }
            Response::Queue(q)
                if self.has(Bug::HideHostDeclines)
                    || self.has(Bug::PhantomPending)
                    || self.has(Bug::OvercountForwarded) =>
            {
                let mut q: QueueStatus = q;
                if self.has(Bug::OvercountForwarded) {
                    q.forwarded = q.forwarded.saturating_add(1);
                }
                if self.has(Bug::HideHostDeclines) {
                    q.declined_by_host = q.declined_by_host.saturating_sub(1);
                }
                if self.has(Bug::PhantomPending) {
                    q.pending = q.pending.saturating_add(1);
                }
                Response::Queue(q)
            }
            Response::Done(d)
                if self.has(Bug::ApproveBadCardData)
                    && matches!(
                        d.reason,
                        Reason::CardDataMalformed
                            | Reason::CardDataDuplicated
                            | Reason::CardDataMissing
                            | Reason::CardDataInconsistent
                            | Reason::CardNumberInvalid
                    ) =>
            {
                Response::Done(TxnResult {
                    outcome: Outcome::ApprovedOnline,
                    reason: Reason::Approved,
                    auth_code: "123456",
                    ..d
                })
            }
            other => other,
        }
    }
}
