//! Test cards a scenario defines itself (`[[card]]`): expiry, applications, PIN, CVC, issuer
//! behaviour and account, each checked where it is written.

use super::*;
use payhil_cards::catalogue::IssuerBehaviour;
use payhil_cards::{Cvc, Pan};
use payhil_protocol::Expiry;

/// One `[[card]]` table.
pub(super) fn card(cx: &Ctx<'_>, c: &Spanned<RawCard>) -> Result<TestCard, ScenarioError> {
    let r = c.get_ref();
    let name = r.name.get_ref().trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
    {
        return Err(cx.err(
            r.name.span(),
            "a card name is letters, digits and _ (it is written in purchases)",
        ));
    }
    if cx.card(name).is_some() {
        return Err(cx.err(
            r.name.span(),
            format!("a test card named `{name}` exists already; choose another name"),
        ));
    }
    // Written as it is printed, if the author likes: groups split by spaces or dashes.
    let digits: String = r
        .pan
        .get_ref()
        .chars()
        .filter(|c| *c != ' ' && *c != '-')
        .collect();
    let pan =
        Pan::parse(&digits).map_err(|e| cx.err(r.pan.span(), format!("not a card number: {e}")))?;
    let expiry = expiry(cx, &r.expiry)?;
    let mut networks = Vec::new();
    for n in r.networks.get_ref() {
        let net = network(cx, n)?;
        if networks.contains(&net) {
            return Err(cx.err(n.span(), format!("{} is named twice", net.label())));
        }
        networks.push(net);
    }
    if networks.is_empty() {
        return Err(cx.err(r.networks.span(), "a card has at least one application"));
    }
    let pin = Pin::parse(r.pin.get_ref())
        .ok_or_else(|| cx.err(r.pin.span(), "a PIN is 4 to 12 digits"))?;
    let cvc = Cvc::parse(r.cvc.get_ref())
        .ok_or_else(|| cx.err(r.cvc.span(), "a CVC is 3 or 4 digits"))?;
    let issuer = match r.issuer.as_ref().map(|i| (i.get_ref().as_str(), i.span())) {
        None | Some(("approve", _)) => IssuerBehaviour::Approve,
        Some(("insufficient_funds", _)) => IssuerBehaviour::InsufficientFunds,
        Some(("blocked", _)) => IssuerBehaviour::Blocked,
        Some(("issuer_unavailable", _)) => IssuerBehaviour::IssuerUnavailable,
        Some((other, span)) => {
            return Err(cx.err(
                span,
                format!(
                    "unknown issuer behaviour `{other}` (approve, insufficient_funds, blocked, issuer_unavailable)"
                ),
            ));
        }
    };
    // The account number is the card's as printed; whether it passes MOD-11 is for the
    // terminal to check (BAX-06), so a card may carry a wrong one on purpose. Its form is
    // checked here only so far as the wire needs: digits.
    let account = match &r.account {
        None => String::new(),
        Some(a) if a.get_ref().bytes().all(|b| b.is_ascii_digit()) && a.get_ref().len() <= 20 => {
            a.get_ref().clone()
        }
        Some(a) => return Err(cx.err(a.span(), "an account number is up to 20 digits")),
    };
    Ok(TestCard {
        name: name.to_string(),
        pan,
        expiry,
        pan_seq: 1,
        networks,
        issuer,
        pin,
        cvc,
        account,
    })
}

/// `YYYY-MM`: the card is valid through the last day of that month (CARD-03).
fn expiry(cx: &Ctx<'_>, s: &Spanned<String>) -> Result<Expiry, ScenarioError> {
    let bad = || cx.err(s.span(), "expiry is YYYY-MM, e.g. \"2027-12\"");
    let (y, m) = s.get_ref().split_once('-').ok_or_else(bad)?;
    let year: u16 = y.parse().map_err(|_| bad())?;
    let month: u8 = m.parse().map_err(|_| bad())?;
    if y.len() != 4 || m.len() != 2 || !(1..=12).contains(&month) {
        return Err(bad());
    }
    Ok(Expiry { year, month })
}
