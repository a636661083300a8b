//! The reference terminal as a process: the firmware core served over a serial device.
//!
//! It opens the serial path it is given (a PTY slave from the harness, or a real tty), keeps its
//! flash in a file so a restart finds its offline queue, and talks to the acquirer host over TCP.
//! Diagnostics go to stderr, which the harness records; card numbers only ever appear there
//! masked, through the protocol types' `Debug`.
#![warn(missing_docs)]

pub mod bugs;
#[macro_use]
mod diag;
mod ecr_setup;
pub mod ecr_zvt;
mod file_flash;
mod host_link;
mod host_wait;
mod poll;
pub mod power;
mod serial_loop;

pub use file_flash::FileStorage;

use std::path::PathBuf;

/// Exit status when the flash lost power (an armed power cut fired).
pub const EXIT_POWER_LOST: i32 = 3;
/// Exit status for start-up failures (port, flash file).
pub const EXIT_SETUP: i32 = 2;
/// Exit status when the serial peer went away (EOF or I/O error).
pub const EXIT_LINK_GONE: i32 = 4;
/// Exit status when the flash file is damaged (wrong size, or a journal that cannot be mounted):
/// the emulator refuses to boot rather than wipe it; `--format-flash` erases it explicitly.
pub const EXIT_FLASH_DAMAGED: i32 = 5;

/// Command line of the emulator (also embedded in `payhil emulate`).
#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "fut-emulator",
    about = "Reference offline payment terminal on a serial port"
)]
pub struct EmulatorArgs {
    /// Serial device to serve the test-agent protocol on (PTY slave or /dev/tty*).
    #[arg(long)]
    pub port: PathBuf,
    /// Baud rate (ignored by PTYs).
    #[arg(long, default_value_t = 115_200)]
    pub baud: u32,
    /// Acquirer host address (normally the harness's fault proxy).
    #[arg(long)]
    pub host: String,
    /// File holding the emulated NOR flash; created erased if missing. A file of another size
    /// or with a journal that cannot be mounted is refused (exit status 5), never wiped.
    #[arg(long)]
    pub flash: PathBuf,
    /// Erase the flash file (whatever it holds) and start a new journal; sequence numbers
    /// continue above the highest the old image recorded. The only way a flash is wiped.
    #[arg(long)]
    pub format_flash: bool,
    /// Flash size in KiB.
    #[arg(long, default_value_t = 256)]
    pub flash_kib: u32,
    /// Terminal id towards the acquirer.
    #[arg(long, default_value = "TERM0001")]
    pub terminal_id: String,
    /// Merchant id towards the acquirer.
    #[arg(long, default_value = "100200300")]
    pub merchant_id: String,
    /// Merchant name on receipts.
    #[arg(long, default_value = "PAYHIL TEST SHOP")]
    pub merchant_name: String,
    /// Device serial number reported in Hello.
    #[arg(long, default_value = "EMU-0001")]
    pub serial: String,
    /// Offline per-transaction limit in minor units (NETS-03).
    #[arg(long, default_value_t = 1_500_00)]
    pub offline_limit_minor: u64,
    /// Offline per-card cumulative limit in minor units (NETS-04).
    #[arg(long, default_value_t = 20_000_00)]
    pub card_limit_minor: u64,
    /// Contactless purchases above this need the PIN, minor units (CARD-02).
    #[arg(long, default_value_t = 350_00)]
    pub cvm_limit_minor: u64,
    /// Gambling merchant: most one card may spend per day, minor units (CARD-04).
    #[arg(long)]
    pub gambling_daily_max_minor: Option<u64>,
    /// The terminal is self-service (BAX-03: reserve needs an attendant).
    #[arg(long)]
    pub self_service: bool,
    /// BankAxept reserve: phone authorisation above this, minor units NOK (BAX-08).
    #[arg(long, default_value_t = 2_500_00)]
    pub reserve_phone_auth_above_minor: u64,
    /// BankAxept reserve: aggregate cap on unforwarded reserve payments, minor units NOK
    /// (BAX-09); 0 for none.
    #[arg(long, default_value_t = 20_000_00)]
    pub reserve_cap_minor: u64,
    /// Offline items must be forwarded within this many seconds (Nets deadline).
    #[arg(long, default_value_t = fut_core::terminal::TWO_WEEKS_S)]
    pub forward_deadline_s: u32,
    /// Seconds between attempts to forward the offline queue (controlled clock).
    #[arg(long, default_value_t = 60)]
    pub forward_retry_s: u32,
    /// Cut power at this flash program/erase (1-based), then exit with status 3.
    #[arg(long)]
    pub power_cut_at: Option<u32>,
    /// With --power-cut-at: tear the interrupted write (half of it lands).
    #[arg(long)]
    pub tear: bool,
    /// Read power-cut commands from standard input (the harness's power instrument; see
    /// `power`): a cut at the Nth flash write from now, clean or torn, or before the next
    /// transaction result. The process exits where the power fails (status 3).
    #[arg(long)]
    pub power_control_stdin: bool,
    /// Log every request and host exchange to stderr (errors are always logged). Off by
    /// default: the harness records every frame and host message itself, and the extra line
    /// per request costs about a third of the throughput.
    #[arg(long)]
    pub trace: bool,
    /// Real-time bound on one host exchange (connect, send, receive), in milliseconds. The
    /// host's answer is awaited on the controlled clock (PROTOCOL.md 4.8): this bounds the wait
    /// only when the harness does not move the clock.
    #[arg(long, default_value_t = 2_000)]
    pub host_timeout_ms: u64,
    /// Answer Reset (request 19) `Rejected(Malformed)`, as a terminal whose test agent does not
    /// offer it: for testing the harness's way with such terminals (a lab's reset command).
    #[arg(long, hide = true)]
    pub without_reset: bool,
    /// Serve a cash register's (ECR) interface as well: `zvt`. The port of `--port` then
    /// carries the bench's instruments only (card, PIN, clock, power, reset), and the cash
    /// register's commands come on `--ecr-port` or `--ecr-listen`.
    #[arg(long, value_enum)]
    pub ecr: Option<EcrKind>,
    /// Serial device for the ECR interface (ZVT: 8 data bits, no parity, 2 stop bits).
    #[arg(long, requires = "ecr", conflicts_with = "ecr_listen")]
    pub ecr_port: Option<PathBuf>,
    /// Baud rate of `--ecr-port` (ZVT's default is 9600; ignored by PTYs).
    #[arg(long, default_value_t = 9_600)]
    pub ecr_baud: u32,
    /// TCP address to serve the ECR interface on (ZVT's port is 20007). With port 0 the
    /// system picks one; either way the first line on standard output is
    /// `ecr listening on ADDRESS`.
    #[arg(long, requires = "ecr")]
    pub ecr_listen: Option<String>,
    /// The password the cash register's administrative commands carry (6 digits).
    #[arg(long, default_value_t = 0)]
    pub ecr_password: u32,
    /// Deliberate bugs, for testing the harness's verdict (comma-separated; see `bugs::Bug`).
    #[arg(long, hide = true, value_enum, value_delimiter = ',')]
    pub inject_bug: Vec<bugs::Bug>,
}

