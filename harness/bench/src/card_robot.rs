//! The card plane of a lab bench whose terminal has no test agent: a card simulator or robot
//! that presents a named test card and enters its PIN when told, driven by a configured
//! command (which may itself call an HTTP endpoint: `curl -fsS -X POST ...`).
//!
//! The command runs through `sh -c` with what to do in its environment, never in its text, so
//! a card name cannot become shell syntax: `PAYHIL_ACTION` (`present` or `pin`), `PAYHIL_CARD`
//! (the catalogue name), `PAYHIL_ENTRY` (`chip`, `contactless`, `wallet`, `magstripe`) and
//! `PAYHIL_NETWORK`. The PIN itself is never passed: the robot knows its test cards' PINs, so
//! the PIN appears in no command line, log or transcript (PCI-02). Each run is bounded in real
//! time and killed at the bound; its output goes to the transcript, cut to a few lines.

use payhil_protocol::{EntryMode, Network};
use payhil_transport::{Source, Transcript};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// What the card instrument is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardAction {
    /// Present the card (insert, tap, swipe as the entry mode says).
    Present,
    /// Enter the card's PIN on the terminal's PIN pad.
    EnterPin,
}

impl CardAction {
    fn name(self) -> &'static str {
        match self {
            Self::Present => "present",
            Self::EnterPin => "pin",
        }
    }
}

/// Why the card instrument failed.
#[derive(Debug, thiserror::Error)]
pub enum CardRobotError {
    /// The command could not be started.
    #[error("card instrument: cannot run `{command}`: {cause}")]
    Spawn {
        /// The command.
        command: String,
        /// Why.
        cause: std::io::Error,
    },
    /// The command did not finish within its bound (it was killed).
    #[error("card instrument: `{command}` did not finish within {bound:?} (killed)")]
    Timeout {
        /// The command.
        command: String,
        /// The bound.
        bound: Duration,
    },
    /// The command failed.
    #[error("card instrument: `{command}` failed ({status}): {stderr}")]
    Failed {
        /// The command.
        command: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The end of its standard error.
        stderr: String,
    },
}

/// A card instrument driven by a shell command.
#[derive(Debug, Clone)]
pub struct CardRobot {
    command: String,
    bound: Duration,
}

/// Longest output kept from one run, in bytes (the rest is cut).
const KEEP: usize = 2_000;

fn tail(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[b.len().saturating_sub(KEEP)..]);
    s.trim().to_string()
}

impl CardRobot {
    /// A robot run as `sh -c COMMAND`, each run bounded by `bound`.
    pub fn new(command: impl Into<String>, bound: Duration) -> Self {
        Self {
            command: command.into(),
            bound,
        }
    }

    /// Asks the robot to do `action` with the test card `card`.
    pub async fn act(
        &self,
        action: CardAction,
        card: &str,
        entry: EntryMode,
        network: Network,
        transcript: Option<&Transcript>,
    ) -> Result<(), CardRobotError> {
        let entry_name = match entry {
            EntryMode::Chip => "chip",
            EntryMode::Contactless => "contactless",
            EntryMode::Wallet => "wallet",
            EntryMode::Magstripe => "magstripe",
        };
        let network_name = format!("{network:?}").to_ascii_lowercase();
        if let Some(t) = transcript {
            t.record(
                Source::Step,
                format!(
                    "card instrument: {} {card} ({entry_name}, {network_name})",
                    action.name()
                ),
            );
        }
        let child = Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .env("PAYHIL_ACTION", action.name())
            .env("PAYHIL_CARD", card)
            .env("PAYHIL_ENTRY", entry_name)
            .env("PAYHIL_NETWORK", &network_name)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|cause| CardRobotError::Spawn {
                command: self.command.clone(),
                cause,
            })?;
        let out = match tokio::time::timeout(self.bound, child.wait_with_output()).await {
            // Dropping the future drops the child, which kills it (kill_on_drop).
            Err(_) => {
                return Err(CardRobotError::Timeout {
                    command: self.command.clone(),
                    bound: self.bound,
                });
            }
            Ok(r) => r.map_err(|cause| CardRobotError::Spawn {
                command: self.command.clone(),
                cause,
            })?,
        };
        if let Some(t) = transcript {
            let said = tail(&out.stdout);
            if !said.is_empty() {
                t.record(Source::Step, format!("card instrument said: {said}"));
            }
        }
        if !out.status.success() {
            return Err(CardRobotError::Failed {
                command: self.command.clone(),
                status: out.status,
                stderr: tail(&out.stderr),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_robot_is_told_what_to_do_in_its_environment() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("robot.log");
        let robot = CardRobot::new(
            format!(
                "echo \"$PAYHIL_ACTION $PAYHIL_CARD $PAYHIL_ENTRY $PAYHIL_NETWORK\" >> {}",
                log.display()
            ),
            Duration::from_secs(10),
        );
        let t = Transcript::new();
        robot
            .act(
                CardAction::Present,
                "dankort; rm -rf /",
                EntryMode::Contactless,
                Network::Dankort,
                Some(&t),
            )
            .await
            .unwrap();
        robot
            .act(
                CardAction::EnterPin,
                "visa",
                EntryMode::Chip,
                Network::Visa,
                None,
            )
            .await
            .unwrap();
        let said = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            said,
            "present dankort; rm -rf / contactless dankort\npin visa chip visa\n"
        );
        assert!(t.render().contains("card instrument: present"));
    }

    #[tokio::test]
    async fn a_failing_robot_is_a_specific_error_with_what_it_said() {
        let failing = CardRobot::new("echo jammed >&2; exit 3", Duration::from_secs(10));
        let e = failing
            .act(
                CardAction::Present,
                "visa",
                EntryMode::Chip,
                Network::Visa,
                None,
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("jammed"), "{e}");
    }

    /// On tokio's paused clock: the bound is not waited out in real time.
    #[tokio::test(start_paused = true)]
    async fn a_hung_robot_is_killed_at_its_bound() {
        let hung = CardRobot::new("sleep 600", Duration::from_secs(30));
        let started = tokio::time::Instant::now();
        let e = hung
            .act(
                CardAction::Present,
                "visa",
                EntryMode::Chip,
                Network::Visa,
                None,
            )
            .await
            .unwrap_err();
        assert!(matches!(e, CardRobotError::Timeout { .. }), "{e}");
        assert_eq!(started.elapsed(), Duration::from_secs(30));
    }
}
