//! The terminal <-> acquirer messages of `host_link` as ISO 8583.

use super::{Iso8583Error, Message, num, padded};
use crate::host_link::{
    AuthMark, CurrencyTotals, EncryptedPinBlock, HostRequest, HostResponse,
    MAX_RECONCILE_CURRENCIES, PanList, ReconcileTotals, ResponseCode, TERMINAL_MARKERS, TxnData,
    response_code,
};
use crate::message::{Amount, Currency, EntryMode, Expiry, Network, PanText, TxnKind};
use crate::tlv::{self, Tag};

/// Largest encoded message (length prefix included).
pub const MAX_WIRE: usize = 2 + 4 + 16 + 1200;

/// The application identifier (EMV tag 4F) of each network, carried in DE 55. Visa Debit is
/// told apart by the Visa Electron AID in this simulation.
pub const fn aid(n: Network) -> [u8; 7] {
    match n {
        Network::Dankort => [0xA0, 0x00, 0x00, 0x01, 0x21, 0x10, 0x10],
        Network::Visa => [0xA0, 0x00, 0x00, 0x00, 0x03, 0x10, 0x10],
        Network::VisaDebit => [0xA0, 0x00, 0x00, 0x00, 0x03, 0x20, 0x10],
        Network::Mastercard => [0xA0, 0x00, 0x00, 0x00, 0x04, 0x10, 0x10],
        Network::BankAxept => [0xD5, 0x78, 0x00, 0x00, 0x02, 0x10, 0x10],
    }
}

fn network_of(aid_bytes: &[u8]) -> Option<Network> {
    [
        Network::Dankort,
        Network::Visa,
        Network::VisaDebit,
        Network::Mastercard,
        Network::BankAxept,
    ]
    .into_iter()
    .find(|n| aid(*n) == aid_bytes)
}

/// DE 7 as MMDDhhmmss, UTC.
fn de7(unix: i64) -> [u8; 10] {
    let (_, m, d) = crate::civil::from_days(unix.div_euclid(86_400));
    let s = unix.rem_euclid(86_400) as u64;
    let v = u64::from(m) * 100_000_000
        + u64::from(d) * 1_000_000
        + (s / 3600) * 10_000
        + (s % 3600 / 60) * 100
        + s % 60;
    num::<10>(v).unwrap_or([b'0'; 10])
}

/// MMDD of a time, UTC (DE 15, settlement date).
fn date_mmdd(unix: i64) -> [u8; 4] {
    let (_, m, d) = crate::civil::from_days(unix.div_euclid(86_400));
    num::<4>(u64::from(m) * 100 + u64::from(d)).unwrap_or([b'0'; 4])
}

/// Length of one currency's group in DE 63 of an 0500.
const RECON_GROUP: usize = 3 + 10 + 10 + 16 + 16;

/// One DE 63 group: currency n3, credits n10, debits n10, credits amount n16, debits
/// amount n16 (the order of DE 74, 76, 86, 88).
fn recon_group(t: &CurrencyTotals) -> Option<[u8; RECON_GROUP]> {
    let mut g = [b'0'; RECON_GROUP];
    g[..3].copy_from_slice(&num::<3>(u64::from(t.currency.0))?);
    g[3..13].copy_from_slice(&num::<10>(u64::from(t.credits))?);
    g[13..23].copy_from_slice(&num::<10>(u64::from(t.debits))?);
    g[23..39].copy_from_slice(&num::<16>(t.credits_minor)?);
    g[39..55].copy_from_slice(&num::<16>(t.debits_minor)?);
    Some(g)
}

/// The groups of DE 63; `None` if it is not whole groups of digits, or names a currency
/// twice, or more than [`MAX_RECONCILE_CURRENCIES`].
fn recon_groups(v: &[u8]) -> Option<ReconcileTotals> {
    if v.len() % RECON_GROUP != 0 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut totals = ReconcileTotals::default();
    let mut slots = totals.per_currency.iter_mut();
    for g in v.chunks_exact(RECON_GROUP) {
        let n = |r: core::ops::Range<usize>| {
            g.get(r)?.iter().try_fold(0u64, |a, d| {
                a.checked_mul(10)?.checked_add(u64::from(d - b'0'))
            })
        };
        let t = CurrencyTotals {
            currency: Currency(u16::try_from(n(0..3)?).ok()?),
            credits: u32::try_from(n(3..13)?).ok()?,
            debits: u32::try_from(n(13..23)?).ok()?,
            credits_minor: n(23..39)?,
            debits_minor: n(39..55)?,
        };
        *slots.next()? = Some(t);
    }
    let all: &[Option<CurrencyTotals>] = &totals.per_currency;
    let twice = all.iter().enumerate().any(|(i, a)| {
        a.is_some_and(|a| all[..i].iter().flatten().any(|b| b.currency == a.currency))
    });
    (!twice).then_some(totals)
}

