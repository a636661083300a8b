//! Steps, purchases and expectations: from their TOML form to the plan the runner follows, with
//! every check that needs the scenario as a whole (what a capture or reversal refers to, sums that
//! must not overflow).

use super::*;

/// The sum of every amount a scenario charges: purchases with their tips, bulk purchases and
/// captures. The reference model, the host's books and the settlement totals add these up; if
/// the whole sum fits in a `u64`, so does every partial sum they make, so nothing downstream
/// can overflow.
#[derive(Default)]
pub(super) struct Charged(u64);

impl Charged {
    /// Adds `minor`, or an error at `span` (where the amount that does not fit is written).
    fn add(&mut self, cx: &Ctx<'_>, span: Range<usize>, minor: u64) -> Result<(), ScenarioError> {
        self.0 = self.0.checked_add(minor).ok_or_else(|| {
            cx.err(
                span,
                format!(
                    "this amount makes the scenario's total overflow: all amounts together must stay within {} minor units",
                    u64::MAX
                ),
            )
        })?;
        Ok(())
    }
}

pub(super) fn step(
    cx: &Ctx<'_>,
    index: usize,
    s: &Spanned<RawStep>,
    before: &[Step],
    charged: &mut Charged,
) -> Result<Step, ScenarioError> {
    let r = s.get_ref();
    let mut actions: Vec<(Range<usize>, Action)> = Vec::new();
    if let Some(t) = &r.set_clock {
        actions.push((t.span(), Action::SetClock(datetime(cx, t)?)));
    }
    if let Some(d) = &r.advance_clock {
        actions.push((d.span(), Action::AdvanceClock(duration(cx, d)?)));
    }
    if let Some(n) = &r.network {
        let link = match n.get_ref().as_str() {
            "up" => LinkSpec::Up,
            "down" => LinkSpec::Down,
            "blackhole" => LinkSpec::Blackhole,
            other => {
                return Err(cx.err(
                    n.span(),
                    format!("network is \"up\", \"down\" or \"blackhole\", not \"{other}\""),
                ));
            }
        };
        actions.push((n.span(), Action::Network(link)));
    }
    if let Some(p) = &r.purchase {
        let expect = r.expect.as_ref().map(|e| expectation(cx, e)).transpose()?;
        let spec = purchase(cx, p)?;
        if let (Some(f), Some(e)) = (spec.card_fault, &r.expect) {
            if f.is_amount() {
                return Err(cx.err(
                    e.span(),
                    format!(
                        "card_fault `{}` is refused at the start (BadAmount), before any outcome: it takes no `expect`",
                        f.name()
                    ),
                ));
            }
        }
        charged.add(cx, p.get_ref().amount.span(), spec.amount.minor)?;
        if let Some(t) = &p.get_ref().tip {
            charged.add(cx, t.span(), spec.tip_minor)?;
        }
        actions.push((p.span(), Action::Purchase(Box::new(spec), expect)));
    } else if let (Some(e), None, None) = (&r.expect, &r.capture, &r.reverse) {
        return Err(cx.err(
            e.span(),
            "`expect` belongs to a `purchase`, `capture` or `reverse` step",
        ));
    }
    for (flag, action) in [
        (&r.forward, Action::Forward),
        (&r.settle, Action::Settle),
        (&r.reconcile, Action::Reconcile),
        (&r.power_cycle, Action::PowerCycle),
    ] {
        if let Some(f) = flag {
            if !*f.get_ref() {
                return Err(cx.err(f.span(), "write the step only when it is wanted (`= true`)"));
            }
            actions.push((f.span(), action));
        }
    }
    if let Some(c) = &r.power_cut {
        actions.push((c.span(), Action::PowerCut(power_cut(cx, c)?)));
    }
    if let Some(q) = &r.expect_queue {
        let q2 = q.get_ref();
        actions.push((
            q.span(),
            Action::ExpectQueue(q2.pending, q2.overdue, q2.declined_by_host),
        ));
    }
    if let Some(f) = &r.faults {
        actions.push((f.span(), Action::Faults(faults(cx, f.get_ref())?)));
    }
    if let Some(b) = &r.purchases {
        let raw = b.get_ref();
        if *raw.count.get_ref() == 0 || *raw.count.get_ref() > 10_000 {
            return Err(cx.err(raw.count.span(), "count is 1 to 10000"));
        }
        let mut cards = Vec::new();
        for c in &raw.cards {
            cards.push(
                cx.card(c.get_ref())
                    .ok_or_else(|| cx.err(c.span(), format!("unknown card `{}`", c.get_ref())))?,
            );
        }
        if cards.is_empty() {
            return Err(cx.err(b.span(), "`cards` names at least one test card"));
        }
        let a = amount(cx, &raw.amount)?;
        let total = u64::from(*raw.count.get_ref())
            .checked_mul(a.minor)
            .ok_or_else(|| {
                cx.err(
                    raw.count.span(),
                    format!(
                        "count × amount overflows: more than {} minor units",
                        u64::MAX
                    ),
                )
            })?;
        charged.add(cx, raw.amount.span(), total)?;
        for (name, card) in raw.cards.iter().zip(&cards) {
            // The runner pays with each card's first application, as a plain purchase does.
            currency_fits(cx, name.span(), card, card.networks[0], a)?;
        }
        let expect = raw
            .expect
            .as_ref()
            .map(|e| expectation(cx, e))
            .transpose()?;
        actions.push((
            b.span(),
            Action::Purchases {
                count: *raw.count.get_ref(),
                amount: a,
                cards,
                expect,
            },
        ));
    }
    if let Some(f) = &r.serial {
        actions.push((f.span(), Action::Serial(super::serial::serial(cx, f)?)));
    }
    if let Some(n) = &r.forward_until_empty {
        if *n.get_ref() == 0 {
            return Err(cx.err(n.span(), "at least one round"));
        }
        actions.push((n.span(), Action::ForwardUntilEmpty(*n.get_ref())));
    }
    // The step a capture or reversal names, which must come before it: the runner looks up
    // the transaction that step made, and a later step has made none yet.
    let earlier = |of: &Spanned<usize>| {
        let n = *of.get_ref();
        n.checked_sub(1)
            .and_then(|i| before.get(i))
            .map(|s| (n, &s.action))
            .ok_or_else(|| {
                cx.err(
                    of.span(),
                    format!("`of` must name an earlier step (1..{})", index - 1),
                )
            })
    };
    let no_transaction = |of: &Spanned<usize>, action: &Action, wanted: &str| {
        let made = match action {
            Action::Purchases { .. } => "many purchases, none of which a step can name",
            other => action_name(other),
        };
        cx.err(
            of.span(),
            format!(
                "step {} made no transaction to refer to ({made}); `of` names {wanted}",
                of.get_ref()
            ),
        )
    };
    let expect = || r.expect.as_ref().map(|e| expectation(cx, e)).transpose();
    if let Some(c) = &r.capture {
        let raw = c.get_ref();
        let a = amount(cx, &raw.amount)?;
        charged.add(cx, raw.amount.span(), a.minor)?;
        let (of, action) = earlier(&raw.of)?;
        let preauth = match action {
            Action::Purchase(p, _) if p.kind == TxnKind::PreAuthorisation => p,
            Action::Purchase(p, _) => {
                return Err(cx.err(
                    raw.of.span(),
                    format!(
                        "step {of} is a {}, not a pre-authorisation (kind = \"preauth\"); only a pre-authorisation can be captured",
                        kind_name(p.kind)
                    ),
                ));
            }
            other => {
                return Err(no_transaction(&raw.of, other, "a pre-authorisation step"));
            }
        };
        if a.currency != preauth.amount.currency {
            return Err(cx.err(
                raw.amount.span(),
                format!(
                    "a capture is in the currency of its pre-authorisation ({}), not {}",
                    preauth.amount.currency.alpha(),
                    a.currency.alpha()
                ),
            ));
        }
        actions.push((
            c.span(),
            Action::Capture {
                of,
                amount: a,
                expect: expect()?,
            },
        ));
    }
    if let Some(v) = &r.reverse {
        let raw = v.get_ref();
        let (of, action) = earlier(&raw.of)?;
        // A purchase of any kind, a capture or a reversal makes a transaction the terminal
        // can be asked to reverse; whether it was approved is for the run to find out.
        if !matches!(
            action,
            Action::Purchase(..) | Action::Capture { .. } | Action::Reverse { .. }
        ) {
            return Err(no_transaction(
                &raw.of,
                action,
                "a purchase, capture or reversal step",
            ));
        }
        actions.push((
            v.span(),
            Action::Reverse {
                of,
                expect: expect()?,
            },
        ));
    }
    match actions.len() {
                0 => Err(cx.err(s.span(), format!("step {index} has no action (set_clock, advance_clock, network, purchase, capture, reverse, forward, expect_queue, settle, power_cycle, power_cut, serial)"))),
        1 => {
            let (span, action) = actions.remove(0);
            let link_error = match &r.link_error {
                None => None,
                Some(e) if e.get_ref().trim().is_empty() => {
                    return Err(cx.err(e.span(), "an empty `link_error` matches every error"));
                }
                // Only a step that talks to the terminal can end its run.
                Some(e) if matches!(action, Action::Network(_) | Action::Faults(_) | Action::Serial(_) | Action::Settle) => {
                    return Err(cx.err(e.span(), format!("a `{}` step sends the terminal nothing, so no link error can end it", action_name(&action))));
                }
                Some(e) => Some(e.get_ref().clone()),
            };
            Ok(Step { index, line: cx.line_col(span.start).0, action, note: r.note.clone(), link_error })
        }
        _ => Err(cx.err(actions[1].0.clone(), format!("step {index} has more than one action; split it into two [[step]]s"))),
    }
}

