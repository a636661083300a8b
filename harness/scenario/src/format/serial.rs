//! The `serial` step: a fault on the serial line between harness and terminal (the line relay).
//!
//! ```toml
//! [[step]]
//! serial = { fault = "flip_bits", direction = "to_terminal", rate = 0.2, bits = 1 }
//! [[step]]
//! serial = { fault = "silence", direction = "from_terminal", at_frame = 6, frames = 1 }
//! [[step]]
//! serial = { fault = "none" }             # a clean line again
//! ```
//! `fault` is one of `flip_bits` (`bits`, default 1), `drop_bytes` (`bytes`, default 1),
//! `truncate`, `duplicate`, `garbage` (`bytes` of noise before the frame, default 64),
//! `split` (`piece` bytes per write, default 1), `flood` (`bytes` of noise, default 1 MiB) and
//! `silence` (the frame is lost), or `none`. `direction` is `to_terminal`, `from_terminal` or
//! `both`. Without `rate` or `at_frame` every frame that way is hit; `rate` (0 to 1) hits each
//! frame with that probability, drawn from the run's seed; `at_frame = N` hits the Nth frame
//! that way after the step (1 is the next), and `frames` more in a row if given.

use super::*;
use payhil_faults::{LineFault, SerialDirection, SerialFault, When};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSerial {
    pub(super) fault: Spanned<String>,
    pub(super) direction: Option<Spanned<String>>,
    pub(super) rate: Option<Spanned<f64>>,
    pub(super) at_frame: Option<Spanned<u64>>,
    pub(super) frames: Option<Spanned<u64>>,
    pub(super) bits: Option<Spanned<u32>>,
    pub(super) bytes: Option<Spanned<u64>>,
    pub(super) piece: Option<Spanned<u32>>,
}

/// Largest garbage burst: bigger noise is a `flood`.
const MAX_GARBAGE: u64 = 64 * 1024;
/// Largest flood a scenario may ask for (it is made as it is written; this bounds the time).
const MAX_FLOOD: u64 = 64 * 1024 * 1024;

/// The fault a `serial` step puts in force (`None`: a clean line).
pub(super) fn serial(
    cx: &Ctx<'_>,
    s: &Spanned<RawSerial>,
) -> Result<Option<SerialFault>, ScenarioError> {
    let r = s.get_ref();
    let name = r.fault.get_ref().as_str();
    // Each parameter belongs to some faults only; one given to another is a mistake to name.
    let only = |key: &str, span: Range<usize>, faults: &str| {
        cx.err(span, format!("`{key}` is for {faults} only, not `{name}`"))
    };
    if name != "flip_bits" {
        if let Some(b) = &r.bits {
            return Err(only("bits", b.span(), "flip_bits"));
        }
    }
    if !matches!(name, "drop_bytes" | "garbage" | "flood") {
        if let Some(b) = &r.bytes {
            return Err(only("bytes", b.span(), "drop_bytes, garbage and flood"));
        }
    }
    if name != "split" {
        if let Some(p) = &r.piece {
            return Err(only("piece", p.span(), "split"));
        }
    }
    let bytes = |default: u64, max: u64| -> Result<u64, ScenarioError> {
        match &r.bytes {
            None => Ok(default),
            Some(b) if (1..=max).contains(b.get_ref()) => Ok(*b.get_ref()),
            Some(b) => Err(cx.err(b.span(), format!("`bytes` is 1 to {max} for `{name}`"))),
        }
    };
    let small = |v: u64, span: Range<usize>| {
        u32::try_from(v).map_err(|_| cx.err(span, format!("at most {}", u32::MAX)))
    };
    let bytes_span = r.bytes.as_ref().map(|b| b.span()).unwrap_or(0..0);
    let fault = match name {
        "none" => {
            let extra = [
                r.direction.as_ref().map(|d| d.span()),
                r.rate.as_ref().map(|d| d.span()),
                r.at_frame.as_ref().map(|d| d.span()),
                r.frames.as_ref().map(|d| d.span()),
            ];
            if let Some(span) = extra.into_iter().flatten().next() {
                return Err(cx.err(
                    span,
                    "`fault = \"none\"` clears the line; it takes nothing else",
                ));
            }
            return Ok(None);
        }
        "flip_bits" => LineFault::FlipBits(match &r.bits {
            None => 1,
            Some(b) if (1..=64).contains(b.get_ref()) => *b.get_ref(),
            Some(b) => return Err(cx.err(b.span(), "`bits` is 1 to 64")),
        }),
        "drop_bytes" => LineFault::DropBytes(small(bytes(1, 1024)?, bytes_span)?),
        "truncate" => LineFault::Truncate,
        "duplicate" => LineFault::Duplicate,
        "garbage" => LineFault::Garbage(small(bytes(64, MAX_GARBAGE)?, bytes_span)?),
        "split" => LineFault::Split(match &r.piece {
            None => 1,
            Some(p) if *p.get_ref() >= 1 => *p.get_ref(),
            Some(p) => return Err(cx.err(p.span(), "`piece` is at least 1 byte")),
        }),
        "flood" => LineFault::Flood(bytes(1024 * 1024, MAX_FLOOD)?),
        "silence" => LineFault::Silence,
        other => {
            return Err(cx.err(
                r.fault.span(),
                format!(
                    "fault is flip_bits, drop_bytes, truncate, duplicate, garbage, split, flood, silence or none, not `{other}`"
                ),
            ));
        }
    };
    let direction = match r.direction.as_ref() {
        None => {
            return Err(cx.err(
                s.span(),
                "a serial fault needs `direction`: to_terminal, from_terminal or both",
            ));
        }
        Some(d) => match d.get_ref().as_str() {
            "to_terminal" => SerialDirection::ToTerminal,
            "from_terminal" => SerialDirection::FromTerminal,
            "both" => SerialDirection::Both,
            other => {
                return Err(cx.err(
                    d.span(),
                    format!("direction is to_terminal, from_terminal or both, not `{other}`"),
                ));
            }
        },
    };
    let when = match (&r.rate, &r.at_frame) {
        (Some(_), Some(at)) => {
            return Err(cx.err(
                at.span(),
                "give `rate` or `at_frame`, not both: a fault hits by chance or at a chosen frame",
            ));
        }
        (Some(rate), None) => {
            let v = *rate.get_ref();
            if !(v > 0.0 && v <= 1.0) {
                return Err(cx.err(
                    rate.span(),
                    "`rate` is a share of frames: above 0, at most 1",
                ));
            }
            // Parts per million: the plan compares integers, so a rate means the same on
            // every machine.
            When::RatePpm((v * 1_000_000.0).round().clamp(1.0, 1_000_000.0) as u32)
        }
        (None, Some(at)) => {
            if *at.get_ref() == 0 {
                return Err(cx.err(at.span(), "`at_frame` counts from 1 (the next frame)"));
            }
            let count = match &r.frames {
                None => 1,
                Some(f) if *f.get_ref() >= 1 => *f.get_ref(),
                Some(f) => return Err(cx.err(f.span(), "`frames` is at least 1")),
            };
            When::AtFrame {
                first: *at.get_ref(),
                count,
            }
        }
        (None, None) => When::Every,
    };
    if let (Some(f), When::Every | When::RatePpm(_)) = (&r.frames, when) {
        return Err(cx.err(f.span(), "`frames` goes with `at_frame`"));
    }
    Ok(Some(SerialFault {
        fault,
        direction,
        when,
    }))
}

#[cfg(test)]
#[path = "serial_tests.rs"]
mod tests;