/// DE 12 as YYMMDDhhmmss (years 2000..2099).
fn de12(unix: i64) -> [u8; 12] {
    let (y, m, d) = crate::civil::from_days(unix.div_euclid(86_400));
    let s = unix.rem_euclid(86_400) as u64;
    let v = (y.rem_euclid(100) as u64) * 10_000_000_000
        + u64::from(m) * 100_000_000
        + u64::from(d) * 1_000_000
        + (s / 3600) * 10_000
        + (s % 3600 / 60) * 100
        + s % 60;
    num::<12>(v).unwrap_or([b'0'; 12])
}

fn unix_of_de12(v: u64) -> i64 {
    let (yy, mm, dd) = (
        (v / 10_000_000_000) as i64,
        (v / 100_000_000 % 100) as u8,
        (v / 1_000_000 % 100) as u8,
    );
    let (h, mi, s) = (
        (v / 10_000 % 100) as i64,
        (v / 100 % 100) as i64,
        (v % 100) as i64,
    );
    crate::civil::to_days(2000 + yy, mm, dd) * 86_400 + h * 3600 + mi * 60 + s
}

fn bcd<const N: usize>(v: u64) -> [u8; N] {
    let mut out = [0u8; N];
    let mut v = v;
    for b in out.iter_mut().rev() {
        *b = ((v / 10 % 10) as u8) << 4 | (v % 10) as u8;
        v /= 100;
    }
    out
}

/// Room for the DE 55 this mapping writes (about 60 bytes; its format allows 255).
const DE55_MAX: usize = 96;

/// Scratch space for the field values of one message (they are borrowed by the message).
pub struct Fields {
    de3: [u8; 6],
    de4: [u8; 12],
    de7: [u8; 10],
    de11: [u8; 6],
    de12: [u8; 12],
    de14: [u8; 4],
    de22: [u8; 3],
    de23: [u8; 3],
    de37: [u8; 12],
    de38: [u8; 6],
    de39: [u8; 2],
    de41: [u8; 8],
    de42: [u8; 15],
    de15: [u8; 4],
    de49: [u8; 3],
    de50: [u8; 3],
    de55: [u8; DE55_MAX],
    de63: [u8; RECON_GROUP * MAX_RECONCILE_CURRENCIES],
    recon: [u8; RECON_GROUP],
    de55_len: usize,
    de90: [u8; 42],
    /// MTI of the request last encoded (0: none yet), whose answer `decode_answer` expects.
    sent_mti: u16,
}

impl Default for Fields {
    fn default() -> Self {
        Self::new()
    }
}

impl Fields {
    /// Empty scratch space.
    pub const fn new() -> Self {
        Self {
            de3: [b'0'; 6],
            de4: [b'0'; 12],
            de7: [b'0'; 10],
            de11: [b'0'; 6],
            de12: [b'0'; 12],
            de14: [b'0'; 4],
            de22: [b'0'; 3],
            de23: [b'0'; 3],
            de37: [b'0'; 12],
            de38: [b' '; 6],
            de39: [b'0'; 2],
            de41: [b' '; 8],
            de42: [b' '; 15],
            de15: [b'0'; 4],
            de49: [b'0'; 3],
            de50: [b'0'; 3],
            de55: [0; DE55_MAX],
            de63: [b'0'; RECON_GROUP * MAX_RECONCILE_CURRENCIES],
            recon: [b'0'; RECON_GROUP],
            de55_len: 0,
            de90: [b'0'; 42],
            sent_mti: 0,
        }
    }
}

fn mti_of(req: &HostRequest<'_>) -> u16 {
    match req {
        HostRequest::Authorise(d) => match d.kind {
            TxnKind::PreAuthorisation => 100,
            TxnKind::Reversal => 400,
            _ => 200,
        },
        HostRequest::Advice(d) => match (d.kind, d.repeat) {
            (TxnKind::Reversal, false) => 420,
            (TxnKind::Reversal, true) => 421,
            (_, false) => 220,
            (_, true) => 221,
        },
        HostRequest::FetchBlockList { .. } => 800,
        HostRequest::Reconcile { .. } => 500,
    }
}

