//! The limit engine: pure functions over configuration, card, amount, clock and queue state
//! that decide whether a purchase goes online, is approved offline (or in BankAxept reserve
//! mode), or is declined, always with a specific reason (NETS-09, SUPPORT-01).
//!
//! Every limit is configuration ([`Limits`]); the defaults are the seeds' figures. The terminal
//! gathers the facts ([`Attempt`]) from the card, the operator, the journal and the clock; this
//! module only decides, so each rule is testable on its own (tests are named after rule IDs).

use payhil_protocol::{Amount, Currency, EntryMode, Network, Reason};

/// BankAxept reserve-solution settings (BAX-*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReserveLimits {
    /// Currency of the reserve limits (NOK).
    pub currency: Currency,
    /// Above this amount a phone authorisation code is required (BAX-08). The seed says
    /// 2,500 NOK; BankAxept also publishes 1,500 NOK, so it is configuration.
    pub phone_auth_above_minor: u64,
    /// Aggregate cap on unforwarded reserve transactions, if the acquirer sets one (BAX-09).
    pub aggregate_cap_minor: Option<u64>,
}

impl Default for ReserveLimits {
    fn default() -> Self {
        Self {
            currency: Currency::NOK,
            phone_auth_above_minor: 2_500_00,
            aggregate_cap_minor: Some(20_000_00),
        }
    }
}

/// Limits from the merchant agreement and the schemes; configuration, never constants in logic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Currency the offline limits are in.
    pub currency: Currency,
    /// Largest single offline purchase (NETS-03), minor units.
    pub offline_per_transaction_minor: u64,
    /// Largest sum of one card's unforwarded offline purchases (NETS-04), minor units.
    pub offline_per_card_minor: u64,
    /// Contactless purchases above this need the PIN (CARD-02).
    pub contactless_cvm_limit_minor: u64,
    /// Gambling merchants: most one card may spend per day (CARD-04); `None` for other merchants.
    pub gambling_daily_max_minor: Option<u64>,
    /// Offline purchases on one card within this many seconds are added up against the
    /// per-transaction limit, so a payment split to stay under it is refused (PBS-05).
    pub split_window_s: u32,
    /// The terminal is self-service (BAX-03).
    pub self_service: bool,
    /// BankAxept reserve solution.
    pub reserve: ReserveLimits,
}

impl Default for Limits {
    /// 1,500.00 DKK per offline transaction (a typical Nets merchant agreement), 20,000.00 DKK
    /// per Dankort (NETS-04), 350.00 DKK contactless CVM limit (Danish), 10 minutes split window.
    fn default() -> Self {
        Self {
            currency: Currency::DKK,
            offline_per_transaction_minor: 1_500_00,
            offline_per_card_minor: 20_000_00,
            contactless_cvm_limit_minor: 350_00,
            gambling_daily_max_minor: None,
            split_window_s: 600,
            self_service: false,
            reserve: ReserveLimits::default(),
        }
    }
}

/// Everything the decision depends on, gathered by the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// Amount to approve (tips included: the full amount, CARD-05).
    pub amount: Amount,
    /// Network (application) used.
    pub network: Network,
    /// How the card was presented.
    pub entry_mode: EntryMode,
    /// This presentation is a fallback after the chip could not be read (SUPPORT-03).
    pub fallback: bool,
    /// The cardholder entered the PIN (NETS-08). The card verifies it before an offline
    /// approval (see the terminal's `card_verdict`), after the limit engine has allowed it.
    pub pin_entered: bool,
    /// The card is on the terminal's blocked list (CARD-10).
    pub blocked: bool,
    /// The host can be reached.
    pub host_reachable: bool,
    /// The operator chose forced offline (NETS-02).
    pub forced_offline: bool,
    /// This card's unforwarded offline purchases, minor units (NETS-04).
    pub card_exposure_minor: u64,
    /// This card's offline purchases within the split window, minor units (PBS-05).
    pub card_recent_offline_minor: u64,
    /// This card's approved purchases today, minor units (CARD-04).
    pub card_today_minor: u64,
    /// Unforwarded reserve transactions, all cards, minor units (BAX-09).
    pub reserve_pending_minor: u64,
}

/// Where a purchase goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Authorise with the host.
    Online,
    /// Approve offline and store for forwarding (NETS-01).
    Offline,
    /// BankAxept reserve solution: debit note, checks, store for forwarding (BAX-02).
    Reserve,
}

