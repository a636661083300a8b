//! The serial side: frames in, core steps, frames out.

use crate::ecr_zvt::Halted;
use crate::file_flash::{OpenError, Opened};
use crate::host_link::HostLink;
use crate::host_wait::{SerialSide, Waiting, wait_for_host};
use crate::poll::wait_readable;
use crate::power::{Armed, Control, CutFlash, Rail};
use crate::{EXIT_LINK_GONE, EXIT_POWER_LOST, EmulatorArgs, FileStorage, SetupError};
use fut_core::flash::{NorFlash, PowerCut};
use fut_core::journal::JournalError;
use fut_core::limits::{Limits, ReserveLimits};
use fut_core::terminal::HostUnreachable;
use fut_core::{Config, Step, Terminal};
use payhil_protocol::frame::{self, Decoded, FrameDecoder, FrameKind, MAX_ENCODED};
use payhil_protocol::host_link::{HostResponse, MAX_HOST_MESSAGE};
use payhil_protocol::iso8583::mapping as iso;
use payhil_protocol::{Currency, Event, Identity, Request, RequestError, Response};
use std::cell::Cell;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

const PAGE: u32 = 4096;

/// Serves until the link goes away or power is cut; returns the exit status.
pub fn serve(args: &EmulatorArgs) -> Result<i32, SetupError> {
    // Open the port first so nothing the harness sends is missed, then the flash.
    let mut port = serialport::new(args.port.to_string_lossy(), args.baud)
        .timeout(Duration::from_millis(500))
        .open_native()
        .map_err(|source| SetupError::Port {
            path: args.port.clone(),
            source,
        })?;
    let mut zvt = crate::ecr_setup::open(args)?;
    let size = (args.flash_kib as usize)
        .checked_mul(1024)
        .ok_or_else(|| SetupError::Flash {
            path: args.flash.clone(),
            source: std::io::Error::other("--flash-kib is too large"),
        })?;
    let (storage, opened) =
        FileStorage::open(&args.flash, size, args.format_flash).map_err(|e| match e {
            OpenError::Io(source) => SetupError::Flash {
                path: args.flash.clone(),
                source,
            },
            wrong @ OpenError::WrongSize { .. } => SetupError::FlashDamaged {
                path: args.flash.clone(),
                why: wrong.to_string(),
            },
        })?;
    let mut storage = storage;
    // The injected bug that answers before its writes are durable (see `bugs`).
    let write_back = if args
        .inject_bug
        .contains(&crate::bugs::Bug::ApproveBeforeWrite)
    {
        Some(storage.defer_writes().map_err(|source| SetupError::Flash {
            path: args.flash.clone(),
            source,
        })?)
    } else {
        None
    };
    let mut nor = NorFlash::new(storage, PAGE);
    nor.cut_power_at(args.power_cut_at.map(|at| PowerCut {
        at,
        tear: args.tear,
    }));
    let rail: Rail = Rc::new(Cell::new(Armed::Nothing));
    let mut control = if args.power_control_stdin {
        Some(Control::from_stdin().map_err(|source| SetupError::Flash {
            path: "<standard input: power control>".into(),
            source,
        })?)
    } else {
        None
    };
    let flash = CutFlash::new(nor, rail.clone());
    let build_hash = build_hash();
    let cfg = Config {
        identity: Identity {
            model: "PAYHIL-REF-1",
            serial: &args.serial,
            firmware_version: crate::FIRMWARE_VERSION,
            build_hash: &build_hash,
            terminal_id: &args.terminal_id,
            merchant_id: &args.merchant_id,
        },
        merchant_name: &args.merchant_name,
        limits: Limits {
            currency: Currency::DKK,
            offline_per_transaction_minor: args.offline_limit_minor,
            offline_per_card_minor: args.card_limit_minor,
            contactless_cvm_limit_minor: args.cvm_limit_minor,
            gambling_daily_max_minor: args.gambling_daily_max_minor,
            split_window_s: 600,
            self_service: args.self_service,
            reserve: ReserveLimits {
                currency: Currency::NOK,
                phone_auth_above_minor: args.reserve_phone_auth_above_minor,
                aggregate_cap_minor: (args.reserve_cap_minor > 0).then_some(args.reserve_cap_minor),
            },
        },
        forward_retry_s: args.forward_retry_s,
        forward_deadline_s: args.forward_deadline_s,
        reserve_deadline_s: fut_core::terminal::TWO_WEEKS_S,
    };
    let booted = match opened {
        Opened::Formatted { seq_floor } => {
            diag!(
                "fut-emulator: flash formatted as asked (--format-flash); sequence numbers \
                 continue above {seq_floor}, the highest its old image recorded"
            );
            Terminal::boot_formatted(cfg, flash, seq_floor)
        }
        Opened::Created => {
            diag!("fut-emulator: no flash file yet: created an erased one (a new device)");
            Terminal::boot(cfg, flash)
        }
        Opened::Existing => Terminal::boot(cfg, flash),
    };
    let mut terminal = match booted {
        Ok(t) => t,
        Err(JournalError::Flash(fut_core::flash::FlashError::PowerLost)) => {
            diag!("fut-emulator: power lost during boot");
            return Ok(EXIT_POWER_LOST);
        }
        // The device itself is misconfigured, not its content.
        Err(e @ JournalError::BadGeometry) => return Err(SetupError::Mount(e)),
        // Anything else is the flash's content: refuse to boot rather than lose it.
        Err(e) => {
            return Err(SetupError::FlashDamaged {
                path: args.flash.clone(),
                why: format!("its journal cannot be mounted ({e:?})"),
            });
        }
    };
    if terminal.unreadable_slots() > 0 {
        // Not refused: a power cut leaves a torn slot behind. Reported, so damage is seen.
        diag!(
            "fut-emulator: {} journal slot(s) did not read back (torn writes or damage)",
            terminal.unreadable_slots()
        );
    }
    let mut bugs = crate::bugs::Bugs::new(&args.inject_bug);
    let mut host = HostLink::new(
        args.host.clone(),
        Duration::from_millis(args.host_timeout_ms),
    );
    let mut out = [0u8; MAX_ENCODED];
    // A leading delimiter flushes whatever partial frame the peer may hold.
    let boot = Event::Boot {
        boot_count: terminal.boot_count(),
    };
    if let Ok(w) = frame::encode(FrameKind::Event, 0, &boot, &mut out[1..]) {
        let n = w.len();
        out[0] = 0;
        if port.write_all(&out[..=n]).is_err() {
            return Ok(EXIT_LINK_GONE);
        }
        crate::diag::frame_written();
    }
    diag!(
        "fut-emulator: booted (boot {}), serving its serial port",
        terminal.boot_count()
    );
    let mut serial = SerialSide {
        port,
        decoder: FrameDecoder::new(),
        backlog: Vec::new(),
        event_seq: 0,
        announce: false,
        answered: None,
    };
    let real_bound = Duration::from_millis(args.host_timeout_ms);
    let mut rx = [0u8; 512];
    // The last request id and its encoded response: a repeated id is answered from here, so a
    // retried request is never carried out twice.
    let mut last: Option<(u16, Vec<u8>)> = None;
    // What a request's host exchanges go through, for a request with this id.
    macro_rules! platform {
        ($waiting:expr) => {
            Platform {
                trace: args.trace,
                without_reset: args.without_reset,
                host: &mut host,
                bugs: &mut bugs,
                rail: &rail,
                serial: &mut serial,
                waiting: $waiting,
            }
        };
    }
    // How the cash register's commands reach the core: as the test agent's requests do, with
    // the same uplink, bugs, power rail and serial side (a host wait still serves the
    // instruments); request id 0, which the harness never uses.
    macro_rules! zvt_run {
        () => {
            |req: &Request<'_>| {
                let mut platform = platform!(&Waiting {
                    request_id: 0,
                    real_bound,
                });
                carry_out(&mut platform, &mut terminal, req, &mut out)
            }
        };
    }
    loop {
        if serial.backlog.is_empty() {
            if let Some(z) = zvt.as_mut() {
                // Both ports at once: the cash register's commands are served as they come,
                // the instruments' requests below.
                let zfds = z.fds();
                let mut fds = zfds.clone();
                fds.push(serial.port.as_raw_fd());
                // A command read together with the acknowledgement the terminal last waited
                // for is already in the buffer: its descriptor will not signal it again (found
                // as a 5 s stall over TCP under load).
                let buffered = z.has_buffered();
                if !buffered && !wait_readable(&fds, Duration::from_millis(500)) {
                    continue;
                }
                if buffered || wait_readable(&zfds, Duration::ZERO) {
                    if let Some(c) = control.as_mut() {
                        c.poll(&rail);
                    }
                    let mut run = zvt_run!();
                    if z.serve_ready(&mut run).is_err() {
                        diag!("fut-emulator: power lost");
                        return Ok(EXIT_POWER_LOST);
                    }
                    continue;
                }
            }
            match serial.port.read(&mut rx) {
                // EOF: the harness closed its end. Treat it as gone rather than spinning on Ok(0).
                Ok(0) => {
                    diag!("fut-emulator: serial EOF, exiting");
                    return Ok(EXIT_LINK_GONE);
                }
                Ok(n) => serial.backlog.extend_from_slice(&rx[..n]),
                Err(e) if e.kind() == ErrorKind::TimedOut || e.kind() == ErrorKind::Interrupted => {
                    continue;
                }
                Err(e) => {
                    diag!("fut-emulator: serial read failed ({e}), exiting");
                    return Ok(EXIT_LINK_GONE);
                }
            }
        }
        // Bytes are fed in order; what follows a request waits in the backlog while the
        // request is carried out (a host wait may read and serve more of the port).
        while !serial.backlog.is_empty() {
            let input = std::mem::take(&mut serial.backlog);
            let (used, decoded) = serial.decoder.feed(&input);
            let request = match decoded {
                None => None,
                Some(Decoded::Error(e)) => {
                    diag!("fut-emulator: bad frame ({e:?}), sending NAK");
                    if let Ok(nak) = frame::encode_bytes(FrameKind::Nak, 0, &[], &mut out) {
                        if let Err(e) = serial.write_frame(nak) {
                            diag!("fut-emulator: serial write failed ({e}), exiting");
                            return Ok(EXIT_LINK_GONE);
                        }
                    }
                    None
                }
                Some(Decoded::Frame(f)) if f.kind != FrameKind::Request => {
                    diag!("fut-emulator: ignoring {:?} frame from the harness", f.kind);
                    None
                }
                Some(Decoded::Frame(f)) => Some((f.seq, f.payload.to_vec())),
            };
            serial.backlog = input[used..].to_vec();
            let Some((seq, payload)) = request else {
                continue;
            };
            // Before the request is handled: whatever the harness armed for it, and
            // (the bug) what the previous request left in RAM.
            if let Some(wb) = &write_back {
                wb.flush();
            }
            if let Some(c) = control.as_mut() {
                c.poll(&rail);
            }
            // A Hello starts a new session, whose request ids start again (PROTOCOL.md 5): it is
            // never answered from the cache, and the cache is cleared, so that a harness that
            // opened the port again never gets the answer to an earlier session's request.
            if matches!(
                payhil_protocol::from_payload::<Request<'_>>(&payload),
                Ok(Request::Hello { .. })
            ) {
                last = None;
                serial.answered = None;
            }
            let bytes = match (&last, &serial.answered) {
                (Some((id, bytes)), _) | (_, Some((id, bytes))) if *id == seq => {
                    diag!("fut-emulator: repeated request id {id}, replaying the response");
                    bytes.clone()
                }
                _ => {
                    let waiting = Waiting {
                        request_id: seq,
                        real_bound,
                    };
                    let mut platform = platform!(&waiting);
                    let (bytes, power_off) =
                        match answer(&mut platform, &mut terminal, &payload, seq, &mut out) {
                            Some(r) => r,
                            None => {
                                diag!("fut-emulator: power lost");
                                return Ok(EXIT_POWER_LOST);
                            }
                        };
                    if power_off {
                        let _ = serial.port.write_all(&bytes);
                        let _ = serial.port.flush();
                        crate::diag::frame_written();
                        diag!("fut-emulator: power cut requested, stopping");
                        return Ok(EXIT_POWER_LOST);
                    }
                    last = Some((seq, bytes.clone()));
                    bytes
                }
            };
            // The prompt goes out before the answer that leaves the terminal waiting, so a
            // harness has seen it by the time it has the answer (PROTOCOL.md 5: a prompt
            // event precedes its response).
            let written = if terminal.awaiting() != payhil_protocol::Awaiting::Nothing {
                serial.prompt_and_frame(&Event::Prompt(terminal.awaiting()), &bytes)
            } else {
                serial.write_frame(&bytes)
            };
            if let Err(e) = written {
                diag!("fut-emulator: serial write failed ({e}), exiting");
                return Ok(EXIT_LINK_GONE);
            }
            // A card or PIN from the instruments moves the cash register's command on.
            if let Some(z) = zvt.as_mut().filter(|z| z.has_open()) {
                let now = terminal.now();
                let answered = crate::ecr_zvt::answer_of(&bytes);
                let mut run = zvt_run!();
                match z.after(answered, now, &mut run) {
                    Err(_) => {
                        diag!("fut-emulator: power lost");
                        return Ok(EXIT_POWER_LOST);
                    }
                    Ok(Err(lost)) => {
                        diag!("fut-emulator: ZVT: the cash register's link was lost ({lost:?})");
                    }
                    Ok(Ok(())) => {}
                }
            }
        }
    }
}

