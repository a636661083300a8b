//! The BMPs of an ECR's command, read in one pass ([`CommandFields`]).

use super::{MessageError, bcd_u16};
use crate::zvt::bmp::{self, tag};

/// The BMPs a command's data may carry, read in one pass over its fields: the last value of
/// each tag, or the first of its values that was malformed. A command reports an error only
/// for the tags it asks for, so it is taken or refused exactly as if it had read just its own
/// fields.
#[derive(Default)]
pub(super) struct CommandFields {
    amount: Option<Result<u64, MessageError>>,
    currency: Option<Result<u16, MessageError>>,
    pub(super) payment_type: Option<u8>,
    receipt: Option<Result<u16, MessageError>>,
    pub(super) service_byte: Option<u8>,
}

/// Keeps `value` in `slot` unless the slot holds an error already (the first error stands).
fn keep<T>(slot: &mut Option<Result<T, MessageError>>, value: Result<T, MessageError>) {
    if !matches!(slot, Some(Err(_))) {
        *slot = Some(value);
    }
}

impl CommandFields {
    pub(super) fn read(d: &[u8]) -> Result<Self, MessageError> {
        let mut c = Self::default();
        for f in bmp::fields(d) {
            let f = f?;
            match f.tag {
                tag::AMOUNT => keep(
                    &mut c.amount,
                    bmp::bcd_number(f.tag, f.value).map_err(MessageError::from),
                ),
                tag::CURRENCY => keep(&mut c.currency, bcd_u16(f.tag, f.value)),
                tag::PAYMENT_TYPE => c.payment_type = f.value.first().copied(),
                tag::RECEIPT => keep(&mut c.receipt, bcd_u16(f.tag, f.value)),
                tag::SERVICE_BYTE => c.service_byte = f.value.first().copied(),
                _ => {}
            }
        }
        Ok(c)
    }

    pub(super) fn amount(&self) -> Result<Option<u64>, MessageError> {
        self.amount.transpose()
    }

    /// The amount a command cannot do without.
    pub(super) fn required_amount(&self) -> Result<u64, MessageError> {
        self.amount()?.ok_or(MessageError::Missing("amount (04)"))
    }

    pub(super) fn currency(&self) -> Result<Option<u16>, MessageError> {
        self.currency.transpose()
    }

    pub(super) fn receipt(&self) -> Result<Option<u16>, MessageError> {
        self.receipt.transpose()
    }
}
