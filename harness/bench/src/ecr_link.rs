//! The harness's end of an emulated terminal's ZVT interface (`--ecr zvt`).

use crate::{BenchError, io};
use payhil_transport::{Source, Transcript};
use std::time::Duration;
use tokio::process::Child;

/// How the harness reaches an emulated terminal's ZVT interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcrLink {
    /// A PTY pair: serial framing, ACK/NAK.
    Serial,
    /// Loopback TCP: bare APDUs.
    Tcp,
}

/// Connects to the ZVT listener the emulator announced on its standard output.
pub(crate) async fn ecr_tcp(
    child: &mut Child,
    bound: Duration,
    t: &Transcript,
) -> Result<(payhil_ecr::zvt::Link<payhil_ecr::zvt::ZvtStream>, String), BenchError> {
    use tokio::io::AsyncBufReadExt;
    let out = child
        .stdout
        .take()
        .ok_or_else(|| BenchError::Hello("the emulator's standard output is not piped".into()))?;
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(out);
    tokio::time::timeout(bound, reader.read_line(&mut line))
        .await
        .map_err(|_| BenchError::Hello(format!("no ZVT listener announced within {bound:?}")))?
        .map_err(io("reading the emulator's standard output"))?;
    let addr = line
        .trim()
        .strip_prefix("ecr listening on ")
        .ok_or_else(|| {
            BenchError::Hello(format!("the emulator said {line:?}, not its ZVT address"))
        })?
        .to_string();
    t.record_local(Source::Step, "ZVT interface listening", addr.clone());
    let link = payhil_ecr::zvt::open(&format!("tcp://{addr}"), 0, bound, None)
        .await
        .map_err(io("connecting to the ZVT interface"))?;
    Ok((link, addr))
}