/// DE 22: the PAN entry mode, then position 3, the terminal's PIN entry capability
/// (ISO 8583:1987: `1` can accept PINs, `2` cannot). Every terminal this mapping serves has
/// a PIN pad, so it is always `1`; whether this cardholder's PIN was verified is the CVM
/// result, EMV tag 9F34 in DE 55 (a decoder that reads DE 22 as 1987 defines it must not
/// see "no PIN pad" for a PIN-less contactless payment).
fn entry_code(e: EntryMode) -> [u8; 3] {
    let p = PIN_CAPABLE;
    match e {
        EntryMode::Chip => [b'0', b'5', p],
        EntryMode::Contactless => [b'0', b'7', p],
        EntryMode::Wallet => [b'8', b'1', p],
        EntryMode::Magstripe => [b'9', b'0', p],
    }
}

/// What a request carries besides the host-link message: when it leaves the terminal and
/// the trace number of a message that is no transaction's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope {
    /// Transmission time (DE 7), Unix seconds, UTC: the terminal's controlled clock.
    pub transmitted_at: i64,
    /// DE 11 of a network-management (0800) or reconciliation (0500) message, taken mod
    /// 1,000,000; authorisations and advices use their sequence number instead, so that a
    /// repeat keeps its trace number.
    pub stan: u32,
    /// The application cryptogram of an authorisation or advice (DE 55 tag 9F26), as the
    /// card generated it; `None`: [`test_cryptogram`] (the reference terminal has no card).
    pub cryptogram: Option<[u8; 8]>,
}

/// A deterministic eight-byte stand-in for an application cryptogram (tag 9F26) over the
/// transaction's data. It is NOT a real ARQC: no key, no card, no MAC; a test terminal uses
/// it so that every request has the tag a real one carries.
pub fn test_cryptogram(d: &TxnData<'_>) -> [u8; 8] {
    // Two CRC-32s over the data an ARQC covers (amount, currency, date, sequence, card),
    // each behind its own label so the halves differ.
    let half = |label: &[u8]| {
        let mut c = crate::frame::CRC.digest();
        c.update(label);
        c.update(&d.amount.minor.to_be_bytes());
        c.update(&d.amount.currency.0.to_be_bytes());
        c.update(&d.local_time.to_be_bytes());
        c.update(&d.txn_seq.to_be_bytes());
        c.update(d.pan.0.as_bytes());
        c.update(&[d.pan_seq, d.kind as u8]);
        c.finalize().to_be_bytes()
    };
    let (a, b) = (half(b"payhil test AC 1"), half(b"payhil test AC 2"));
    [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]
}