pub(super) fn purchase(
    cx: &Ctx<'_>,
    p: &Spanned<RawPurchase>,
) -> Result<PurchaseSpec, ScenarioError> {
    let r = p.get_ref();
    let card = cx.card(r.card.get_ref()).ok_or_else(|| {
        cx.err(
            r.card.span(),
            format!(
                "unknown card `{}`; test cards: {}",
                r.card.get_ref(),
                cx.card_names()
            ),
        )
    })?;
    let network = match &r.network {
        None => card.networks[0],
        Some(n) => {
            let net = network(cx, n)?;
            if !card.networks.contains(&net) {
                return Err(cx.err(
                    n.span(),
                    format!("card `{}` has no {} application", card.name, net.label()),
                ));
            }
            net
        }
    };
    let entry = match r.entry.as_ref().map(|e| (e.get_ref().as_str(), e.span())) {
        None | Some(("chip", _)) => EntryMode::Chip,
        Some(("contactless", _)) => EntryMode::Contactless,
        Some(("wallet", _)) => EntryMode::Wallet,
        Some(("magstripe", _)) => EntryMode::Magstripe,
        Some((other, span)) => {
            return Err(cx.err(
                span,
                format!("entry is chip, contactless, wallet or magstripe, not `{other}`"),
            ));
        }
    };
    let pin = match &r.pin {
        None => Some(card.pin.clone()),
        Some(p) if p.get_ref().is_empty() => None,
        Some(p) => match Pin::parse(p.get_ref()) {
            Some(pin) => Some(pin),
            None => return Err(cx.err(p.span(), "a PIN is 4 to 12 digits, or \"\" for no PIN")),
        },
    };
    let amount = amount(cx, &r.amount)?;
    currency_fits(cx, r.amount.span(), &card, network, amount)?;
    let tip_minor = match &r.tip {
        None => 0,
        Some(t) => {
            let tip = self::amount(cx, t)?;
            if tip.currency != amount.currency {
                return Err(cx.err(t.span(), "the tip must be in the purchase's currency"));
            }
            // The terminal charges amount + tip as one amount, which must be countable.
            if amount.minor.checked_add(tip.minor).is_none() {
                return Err(cx.err(
                    t.span(),
                    format!(
                        "amount plus tip overflows: more than {} minor units",
                        u64::MAX
                    ),
                ));
            }
            tip.minor
        }
    };
    let kind = match r.kind.as_ref().map(|k| (k.get_ref().as_str(), k.span())) {
        None | Some(("purchase", _)) => TxnKind::Purchase,
        Some(("refund", _)) => TxnKind::Refund,
        Some(("preauth", _)) => TxnKind::PreAuthorisation,
        Some((other, span)) => return Err(cx.err(span, format!("kind is purchase, refund or preauth, not `{other}` (captures and reversals are steps of their own)"))),
    };
    if r.chip_unreadable && entry == EntryMode::Chip {
        return Err(cx.err(
            p.span(),
            "with chip_unreadable, `entry` is the fallback read: magstripe or contactless",
        ));
    }
    let reserve = match &r.reserve {
        None => None,
        Some(rv) => {
            if network != Network::BankAxept {
                return Err(cx.err(
                    p.span(),
                    "a debit note (`reserve`) is only for BankAxept cards",
                ));
            }
            let id_type = match rv.id_type.get_ref().as_str() {
                "bank_card_with_photo" => IdType::BankCardWithPhoto,
                "drivers_licence" => IdType::DriversLicence,
                "national_id_card" => IdType::NationalIdCard,
                "passport" => IdType::Passport,
                other => {
                    return Err(cx.err(
                        rv.id_type.span(),
                        format!("id_type is bank_card_with_photo, drivers_licence, national_id_card or passport, not `{other}`"),
                    ));
                }
            };
            Some(ReserveSpec {
                attendant: rv.attendant,
                id_type,
                id_reference: rv.id_reference.clone(),
                account: rv.account.clone(),
                phone_code: rv.phone_code.clone(),
            })
        }
    };
    let card_fault = match &r.card_fault {
        None => None,
        Some(f) => {
            let class = CardFault::from_name(f.get_ref()).ok_or_else(|| {
                let names: Vec<&str> = CardFault::ALL.iter().map(|c| c.name()).collect();
                cx.err(
                    f.span(),
                    format!(
                        "unknown card_fault `{}`; classes: {}",
                        f.get_ref(),
                        names.join(", ")
                    ),
                )
            })?;
            // One fault at a time, on a plain purchase: the verdict then rests on one rule.
            if kind != TxnKind::Purchase || r.chip_unreadable || tip_minor != 0 {
                return Err(cx.err(
                    f.span(),
                    "card_fault is for a plain purchase (no kind, tip or chip_unreadable)",
                ));
            }
            Some(class)
        }
    };
    Ok(PurchaseSpec {
        amount,
        card: card.clone(),
        network,
        entry,
        pin,
        forced_offline: r.forced_offline,
        tip_minor,
        kind,
        chip_unreadable: r.chip_unreadable,
        reserve,
        card_fault,
        ecr_result_lost: r.ecr_result_lost,
    })
}

