//! The lab's inventory: the terminals of a rack and how to reach each (`payhil run --inventory`).
//! A TOML file of `[[terminal]]` tables; see `inventory.example.toml` and README.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// The terminals, in the order they are listed.
    #[serde(rename = "terminal", default)]
    pub terminals: Vec<Terminal>,
}

/// One terminal.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Terminal {
    /// Its name in the output and its evidence bundle's directory (letters, digits, `-_.`).
    pub name: String,
    /// Its serial port: a device path (best `/dev/serial/by-id/...`, which names the adapter
    /// and survives re-plugging), or `rfc2217://host:port` for a port exported over the
    /// network (ser2net, a labgrid exporter). Absent with `emulator = true`.
    pub port: Option<PathBuf>,
    /// The reference terminal, started by payhil behind two PTY pairs joined as a serial
    /// cable and kept running from scenario to scenario, as a terminal in a rack is.
    #[serde(default)]
    pub emulator: bool,
    /// Baud rate.
    #[serde(default = "default_baud")]
    pub baud: u32,
    /// Flow control: only "none" is supported for now (the test-agent protocol needs none).
    #[serde(default)]
    pub flow_control: FlowControl,
    /// The command that cuts its power (relay, PDU), run with `sh -c`.
    pub power_off: Option<String>,
    /// The command that restores its power.
    pub power_on: Option<String>,
    /// How long its power stays off, milliseconds.
    #[serde(default = "default_off_ms")]
    pub power_off_ms: u64,
    /// Where its acquirer proxy listens: the host address the terminal is configured with
    /// (default: a free loopback port, chosen for the whole run and printed).
    pub proxy_listen: Option<SocketAddr>,
    /// For a terminal without the Reset request: the lab's command that resets it (empties its
    /// queue), run with `sh -c` before each scenario.
    pub reset_command: Option<String>,
    /// For a terminal without the Reset request: the limits it is configured with. Scenarios
    /// that assume other limits are skipped on it, with the reason.
    pub config: Option<Configured>,
    /// Tags to choose terminals by (`--tags`).
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Serial flow control.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowControl {
    /// None (the protocol frames and acknowledges every message itself).
    #[default]
    None,
}

/// The limits a terminal without Reset is configured with (minor units of its currency).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Configured {
    /// Offline limit per transaction (NETS-03).
    pub offline_limit_minor: Option<u64>,
    /// Offline limit per card (NETS-04).
    pub card_limit_minor: Option<u64>,
    /// Contactless CVM limit (CARD-02).
    pub cvm_limit_minor: Option<u64>,
    /// Seconds between forwarding attempts.
    pub forward_retry_s: Option<u32>,
}

impl Configured {
    /// Why a scenario assuming `t` cannot run on a terminal configured so, if it cannot.
    pub fn mismatch(&self, t: &payhil_scenario::format::TerminalSettings) -> Option<String> {
        let checks = [
            (
                "offline_limit",
                self.offline_limit_minor,
                t.offline_limit.minor,
            ),
            ("card_limit", self.card_limit_minor, t.card_limit.minor),
            ("cvm_limit", self.cvm_limit_minor, t.cvm_limit.minor),
            (
                "forward_retry_s",
                self.forward_retry_s.map(u64::from),
                u64::from(t.forward_retry_s),
            ),
        ];
        checks.iter().find_map(|(name, has, wants)| match has {
            Some(has) if has != wants => Some(format!(
                "the scenario assumes {name} {wants}, the terminal is configured with {has} (inventory config)"
            )),
            _ => None,
        })
    }
}

fn default_baud() -> u32 {
    115_200
}

fn default_off_ms() -> u64 {
    1_000
}

/// Why an inventory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// Unreadable.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Not valid: where and why.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// Why.
        message: String,
    },
}