/// Encodes a terminal request (length prefix included) into `out`.
pub fn encode_request<'o>(
    req: &HostRequest<'_>,
    env: &Envelope,
    f: &mut Fields,
    out: &'o mut [u8],
) -> Result<&'o [u8], Iso8583Error> {
    let mti = mti_of(req);
    f.sent_mti = mti;
    f.de7 = de7(env.transmitted_at);
    let d = match req {
        HostRequest::Reconcile {
            terminal_id,
            totals,
        } => {
            f.de41 = padded::<8>(terminal_id).ok_or(Iso8583Error::TooLarge(41))?;
            f.de11 = num::<6>(u64::from(env.stan % 1_000_000)).ok_or(Iso8583Error::TooLarge(11))?;
            // The settlement date is the day the terminal reconciles, UTC (its clock).
            f.de15 = date_mmdd(env.transmitted_at);
            // DE 63: every currency's totals; never one figure across currencies.
            let mut n = 0;
            for t in totals.currencies() {
                let g = f
                    .de63
                    .get_mut(n..n + RECON_GROUP)
                    .ok_or(Iso8583Error::TooLarge(63))?;
                g.copy_from_slice(&recon_group(t).ok_or(Iso8583Error::TooLarge(63))?);
                n += RECON_GROUP;
            }
            // The 1987 fields as well when there is one currency (DE 50 names it): what a
            // generic host reads. With none they are zero; with more they are absent.
            let mut single = totals.currencies();
            let (one, with_1987) = match (single.next(), single.next()) {
                (Some(t), None) => {
                    f.de50 = num::<3>(u64::from(t.currency.0)).ok_or(Iso8583Error::TooLarge(50))?;
                    f.recon = recon_group(t).ok_or(Iso8583Error::TooLarge(74))?;
                    (true, true)
                }
                (None, _) => {
                    f.recon = [b'0'; RECON_GROUP];
                    (false, true)
                }
                (Some(_), Some(_)) => (false, false),
            };
            let mut m = Message::new(500);
            m.set(7, &f.de7)
                .set(11, &f.de11)
                .set(15, &f.de15)
                .set(41, &f.de41)
                .set(63, &f.de63[..n]);
            if one {
                m.set(50, &f.de50);
            }
            if with_1987 {
                m.set(74, &f.recon[3..13])
                    .set(76, &f.recon[13..23])
                    .set(86, &f.recon[23..39])
                    .set(88, &f.recon[39..55]);
            }
            return m.encode(out);
        }
        HostRequest::FetchBlockList { terminal_id } => {
            f.de41 = padded::<8>(terminal_id).ok_or(Iso8583Error::TooLarge(41))?;
            f.de11 = num::<6>(u64::from(env.stan % 1_000_000)).ok_or(Iso8583Error::TooLarge(11))?;
            let mut m = Message::new(mti);
            m.set(7, &f.de7)
                .set(11, &f.de11)
                .set(41, &f.de41)
                .set(70, b"301");
            return m.encode(out);
        }
        HostRequest::Authorise(d) | HostRequest::Advice(d) => d,
    };
    f.de3 = if d.kind == TxnKind::Refund {
        *b"200000"
    } else {
        *b"000000"
    };
    f.de4 = num::<12>(d.amount.minor).ok_or(Iso8583Error::TooLarge(4))?;
    f.de11 = num::<6>(u64::from(d.txn_seq) % 1_000_000).ok_or(Iso8583Error::TooLarge(11))?;
    f.de12 = de12(d.local_time);
    f.de22 = entry_code(d.entry_mode);
    f.de23 = num::<3>(u64::from(d.pan_seq)).ok_or(Iso8583Error::TooLarge(23))?;
    f.de37 = num::<12>(u64::from(d.txn_seq)).ok_or(Iso8583Error::TooLarge(37))?;
    f.de41 = padded::<8>(d.terminal_id).ok_or(Iso8583Error::TooLarge(41))?;
    f.de42 = padded::<15>(d.merchant_id).ok_or(Iso8583Error::TooLarge(42))?;
    f.de49 = num::<3>(u64::from(d.amount.currency.0)).ok_or(Iso8583Error::TooLarge(49))?;
    // DE 55 (BER-TLV): 4F AID, 9F02 amount, 5F2A currency, 9A date, 9C type, 5F34 PAN
    // sequence, 9F34 CVM results, 8A of an offline approval, 9F26 cryptogram.
    let (y, m, day) = crate::civil::from_days(d.local_time.div_euclid(86_400));
    let date = bcd::<3>((y.rem_euclid(100) as u64) * 10_000 + u64::from(m) * 100 + u64::from(day));
    let txn_type = [if d.kind == TxnKind::Refund {
        0x20
    } else {
        0x00
    }];
    let cryptogram = env.cryptogram.unwrap_or_else(|| test_cryptogram(d));
    let mut w = tlv::Writer::new(&mut f.de55);
    let too_large = |_| Iso8583Error::TooLarge(55);
    w.push(Tag(0x4F), &aid(d.network))
        .and_then(|w| w.push(Tag(0x9F02), &bcd::<6>(d.amount.minor)))
        .and_then(|w| w.push(Tag(0x5F2A), &bcd::<2>(u64::from(d.amount.currency.0))))
        .and_then(|w| w.push(Tag(0x9A), &date))
        .and_then(|w| w.push(Tag(0x9C), &txn_type))
        .and_then(|w| w.push(Tag(0x5F34), &[d.pan_seq]))
        .and_then(|w| {
            w.push(
                Tag(0x9F34),
                &cvm_results(d.pin_verified, d.pin_block.is_some()),
            )
        })
        .map_err(too_large)?;
    // An offline approval's marker is EMV's authorisation response code, tag 8A.
    if let AuthMark::Offline(arc) = d.auth_mark() {
        w.push(Tag(0x8A), &arc).map_err(too_large)?;
    }
    w.push(Tag(0x9F26), &cryptogram).map_err(too_large)?;
    let n = w.len();
    f.de55_len = n;
    let mut msg = Message::new(mti);
    msg.set(2, d.pan.0.as_bytes())
        .set(3, &f.de3)
        .set(4, &f.de4)
        .set(7, &f.de7)
        .set(11, &f.de11)
        .set(12, &f.de12);
    if d.expiry != (Expiry { year: 0, month: 0 }) {
        f.de14 = num::<4>(u64::from(d.expiry.year % 100) * 100 + u64::from(d.expiry.month))
            .ok_or(Iso8583Error::TooLarge(14))?;
        msg.set(14, &f.de14);
    }
    msg.set(22, &f.de22)
        .set(23, &f.de23)
        .set(37, &f.de37)
        .set(41, &f.de41)
        .set(42, &f.de42)
        .set(49, &f.de49);
    // DE 52: the online PIN, only when the cardholder entered one (never in an advice).
    if let Some(pin) = &d.pin_block {
        msg.set(52, &pin.0);
    }
    msg.set(55, &f.de55[..f.de55_len]);
    // DE 38 carries authorisation codes only; the terminal's own markers are DE 60.
    match d.auth_mark() {
        AuthMark::Code(code) => {
            f.de38 = padded::<6>(code).ok_or(Iso8583Error::TooLarge(38))?;
            msg.set(38, &f.de38);
        }
        AuthMark::Marker(mark) => {
            msg.set(60, mark.as_bytes());
        }
        AuthMark::Offline(_) | AuthMark::None => {}
    }
    if matches!(d.kind, TxnKind::Capture | TxnKind::Reversal) {
        let orig_mti: u64 = if d.kind == TxnKind::Capture { 100 } else { 200 };
        f.de90 = [b'0'; 42];
        f.de90[..4].copy_from_slice(&num::<4>(orig_mti).unwrap_or(*b"0000"));
        f.de90[4..14].copy_from_slice(
            &num::<10>(u64::from(d.related_seq)).ok_or(Iso8583Error::TooLarge(90))?,
        );
        msg.set(90, &f.de90);
    }
    msg.encode(out)
}