pub(super) fn expectation(
    cx: &Ctx<'_>,
    e: &Spanned<RawExpect>,
) -> Result<Expectation, ScenarioError> {
    let r = e.get_ref();
    let outcome = [
        Outcome::ApprovedOnline,
        Outcome::ApprovedOffline,
        Outcome::Declined,
        Outcome::Aborted,
    ]
    .into_iter()
    .find(|o| outcome_name(*o) == r.outcome.get_ref())
    .ok_or_else(|| {
        cx.err(
            r.outcome.span(),
            "outcome is approved_online, approved_offline, declined or aborted",
        )
    })?;
    let reason = match &r.reason {
        None => None,
        Some(s) => Some(
            REASONS
                .iter()
                .copied()
                .find(|x| reason_name(*x) == *s.get_ref())
                .ok_or_else(|| {
                    let names: Vec<String> = REASONS.iter().map(|r| reason_name(*r)).collect();
                    cx.err(
                        s.span(),
                        format!(
                            "unknown reason `{}`; reasons: {}",
                            s.get_ref(),
                            names.join(", ")
                        ),
                    )
                })?,
        ),
    };
    let settles = r.settles.as_ref().map(|d| date(cx, d)).transpose()?;
    let settled_as = r.settled_as.as_ref().map(|n| network(cx, n)).transpose()?;
    let texts = |v: &[Spanned<String>]| -> Result<Vec<String>, ScenarioError> {
        v.iter()
            .map(|t| {
                let norm = normalise_line(t.get_ref());
                if norm.is_empty() {
                    Err(cx.err(t.span(), "an empty text matches every receipt"))
                } else {
                    Ok(norm)
                }
            })
            .collect()
    };
    Ok(Expectation {
        outcome,
        reason,
        pin_prompted: r.pin_prompted,
        settles,
        settled_as,
        receipt_has: texts(&r.receipt_has)?,
        receipt_lacks: texts(&r.receipt_lacks)?,
    })
}