/// Card-level refusals that hold online and offline alike.
pub fn card_check(a: &Attempt) -> Result<(), Reason> {
    if a.blocked {
        return Err(Reason::CardBlocked); // CARD-10
    }
    Ok(())
}

/// Whether the PIN must be asked for (CARD-02, NETS-08). Contactless below the CVM limit may
/// go without; chip and magstripe always ask.
pub fn pin_required(l: &Limits, amount: Amount, entry_mode: EntryMode) -> bool {
    match entry_mode {
        EntryMode::Chip | EntryMode::Magstripe => true,
        // A wallet verifies the cardholder on the phone (CDCVM).
        EntryMode::Wallet => false,
        EntryMode::Contactless => amount.minor > l.contactless_cvm_limit_minor,
    }
}

/// Decides where a purchase goes, or why it is declined.
pub fn route(l: &Limits, a: &Attempt) -> Result<Route, Reason> {
    card_check(a)?;
    if let Some(max) = l.gambling_daily_max_minor {
        if a.card_today_minor.saturating_add(a.amount.minor) > max {
            return Err(Reason::GamblingDailyLimit); // CARD-04
        }
    }
    if a.host_reachable && !a.forced_offline {
        return Ok(Route::Online);
    }
    if a.network == Network::BankAxept {
        return reserve_route(l, a);
    }
    offline_route(l, a).map(|()| Route::Offline)
}

/// The Nets offline rules (NETS-02..08, SUPPORT-03, PBS-05), in the order a cardholder meets
/// them.
fn offline_route(l: &Limits, a: &Attempt) -> Result<(), Reason> {
    if a.fallback {
        return Err(Reason::FallbackOnlineOnly); // SUPPORT-03
    }
    match a.entry_mode {
        EntryMode::Wallet => return Err(Reason::OfflineWalletNotAllowed), // NETS-06
        EntryMode::Contactless => return Err(Reason::OfflineContactlessNotAllowed), // NETS-07
        EntryMode::Magstripe => return Err(Reason::OfflineCardTypeNotAllowed), // NETS-07
        EntryMode::Chip => {}
    }
    match a.network {
        Network::VisaDebit => return Err(Reason::OfflineCardTypeNotAllowed), // NETS-05
        Network::BankAxept => return Err(Reason::ReserveNotAllowed),
        Network::Dankort | Network::Visa | Network::Mastercard => {}
    }
    if !a.pin_entered {
        return Err(Reason::OfflinePinRequired); // NETS-08
    }
    if a.amount.currency != l.currency || a.amount.minor > l.offline_per_transaction_minor {
        return Err(Reason::OfflineAmountLimit); // NETS-03
    }
    if a.card_recent_offline_minor.saturating_add(a.amount.minor) > l.offline_per_transaction_minor
    {
        return Err(Reason::SplitSuspected); // PBS-05: split to stay under the limit
    }
    if a.card_exposure_minor.saturating_add(a.amount.minor) > l.offline_per_card_minor {
        return Err(Reason::OfflineCardLimit); // NETS-04
    }
    Ok(())
}

