//! The serial line in a run: the `serial` step, and a step that is meant to end the terminal's
//! run with a link error (`link_error`).

use super::Run;
use crate::format::Step;
use payhil_faults::SerialFault;
use std::time::Duration;

impl Run {
    /// Puts a serial line fault in force (or clears the line). The host's books are not given a
    /// new fault epoch: a frame repeated or doubled on the serial line must never reach the host
    /// twice (the terminal answers a repeated request id from its cache), so a request the host
    /// receives twice stays a duplicate.
    pub(super) fn serial(&mut self, fault: Option<SerialFault>) -> String {
        self.bench.set_serial_fault(fault);
        match fault {
            Some(f) => format!("serial line: {f:?}"),
            None => "serial line clean".into(),
        }
    }

    /// How long a step may take to fail on the link: every wait the link makes for one request
    /// (its timeout repeats and its NAK repeats, each a full response timeout at worst), plus two
    /// response timeouts for the step's earlier requests.
    fn link_bound(&self) -> Duration {
        let s = self.bench.link.settings();
        let waits = s
            .max_retries
            .saturating_add(s.max_nak_repeats)
            .saturating_add(3);
        s.response_timeout.saturating_mul(waits)
    }

    /// Judges a step's result against its `link_error`: a step meant to end the run must fail
    /// with that error within the link's bound; then the line is cleared and the terminal greeted
    /// again, so that the end-of-run checks (nothing lost, nothing doubled) can be made.
    pub(super) async fn expected_end(
        &mut self,
        step: &Step,
        result: Result<String, String>,
        took: Duration,
    ) -> Result<String, String> {
        let Some(want) = &step.link_error else {
            return result;
        };
        let message = match result {
            Ok(summary) => {
                return Err(format!(
                    "the link was to fail with `{want}`, but the step passed: {summary}"
                ));
            }
            Err(m) => m,
        };
        if !message.contains(want.as_str()) {
            return Err(format!(
                "the link was to fail with `{want}`; the step failed otherwise: {message}"
            ));
        }
        let bound = self.link_bound();
        if took > bound {
            return Err(format!(
                "the link failed as expected, but after {took:?}, more than its bound {bound:?}: {message}"
            ));
        }
        // The error names how long the link waited: wall-clock time, kept out of the replayable
        // transcript like every machine-local detail.
        self.bench.transcript.record_local(
            payhil_transport::Source::Step,
            format!("run ended as expected: the link failed with `{want}`"),
            message.clone(),
        );
        self.bench.set_serial_fault(None);
        self.bench.hello().await.map_err(|e| {
            format!("the run ended as expected ({message}), but the terminal did not answer on a clean line: {e}")
        })?;
        Ok(format!(
            "run ended as expected after {} ms (bound {} ms): {message}",
            took.as_millis(),
            bound.as_millis()
        ))
    }
}
