//! What the terminal's unit tests share: a configuration, test cards, and drivers that take a
//! transaction to the point a test looks at.

extern crate std;
pub(super) use super::*;
pub(super) use crate::flash::NorFlash;
pub(super) use payhil_protocol::host_link::{HostRequest, HostResponse, PanList, response_code};
pub(super) use payhil_protocol::{
    CardData, Currency, IdType, PanText, PinText, PinVerdict, ReserveDetails,
};

pub(super) fn cfg() -> Config<'static> {
    Config {
        identity: Identity {
            model: "T",
            serial: "S",
            firmware_version: "0",
            build_hash: "0",
            terminal_id: "TERM0001",
            merchant_id: "M1",
        },
        merchant_name: "SHOP",
        limits: Limits::default(),
        forward_retry_s: 60,
        forward_deadline_s: TWO_WEEKS_S,
        reserve_deadline_s: TWO_WEEKS_S,
    }
}

pub(super) const DANKORT: &str = "5019100000000006";
pub(super) const BANKAXEPT: &str = "7000000000000005";
pub(super) const ACCOUNT: &str = "12345678903";

pub(super) fn card(
    pan: &'static str,
    network: Network,
    entry_mode: EntryMode,
) -> CardData<'static> {
    let account = if network == Network::BankAxept {
        ACCOUNT
    } else {
        ""
    };
    CardData {
        entry_mode,
        network,
        pan: PanText(pan),
        expiry: Expiry {
            year: 2030,
            month: 12,
        },
        pan_seq: 1,
        account,
    }
}

pub(super) type T<'m> = Terminal<'static, NorFlash<&'m mut [u8]>>;

pub(super) fn boot(mem: &mut [u8]) -> T<'_> {
    boot_with(cfg(), mem)
}

pub(super) fn boot_with<'m>(c: Config<'static>, mem: &'m mut [u8]) -> T<'m> {
    let mut t = Terminal::boot(c, NorFlash::new(mem, 4096)).unwrap();
    t.handle(&Request::SetClock {
        unix_s: 1_800_000_000,
    });
    t
}

/// Drives a purchase up to the point where the terminal wants the host or has finished.
pub(super) fn start(
    t: &mut T<'_>,
    amount: Amount,
    c: CardData<'static>,
    pin: Option<&'static str>,
) -> Option<Response<'static>> {
    assert!(matches!(
        t.handle(&Request::StartPurchase {
            amount,
            forced_offline: false
        }),
        Step::Reply(Response::Accepted { .. })
    ));
    let step = t.handle(&Request::PresentCard(c));
    let step = match (step, pin) {
        (
            Step::Reply(Response::Accepted {
                awaiting: Awaiting::Pin,
            }),
            Some(p),
        ) => t.handle(&Request::EnterPin(PinText(p))),
        (other, _) => other,
    };
    match step {
        Step::Host(_) => None,
        Step::Reply(r) => Some(strip(r)),
        Step::Halt => panic!("halt"),
    }
}

/// Keeps what the tests look at, without the borrow of the terminal.
pub(super) fn strip(r: Response<'_>) -> Response<'static> {
    match r {
        Response::Done(d) => {
            assert!(
                !d.receipt.contains(DANKORT) && !d.receipt.contains(BANKAXEPT),
                "PCI-01: {}",
                d.receipt
            );
            assert!(
                !d.receipt.contains("2030-12") && !d.receipt.contains("12/30"),
                "BAX-05: no expiry"
            );
            Response::Done(TxnResult {
                receipt: "",
                auth_code: "",
                ..d
            })
        }
        Response::Accepted { awaiting } => Response::Accepted { awaiting },
        Response::Queue(q) => Response::Queue(q),
        other => panic!("{other:?}"),
    }
}

pub(super) fn outcome(r: Option<Response<'_>>) -> (Outcome, Reason) {
    match r {
        Some(Response::Done(d)) => (d.outcome, d.reason),
        other => panic!("{other:?}"),
    }
}

pub(super) fn dkk(minor: u64) -> Amount {
    Amount {
        minor,
        currency: Currency::DKK,
    }
}

pub(super) fn offline_purchase(t: &mut T<'_>, minor: u64) -> (Outcome, Reason, u32) {
    assert!(
        start(
            t,
            dkk(minor),
            card(DANKORT, Network::Dankort, EntryMode::Chip),
            Some("1234")
        )
        .is_none()
    );
    match no_host(t, HostUnreachable::NotSent) {
        Step::Reply(Response::Done(r)) => (r.outcome, r.reason, r.txn_seq),
        other => panic!("{other:?}"),
    }
}

pub(super) fn reserve_until_details(t: &mut T<'_>, minor: u64) {
    let nok = Amount {
        minor,
        currency: Currency::NOK,
    };
    assert!(
        start(
            t,
            nok,
            card(BANKAXEPT, Network::BankAxept, EntryMode::Chip),
            Some("1234")
        )
        .is_none()
    );
    assert!(matches!(
        no_host(t, HostUnreachable::NotSent),
        Step::Reply(Response::Accepted {
            awaiting: Awaiting::ReserveDetails
        })
    ));
}

pub(super) fn txn(
    t: &mut T<'_>,
    kind: TxnKind,
    minor: u64,
    tip: u64,
    reference: u32,
) -> Step<'static> {
    let step = t.handle(&Request::StartTransaction {
        kind,
        amount: dkk(minor),
        tip_minor: tip,
        forced_offline: false,
        reference,
    });
    match step {
        Step::Reply(r) => Step::Reply(strip(r)),
        Step::Host(HostRequest::Authorise(d)) => {
            assert_eq!((d.kind, d.related_seq), (kind, reference));
            Step::Host(HostRequest::FetchBlockList { terminal_id: "" })
        }
        other => panic!("{other:?}"),
    }
}

