//! What a receipt must show, checked from the outside (CARD-08, CARD-01, PBS-04, PCI-01).
//! The check looks for the facts, not the firmware's wording or layout.

use payhil_cards::Pan;
use payhil_protocol::{Amount, Network};

/// The facts a receipt must carry.
#[derive(Debug, Clone)]
pub struct ReceiptFacts<'a> {
    /// Amount charged (CARD-05: the full amount, tip included).
    pub amount: Amount,
    /// The tip within it, minor units: a receipt with a tip shows it.
    pub tip_minor: u64,
    /// Network used (CARD-01).
    pub network: Network,
    /// The card; only its masked form may appear.
    pub pan: &'a Pan,
    /// Controlled clock at the purchase (date and time must appear).
    pub unix_s: i64,
    /// Terminal id (the merchant's place, SUPPORT-02).
    pub terminal_id: &'a str,
    /// True for offline approvals: the receipt must say so.
    pub offline: bool,
}

/// Problems with a receipt; empty if it shows everything required.
pub fn findings(text: &str, f: &ReceiptFacts<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let mut need = |ok: bool, what: String| {
        if !ok {
            out.push(what);
        }
    };
    let cur = f.amount.currency.alpha();
    let major = format!("{}.{:02}", f.amount.minor / 100, f.amount.minor % 100);
    need(
        text.contains(cur),
        format!("PBS-04: currency {cur} not shown"),
    );
    need(
        text.contains(&major),
        format!("CARD-08/CARD-05: full amount {major} not shown"),
    );
    if f.tip_minor > 0 {
        let tip = format!("{}.{:02}", f.tip_minor / 100, f.tip_minor % 100);
        need(text.contains(&tip), format!("CARD-05: tip {tip} not shown"));
    }
    need(
        text.to_uppercase().contains(f.network.label()),
        format!("CARD-01: network {} not shown", f.network.label()),
    );
    let masked = f.pan.masked();
    need(
        text.contains(masked.last4()),
        "CARD-08: last four digits of the card not shown".into(),
    );
    need(
        !text.contains(f.pan.reveal()),
        format!("PCI-01: full card number printed (expected at most {masked})"),
    );
    if let Ok(t) = time::OffsetDateTime::from_unix_timestamp(f.unix_s) {
        let date = format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day());
        let hm = format!("{:02}:{:02}", t.hour(), t.minute());
        need(
            text.contains(&date) && text.contains(&hm),
            format!("CARD-08: date and time {date} {hm} not shown"),
        );
    }
    need(
        text.contains(f.terminal_id),
        format!("SUPPORT-02: terminal id {} not shown", f.terminal_id),
    );
    if f.offline {
        need(
            text.to_uppercase().contains("OFFLINE"),
            "NETS-10: an offline approval's receipt must say OFFLINE".into(),
        );
    }
    out
}
