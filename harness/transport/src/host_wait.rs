//! The harness's side of a terminal's host wait on the controlled clock (PROTOCOL.md 4.8).
//!
//! A terminal that sends its host a message announces when it gives up on the answer
//! (`Event::AwaitingHost`, a time on the clock the harness controls). When the harness knows no
//! answer will come (its proxy swallows the link: a blackhole), it moves the terminal's clock to
//! that deadline at once (`Request::AdvanceClockInWait`) instead of letting real time pass: the
//! timeout then costs no real seconds and lands at the same clock time on every run. Otherwise
//! it leaves the terminal to wait for the host.
//!
//! The harness keeps its own view of the terminal's clock (what it set and moved), so the wait it
//! grants is its own figure checked against the terminal's announcement, and the clock it moved
//! is reported to the runner, whose model and host follow it.

use payhil_protocol::frame::{self, Decoded, FrameDecoder, FrameKind, MAX_ENCODED};
use payhil_protocol::{Event, Response};

/// The longest host wait a terminal may announce, in seconds: a deadline further away is a
/// protocol violation (a terminal's host timeout is seconds, PROTOCOL.md 4.8).
pub const MAX_HOST_WAIT_S: i64 = 120;

/// Whether a decoded frame is a host-wait announcement (`Event::AwaitingHost`). Such frames are
/// left out of the count of the terminal's frames that places its log lines in the transcript
/// (the emulator leaves them out of its stamps too): they arrive while the host exchange is under
/// way, so placing log lines at them would race the host's records.
pub fn is_announcement(kind: FrameKind, payload: &[u8]) -> bool {
    kind == FrameKind::Event
        && matches!(
            payhil_protocol::from_payload::<Event>(payload),
            Ok(Event::AwaitingHost { .. })
        )
}

/// [`is_announcement`] for one delimited unit of bytes as the terminal sent it.
pub(crate) fn unit_is_announcement(unit: &[u8]) -> bool {
    let mut d = FrameDecoder::new();
    let mut input: Vec<u8> = unit.to_vec();
    input.push(0);
    let mut rest = &input[..];
    while !rest.is_empty() {
        let (used, decoded) = d.feed(rest);
        rest = &rest[used..];
        match decoded {
            Some(Decoded::Frame(f)) => return is_announcement(f.kind, f.payload),
            Some(Decoded::Error(_)) => return false,
            None => {}
        }
        if used == 0 {
            break;
        }
    }
    false
}

/// State of the host waits of one terminal.
#[derive(Debug, Default)]
pub struct HostWaits {
    /// The harness moves the clock at an announced wait (the host will not answer).
    advance: bool,
    /// The terminal's clock as the harness set and moved it.
    clock: Option<i64>,
    /// Seconds moved since the runner last took them.
    moved: u32,
    /// The `AdvanceClockInWait` in flight.
    pending: Option<Pending>,
    /// Bytes the link's blackhole has swallowed, and the count when the clock was last moved.
    swallowed: Option<(tokio::sync::watch::Receiver<u64>, u64)>,
}

#[derive(Debug)]
struct Pending {
    id: u16,
    secs: u32,
    wire: Vec<u8>,
}

/// What the link does about an announcement.
pub(crate) enum OnAnnounce {
    /// Nothing: the host is left to answer.
    Wait,
    /// Send a new `AdvanceClockInWait` (once the proxy holds the request).
    Send(Vec<u8>, String),
    /// Send the one in flight again.
    Repeat(Vec<u8>, String),
}

impl HostWaits {
    /// Whether the harness moves the clock when the terminal announces a host wait: true while
    /// the link swallows requests, so that no answer can come.
    pub fn set_advance(&mut self, advance: bool) {
        self.advance = advance;
    }

    /// Bytes the proxy swallowed while the link is a blackhole: before it moves the clock, the
    /// link waits until the proxy holds the terminal's request (more bytes than at the last
    /// move), so the request cannot reach the host after the terminal gave up on it.
    pub fn watch_swallowed(&mut self, rx: tokio::sync::watch::Receiver<u64>) {
        let now = *rx.borrow();
        self.swallowed = Some((rx, now));
    }

