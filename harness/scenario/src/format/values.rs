//! Single values of a scenario file: amounts, durations, dates, link faults, currencies, and the
//! names of outcomes, reasons and kinds.

use super::*;

/// Parses "125.50 DKK" exactly into minor units; never through a float.
pub(super) fn amount(cx: &Ctx<'_>, s: &Spanned<String>) -> Result<Amount, ScenarioError> {
    let bad = |m: &str| {
        cx.err(
            s.span(),
            format!("amount `{}`: {m} (write e.g. \"125.50 DKK\")", s.get_ref()),
        )
    };
    let mut parts = s.get_ref().split_whitespace();
    let (Some(number), Some(code), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("expected a number and a currency code"));
    };
    let currency = Currency::from_alpha(code).ok_or_else(|| bad("unknown currency"))?;
    let exp = currency.exponent() as usize;
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad("not a decimal number"));
    }
    if frac.len() > exp {
        return Err(bad("more decimals than the currency has"));
    }
    let digits = format!("{whole}{frac:0<exp$}");
    let minor = digits.parse::<u64>().map_err(|_| bad("too large"))?;
    if minor == 0 {
        return Err(bad("must be more than zero"));
    }
    Ok(Amount { minor, currency })
}

pub(super) fn duration(cx: &Ctx<'_>, s: &Spanned<String>) -> Result<u32, ScenarioError> {
    let t = s.get_ref().trim();
    let bad = || {
        cx.err(
            s.span(),
            format!(
                "duration `{t}`: write a whole number and s, m, h or d (e.g. \"90s\", \"14d\")"
            ),
        )
    };
    let unit = t.chars().last().ok_or_else(bad)?;
    let n: u32 = t[..t.len() - unit.len_utf8()].parse().map_err(|_| bad())?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

/// "250ms", "2s" as milliseconds (real time, for the link and the terminal's host timeout).
pub(super) fn millis(cx: &Ctx<'_>, s: &Spanned<String>) -> Result<u64, ScenarioError> {
    let t = s.get_ref().trim();
    let bad = || {
        cx.err(
            s.span(),
            format!("`{t}`: write a whole number of ms or s (e.g. \"250ms\")"),
        )
    };
    if let Some(n) = t.strip_suffix("ms") {
        n.parse().map_err(|_| bad())
    } else if let Some(n) = t.strip_suffix('s') {
        n.parse::<u64>()
            .ok()
            .and_then(|v| v.checked_mul(1000))
            .ok_or_else(bad)
    } else {
        Err(bad())
    }
}

/// An optional [`millis`] value as a duration; absent is zero.
pub(super) fn optional_millis(
    cx: &Ctx<'_>,
    s: &Option<Spanned<String>>,
) -> Result<std::time::Duration, ScenarioError> {
    Ok(std::time::Duration::from_millis(
        s.as_ref().map(|v| millis(cx, v)).transpose()?.unwrap_or(0),
    ))
}

pub(super) fn direction(
    cx: &Ctx<'_>,
    d: &RawDirection,
) -> Result<payhil_faults::DirectionFaults, ScenarioError> {
    Ok(payhil_faults::DirectionFaults {
        latency: optional_millis(cx, &d.latency)?,
        jitter: optional_millis(cx, &d.jitter)?,
        bytes_per_s: d.bytes_per_s,
        cut_after_bytes: d.cut_after_bytes,
        slice: d.slice,
    })
}

pub(super) fn faults(
    cx: &Ctx<'_>,
    f: &RawFaults,
) -> Result<Option<payhil_faults::Faults>, ScenarioError> {
    let faults = payhil_faults::Faults {
        upstream: direction(cx, &f.upstream)?,
        downstream: direction(cx, &f.downstream)?,
        random_cut_max_bytes: f.random_cut_max_bytes,
        slow_close: optional_millis(cx, &f.slow_close)?,
        connections: f.connections,
    };
    Ok((faults != payhil_faults::Faults::none()).then_some(faults))
}

pub(super) fn datetime(
    cx: &Ctx<'_>,
    s: &Spanned<toml::value::Datetime>,
) -> Result<i64, ScenarioError> {
    let dt = s.get_ref();
    let bad = |m: &str| {
        cx.err(
            s.span(),
            format!("set_clock: {m} (write e.g. 2026-03-02T10:15:00Z)"),
        )
    };
    let (Some(d), Some(t)) = (dt.date, dt.time) else {
        return Err(bad("needs a date and a time"));
    };
    if !matches!(dt.offset, Some(toml::value::Offset::Z)) {
        return Err(bad("the terminal clock is UTC: end the time with Z"));
    }
    let month = time::Month::try_from(d.month).map_err(|_| bad("invalid month"))?;
    let date = time::Date::from_calendar_date(i32::from(d.year), month, d.day)
        .map_err(|_| bad("invalid date"))?;
    let tod = time::Time::from_hms(t.hour, t.minute, t.second.unwrap_or(0))
        .map_err(|_| bad("invalid time"))?;
    Ok(time::PrimitiveDateTime::new(date, tod)
        .assume_utc()
        .unix_timestamp())
}

/// A calendar date (`settles = 2026-03-03`), as `YYYY-MM-DD`.
pub(super) fn date(
    cx: &Ctx<'_>,
    s: &Spanned<toml::value::Datetime>,
) -> Result<String, ScenarioError> {
    let dt = s.get_ref();
    let (Some(d), None) = (dt.date, dt.time) else {
        return Err(cx.err(s.span(), "a date without a time, e.g. 2026-03-03"));
    };
    let month = time::Month::try_from(d.month).map_err(|_| cx.err(s.span(), "invalid month"))?;
    time::Date::from_calendar_date(i32::from(d.year), month, d.day)
        .map(|d| d.to_string())
        .map_err(|_| cx.err(s.span(), "invalid date"))
}

/// A network by its scenario name.
pub(super) fn network(cx: &Ctx<'_>, n: &Spanned<String>) -> Result<Network, ScenarioError> {
    Ok(match n.get_ref().as_str() {
        "dankort" => Network::Dankort,
        "visa" => Network::Visa,
        "visa_debit" => Network::VisaDebit,
        "mastercard" => Network::Mastercard,
        "bankaxept" => Network::BankAxept,
        other => {
            return Err(cx.err(
                n.span(),
                format!(
                    "unknown network `{other}` (dankort, visa, visa_debit, mastercard, bankaxept)"
                ),
            ));
        }
    })
}

/// A receipt line or expected text with runs of whitespace made one space and the ends
/// trimmed, so that column padding on a receipt never decides a match.
pub fn normalise_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The one currency a domestic scheme's cards pay in; `None` for the international networks,
/// which take any currency the harness knows.
///
/// Dankort is Danish debit (the NETS and PBS rules, offline limits in DKK) and BankAxept
/// Norwegian debit (the BAX rules, reserve limits in NOK; the model declines a BankAxept
/// reserve in any other currency). Neither the protocol crate nor the card catalogue records
/// this, so it is written down here, where the check needs it.
pub(super) fn domestic_currency(network: Network) -> Option<Currency> {
    match network {
        Network::Dankort => Some(Currency::DKK),
        Network::BankAxept => Some(Currency::NOK),
        Network::Visa | Network::VisaDebit | Network::Mastercard => None,
    }
}

/// An error at `span` unless `card` can pay `amount` on `network`.
pub(super) fn currency_fits(
    cx: &Ctx<'_>,
    span: Range<usize>,
    card: &TestCard,
    network: Network,
    amount: Amount,
) -> Result<(), ScenarioError> {
    match domestic_currency(network) {
        Some(only) if only != amount.currency => Err(cx.err(
            span,
            format!(
                "card `{}` pays with {network:?}, which takes only the currency {}, not {}",
                card.name,
                only.alpha(),
                amount.currency.alpha()
            ),
        )),
        _ => Ok(()),
    }
}

/// The key a step's action is written with, for error messages.
pub(super) fn action_name(a: &Action) -> &'static str {
    match a {
        Action::SetClock(_) => "set_clock",
        Action::AdvanceClock(_) => "advance_clock",
        Action::Network(_) => "network",
        Action::Faults(_) => "faults",
        Action::Purchases { .. } => "purchases",
        Action::ForwardUntilEmpty(_) => "forward_until_empty",
        Action::Purchase(..) => "purchase",
        Action::Forward => "forward",
        Action::ExpectQueue(..) => "expect_queue",
        Action::Capture { .. } => "capture",
        Action::Reverse { .. } => "reverse",
        Action::Settle => "settle",
        Action::Reconcile => "reconcile",
        Action::PowerCycle => "power_cycle",
        Action::PowerCut(_) => "power_cut",
        Action::Serial(_) => "serial",
    }
}

