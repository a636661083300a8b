//! The books as the exactly-once oracle reads them (`payhil_model::ledger::exactly_once`): one
//! terminal's items and its deliveries, in the ledger's own terms. The scenario runner and the
//! in-process bench both judge through this, so the two read the host alike.

use super::Books;
use crate::SettledKind;
use payhil_model::ledger::{Booked, Delivery};

impl Books {
    /// The items of terminal `terminal_id`, each once (by its sequence number).
    pub fn booked(&self, terminal_id: &str) -> Vec<Booked> {
        self.items
            .values()
            .filter(|s| s.terminal_id == terminal_id)
            .map(|s| Booked {
                seq: s.seq,
                kind: s.txn,
                offline: s.kind == SettledKind::Offline,
                amount: s.amount,
                pan: s.pan.clone(),
                network: s.network,
                entry: s.entry_mode,
                local_time: s.local_time,
                approved: s.response_code.is_approved(),
                reversed: s.reversed,
            })
            .collect()
    }

    /// Every delivery of terminal `terminal_id`'s requests, advices first then authorisation
    /// requests, each in arrival order.
    pub fn deliveries(&self, terminal_id: &str) -> Vec<Delivery> {
        self.advice_deliveries
            .iter()
            .map(|d| (d, true))
            .chain(self.auth_requests.iter().map(|d| (d, false)))
            .filter(|(d, _)| d.terminal_id == terminal_id)
            .map(|(d, advice)| Delivery {
                seq: d.seq,
                advice,
                epoch: d.epoch,
                faulty: d.faulty,
            })
            .collect()
    }
}
