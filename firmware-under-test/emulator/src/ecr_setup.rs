//! Opens the ECR interface the command line asks for.

use crate::ecr_zvt::{ZvtPort, ZvtSide};
use crate::{EcrKind, EmulatorArgs, SetupError};
use std::io::Write;
use std::time::Duration;

/// The ECR side, if one was asked for: its port opened (or its listener bound) before the
/// terminal boots, so nothing the cash register sends is missed.
pub fn open(args: &EmulatorArgs) -> Result<Option<ZvtSide>, SetupError> {
    let Some(EcrKind::Zvt) = args.ecr else {
        return Ok(None);
    };
    let port = if let Some(path) = &args.ecr_port {
        let tty = serialport::new(path.to_string_lossy(), args.ecr_baud)
            .data_bits(serialport::DataBits::Eight)
            .parity(serialport::Parity::None)
            .stop_bits(serialport::StopBits::Two)
            .flow_control(serialport::FlowControl::None)
            .timeout(Duration::from_millis(500))
            .open_native()
            .map_err(|e| SetupError::Ecr(format!("cannot open {}: {e}", path.display())))?;
        // A terminal that powers up has an empty receive buffer: what was sent to it while it
        // was off (an acknowledgement the cash register sent as it lost power) is not a
        // command. A PTY keeps such bytes for the next process that opens it; a real UART
        // loses them with the power.
        if let Err(e) = serialport::SerialPort::clear(&tty, serialport::ClearBuffer::Input) {
            diag!("fut-emulator: ZVT: could not clear the port's input: {e}");
        }
        ZvtPort::serial(tty)
    } else if let Some(addr) = &args.ecr_listen {
        let listener = std::net::TcpListener::bind(addr)
            .map_err(|e| SetupError::Ecr(format!("cannot listen on {addr}: {e}")))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| SetupError::Ecr(format!("listener on {addr}: {e}")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| SetupError::Ecr(format!("listener on {addr}: {e}")))?;
        // The harness learns a port the system picked from this line.
        let mut out = std::io::stdout().lock();
        writeln!(out, "ecr listening on {bound}")
            .and_then(|()| out.flush())
            .map_err(|e| SetupError::Ecr(format!("standard output: {e}")))?;
        ZvtPort::tcp(listener)
    } else {
        return Err(SetupError::Ecr(
            "--ecr zvt needs --ecr-port DEVICE or --ecr-listen ADDRESS".into(),
        ));
    };
    Ok(Some(ZvtSide::new(
        port,
        args.ecr_password,
        &args.inject_bug,
    )))
}