fn de55_network(icc: &[u8]) -> Option<Network> {
    network_of(de55_value(icc, 0x4F)?)
}

/// The value of `tag` in DE 55; `None` if absent or DE 55 is not well-formed BER-TLV.
fn de55_value(icc: &[u8], tag: u32) -> Option<&[u8]> {
    tlv::find(icc, Tag(tag)).ok().flatten()
}

/// The DE 55 tags every authorisation and advice carries.
pub const REQUIRED_TAGS: [u32; 8] = [0x4F, 0x9F02, 0x5F2A, 0x9A, 0x9C, 0x5F34, 0x9F34, 0x9F26];

/// The fields every authorisation and advice (0100, 0200, 0220, 0221, 0400, 0420, 0421)
/// carries; DE 14 (expiry) only online, DE 38/60 and 90 as the transaction needs.
pub const REQUIRED_TXN_FIELDS: [u8; 13] = [2, 3, 4, 7, 11, 12, 22, 23, 37, 41, 42, 49, 55];

/// The fields every 0800 carries.
pub const REQUIRED_0800_FIELDS: [u8; 4] = [7, 11, 41, 70];

/// The fields every 0500 carries.
pub const REQUIRED_0500_FIELDS: [u8; 5] = [7, 11, 15, 41, 63];

/// The first of `required` that `m` lacks, as [`Iso8583Error::Missing`].
fn require(m: &Message<'_>, required: &[u8]) -> Result<(), Iso8583Error> {
    match required
        .iter()
        .find(|de| m.get(usize::from(**de)).is_none())
    {
        Some(de) => Err(Iso8583Error::Missing(*de)),
        None => Ok(()),
    }
}

