//! `payhil zvt`: drive an unmodified terminal through its ZVT cash-register interface, one
//! command at a time, with a card robot (or a person) as the card instrument. For a lab's first
//! contact with a terminal: does it register, take a payment, end the day, and how does it
//! answer.

use anyhow::{Context, bail};
use payhil_bench::{CardAction, CardRobot};
use payhil_ecr::zvt::{self, Driver, Ended, Outcome, Progress, Timeouts};
use payhil_protocol::zvt::message::{Command, Password, config, result, status};
use payhil_protocol::{EntryMode, Network};
use payhil_transport::Transcript;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;

/// Arguments of `payhil zvt`.
#[derive(clap::Args, Debug)]
pub struct ZvtArgs {
    /// The terminal's ZVT interface: a serial device (best by its stable path,
    /// /dev/serial/by-id/...; 8N2), one exported as rfc2217://HOST:PORT, or tcp://HOST:PORT
    /// (ZVT's port is 20007).
    #[arg(long)]
    terminal: String,
    /// Baud rate of a serial interface.
    #[arg(long, default_value_t = 9_600)]
    baud: u32,
    /// The terminal's password (6 digits), for the commands that carry one.
    #[arg(long, default_value_t = 0)]
    password: u32,
    /// The card instrument: a shell command that presents a card or enters its PIN, told what
    /// to do in its environment (PAYHIL_ACTION=present|pin, PAYHIL_CARD, PAYHIL_ENTRY,
    /// PAYHIL_NETWORK). Without it a person presents the card when the terminal asks.
    #[arg(long)]
    card_command: Option<String>,
    /// The test card the instrument presents (a name from the card catalogue).
    #[arg(long, default_value = "dankort")]
    card: String,
    /// How the card is presented.
    #[arg(long, value_enum, default_value_t = Entry::Chip)]
    entry: Entry,
    /// Bound on one card instrument action, seconds.
    #[arg(long, default_value_t = 60)]
    card_timeout_s: u64,
    /// T4: the longest silence of the terminal while it holds the master rights, seconds.
    #[arg(long, default_value_t = 180)]
    t4_s: u64,
    /// Write every APDU exchanged (hex) and the card instrument's actions to this file.
    #[arg(long)]
    transcript: Option<PathBuf>,
    /// The command.
    #[command(subcommand)]
    action: Action,
}

/// How the card is presented.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
enum Entry {
    Chip,
    Contactless,
    Wallet,
    Magstripe,
}

/// ZVT commands.
#[derive(clap::Subcommand, Debug, Clone)]
enum Action {
    /// Registration (06 00): intermediate statuses and receipts as print lines, currency DKK.
    Register,
    /// A payment (06 01) of AMOUNT (e.g. 12.50).
    Pay {
        /// Amount in major units with up to two decimals.
        amount: String,
    },
    /// A refund (06 31) of AMOUNT.
    Refund {
        /// Amount in major units with up to two decimals.
        amount: String,
    },
    /// A pre-authorisation (06 22) of AMOUNT, booked later with `book-total`.
    Preauth {
        /// Amount in major units with up to two decimals.
        amount: String,
    },
    /// Books (06 24) the pre-authorisation with this receipt number for AMOUNT.
    BookTotal {
        /// The pre-authorisation's receipt number.
        receipt: u16,
        /// Amount in major units with up to two decimals.
        amount: String,
    },
    /// Reverses (06 30) the payment with this receipt number.
    Reverse {
        /// The receipt number the terminal gave.
        receipt: u16,
    },
    /// End of day (06 50).
    EndOfDay,
    /// Status enquiry (05 01).
    Status,
    /// Repeat receipt (06 20) with the last result (service byte 01): what a cash register
    /// does after it lost a result.
    Repeat,
    /// Log off (06 02).
    LogOff,
}

/// Minor units of an amount written `12.50`, `12.5` or `12`.
fn minor_units(text: &str) -> anyhow::Result<u64> {
    let (major, minor) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(major) || (!minor.is_empty() && !digits(minor)) || minor.len() > 2 {
        bail!("amount {text:?}: write it as 12.50");
    }
    let major: u64 = major.parse().context("amount too large")?;
    let minor: u64 = format!("{minor:0<2}").parse().unwrap_or(0);
    major
        .checked_mul(100)
        .and_then(|m| m.checked_add(minor))
        .context("amount too large")
}

/// Runs `payhil zvt`; returns the exit status (0: the terminal completed the command
/// successfully, 1: it declined or aborted, 2 is left to errors).
pub fn run(args: ZvtArgs) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run_async(args))
}

