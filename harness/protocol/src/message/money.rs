//! Money: an amount is integer minor units with its ISO 4217 currency, never a float.

use core::fmt;
use serde::{Deserialize, Serialize};

/// ISO 4217 numeric currency code. Amounts are always integers of the currency's minor unit.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(pub u16);

impl Currency {
    /// Danish krone.
    pub const DKK: Currency = Currency(208);
    /// Norwegian krone.
    pub const NOK: Currency = Currency(578);
    /// Swedish krona.
    pub const SEK: Currency = Currency(752);
    /// Euro.
    pub const EUR: Currency = Currency(978);

    /// Alphabetic code, for receipts and reports.
    pub const fn alpha(self) -> &'static str {
        match self.0 {
            208 => "DKK",
            578 => "NOK",
            752 => "SEK",
            978 => "EUR",
            _ => "XXX",
        }
    }

    /// Looks a currency up by its alphabetic code.
    pub fn from_alpha(code: &str) -> Option<Self> {
        match code {
            "DKK" => Some(Self::DKK),
            "NOK" => Some(Self::NOK),
            "SEK" => Some(Self::SEK),
            "EUR" => Some(Self::EUR),
            _ => None,
        }
    }

    /// Digits after the decimal point (all supported currencies use 2).
    pub const fn exponent(self) -> u32 {
        2
    }
}

/// An amount of money: integer minor units (øre, cents) and a currency. Never a float.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Amount {
    /// Minor units, e.g. 12550 for 125.50 DKK.
    pub minor: u64,
    /// The currency.
    pub currency: Currency,
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scale = 10u64.pow(self.currency.exponent());
        write!(
            f,
            "{}.{:02} {}",
            self.minor / scale,
            self.minor % scale,
            self.currency.alpha()
        )
    }
}
