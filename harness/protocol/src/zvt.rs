//! ZVT, the cash-register (ECR) interface of German and Nordic payment terminals, as far as
//! payhil drives it: the serial link layer, the APDU, the bitmap (BMP) data fields and the
//! messages of a payment, a refund, a reversal and an end of day.
//!
//! `no_std` and allocation-free like the rest of this crate, so the reference terminal serves it
//! with the same code a vendor's test firmware could link; the harness's driver (crate
//! `payhil-ecr`) and the terminal each implement their own side of the exchange (who sends what,
//! who acknowledges, timeouts and retries) on top of it.
//!
//! * [`serial`]: `DLE STX <APDU, DLE doubled> DLE ETX <CRC-16 low, high>`, ACK `06` / NAK `15`.
//!   Over TCP the APDU goes bare ([`apdu::header`] tells how long one is).
//! * [`apdu`]: class, instruction, length (`FF` announces a two-byte length, low byte first), data.
//! * [`bmp`]: the bitmap fields (fixed length, `LLVAR`/`LLLVAR` with `Fx` length digits, the
//!   BER-TLV container `06`) and their BCD numbers.
//! * [`message`]: the commands an ECR sends and what a terminal answers, typed.
//! * [`codes`]: command bytes, result and status codes, config bits.
//!
//! Every decoder here takes arbitrary bytes: malformed input is an error, never a panic.

pub mod apdu;
pub mod bmp;
pub mod codes;
pub mod message;
pub mod serial;
pub mod text_block;