async fn run_async(args: ZvtArgs) -> anyhow::Result<i32> {
    let password = Password(args.password);
    let cmd = match &args.action {
        Action::Register => Command::Registration {
            password,
            config: config::INTERMEDIATE_STATUS
                | config::RECEIPTS_AS_PRINT_LINES
                | config::ECR_CONTROLS_PAYMENT,
            currency: Some(208),
        },
        Action::Pay { amount } => Command::Authorisation {
            amount_minor: minor_units(amount)?,
            currency: Some(208),
            payment_type: None,
        },
        Action::Refund { amount } => Command::Refund {
            password,
            amount_minor: minor_units(amount)?,
            currency: Some(208),
        },
        Action::Preauth { amount } => Command::PreAuthorisation {
            amount_minor: minor_units(amount)?,
            currency: Some(208),
            payment_type: None,
        },
        Action::BookTotal { receipt, amount } => Command::BookTotal {
            receipt: *receipt,
            amount_minor: Some(minor_units(amount)?),
            currency: Some(208),
        },
        Action::Reverse { receipt } => Command::Reversal {
            password,
            receipt: Some(*receipt),
        },
        Action::EndOfDay => Command::EndOfDay { password },
        Action::Status => Command::StatusEnquiry { password },
        Action::Repeat => Command::RepeatReceipt {
            password,
            status_information: true,
        },
        Action::LogOff => Command::LogOff,
    };
    let card = payhil_cards::catalogue::by_name(&args.card).with_context(|| {
        format!(
            "no test card {:?}; the catalogue has: {}",
            args.card,
            payhil_cards::catalogue::names().join(", ")
        )
    })?;
    let network = card.networks.first().copied().unwrap_or(Network::Visa);
    let entry = match args.entry {
        Entry::Chip => EntryMode::Chip,
        Entry::Contactless => EntryMode::Contactless,
        Entry::Wallet => EntryMode::Wallet,
        Entry::Magstripe => EntryMode::Magstripe,
    };
    let transcript = Transcript::new();
    let link = zvt::open(
        &args.terminal,
        args.baud,
        Duration::from_secs(10),
        Some(transcript.clone()),
    )
    .await?;
    let timeouts = Timeouts {
        master: Duration::from_secs(args.t4_s),
        ..Timeouts::default()
    };
    let mut driver = Driver::new(link, password, timeouts);
    let robot = args
        .card_command
        .as_ref()
        .map(|c| CardRobot::new(c.clone(), Duration::from_secs(args.card_timeout_s)));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let card_name = args.card.clone();
    let t2 = transcript.clone();
    // Progress is printed as it comes; the card instrument acts when the terminal asks.
    let watcher = async move {
        while let Some(p) = rx.recv().await {
            match p {
                Progress::Accepted => println!("accepted (80 00 00)"),
                Progress::Status(s) => {
                    println!("status {s:02X}: {}", status::describe(s));
                    let action = match s {
                        status::INSERT_CARD => Some(CardAction::Present),
                        status::WATCH_PIN_PAD | 0x02 => Some(CardAction::EnterPin),
                        _ => None,
                    };
                    match (action, &robot) {
                        (Some(a), Some(r)) => {
                            if let Err(e) = r.act(a, &card_name, entry, network, Some(&t2)).await {
                                eprintln!("{e}");
                                return Err(e);
                            }
                        }
                        (Some(CardAction::Present), None) => {
                            println!("(present the card {card_name} to the terminal)");
                        }
                        _ => {}
                    }
                }
                Progress::Line(l) => println!("print | {l}"),
                Progress::Result(_) => {}
            }
        }
        Ok(())
    };
    let (outcome, watched) = tokio::join!(
        async {
            let r = driver.execute(cmd, Some(&tx), None).await;
            drop(tx);
            r
        },
        watcher
    );
    if let Some(path) = &args.transcript {
        std::fs::write(path, transcript.render())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    watched?;
    let outcome = outcome?;
    report(&outcome);
    Ok(if outcome.succeeded() { 0 } else { 1 })
}

fn report(o: &Outcome) {
    if let Some(r) = &o.result {
        let code = r.result.unwrap_or(0);
        let mut parts = vec![format!("result {code:02X} ({})", result::describe(code))];
        if let Some(a) = r.amount_minor {
            parts.push(format!("amount {}.{:02}", a / 100, a % 100));
        }
        if let Some(c) = r.currency {
            parts.push(format!("currency {c:03}"));
        }
        if let Some(n) = r.receipt {
            parts.push(format!("receipt {n}"));
        }
        if let Some(t) = r.trace {
            parts.push(format!("trace {t}"));
        }
        if let Some(p) = &r.masked_pan {
            parts.push(format!("card {p}"));
        }
        if let Some(a) = &r.auth_code {
            parts.push(format!("approval {a}"));
        }
        if let Some(t) = &r.text {
            parts.push(t.clone());
        }
        println!("{}", parts.join(", "));
    }
    match &o.ended {
        Ended::Completed { .. } => println!("completed (06 0F)"),
        Ended::Aborted { result: code } => {
            println!("aborted (06 1E {code:02X}: {})", result::describe(*code));
        }
        Ended::Acknowledged => println!("acknowledged"),
    }
}

#[cfg(test)]
mod tests {
    use super::minor_units;

    #[test]
    fn amounts_are_read_to_the_minor_unit_and_nonsense_is_refused() {
        assert_eq!(minor_units("12.50").unwrap(), 1250);
        assert_eq!(minor_units("12.5").unwrap(), 1250);
        assert_eq!(minor_units("7").unwrap(), 700);
        for bad in ["", "1.234", "-3", "1,50", "x", "99999999999999999999"] {
            assert!(minor_units(bad).is_err(), "{bad}");
        }
    }
}