/// The request's `auth_code`: DE 38, else tag 8A ("Y1"/"Y3") of DE 55, else DE 60's
/// marker (one of [`TERMINAL_MARKERS`]), else none. A request with more than one, or
/// another 8A or DE 60, is malformed.
fn auth_of<'b>(m: &Message<'b>, icc: &'b [u8]) -> Result<&'b str, Iso8583Error> {
    let code = m.text(38);
    let arc = match de55_value(icc, 0x8A) {
        Some(v @ (b"Y1" | b"Y3")) => core::str::from_utf8(v).ok(),
        Some(_) => return Err(Iso8583Error::NotAlphanumeric(55)),
        None => None,
    };
    let reserve = match m.text(60) {
        Some(mark) if TERMINAL_MARKERS.contains(&mark) => Some(mark),
        Some(_) => return Err(Iso8583Error::NotAlphanumeric(60)),
        None => None,
    };
    match (code, arc, reserve) {
        (Some(c), None, None) | (None, Some(c), None) | (None, None, Some(c)) => Ok(c),
        (None, None, None) => Ok(""),
        _ => Err(Iso8583Error::NotAlphanumeric(38)),
    }
}

/// DE 22 position 3: the terminal can accept PINs.
const PIN_CAPABLE: u8 = b'1';

/// EMV tag 9F34 (CVM Results: method, condition, result). A PIN the card verified is
/// `01 00 02` (plaintext PIN verified by the ICC, condition "always", successful); a PIN
/// sent enciphered in DE 52 for the issuer is `02 00 00` (enciphered PIN verified online,
/// "always", result unknown: the issuer decides); anything else is `3F 00 01` (no CVM
/// performed, failed). The host learns what the terminal knows of the PIN, no more.
const fn cvm_results(pin_verified: bool, online_pin: bool) -> [u8; 3] {
    if pin_verified {
        [0x01, 0x00, 0x02]
    } else if online_pin {
        [0x02, 0x00, 0x00]
    } else {
        [0x3F, 0x00, 0x01]
    }
}

/// Whether 9F34 says a PIN was verified: a PIN method (01..05, bit 7 "apply next" ignored)
/// with result 02 (successful).
fn pin_verified_of(cvm: &[u8]) -> Option<bool> {
    let [method, _condition, result] = *cvm else {
        return None;
    };
    Some(matches!(method & 0x3F, 0x01..=0x05) && result == 0x02)
}

/// DE 22 (n3): the entry mode; position 3 must be 1 (PIN capable) or 2 (not), and
/// carries nothing this mapping decodes (see [`entry_code`]).
fn entry_of(de22: &[u8]) -> Option<EntryMode> {
    let e = match de22.get(..2)? {
        b"05" => EntryMode::Chip,
        b"07" => EntryMode::Contactless,
        b"81" => EntryMode::Wallet,
        b"90" => EntryMode::Magstripe,
        _ => return None,
    };
    matches!(de22.get(2), Some(b'1' | b'2')).then_some(e)
}

/// Why a decoded message is not a request this mapping knows.
const BAD: Iso8583Error = Iso8583Error::NotNumeric(0);

