//! The scenario file as TOML gives it, with spans: what serde reads before any check.

use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub(super) name: Spanned<String>,
    pub(super) rules: Spanned<Vec<Spanned<String>>>,
    pub(super) seed: Option<u64>,
    #[serde(default)]
    pub(super) end_with_pending: bool,
    pub(super) terminal: Option<RawTerminal>,
    #[serde(default)]
    pub(super) card: Vec<Spanned<RawCard>>,
    #[serde(default)]
    pub(super) step: Vec<Spanned<RawStep>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCard {
    pub(super) name: Spanned<String>,
    pub(super) pan: Spanned<String>,
    pub(super) expiry: Spanned<String>,
    pub(super) networks: Spanned<Vec<Spanned<String>>>,
    pub(super) pin: Spanned<String>,
    pub(super) cvc: Spanned<String>,
    pub(super) issuer: Option<Spanned<String>>,
    pub(super) account: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTerminal {
    pub(super) offline_limit: Option<Spanned<String>>,
    pub(super) card_limit: Option<Spanned<String>>,
    pub(super) forward_retry: Option<Spanned<String>>,
    pub(super) cvm_limit: Option<Spanned<String>>,
    pub(super) gambling_daily_max: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) self_service: bool,
    pub(super) reserve_phone_auth_above: Option<Spanned<String>>,
    pub(super) reserve_cap: Option<Spanned<String>>,
    pub(super) host_timeout: Option<Spanned<String>>,
    pub(super) response_timeout: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    pub(super) set_clock: Option<Spanned<toml::value::Datetime>>,
    pub(super) advance_clock: Option<Spanned<String>>,
    pub(super) network: Option<Spanned<String>>,
    pub(super) purchase: Option<Spanned<RawPurchase>>,
    pub(super) expect: Option<Spanned<RawExpect>>,
    pub(super) forward: Option<Spanned<bool>>,
    pub(super) expect_queue: Option<Spanned<RawQueue>>,
    pub(super) faults: Option<Spanned<RawFaults>>,
    pub(super) purchases: Option<Spanned<RawBulk>>,
    pub(super) forward_until_empty: Option<Spanned<u32>>,
    pub(super) capture: Option<Spanned<RawCapture>>,
    pub(super) reverse: Option<Spanned<RawReverse>>,
    pub(super) settle: Option<Spanned<bool>>,
    pub(super) reconcile: Option<Spanned<bool>>,
    pub(super) power_cycle: Option<Spanned<bool>>,
    pub(super) power_cut: Option<Spanned<RawPowerCut>>,
    pub(super) serial: Option<Spanned<super::serial::RawSerial>>,
    pub(super) link_error: Option<Spanned<String>>,
    pub(super) note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPowerCut {
    pub(super) at: Option<Spanned<String>>,
    pub(super) flash_write: Option<Spanned<u32>>,
    pub(super) torn: Option<Spanned<bool>>,
    pub(super) advice: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPurchase {
    pub(super) amount: Spanned<String>,
    pub(super) tip: Option<Spanned<String>>,
    pub(super) kind: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) chip_unreadable: bool,
    pub(super) reserve: Option<RawReserve>,
    pub(super) card: Spanned<String>,
    pub(super) network: Option<Spanned<String>>,
    pub(super) entry: Option<Spanned<String>>,
    pub(super) pin: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) forced_offline: bool,
    pub(super) card_fault: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) ecr_result_lost: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExpect {
    pub(super) outcome: Spanned<String>,
    pub(super) reason: Option<Spanned<String>>,
    pub(super) pin_prompted: Option<bool>,
    pub(super) settles: Option<Spanned<toml::value::Datetime>>,
    pub(super) settled_as: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) receipt_has: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) receipt_lacks: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQueue {
    pub(super) pending: u32,
    pub(super) overdue: Option<u32>,
    pub(super) declined_by_host: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDirection {
    pub(super) latency: Option<Spanned<String>>,
    pub(super) jitter: Option<Spanned<String>>,
    pub(super) bytes_per_s: Option<u32>,
    pub(super) cut_after_bytes: Option<u64>,
    pub(super) slice: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFaults {
    #[serde(default)]
    pub(super) upstream: RawDirection,
    #[serde(default)]
    pub(super) downstream: RawDirection,
    pub(super) random_cut_max_bytes: Option<u64>,
    pub(super) slow_close: Option<Spanned<String>>,
    pub(super) connections: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBulk {
    pub(super) count: Spanned<u32>,
    pub(super) amount: Spanned<String>,
    pub(super) cards: Vec<Spanned<String>>,
    pub(super) expect: Option<Spanned<RawExpect>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCapture {
    pub(super) of: Spanned<usize>,
    pub(super) amount: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReverse {
    pub(super) of: Spanned<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReserve {
    #[serde(default = "yes")]
    pub(super) attendant: bool,
    pub(super) id_type: Spanned<String>,
    pub(super) id_reference: String,
    pub(super) account: String,
    #[serde(default)]
    pub(super) phone_code: String,
}

pub(super) fn yes() -> bool {
    true
}