/// BankAxept reserve solution (BAX-01, BAX-03, BAX-09). The debit-note checks (BAX-04..08)
/// come after, once the operator has entered them: [`crate::reserve`].
fn reserve_route(l: &Limits, a: &Attempt) -> Result<Route, Reason> {
    if a.host_reachable {
        return Err(Reason::ReserveNotAllowed); // BAX-01: only when the host cannot be reached
    }
    if a.fallback || a.entry_mode != EntryMode::Chip {
        return Err(Reason::OfflineCardTypeNotAllowed);
    }
    if a.amount.currency != l.reserve.currency {
        return Err(Reason::OfflineAmountLimit);
    }
    if let Some(cap) = l.reserve.aggregate_cap_minor {
        if a.reserve_pending_minor.saturating_add(a.amount.minor) > cap {
            return Err(Reason::ReserveAggregateLimit); // BAX-09
        }
    }
    // BAX-09: one card's reserve payments within the split window count together against the
    // phone-authorisation threshold, so a payment split to avoid the phone call is refused.
    let recent = a.card_recent_offline_minor;
    if recent > 0 && recent.saturating_add(a.amount.minor) > l.reserve.phone_auth_above_minor {
        return Err(Reason::SplitSuspected);
    }
    Ok(Route::Reserve)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(minor: u64) -> Attempt {
        Attempt {
            amount: Amount {
                minor,
                currency: Currency::DKK,
            },
            network: Network::Dankort,
            entry_mode: EntryMode::Chip,
            fallback: false,
            pin_entered: true,
            blocked: false,
            host_reachable: false,
            forced_offline: false,
            card_exposure_minor: 0,
            card_recent_offline_minor: 0,
            card_today_minor: 0,
            reserve_pending_minor: 0,
        }
    }

    fn bax(minor: u64) -> Attempt {
        Attempt {
            amount: Amount {
                minor,
                currency: Currency::NOK,
            },
            network: Network::BankAxept,
            ..attempt(0)
        }
    }

    const L: Limits = Limits {
        currency: Currency::DKK,
        offline_per_transaction_minor: 1_500_00,
        offline_per_card_minor: 20_000_00,
        contactless_cvm_limit_minor: 350_00,
        gambling_daily_max_minor: None,
        split_window_s: 600,
        self_service: false,
        reserve: ReserveLimits {
            currency: Currency::NOK,
            phone_auth_above_minor: 2_500_00,
            aggregate_cap_minor: Some(20_000_00),
        },
    };

    #[test]
    fn nets_01_online_when_reachable_offline_when_not() {
        assert_eq!(
            route(
                &L,
                &Attempt {
                    host_reachable: true,
                    ..attempt(100)
                }
            ),
            Ok(Route::Online)
        );
        assert_eq!(route(&L, &attempt(100)), Ok(Route::Offline));
    }

    #[test]
    fn nets_02_forced_offline_follows_the_offline_rules() {
        let a = Attempt {
            host_reachable: true,
            forced_offline: true,
            ..attempt(100)
        };
        assert_eq!(route(&L, &a), Ok(Route::Offline));
        let a = Attempt {
            host_reachable: true,
            forced_offline: true,
            ..attempt(1_500_01)
        };
        assert_eq!(route(&L, &a), Err(Reason::OfflineAmountLimit));
    }

    #[test]
    fn nets_03_per_transaction_limit_is_inclusive_and_configurable() {
        assert_eq!(route(&L, &attempt(1_500_00)), Ok(Route::Offline));
        assert_eq!(
            route(&L, &attempt(1_500_01)),
            Err(Reason::OfflineAmountLimit)
        );
        let l = Limits {
            offline_per_transaction_minor: 500_00,
            ..L
        };
        assert_eq!(route(&l, &attempt(500_01)), Err(Reason::OfflineAmountLimit));
    }

    #[test]
    fn nets_04_per_card_limit_is_cumulative() {
        assert_eq!(
            route(
                &L,
                &Attempt {
                    card_exposure_minor: 19_000_00,
                    ..attempt(1_000_00)
                }
            ),
            Ok(Route::Offline)
        );
        assert_eq!(
            route(
                &L,
                &Attempt {
                    card_exposure_minor: 19_000_01,
                    ..attempt(1_000_00)
                }
            ),
            Err(Reason::OfflineCardLimit)
        );
    }

    #[test]
    fn nets_05_balance_controlled_debit_never_offline() {
        let a = Attempt {
            network: Network::VisaDebit,
            ..attempt(100)
        };
        assert_eq!(route(&L, &a), Err(Reason::OfflineCardTypeNotAllowed));
    }

    #[test]
    fn nets_06_wallets_never_offline() {
        let a = Attempt {
            entry_mode: EntryMode::Wallet,
            ..attempt(100)
        };
        assert_eq!(route(&L, &a), Err(Reason::OfflineWalletNotAllowed));
    }

    #[test]
    fn nets_07_contactless_and_magstripe_never_offline() {
        let a = Attempt {
            entry_mode: EntryMode::Contactless,
            ..attempt(100)
        };
        assert_eq!(route(&L, &a), Err(Reason::OfflineContactlessNotAllowed));
        let a = Attempt {
            entry_mode: EntryMode::Magstripe,
            ..attempt(100)
        };
        assert_eq!(route(&L, &a), Err(Reason::OfflineCardTypeNotAllowed));
    }

    #[test]
    fn nets_08_offline_needs_the_pin() {
        let a = Attempt {
            pin_entered: false,
            ..attempt(100)
        };
        assert_eq!(route(&L, &a), Err(Reason::OfflinePinRequired));
    }

    #[test]
    fn card_02_contactless_pin_above_the_cvm_limit() {
        let a = |m| Amount {
            minor: m,
            currency: Currency::DKK,
        };
        assert!(!pin_required(&L, a(350_00), EntryMode::Contactless));
        assert!(pin_required(&L, a(350_01), EntryMode::Contactless));
        assert!(pin_required(&L, a(1), EntryMode::Chip));
        assert!(!pin_required(&L, a(10_000_00), EntryMode::Wallet));
    }

    #[test]
    fn card_04_gambling_daily_maximum_per_card() {
        let l = Limits {
            gambling_daily_max_minor: Some(1_000_00),
            ..L
        };
        let online = |today| Attempt {
            host_reachable: true,
            card_today_minor: today,
            ..attempt(400_00)
        };
        assert_eq!(route(&l, &online(600_00)), Ok(Route::Online));
        assert_eq!(route(&l, &online(600_01)), Err(Reason::GamblingDailyLimit));
        assert_eq!(
            route(&L, &online(1_000_000_00)),
            Ok(Route::Online),
            "only gambling merchants"
        );
    }

    #[test]
    fn card_10_blocked_card_declined_online_and_offline() {
        assert_eq!(
            route(
                &L,
                &Attempt {
                    blocked: true,
                    host_reachable: true,
                    ..attempt(1)
                }
            ),
            Err(Reason::CardBlocked)
        );
        assert_eq!(
            route(
                &L,
                &Attempt {
                    blocked: true,
                    ..attempt(1)
                }
            ),
            Err(Reason::CardBlocked)
        );
    }

    #[test]
    fn support_03_fallback_only_online() {
        let a = Attempt {
            fallback: true,
            entry_mode: EntryMode::Magstripe,
            ..attempt(100)
        };
        assert_eq!(route(&L, &a), Err(Reason::FallbackOnlineOnly));
        assert_eq!(
            route(
                &L,
                &Attempt {
                    host_reachable: true,
                    ..a
                }
            ),
            Ok(Route::Online)
        );
    }

    #[test]
    fn pbs_05_split_payment_on_one_card_is_refused() {
        // 1,000 offline a minute ago; another 600 would make 1,600 > 1,500 within the window.
        let a = Attempt {
            card_recent_offline_minor: 1_000_00,
            card_exposure_minor: 1_000_00,
            ..attempt(600_00)
        };
        assert_eq!(route(&L, &a), Err(Reason::SplitSuspected));
        let a = Attempt {
            card_recent_offline_minor: 1_000_00,
            ..attempt(500_00)
        };
        assert_eq!(route(&L, &a), Ok(Route::Offline));
    }

    #[test]
    fn bax_01_reserve_only_when_the_host_cannot_be_reached() {
        assert_eq!(route(&L, &bax(100)), Ok(Route::Reserve));
        assert_eq!(
            route(
                &L,
                &Attempt {
                    host_reachable: true,
                    ..bax(100)
                }
            ),
            Ok(Route::Online)
        );
        let forced = Attempt {
            host_reachable: true,
            forced_offline: true,
            ..bax(100)
        };
        assert_eq!(route(&L, &forced), Err(Reason::ReserveNotAllowed));
    }

    #[test]
    fn bax_09_splitting_to_avoid_the_phone_authorisation_is_refused() {
        let a = Attempt {
            card_recent_offline_minor: 2_000_00,
            ..bax(1_000_00)
        };
        assert_eq!(route(&L, &a), Err(Reason::SplitSuspected));
        let a = Attempt {
            card_recent_offline_minor: 1_000_00,
            ..bax(1_000_00)
        };
        assert_eq!(route(&L, &a), Ok(Route::Reserve));
    }

    #[test]
    fn bax_09_aggregate_reserve_cap() {
        assert_eq!(
            route(
                &L,
                &Attempt {
                    reserve_pending_minor: 19_000_00,
                    ..bax(1_000_00)
                }
            ),
            Ok(Route::Reserve)
        );
        assert_eq!(
            route(
                &L,
                &Attempt {
                    reserve_pending_minor: 19_000_00,
                    ..bax(1_000_01)
                }
            ),
            Err(Reason::ReserveAggregateLimit)
        );
        let uncapped = Limits {
            reserve: ReserveLimits {
                aggregate_cap_minor: None,
                ..L.reserve
            },
            ..L
        };
        assert_eq!(
            route(
                &uncapped,
                &Attempt {
                    reserve_pending_minor: 1_000_000_00,
                    ..bax(1)
                }
            ),
            Ok(Route::Reserve)
        );
    }
}