/// Most flash writes a cut may wait for: far more than any scenario makes, and a typo (an extra
/// digit) is caught here rather than as a cut that never fires.
const MAX_CUT_WRITE: u32 = 100_000;

pub(super) fn power_cut(
    cx: &Ctx<'_>,
    c: &Spanned<RawPowerCut>,
) -> Result<PowerCutSpec, ScenarioError> {
    let r = c.get_ref();
    let points = "after_card, after_pin, after_approval, mid_forward or advice_unacked";
    let advice = |default: u32| -> Result<u32, ScenarioError> {
        match &r.advice {
            None => Ok(default),
            Some(a) if *a.get_ref() == 0 => Err(cx.err(a.span(), "advices count from 1")),
            Some(a) => Ok(*a.get_ref()),
        }
    };
    let spec = match (&r.at, &r.flash_write) {
        (Some(at), None) => {
            if let Some(t) = &r.torn {
                return Err(cx.err(t.span(), "`torn` belongs to a cut at a `flash_write`"));
            }
            let spec = match at.get_ref().as_str() {
                "after_card" => PowerCutSpec::AfterCard,
                "after_pin" => PowerCutSpec::AfterPin,
                "after_approval" => PowerCutSpec::AfterApproval,
                "mid_forward" => PowerCutSpec::MidForward { advice: advice(1)? },
                "advice_unacked" => PowerCutSpec::AdviceUnacked { advice: advice(1)? },
                other => {
                    return Err(cx.err(at.span(), format!("`at` is {points}, not `{other}`")));
                }
            };
            if let (
                Some(a),
                PowerCutSpec::AfterCard | PowerCutSpec::AfterPin | PowerCutSpec::AfterApproval,
            ) = (&r.advice, spec)
            {
                return Err(cx.err(
                    a.span(),
                    "`advice` belongs to mid_forward and advice_unacked",
                ));
            }
            spec
        }
        (None, Some(n)) => {
            if let Some(a) = &r.advice {
                return Err(cx.err(
                    a.span(),
                    "`advice` belongs to mid_forward and advice_unacked",
                ));
            }
            let k = *n.get_ref();
            if k == 0 || k > MAX_CUT_WRITE {
                return Err(cx.err(
                    n.span(),
                    format!("flash_write counts writes from 1 (the next) to {MAX_CUT_WRITE}"),
                ));
            }
            PowerCutSpec::FlashWrite {
                n: k,
                torn: r.torn.as_ref().is_some_and(|t| *t.get_ref()),
            }
        }
        (Some(_), Some(n)) => {
            return Err(cx.err(
                n.span(),
                "a cut is either `at` a point or at a `flash_write`, not both",
            ));
        }
        (None, None) => {
            return Err(cx.err(
                c.span(),
                format!("say where the power is cut: `at` ({points}) or `flash_write = N`"),
            ));
        }
    };
    Ok(spec)
}