/// Decodes a terminal request body (without the length prefix).
pub fn decode_request(body: &[u8]) -> Result<HostRequest<'_>, Iso8583Error> {
    let m = Message::decode(body)?;
    let text = |de| m.text(de).ok_or(Iso8583Error::Truncated);
    let number = |de| m.number(de).ok_or(Iso8583Error::Truncated);
    if m.mti == 800 {
        require(&m, &REQUIRED_0800_FIELDS)?;
        return Ok(HostRequest::FetchBlockList {
            terminal_id: text(41)?,
        });
    }
    if m.mti == 500 {
        // Required: DE 7, 11, 15 (settlement date), 41 and 63 (the totals per currency).
        require(&m, &REQUIRED_0500_FIELDS)?;
        let totals = recon_groups(m.get(63).ok_or(Iso8583Error::Truncated)?)
            .ok_or(Iso8583Error::NotNumeric(63))?;
        // DE 50 and 74/76/86/88, when present, must say what the one group says.
        if let Some(cur) = m.number(50) {
            let mut one = totals.currencies();
            let agree = match (one.next(), one.next()) {
                (Some(t), None) => {
                    u64::from(t.currency.0) == cur
                        && m.number(74) == Some(u64::from(t.credits))
                        && m.number(76) == Some(u64::from(t.debits))
                        && m.number(86) == Some(t.credits_minor)
                        && m.number(88) == Some(t.debits_minor)
                }
                _ => false,
            };
            if !agree {
                return Err(Iso8583Error::NotNumeric(50));
            }
        }
        return Ok(HostRequest::Reconcile {
            terminal_id: text(41)?,
            totals,
        });
    }
    if !matches!(m.mti, 100 | 200 | 220 | 221 | 400 | 420 | 421) {
        return Err(Iso8583Error::BadMti);
    }
    require(&m, &REQUIRED_TXN_FIELDS)?;
    let icc = m.get(55).ok_or(Iso8583Error::Missing(55))?;
    // DE 55 is well-formed BER-TLV as a whole, and has every required tag.
    for tag in REQUIRED_TAGS {
        match tlv::find(icc, Tag(tag)) {
            Ok(Some(_)) => {}
            Ok(None) => return Err(Iso8583Error::Missing(55)),
            Err(_) => return Err(Iso8583Error::BadLength(55)),
        }
    }
    let pan = core::str::from_utf8(m.get(2).ok_or(Iso8583Error::Truncated)?).map_err(|_| BAD)?;
    let entry_mode =
        entry_of(m.get(22).ok_or(Iso8583Error::Truncated)?).ok_or(Iso8583Error::NotNumeric(22))?;
    let network = de55_network(icc).ok_or(Iso8583Error::NotNumeric(55))?;
    let pin_verified = de55_value(icc, 0x9F34)
        .and_then(pin_verified_of)
        .ok_or(Iso8583Error::NotNumeric(55))?;
    let expiry = match m.number(14) {
        Some(v) => Expiry {
            year: 2000 + (v / 100) as u16,
            month: (v % 100) as u8,
        },
        None => Expiry { year: 0, month: 0 },
    };
    let related = m
        .get(90)
        .map(|v| m_number(&v[4..14]))
        .transpose()?
        .unwrap_or(0);
    let kind = match (m.mti, m.get(90).is_some(), m.get(3) == Some(b"200000")) {
        (100, _, _) => TxnKind::PreAuthorisation,
        (400 | 420 | 421, _, _) => TxnKind::Reversal,
        (_, true, _) => TxnKind::Capture,
        (_, _, true) => TxnKind::Refund,
        _ => TxnKind::Purchase,
    };
    let d = TxnData {
        terminal_id: text(41)?,
        merchant_id: text(42)?,
        txn_seq: u32::try_from(number(37)?).map_err(|_| Iso8583Error::NotNumeric(37))?,
        pan: PanText(pan),
        expiry,
        pan_seq: u8::try_from(number(23)?).map_err(|_| Iso8583Error::NotNumeric(23))?,
        network,
        entry_mode,
        amount: Amount {
            minor: number(4)?,
            currency: Currency(
                u16::try_from(number(49)?).map_err(|_| Iso8583Error::NotNumeric(49))?,
            ),
        },
        local_time: unix_of_de12(number(12)?),
        pin_verified,
        auth_code: auth_of(&m, icc)?,
        kind,
        related_seq: u32::try_from(related).map_err(|_| Iso8583Error::NotNumeric(90))?,
        repeat: matches!(m.mti, 221 | 421),
        pin_block: match m.get(52) {
            Some(v) => Some(EncryptedPinBlock(
                v.try_into().map_err(|_| Iso8583Error::BadLength(52))?,
            )),
            None => None,
        },
    };
    match m.mti {
        100 | 200 | 400 => Ok(HostRequest::Authorise(d)),
        220 | 221 | 420 | 421 => Ok(HostRequest::Advice(d)),
        _ => Err(Iso8583Error::BadMti),
    }
}

fn m_number(v: &[u8]) -> Result<u64, Iso8583Error> {
    v.iter().try_fold(0u64, |a, d| {
        if d.is_ascii_digit() {
            Ok(a * 10 + u64::from(d - b'0'))
        } else {
            Err(Iso8583Error::NotNumeric(90))
        }
    })
}

/// The answer's MTI: the request's, without the repeat digit, plus 10 (0221 -> 0230).
pub const fn response_mti(request_mti: u16) -> u16 {
    request_mti - request_mti % 10 + 10
}