/// Starts a card transaction (no reference) and presents the Dankort chip.
pub(super) fn start_dankort<'t>(t: &'t mut T<'_>, kind: TxnKind, minor: u64, tip: u64) -> Step<'t> {
    t.handle(&Request::StartTransaction {
        kind,
        amount: dkk(minor),
        tip_minor: tip,
        forced_offline: false,
        reference: 0,
    });
    t.handle(&Request::PresentCard(card(
        DANKORT,
        Network::Dankort,
        EntryMode::Chip,
    )))
}

pub(super) fn approve(t: &mut T<'_>, seq: u32) -> (Outcome, Reason, std::string::String) {
    match t.host_result(Ok(HostResponse::AuthResult {
        txn_seq: seq,
        response_code: response_code::APPROVED,
        auth_code: "123456",
    })) {
        Step::Reply(Response::Done(d)) => (d.outcome, d.reason, d.receipt.into()),
        other => panic!("{other:?}"),
    }
}

pub(super) fn totals(t: &mut T<'_>) -> payhil_protocol::SettlementTotals {
    assert!(matches!(
        t.handle(&Request::Reconcile),
        Step::Host(HostRequest::Reconcile { .. })
    ));
    match t.host_result(Err(HostUnreachable::NotSent)) {
        Step::Reply(Response::Totals(x)) => x,
        other => panic!("{other:?}"),
    }
}

pub(super) fn declined_by(t: &mut T<'_>, code: &[u8; 2]) -> (Outcome, Reason, std::string::String) {
    assert!(
        start(
            t,
            dkk(100_00),
            card(DANKORT, Network::Dankort, EntryMode::Chip),
            Some("1234")
        )
        .is_none()
    );
    let seq = t.journal.next_seq() - 1;
    match t.host_result(Ok(HostResponse::AuthResult {
        txn_seq: seq,
        response_code: payhil_protocol::host_link::ResponseCode(*code),
        auth_code: "",
    })) {
        Step::Reply(Response::Done(d)) => (d.outcome, d.reason, d.receipt.into()),
        other => panic!("{other:?}"),
    }
}

/// The host gives no answer (`why`); if the terminal then asks the card to verify the PIN, the
/// card answers as a test card whose PIN is "1234" (verified, else wrong with two tries left).
/// Returns what the tests look at, without the borrow of the terminal (see [`strip`]).
pub(super) fn no_host<F: Flash>(t: &mut Terminal<'_, F>, why: HostUnreachable) -> Step<'static> {
    let block = match t.host_result(Err(why)) {
        Step::Reply(Response::VerifyPin(b)) => b,
        Step::Reply(r) => return Step::Reply(strip(r)),
        Step::Halt => return Step::Halt,
        Step::Host(h) => panic!("{h:?}"),
    };
    card_answers(t, block)
}

/// The card's answer to `block` as [`no_host`] gives it.
pub(super) fn card_answers<F: Flash>(t: &mut Terminal<'_, F>, block: PinBlock) -> Step<'static> {
    let verdict = if block.is_of("1234") {
        PinVerdict::Verified
    } else {
        PinVerdict::Wrong { tries_left: 2 }
    };
    match t.handle(&Request::CardVerdict(verdict)) {
        Step::Reply(r) => Step::Reply(strip(r)),
        Step::Halt => Step::Halt,
        Step::Host(h) => panic!("{h:?}"),
    }
}

/// The DKK batch of `network` in `t` (all zero if it has none).
pub(super) fn batch(
    t: &payhil_protocol::SettlementTotals,
    network: Network,
) -> payhil_protocol::BatchTotal {
    t.batch(network, payhil_protocol::Currency::DKK)
        .copied()
        .unwrap_or(payhil_protocol::BatchTotal {
            network,
            currency: payhil_protocol::Currency::DKK,
            count: 0,
            minor: 0,
            refund_count: 0,
            refund_minor: 0,
        })
}
