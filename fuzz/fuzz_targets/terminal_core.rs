//! Arbitrary sequences of test-agent requests and host results into the firmware core, with a
//! power cut at an arbitrary flash write: the core must never panic, and after a reboot on the
//! same flash it must mount. (The differential check against the harness's model is a later
//! target.)
#![no_main]

use arbitrary::Arbitrary;
use fut_core::flash::{NorFlash, PowerCut};
use fut_core::limits::Limits;
use fut_core::terminal::HostUnreachable;
use fut_core::{Config, Step, Terminal};
use libfuzzer_sys::fuzz_target;
use payhil_protocol::TxnKind;
use payhil_protocol::host_link::{HostResponse, ResponseCode};
use payhil_protocol::{
    Amount, CardData, Currency, EntryMode, Expiry, IdType, Identity, Network, PanText, PinText,
    PinVerdict, Request, ReserveDetails,
};

#[derive(Arbitrary, Debug)]
enum Op {
    Start {
        minor: u32,
        forced: bool,
    },
    Card {
        entry: u8,
        network: u8,
        pan: u8,
        year: u16,
        month: u8,
    },
    Pin {
        ok: bool,
    },
    Cancel,
    Advance {
        secs: u16,
    },
    Forward,
    Status,
    ChipError,
    Reserve {
        attendant: bool,
        id: u8,
        code: bool,
    },
    Txn {
        kind: u8,
        minor: u16,
        tip: u8,
        reference: u8,
    },
    Reconcile,
    /// The card's verdict on the PIN the terminal asked it to verify offline (issue 9).
    CardVerdict {
        verdict: u8,
        tries_left: u8,
    },
}

#[derive(Arbitrary, Debug)]
enum Host {
    Approve,
    /// Any two-character response code: each byte picks a letter or digit, so unknown codes
    /// such as "N7" are explored as much as the known ones.
    Decline([u8; 2]),
    Unreachable,
    /// The request is swallowed: the clock moves in steps of `step` seconds (0 taken as 1)
    /// while the terminal waits (PROTOCOL.md 4.8) until its deadline passes.
    Swallowed { step: u8 },
}

/// The response code a fuzzed host answers with.
fn code_of(host: &Host) -> ResponseCode {
    const ALNUM: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    match host {
        Host::Decline([a, b]) => ResponseCode([
            ALNUM[usize::from(*a) % ALNUM.len()],
            ALNUM[usize::from(*b) % ALNUM.len()],
        ]),
        _ => payhil_protocol::host_link::response_code::APPROVED,
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    ops: Vec<(Op, Host)>,
    cut_at: Option<u16>,
}

const PANS: [&str; 4] = [
    "5019100000000006",
    "4571100000000009",
    "4111111111111111",
    "5019100000000007",
];

fn cfg() -> Config<'static> {
    Config {
        identity: Identity {
            model: "FUZZ",
            serial: "0",
            firmware_version: "0",
            build_hash: "0",
            terminal_id: "T",
            merchant_id: "M",
        },
        merchant_name: "SHOP",
        limits: Limits::default(),
        forward_retry_s: 60,
        forward_deadline_s: fut_core::terminal::TWO_WEEKS_S,
        reserve_deadline_s: fut_core::terminal::TWO_WEEKS_S,
    }
}