/// The `kind` a purchase step is written with, for error messages.
pub(super) fn kind_name(k: TxnKind) -> &'static str {
    match k {
        TxnKind::Purchase => "purchase",
        TxnKind::Refund => "refund",
        TxnKind::PreAuthorisation => "pre-authorisation",
        TxnKind::Capture => "capture",
        TxnKind::Reversal => "reversal",
    }
}

/// Snake-case names of reasons, as scenarios write them.
pub fn reason_name(r: Reason) -> String {
    let dbg = format!("{r:?}");
    let base = dbg.split('(').next().unwrap_or(&dbg);
    let mut out = String::new();
    for (i, c) in base.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Snake-case names of outcomes.
pub fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::ApprovedOnline => "approved_online",
        Outcome::ApprovedOffline => "approved_offline",
        Outcome::Declined => "declined",
        Outcome::Aborted => "aborted",
    }
}

pub(super) const REASONS: &[Reason] = &[
    Reason::Approved,
    Reason::InsufficientFunds,
    Reason::CardBlocked,
    Reason::CardExpired,
    Reason::IssuerUnavailable,
    Reason::OfflineAmountLimit,
    Reason::OfflineCardLimit,
    Reason::OfflineCardTypeNotAllowed,
    Reason::OfflineContactlessNotAllowed,
    Reason::OfflineWalletNotAllowed,
    Reason::OfflinePinRequired,
    Reason::OfflineQueueFull,
    Reason::CommunicationFailure,
    Reason::CardDataInvalid,
    Reason::Cancelled,
    Reason::ChipUnreadable,
    Reason::FallbackOnlineOnly,
    Reason::GamblingDailyLimit,
    Reason::SplitSuspected,
    Reason::ReserveNotAllowed,
    Reason::ReserveAttendantRequired,
    Reason::ReserveIdInvalid,
    Reason::ReserveAccountInvalid,
    Reason::ReserveAuthCodeRequired,
    Reason::ReserveAggregateLimit,
    Reason::OnlineOnly,
    Reason::CaptureExceedsAuthorised,
    Reason::NoSuchTransaction,
    Reason::PinIncorrect,
    Reason::PinTriesExceeded,
    Reason::PinRequired,
    Reason::ClockNotTrusted,
    Reason::CardDataMalformed,
    Reason::CardDataDuplicated,
    Reason::CardDataMissing,
    Reason::CardDataInconsistent,
    Reason::CardNumberInvalid,
    Reason::CardNotSupported,
    Reason::CardNotYetValid,
    Reason::CurrencyMismatch,
];