/// Carries out a request of the cash register's (ZVT) as the test agent's would be: the same
/// core, host exchanges, injected bugs and power rail. Returns the core's answer and the clock
/// after it, or [`Halted`] when power was lost or cut.
fn carry_out<F: fut_core::flash::Flash>(
    p: &mut Platform<'_>,
    terminal: &mut Terminal<'_, F>,
    req: &Request<'_>,
    out: &mut [u8; MAX_ENCODED],
) -> Result<(crate::ecr_zvt::Answer, i64), Halted> {
    let mut payload = [0u8; 512];
    let Ok(p_bytes) = postcard::to_slice(req, &mut payload) else {
        return Ok((crate::ecr_zvt::Answer::Other, terminal.now()));
    };
    match answer(p, terminal, p_bytes, 0, out) {
        None | Some((_, true)) => Err(Halted),
        Some((bytes, false)) => Ok((crate::ecr_zvt::answer_of(&bytes), terminal.now())),
    }
}

/// What a request's host exchanges go through: the uplink, the serial side (for the host
/// wait), and the instruments (trace, injected bugs, power rail).
struct Platform<'p> {
    trace: bool,
    without_reset: bool,
    host: &'p mut HostLink,
    bugs: &'p mut crate::bugs::Bugs,
    rail: &'p Rail,
    serial: &'p mut SerialSide,
    waiting: &'p Waiting,
}