fuzz_target!(|input: Input| {
    let mut mem = vec![0xFFu8; 8 * 4096];
    let mut flash = NorFlash::new(&mut mem[..], 4096);
    flash.cut_power_at(input.cut_at.map(|at| PowerCut {
        at: u32::from(at),
        tear: at % 2 == 0,
    }));
    let Ok(mut t) = Terminal::boot(cfg(), flash) else {
        return;
    };
    t.handle(&Request::SetClock {
        unix_s: 1_772_446_500,
    });
    let mut halted = false;
    for (op, host) in &input.ops {
        let entry = [
            EntryMode::Chip,
            EntryMode::Contactless,
            EntryMode::Wallet,
            EntryMode::Magstripe,
        ];
        let networks = [
            Network::Dankort,
            Network::Visa,
            Network::VisaDebit,
            Network::Mastercard,
            Network::BankAxept,
        ];
        let req = match *op {
            Op::Start { minor, forced } => Request::StartPurchase {
                amount: Amount {
                    minor: u64::from(minor),
                    currency: Currency::DKK,
                },
                forced_offline: forced,
            },
            Op::Card {
                entry: e,
                network,
                pan,
                year,
                month,
            } => Request::PresentCard(CardData {
                entry_mode: entry[usize::from(e) % 4],
                network: networks[usize::from(network) % 5],
                pan: PanText(PANS[usize::from(pan) % 4]),
                expiry: Expiry { year, month },
                pan_seq: 1,
                account: if network % 5 == 4 { "12345678903" } else { "" },
            }),
            Op::Pin { ok } => Request::EnterPin(PinText(if ok { "1234" } else { "" })),
            Op::Cancel => Request::Cancel,
            Op::Advance { secs } => Request::AdvanceClock {
                secs: u32::from(secs),
            },
            Op::Forward => Request::ForwardQueue,
            Op::Status => Request::QueueStatus,
            Op::ChipError => Request::ChipUnreadable,
            Op::Txn {
                kind,
                minor,
                tip,
                reference,
            } => Request::StartTransaction {
                kind: [
                    TxnKind::Purchase,
                    TxnKind::Refund,
                    TxnKind::PreAuthorisation,
                    TxnKind::Capture,
                    TxnKind::Reversal,
                ][usize::from(kind) % 5],
                amount: Amount {
                    minor: u64::from(minor),
                    currency: Currency::DKK,
                },
                tip_minor: u64::from(tip),
                forced_offline: false,
                reference: u32::from(reference),
            },
            Op::Reconcile => Request::Reconcile,
            Op::CardVerdict {
                verdict,
                tries_left,
            } => Request::CardVerdict(match verdict % 3 {
                0 => PinVerdict::Verified,
                1 => PinVerdict::Wrong { tries_left },
                _ => PinVerdict::Blocked,
            }),
            Op::Reserve {
                attendant,
                id,
                code,
            } => Request::EnterReserveDetails(ReserveDetails {
                attendant_present: attendant,
                id_type: [
                    IdType::BankCardWithPhoto,
                    IdType::DriversLicence,
                    IdType::NationalIdCard,
                    IdType::Passport,
                ][usize::from(id) % 4],
                id_reference: ["AB12345", "12345678901", "X1234567", "12345678"]
                    [usize::from(id) % 4],
                note_account: "12345678903",
                phone_auth_code: if code { "AB1234" } else { "" },
            }),
        };
        let mut step = t.handle(&req);
        let mut rounds = 0;
        loop {
            match step {
                Step::Reply(_) => break,
                Step::Halt => {
                    halted = true;
                    break;
                }
                Step::Host(req) => {
                    rounds += 1;
                    assert!(rounds < 10_000, "host exchange loop does not end");
                    let seq = match req {
                        payhil_protocol::host_link::HostRequest::Authorise(d) => d.txn_seq,
                        payhil_protocol::host_link::HostRequest::Advice(d) => d.txn_seq,
                        payhil_protocol::host_link::HostRequest::Reconcile { .. } => {
                            step = t.host_result(Ok(HostResponse::ReconcileResult {
                                in_balance: true,
                            }));
                            continue;
                        }
                        payhil_protocol::host_link::HostRequest::FetchBlockList { .. } => {
                            step = t.host_result(Ok(HostResponse::BlockList {
                                pans: payhil_protocol::host_link::PanList("5019100000000007"),
                            }));
                            continue;
                        }
                    };
                    let is_advice =
                        matches!(req, payhil_protocol::host_link::HostRequest::Advice(_));
                    let result = match host {
                        Host::Unreachable => Err(HostUnreachable::NotSent),
                        Host::Swallowed { step: secs } => {
                            let mut waits = 0;
                            while !t.host_answer_overdue() {
                                let before = t.now();
                                let _ = t.handle(&Request::AdvanceClockInWait {
                                    secs: u32::from((*secs).max(1)),
                                });
                                if t.now() == before {
                                    // Rejected (out of the clock's range): the wait cannot
                                    // end by the clock.
                                    break;
                                }
                                waits += 1;
                                assert!(waits <= 600, "the host deadline is never reached");
                            }
                            Err(HostUnreachable::NoAnswer)
                        }
                        Host::Approve | Host::Decline(_) => {
                            let code = code_of(host);
                            Ok(if is_advice {
                                HostResponse::AdviceAck {
                                    txn_seq: seq,
                                    response_code: code,
                                }
                            } else {
                                HostResponse::AuthResult {
                                    txn_seq: seq,
                                    response_code: code,
                                    auth_code: "123456",
                                }
                            })
                        }
                    };
                    step = t.host_result(result);
                }
            }
        }
        if halted {
            break;
        }
    }
    drop(t);
    // Reboot on whatever the flash holds now: it must mount.
    let flash = NorFlash::new(&mut mem[..], 4096);
    assert!(
        Terminal::boot(cfg(), flash).is_ok(),
        "terminal does not boot after the run"
    );
});
