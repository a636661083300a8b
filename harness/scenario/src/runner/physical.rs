//! What a scenario needs of a terminal the harness did not start: a known state before it
//! begins (the test agent's `Reset`), and the steps only an emulated terminal offers, for which
//! it is skipped with the reason rather than failed.

use super::{Run, TerminalTarget};
use crate::format::{Action, PowerCutSpec, Scenario, TerminalSettings};
use payhil_protocol::ResetSettings;
use payhil_transport::Source;

/// Bound on a lab's reset command (it may re-flash the terminal).
const RESET_BOUND: std::time::Duration = std::time::Duration::from_secs(300);

/// Why `scn` cannot run on `target`, if it cannot: a step the terminal does not offer. An
/// emulated terminal offers every step.
pub fn skip_reason(scn: &Scenario, target: &TerminalTarget) -> Option<String> {
    if let TerminalTarget::EmulatedZvt { tcp, .. } = target {
        return super::ecr::skip_reason(scn, *tcp);
    }
    if let Some(why) = super::ecr::needs_ecr(scn) {
        return Some(why);
    }
    let TerminalTarget::Physical { power_switch, .. } = target else {
        return None;
    };
    for step in &scn.steps {
        let at = format!("step {} (line {})", step.index, step.line);
        match &step.action {
            Action::PowerCut(
                spec @ (PowerCutSpec::FlashWrite { .. } | PowerCutSpec::AfterApproval),
            ) => {
                let what = match spec {
                    PowerCutSpec::FlashWrite { .. } => "a power cut at a given flash write",
                    _ => "a power cut between the approval and its result",
                };
                return Some(format!(
                    "{at} needs {what}, which only an emulated terminal offers (its power rail is inside the firmware's reach)"
                ));
            }
            Action::PowerCut(_) | Action::PowerCycle if power_switch.is_none() => {
                return Some(format!(
                    "{at} cuts the terminal's power: configure its power switch (--power-off and \
                     --power-on, or power_off and power_on in the inventory)"
                ));
            }
            _ => {}
        }
    }
    None
}

/// The reset that gives a terminal what `t` assumes, with its clock at `unix_s`.
pub(super) fn reset_settings(t: &TerminalSettings, unix_s: i64) -> ResetSettings {
    ResetSettings {
        unix_s,
        offline_limit_minor: t.offline_limit.minor,
        card_limit_minor: t.card_limit.minor,
        cvm_limit_minor: t.cvm_limit.minor,
        gambling_daily_max_minor: t.gambling_daily_max.map(|a| a.minor),
        self_service: t.self_service,
        reserve_phone_auth_above_minor: t.reserve_phone_auth_above.minor,
        reserve_cap_minor: t.reserve_cap.minor,
        forward_retry_s: t.forward_retry_s,
        host_timeout_ms: t.host_timeout_ms,
    }
}

impl Run {
    /// Before a scenario on a terminal the harness did not power up for it: the terminal's
    /// state from earlier scenarios (its queue, its counters, its configuration) is cleared
    /// with `Reset`. A terminal without it is told so in the transcript, and runs as it is:
    /// what it carries over may then fail the scenario, and the transcript says why.
    pub(super) async fn reset_if_carried_over(
        &mut self,
        t: &TerminalSettings,
        unix_s: i64,
        reset_command: Option<&str>,
    ) -> Result<(), String> {
        if self.bench.powered_up_for_the_run() {
            return Ok(());
        }
        match self.bench.reset(reset_settings(t, unix_s)).await {
            Ok(true) => {
                self.bench.transcript.record(
                    Source::Step,
                    format!(
                        "terminal reset to a clean state (boot count {})",
                        self.bench.device.boot_count
                    ),
                );
                Ok(())
            }
            Ok(false) => match reset_command {
                Some(command) => {
                    self.bench.transcript.record(
                        Source::Step,
                        "the terminal does not offer Reset (PROTOCOL.md 4.9): the lab's reset \
                         command resets it",
                    );
                    self.bench
                        .lab_reset(command, RESET_BOUND)
                        .await
                        .map_err(|e| format!("the lab's reset command: {e}"))
                }
                None => {
                    self.bench.transcript.record(
                        Source::Step,
                        "the terminal does not offer Reset (PROTOCOL.md 4.9): it keeps its queue \
                         and configuration from before; reset it by the lab's procedure (an \
                         inventory's reset_command)",
                    );
                    Ok(())
                }
            },
            Err(e) => {
                if let payhil_bench::BenchError::Link(l) = &e {
                    self.lost = super::TerminalLoss::of_link(l);
                }
                Err(format!("resetting the terminal: {e}"))
            }
        }
    }
}