/// Cash-register interfaces the emulator can serve.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcrKind {
    /// ZVT (PA00P015/PA00P016), over serial or TCP.
    Zvt,
}

/// Firmware version reported in Hello.
pub const FIRMWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Runs the emulator until the serial peer goes away or power is cut; returns the exit status.
pub fn run(args: &EmulatorArgs) -> i32 {
    match serial_loop::serve(args) {
        Ok(code) => code,
        Err(e @ SetupError::FlashDamaged { .. }) => {
            diag!("fut-emulator: {e}");
            EXIT_FLASH_DAMAGED
        }
        Err(e) => {
            diag!("fut-emulator: {e}");
            EXIT_SETUP
        }
    }
}

/// Errors that stop the emulator before it serves anything.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The serial device could not be opened or configured.
    #[error("cannot open serial port {path}: {source}")]
    Port {
        /// Device path.
        path: PathBuf,
        /// Cause.
        source: serialport::Error,
    },
    /// The flash file could not be opened, created or read.
    #[error("flash file {path}: {source}")]
    Flash {
        /// File path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The ECR interface could not be opened (its port, or its TCP listener).
    #[error("ECR interface: {0}")]
    Ecr(String),
    /// The flash device's geometry is unusable (`--flash-kib`).
    #[error("flash could not be mounted: {0:?}")]
    Mount(fut_core::journal::JournalError),
    /// The flash file's content cannot be used as it is; it is left untouched.
    #[error(
        "flash file {path} is damaged: {why}. Refusing to boot rather than erase it (its offline \
         queue and sequence numbers would be lost); keep a copy for support, then start with \
         --format-flash to erase it"
    )]
    FlashDamaged {
        /// File path.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
}
