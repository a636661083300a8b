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
    /// The card's expiry, which no receipt or debit note may show (BAX-05).
    pub expiry: payhil_protocol::Expiry,
    /// For a BankAxept debit note: the ID reference and account number it must carry (BAX-04,
    /// BAX-06).
    pub note: Option<(&'a str, &'a str)>,
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
    need(
        !shows_expiry(text, f.expiry),
        "BAX-05: the card's expiry date is printed".into(),
    );
    match f.note {
        Some((id_reference, account)) => {
            let upper = text.to_uppercase();
            need(
                upper.contains("DEBIT"),
                "BAX-02: a reserve payment prints a debit note".into(),
            );
            need(
                text.contains(id_reference),
                "BAX-04: the ID reference is not on the debit note".into(),
            );
            need(
                text.contains(account),
                "BAX-06: the account number is not on the debit note".into(),
            );
            need(
                upper.contains("SIGNATURE"),
                "BAX-02: the debit note has no signature line".into(),
            );
        }
        None if f.offline => {
            need(
                text.to_uppercase().contains("OFFLINE"),
                "NETS-10: an offline approval's receipt must say OFFLINE".into(),
            );
        }
        None => {}
    }
    out
}

/// Whether `text` shows the expiry as MM/YY, or as YYYY-MM that is not the start of a full
/// date (a receipt dated in the expiry month is fine).
fn shows_expiry(text: &str, e: payhil_protocol::Expiry) -> bool {
    if text.contains(&format!("{:02}/{:02}", e.month, e.year % 100)) {
        return true;
    }
    let ym = format!("{:04}-{:02}", e.year, e.month);
    text.match_indices(&ym).any(|(i, _)| {
        let rest = &text.as_bytes()[i + ym.len()..];
        !(rest.len() >= 3
            && rest[0] == b'-'
            && rest[1].is_ascii_digit()
            && rest[2].is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::shows_expiry;
    use payhil_protocol::Expiry;

    #[test]
    fn bax_05_expiry_is_found_but_a_date_in_the_expiry_month_is_not() {
        let e = Expiry {
            year: 2029,
            month: 6,
        };
        assert!(shows_expiry("EXP 06/29", e));
        assert!(shows_expiry("EXPIRY 2029-06\n", e));
        assert!(!shows_expiry("2029-06-30 23:59:59", e));
    }
}