/// Runs one request through the core, doing host exchanges as asked. Returns the encoded
/// response frame and whether power is to be cut, or `None` if the flash lost power.
fn answer<F: fut_core::flash::Flash>(
    p: &mut Platform<'_>,
    terminal: &mut Terminal<'_, F>,
    payload: &[u8],
    seq: u16,
    out: &mut [u8; MAX_ENCODED],
) -> Option<(Vec<u8>, bool)> {
    // Exactly one request: trailing bytes make the payload malformed (PROTOCOL.md 4).
    let req: Request<'_> = match payhil_protocol::from_payload(payload) {
        Ok(r) => r,
        Err(_) => {
            let resp = Response::Rejected(RequestError::Malformed);
            return Some((
                frame::encode(FrameKind::Response, seq, &resp, out)
                    .ok()?
                    .to_vec(),
                false,
            ));
        }
    };
    if p.trace {
        diag!("fut-emulator: <- #{seq} {req:?}");
    }
    // The terminal's clock while it talks to its host for this request (DE 7): a Step borrows
    // the terminal, so it is worked out here; only SetClock and AdvanceClock move it, before
    // any host exchange they cause (a rejected AdvanceClock causes none).
    let mut now = match req {
        Request::SetClock { unix_s } => unix_s,
        Request::AdvanceClock { secs } => terminal.now().saturating_add(i64::from(secs)),
        _ => terminal.now(),
    };
    if let Request::AnnounceHostWaits { on } = req {
        p.serial.announce = on;
    }
    if matches!(req, Request::Reset(_)) && p.without_reset {
        let resp = Response::Rejected(RequestError::Malformed);
        return Some((
            frame::encode(FrameKind::Response, seq, &resp, out)
                .ok()?
                .to_vec(),
            false,
        ));
    }
    if let Request::Reset(s) = req {
        // The platform's part of a reset (the core refuses a clock it cannot keep, and then
        // nothing changes): announcements off, as at every start, and the host bound given.
        if fut_core::journal::TIME_RANGE.contains(&s.unix_s) {
            p.serial.announce = false;
            p.host
                .set_timeout(Duration::from_millis(s.host_timeout_ms.max(1)));
        }
    }
    let mut step = terminal.handle(&req);
    let mut host_buf = [0u8; iso::MAX_WIRE];
    let mut fields = iso::Fields::new();
    let mut resp_buf = [0u8; MAX_HOST_MESSAGE];
    loop {
        match step {
            Step::Halt => return None,
            Step::Reply(resp) => {
                if matches!(resp, Response::Done(_)) && p.rail.get() == Armed::BeforeResult {
                    // Everything the firmware does for this request is done; its answer is not.
                    crate::power::lose_power("before answering with the transaction's result");
                }
                let resp = p.bugs.reply(resp);
                let power_off = matches!(resp, Response::PoweringOff);
                let bytes = match frame::encode(FrameKind::Response, seq, &resp, out) {
                    Ok(b) => b.to_vec(),
                    Err(_) => {
                        diag!("fut-emulator: response too large for a frame");
                        frame::encode(
                            FrameKind::Response,
                            seq,
                            &Response::Rejected(RequestError::Malformed),
                            out,
                        )
                        .ok()?
                        .to_vec()
                    }
                };
                // A storage fault is answered (not a power loss): say what it was.
                if let Some(e) = terminal.take_storage_fault() {
                    diag!("fut-emulator: storage fault, not a power loss: {e:?}");
                }
                return Some((bytes, power_off));
            }
            Step::Host(msg) => {
                let msg = p.bugs.request(msg);
                if p.trace {
                    diag!("fut-emulator: -> host {msg:?}");
                }
                if let Some(made_up) = p.bugs.instead_of_sending(&msg) {
                    step = terminal.host_result(Ok(made_up));
                    continue;
                }
                // ISO 8583 on the wire (see payhil_protocol::iso8583).
                let env = iso::Envelope {
                    transmitted_at: now,
                    stan: p.host.next_stan(),
                    // No card to generate one: the documented test cryptogram (not an ARQC).
                    cryptogram: None,
                };
                let result = match iso::encode_request(&msg, &env, &mut fields, &mut host_buf) {
                    Ok(wire) => {
                        // Encoded before the exchange: the request borrows the terminal.
                        let again = p.bugs.send_again(&msg).and_then(|again| {
                            let mut again_fields = iso::Fields::new();
                            let mut again_wire = [0u8; iso::MAX_WIRE];
                            iso::encode_request(&again, &env, &mut again_fields, &mut again_wire)
                                .ok()
                                .map(<[u8]>::to_vec)
                        });
                        let r = p.host.send(wire).and_then(|()| {
                            wait_for_host(p.serial, terminal, p.host, &mut resp_buf, p.waiting)
                        });
                        if let (Ok(_), Some(again)) = (&r, again) {
                            let mut answer = [0u8; MAX_HOST_MESSAGE];
                            let _ = p.host.exchange(&again, &mut answer);
                        }
                        r
                    }
                    Err(e) => Err(crate::host_link::HostError {
                        sent: false,
                        error: std::io::Error::other(format!("cannot encode the request: {e:?}")),
                    }),
                };
                let decoded: Result<HostResponse<'_>, HostUnreachable> = match &result {
                    Ok(n) => {
                        // Only the answer to this request (its DE 11 and 41 echoed) is one.
                        iso::decode_answer(&fields, &resp_buf[..*n]).map_err(|e| {
                            diag!("fut-emulator: host answer not taken: {e:?}");
                            HostUnreachable::NoAnswer
                        })
                    }
                    Err(e) => {
                        diag!(
                            "fut-emulator: host unreachable: {} (request {})",
                            e.error,
                            if e.sent { "sent" } else { "not sent" }
                        );
                        Err(if e.sent {
                            HostUnreachable::NoAnswer
                        } else {
                            HostUnreachable::NotSent
                        })
                    }
                };
                if let (true, Ok(r)) = (p.trace, &decoded) {
                    diag!("fut-emulator: <- host {r:?}");
                }
                // The harness may have moved the clock while the terminal waited.
                now = terminal.now();
                step = terminal.host_result(decoded);
            }
        }
    }
}

/// Identifies this build for Hello: SHA-256 (hex) over the firmware's sources, computed by
/// `build.rs` (see there for why sources rather than the binary). It changes with any change to
/// the firmware, not only with a new version number.
fn build_hash() -> String {
    env!("FUT_BUILD_HASH").to_string()
}

#[cfg(test)]
mod tests {
    /// Before issue 9 the hash was a CRC of the package name and version, the same for every
    /// build of a version.
    #[test]
    fn the_build_hash_is_of_the_build_not_of_its_name_and_version() {
        let h = super::build_hash();
        assert_eq!(h.len(), 64, "{h}");
        assert!(h.bytes().all(|b| b.is_ascii_hexdigit()), "{h}");
        let id = concat!(env!("CARGO_PKG_NAME"), "@", env!("CARGO_PKG_VERSION"));
        let old = format!(
            "{:08x}",
            payhil_protocol::frame::CRC.checksum(id.as_bytes())
        );
        assert_ne!(h, old);
    }
}
