//! The link's side of the terminal's host waits (PROTOCOL.md 4.8; the state is
//! [`crate::host_wait::HostWaits`]): moving the clock at an announcement, and reading the answer
//! to that before the waiting request's response is final.

use super::{FrameLink, Incoming, LinkError};
use crate::host_wait::OnAnnounce;
use crate::transcript::Source;
use payhil_protocol::Response;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

impl<S: AsyncRead + AsyncWrite + Unpin> FrameLink<S> {
    /// Reads up to the answer to the `AdvanceClockInWait` in flight, if any, sending it again
    /// after each response timeout (as any request), at most `max_retries` times. The terminal
    /// answers every request: `Clock` if it took it while waiting, `Rejected(WrongState)` if
    /// its wait had ended first.
    pub(super) async fn settle_host_wait(&mut self, what: &str) -> Result<(), LinkError> {
        let started = Instant::now();
        let mut attempts = 1u32;
        while let Some((wire, text)) = self.host_waits.pending_wire() {
            let deadline = Instant::now() + self.settings.response_timeout;
            loop {
                let incoming =
                    match tokio::time::timeout_at(deadline, self.next_incoming(what)).await {
                        Err(_) => break,
                        Ok(r) => r?,
                    };
                if let Incoming::Response(seq, payload) = incoming {
                    let ours = payhil_protocol::from_payload::<Response>(&payload)
                        .ok()
                        .and_then(|r| self.host_waits.on_response(seq, &r));
                    match ours {
                        Some(Ok(t)) => {
                            self.transcript.record(Source::FromTerminal, t);
                            return Ok(());
                        }
                        Some(Err(cause)) => {
                            return Err(LinkError::BadResponse {
                                device: self.device.clone(),
                                request: what.into(),
                                cause,
                            });
                        }
                        None => {
                            self.stats.stale_responses += 1;
                            self.transcript.record(
                                Source::FromTerminal,
                                format!("stale response #{seq} ignored"),
                            );
                        }
                    }
                }
            }
            if attempts > self.settings.max_retries {
                return Err(LinkError::Timeout {
                    device: self.device.clone(),
                    request: text,
                    attempts,
                    waited: started.elapsed(),
                    last: self.last(),
                });
            }
            attempts += 1;
            self.stats.retries += 1;
            self.transcript.record(Source::ToTerminal, text.clone());
            self.send(&wire, &text).await?;
        }
        Ok(())
    }

    /// The terminal waits for its host until `deadline` (PROTOCOL.md 4.8): the clock is moved
    /// there if the host cannot answer (see [`HostWaits`]).
    pub(super) async fn host_wait(&mut self, deadline: i64, what: &str) -> Result<(), LinkError> {
        let next_id = &mut self.next_id;
        let fresh = || {
            let id = *next_id;
            *next_id = next_id.wrapping_add(1).max(1);
            id
        };
        match self.host_waits.on_announce(deadline, fresh) {
            Ok(OnAnnounce::Wait) => Ok(()),
            Ok(OnAnnounce::Send(wire, text)) => {
                self.transcript.record(
                    Source::FromTerminal,
                    format!("event: AwaitingHost {{ deadline_unix_s: {deadline} }}"),
                );
                if !self
                    .host_waits
                    .request_swallowed(self.settings.response_timeout)
                    .await
                {
                    self.transcript.record(
                        Source::Step,
                        "the proxy holds no request from the terminal: moving its clock anyway",
                    );
                }
                self.transcript.record(Source::ToTerminal, text.clone());
                self.send(&wire, &text).await
            }
            Ok(OnAnnounce::Repeat(wire, text)) => {
                self.transcript.record(Source::ToTerminal, text.clone());
                self.send(&wire, &text).await
            }
            Err(cause) => Err(LinkError::BadResponse {
                device: self.device.clone(),
                request: what.into(),
                cause,
            }),
        }
    }
}