    /// Waits (up to `limit`) until the swallowed bytes grew since the clock was last moved.
    /// Returns false if they did not.
    pub(crate) async fn request_swallowed(&mut self, limit: std::time::Duration) -> bool {
        let Some((rx, seen)) = self.swallowed.as_mut() else {
            return true;
        };
        let before = *seen;
        let grew = matches!(
            tokio::time::timeout(limit, rx.wait_for(|b| *b > before)).await,
            Ok(Ok(_))
        );
        *seen = *rx.borrow();
        grew
    }

    /// Whether the harness moves the clock at an announced wait (see [`HostWaits::set_advance`]).
    pub fn advancing(&self) -> bool {
        self.advance
    }

    /// The terminal's clock as the harness just set or moved it.
    pub fn set_clock(&mut self, unix_s: i64) {
        self.clock = Some(unix_s);
    }

    /// Seconds the harness moved the terminal's clock during host waits since the last call.
    pub fn take_moved(&mut self) -> u32 {
        std::mem::take(&mut self.moved)
    }

    /// The terminal announced a host wait until `deadline`. `id` gives a fresh request id.
    pub(crate) fn on_announce(
        &mut self,
        deadline: i64,
        id: impl FnOnce() -> u16,
    ) -> Result<OnAnnounce, String> {
        if !self.advance {
            return Ok(OnAnnounce::Wait);
        }
        if let Some(p) = &self.pending {
            // Announced again (the waiting request was repeated): our request may be lost.
            return Ok(OnAnnounce::Repeat(
                p.wire.clone(),
                format!(
                    "AdvanceClockInWait {{ secs: {} }} (#{}) [retry]",
                    p.secs, p.id
                ),
            ));
        }
        let Some(now) = self.clock else {
            // The harness never set the clock: it has no figure of its own to move it by.
            return Ok(OnAnnounce::Wait);
        };
        let wait = deadline.saturating_sub(now);
        if !(1..=MAX_HOST_WAIT_S).contains(&wait) {
            return Err(format!(
                "the terminal announced a host wait until {deadline}, {wait} s from its clock \
                 ({now}); a wait must end 1..={MAX_HOST_WAIT_S} s ahead (PROTOCOL.md 4.8)"
            ));
        }
        let secs = u32::try_from(wait).map_err(|e| e.to_string())?;
        let id = id();
        let req = payhil_protocol::Request::AdvanceClockInWait { secs };
        let mut buf = [0u8; MAX_ENCODED + 1];
        let n = frame::encode(FrameKind::Request, id, &req, &mut buf[1..])
            .map_err(|e| format!("{e:?}"))?
            .len();
        let wire = buf[..=n].to_vec();
        self.pending = Some(Pending {
            id,
            secs,
            wire: wire.clone(),
        });
        Ok(OnAnnounce::Send(
            wire,
            format!("{req:?} (#{id}): the link swallows requests, the host will not answer"),
        ))
    }

    /// A response with id `seq`: `None` if it is not the answer to our request, else what to
    /// record (or the violation).
    pub(crate) fn on_response(
        &mut self,
        seq: u16,
        resp: &Response<'_>,
    ) -> Option<Result<String, String>> {
        let p = self.pending.take_if(|p| p.id == seq)?;
        let want = self.clock.map(|c| c.saturating_add(i64::from(p.secs)));
        Some(match *resp {
            Response::Clock { unix_s } if Some(unix_s) == want => {
                self.clock = want;
                self.moved = self.moved.saturating_add(p.secs);
                Ok(format!("{resp:?} (#{seq})"))
            }
            // The terminal had ended the wait before the request reached it (its own real-time
            // bound): its clock did not move. Correct, but it depended on timing: said so.
            Response::Rejected(payhil_protocol::RequestError::WrongState { .. }) => Ok(format!(
                "{resp:?} (#{seq}): the terminal had ended its host wait in real time; its \
                 clock did not move"
            )),
            other => Err(format!(
                "AdvanceClockInWait {{ secs: {} }} (#{seq}): expected Clock({}), the terminal \
                 answered {other:?}",
                p.secs,
                want.unwrap_or_default()
            )),
        })
    }