impl Inventory {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, InventoryError> {
        let text = std::fs::read_to_string(path).map_err(|source| InventoryError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses and checks `text` (read from `path`).
    pub fn parse(path: &Path, text: &str) -> Result<Self, InventoryError> {
        let at = |offset: usize, message: String| {
            let before = &text[..offset.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            InventoryError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                message,
            }
        };
        let inv: Inventory = toml::from_str(text).map_err(|e| {
            at(
                e.span().map_or(0, |s| s.start),
                e.message().trim().to_string(),
            )
        })?;
        let locate = |name: &str| text.find(&format!("\"{name}\"")).unwrap_or(0);
        if inv.terminals.is_empty() {
            return Err(at(0, "no [[terminal]] in the inventory".into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for t in &inv.terminals {
            let bad = |m: String| Err(at(locate(&t.name), m));
            if t.name.is_empty()
                || !t
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                || t.name.starts_with('.')
            {
                return bad(format!(
                    "terminal name {:?}: use letters, digits, '-', '_' and '.' (it names a directory)",
                    t.name
                ));
            }
            if !seen.insert(t.name.clone()) {
                return bad(format!("terminal name {:?} is used twice", t.name));
            }
            match (&t.port, t.emulator) {
                (None, false) => {
                    return bad(format!(
                        "terminal {:?} has no port (a device path) and is not `emulator = true`",
                        t.name
                    ));
                }
                (Some(_), true) => {
                    return bad(format!(
                        "terminal {:?}: a port and `emulator = true` exclude each other",
                        t.name
                    ));
                }
                (Some(p), false)
                    if p.to_string_lossy()
                        .starts_with(payhil_transport::rfc2217::SCHEME)
                        && payhil_transport::rfc2217::address_of(&p.to_string_lossy())
                            .is_none() =>
                {
                    return bad(format!(
                        "terminal {:?}: an RFC 2217 port is rfc2217://host:port",
                        t.name
                    ));
                }
                _ => {}
            }
            if t.power_off.is_some() != t.power_on.is_some() {
                return bad(format!(
                    "terminal {:?}: power_off and power_on go together",
                    t.name
                ));
            }
            if t.baud == 0 {
                return bad(format!("terminal {:?}: baud 0 is no rate", t.name));
            }
        }
        Ok(inv)
    }

    /// The terminals that carry every one of `tags` (all of them for no tags).
    pub fn matching(&self, tags: &[String]) -> Vec<&Terminal> {
        self.terminals
            .iter()
            .filter(|t| tags.iter().all(|tag| t.tags.contains(tag)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Inventory, String> {
        Inventory::parse(Path::new("rack.toml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn the_example_inventory_parses_with_four_emulated_terminals() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../inventory.example.toml");
        let inv = Inventory::load(&path).unwrap();
        assert_eq!(inv.terminals.len(), 4);
        assert!(inv.terminals.iter().all(|t| t.emulator));
        assert_eq!(inv.matching(&["lane".into()]).len(), 4);
    }

    #[test]
    fn mistakes_are_named_with_file_line_and_column() {
        let e = parse("[[terminal]]\nname = \"a\"\nport = \"/dev/ttyUSB0\"\nbaud = \"fast\"\n")
            .unwrap_err();
        assert!(e.starts_with("rack.toml:4:8:"), "{e}");
        let e = parse("[[terminal]]\nname = \"a\"\nemulator = true\ncolour = 1\n").unwrap_err();
        assert!(
            e.starts_with("rack.toml:4:1:") && e.contains("colour"),
            "{e}"
        );
        let e = parse("[[terminal]]\nname = \"a\"\n").unwrap_err();
        assert!(e.contains("no port"), "{e}");
        let two = "[[terminal]]\nname = \"a\"\nemulator = true\n";
        let e = parse(&format!("{two}{two}")).unwrap_err();
        assert!(e.contains("used twice"), "{e}");
        let e = parse("[[terminal]]\nname = \"../x\"\nemulator = true\n").unwrap_err();
        assert!(e.contains("names a directory"), "{e}");
        let e = parse("[[terminal]]\nname = \"a\"\nport = \"rfc2217://\"\n").unwrap_err();
        assert!(e.contains("rfc2217://host:port"), "{e}");
        assert!(parse("[[terminal]]\nname = \"a\"\nport = \"rfc2217://lab:4001\"\n").is_ok());
        let e =
            parse("[[terminal]]\nname = \"a\"\nemulator = true\npower_off = \"x\"\n").unwrap_err();
        assert!(e.contains("go together"), "{e}");
        assert!(parse("").unwrap_err().contains("no [[terminal]]"));
    }

    #[test]
    fn tags_choose_terminals_that_carry_them_all() {
        let inv = parse(
            "[[terminal]]\nname = \"a\"\nemulator = true\ntags = [\"x\", \"y\"]\n\
             [[terminal]]\nname = \"b\"\nemulator = true\ntags = [\"x\"]\n",
        )
        .unwrap();
        let names = |tags: &[&str]| {
            let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
            inv.matching(&tags)
                .iter()
                .map(|t| t.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&[]), ["a", "b"]);
        assert_eq!(names(&["x"]), ["a", "b"]);
        assert_eq!(names(&["x", "y"]), ["a"]);
        assert!(names(&["z"]).is_empty());
    }
}