/// Encodes the host's answer to `request` (as decoded with [`Message::decode`]).
pub fn encode_response<'o>(
    resp: &HostResponse<'_>,
    request: &Message<'_>,
    f: &mut Fields,
    out: &'o mut [u8],
) -> Result<&'o [u8], Iso8583Error> {
    let mut m = Message::new(response_mti(request.mti));
    // Every answer echoes the request's processing code, amount, trace number and terminal
    // id (those it has): that is how a terminal knows the answer is to this request.
    for de in [3, 4, 11, 41] {
        if let Some(v) = request.get(de) {
            m.set(de, v);
        }
    }
    match resp {
        HostResponse::AuthResult {
            txn_seq,
            response_code,
            auth_code,
        } => {
            f.de37 = num::<12>(u64::from(*txn_seq)).ok_or(Iso8583Error::TooLarge(37))?;
            f.de39 = de39(*response_code)?;
            m.set(37, &f.de37).set(39, &f.de39);
            if !auth_code.is_empty() {
                f.de38 = padded::<6>(auth_code).ok_or(Iso8583Error::TooLarge(38))?;
                m.set(38, &f.de38);
            }
        }
        HostResponse::AdviceAck {
            txn_seq,
            response_code,
        } => {
            f.de37 = num::<12>(u64::from(*txn_seq)).ok_or(Iso8583Error::TooLarge(37))?;
            f.de39 = de39(*response_code)?;
            m.set(37, &f.de37).set(39, &f.de39);
        }
        HostResponse::BlockList { pans } => {
            m.set(39, b"00").set(48, pans.0.as_bytes()).set(70, b"301");
        }
        HostResponse::ReconcileResult { in_balance } => {
            m.set(
                39,
                if *in_balance {
                    &response_code::APPROVED.0
                } else {
                    &response_code::OUT_OF_BALANCE.0
                },
            );
        }
    }
    m.encode(out)
}

/// DE 39 of a code, checked: a code built without [`ResponseCode::new`] may hold anything.
fn de39(code: ResponseCode) -> Result<[u8; 2], Iso8583Error> {
    ResponseCode::new(code.0)
        .map(|c| c.0)
        .ok_or(Iso8583Error::NotAlphanumeric(39))
}

/// The MTI of a request body, to answer it.
pub fn request_mti(body: &[u8]) -> Option<u16> {
    let b = body.get(..4)?;
    b.iter().try_fold(0u16, |a, d| {
        d.is_ascii_digit().then(|| a * 10 + u16::from(d - b'0'))
    })
}

/// Decodes the host's answer (without the length prefix) to the request last encoded with
/// `request`.
pub fn decode_answer<'b>(
    request: &Fields,
    body: &'b [u8],
) -> Result<HostResponse<'b>, Iso8583Error> {
    let m = Message::decode(body)?;
    if request.sent_mti == 0 || m.mti != response_mti(request.sent_mti) {
        return Err(Iso8583Error::NotItsAnswer(0));
    }
    // DE 11 and DE 41 say which request of which terminal this answers. DE 3 and DE 4 are
    // echoed too, but not checked: a host may answer a partial approval with the approved
    // amount, and the terminal declines that with the code anyway.
    for (de, sent) in [(11usize, &request.de11[..]), (41, &request.de41[..])] {
        if m.get(de) != Some(sent) {
            return Err(Iso8583Error::NotItsAnswer(de as u8));
        }
    }
    decode_response(body)
}

/// Decodes the host's answer (without the length prefix).
pub fn decode_response(body: &[u8]) -> Result<HostResponse<'_>, Iso8583Error> {
    let m = Message::decode(body)?;
    let seq = || {
        let v = m.number(37).ok_or(Iso8583Error::Missing(37))?;
        u32::try_from(v).map_err(|_| Iso8583Error::NotNumeric(37))
    };
    // DE 39 is an2: any two letters or digits are an answer (issue 9); the terminal decides
    // what an unknown one means, the decoder never drops it.
    let code = || {
        let v = m.get(39).ok_or(Iso8583Error::Missing(39))?;
        let two: [u8; 2] = v.try_into().map_err(|_| Iso8583Error::BadLength(39))?;
        ResponseCode::new(two).ok_or(Iso8583Error::NotAlphanumeric(39))
    };
    match m.mti {
        110 | 210 | 410 => Ok(HostResponse::AuthResult {
            txn_seq: seq()?,
            response_code: code()?,
            auth_code: m.text(38).unwrap_or(""),
        }),
        230 | 430 => Ok(HostResponse::AdviceAck {
            txn_seq: seq()?,
            response_code: code()?,
        }),
        810 => {
            code()?;
            Ok(HostResponse::BlockList {
                pans: PanList(m.text(48).unwrap_or("")),
            })
        }
        510 => Ok(HostResponse::ReconcileResult {
            in_balance: code()? == response_code::APPROVED,
        }),
        _ => Err(Iso8583Error::BadMti),
    }
}

#[cfg(test)]
mod tests;