    /// The `AdvanceClockInWait` still unanswered, to send again: its bytes and a description.
    pub(crate) fn pending_wire(&self) -> Option<(Vec<u8>, String)> {
        self.pending.as_ref().map(|p| {
            (
                p.wire.clone(),
                format!(
                    "AdvanceClockInWait {{ secs: {} }} (#{}) [retry]",
                    p.secs, p.id
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announce(w: &mut HostWaits, deadline: i64) -> Result<Option<String>, String> {
        w.on_announce(deadline, || 7).map(|a| match a {
            OnAnnounce::Wait => None,
            OnAnnounce::Send(_, what) | OnAnnounce::Repeat(_, what) => Some(what),
        })
    }

    #[test]
    fn the_clock_is_moved_only_when_no_answer_can_come_and_by_the_harness_s_own_figure() {
        let mut w = HostWaits::default();
        w.set_clock(1_000);
        assert_eq!(announce(&mut w, 1_002), Ok(None), "the host may answer");
        w.set_advance(true);
        let sent = announce(&mut w, 1_002).unwrap().unwrap();
        assert!(
            sent.starts_with("AdvanceClockInWait { secs: 2 } (#7)"),
            "{sent}"
        );
        assert!(
            announce(&mut w, 1_002)
                .unwrap()
                .unwrap()
                .ends_with("[retry]"),
            "announced again: the same request again"
        );
        assert!(
            w.on_response(6, &Response::Clock { unix_s: 1_002 })
                .is_none()
        );
        assert!(
            w.on_response(7, &Response::Clock { unix_s: 1_002 })
                .unwrap()
                .is_ok()
        );
        assert_eq!(w.take_moved(), 2);
        assert_eq!(w.take_moved(), 0);
        // The next wait is measured from the moved clock.
        assert!(
            announce(&mut w, 1_005)
                .unwrap()
                .unwrap()
                .starts_with("AdvanceClockInWait { secs: 3 }")
        );
        assert!(
            w.on_response(7, &Response::Clock { unix_s: 1_004 })
                .unwrap()
                .is_err(),
            "a clock other than the harness's figure is a violation"
        );
    }

    #[test]
    fn a_deadline_behind_the_clock_or_too_far_ahead_is_a_violation() {
        let mut w = HostWaits::default();
        w.set_advance(true);
        w.set_clock(1_000);
        assert!(announce(&mut w, 1_000).is_err());
        assert!(announce(&mut w, 999).is_err());
        assert!(announce(&mut w, 1_000 + MAX_HOST_WAIT_S + 1).is_err());
        assert!(announce(&mut w, i64::MIN).is_err());
        assert!(announce(&mut w, 1_000 + MAX_HOST_WAIT_S).unwrap().is_some());
    }

    #[test]
    fn announcements_are_told_from_other_frames() {
        let mut buf = [0u8; MAX_ENCODED];
        let ev = Event::AwaitingHost { deadline_unix_s: 5 };
        let unit = frame::encode(FrameKind::Event, 3, &ev, &mut buf)
            .unwrap()
            .to_vec();
        assert!(unit_is_announcement(&unit));
        let prompt = Event::Prompt(payhil_protocol::Awaiting::Card);
        let unit = frame::encode(FrameKind::Event, 3, &prompt, &mut buf)
            .unwrap()
            .to_vec();
        assert!(!unit_is_announcement(&unit));
        assert!(!unit_is_announcement(&[1, 2, 3]));
        assert!(!unit_is_announcement(&[]));
    }

    #[test]
    fn a_wait_the_terminal_ended_by_itself_does_not_move_the_harness_s_clock() {
        let mut w = HostWaits::default();
        w.set_advance(true);
        w.set_clock(50);
        announce(&mut w, 52).unwrap();
        assert!(w.pending_wire().is_some());
        let late = Response::Rejected(payhil_protocol::RequestError::WrongState {
            awaiting: payhil_protocol::Awaiting::Nothing,
        });
        assert!(w.on_response(7, &late).unwrap().is_ok());
        assert_eq!(w.take_moved(), 0);
        assert!(w.pending_wire().is_none());
        assert!(
            announce(&mut w, 52).unwrap().unwrap().contains("secs: 2"),
            "measured from the unmoved clock"
        );
    }
}
