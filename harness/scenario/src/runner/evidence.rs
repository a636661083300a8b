//! The end-of-run check of everything a run leaves behind for card data (PCI-01, PCI-02,
//! PBS-01, BAX-05), and the redaction of what the harness keeps.
//!
//! Scan first, then redact: every leak is reported (masked), and the report, the files
//! `payhil run --out` writes and the snapshots carry only a masked copy, so that the harness
//! never passes on a card number, PIN or CVC it caught the terminal leaking.
//!
//! Looked for: every test card's number, PIN and CVC (not only those of the cards the scenario
//! uses: a terminal may keep or log a card from an earlier run), the PINs the scenario enters,
//! and any card number at all (Luhn, [`payhil_cards::pci`]).

use super::Artifact;
use crate::format::{Action, Scenario};
use payhil_cards::pci::{self, Encoding, Leak, LeakKind};
use payhil_transport::Source;
use payhil_transport::transcript::{self, Entry};
use std::collections::BTreeMap;

/// What must never show in full. Deliberately not `Debug`: it holds the digits.
#[derive(Default, Clone)]
pub(crate) struct Secrets {
    pans: Vec<String>,
    pins: Vec<String>,
    cvcs: Vec<String>,
}

impl Secrets {
    /// Every test card's number, PIN and CVC.
    pub(crate) fn catalogue() -> Self {
        let mut s = Self::default();
        for card in payhil_cards::catalogue::all() {
            push_new(&mut s.pans, card.pan.reveal());
            s.add_pin(card.pin.reveal());
            push_new(&mut s.cvcs, card.cvc.reveal());
        }
        s
    }

    /// Every test card's number, PIN and CVC (the scenario's own cards included), and the PINs
    /// the scenario's purchases enter (a wrong PIN is a PIN too).
    pub(crate) fn of(scn: &Scenario) -> Self {
        let mut s = Self::catalogue();
        let purchases = scn.steps.iter().filter_map(|step| match &step.action {
            Action::Purchase(p, _) => Some(p),
            _ => None,
        });
        for card in purchases.clone().map(|p| &p.card).chain(&scn.cards) {
            push_new(&mut s.pans, card.pan.reveal());
            s.add_pin(card.pin.reveal());
            push_new(&mut s.cvcs, card.cvc.reveal());
        }
        for pin in purchases.filter_map(|p| p.pin.as_ref()) {
            s.add_pin(pin.reveal());
        }
        s
    }

    fn add_pin(&mut self, pin: &str) {
        push_new(&mut self.pins, pin);
    }

    fn pans(&self) -> Vec<&str> {
        self.pans.iter().map(String::as_str).collect()
    }

    fn pins(&self) -> Vec<&str> {
        self.pins.iter().map(String::as_str).collect()
    }

    fn cvcs(&self) -> Vec<&str> {
        self.cvcs.iter().map(String::as_str).collect()
    }
}

fn push_new(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_owned());
    }
}

/// What the end-of-run check found, and the redacted copies that may be kept.
pub(crate) struct Evidence {
    /// Invariant findings (each fails the scenario).
    pub(crate) findings: Vec<String>,
    /// The artifacts, redacted.
    pub(crate) artifacts: Vec<Artifact>,
    /// The transcript, redacted.
    pub(crate) transcript: String,
    /// The replayable transcript, redacted.
    pub(crate) replayable: String,
    /// The transcript's entries, redacted.
    pub(crate) entries: Vec<Entry>,
}

/// How a leak reads in a finding: `{kind} {masked}` for card numbers, "a PIN/CVC appears" for
/// the secrets, with the encoding unless it was plain text.
fn describe(leak: &Leak) -> String {
    let what = match leak.kind {
        LeakKind::Pan | LeakKind::RevealingMask => format!("{} {}", leak.kind, leak.masked),
        LeakKind::Pin => "a PIN appears".into(),
        LeakKind::Cvc => "a CVC appears".into(),
    };
    match leak.encoding {
        Encoding::Text => what,
        e => format!("{what} ({e})"),
    }
}

/// The rule a leak in something shown (an artifact, a log) breaks.
fn rule(kind: LeakKind) -> &'static str {
    match kind {
        LeakKind::Pan | LeakKind::RevealingMask => "PCI-01",
        // Sensitive authentication data, never stored after authorisation (PCI-02), and
        // never logged or stored at all (PBS-01, BAX-05 for the CVC).
        LeakKind::Pin | LeakKind::Cvc => "PCI-02/PBS-01",
    }
}

/// Leaks in `text`: card numbers (known or not), masks that show too much, PINs and CVCs; in
/// any encoding [`pci::scan_bytes`] reads.
fn leaks(text: &str, secrets: &Secrets) -> Vec<Leak> {
    pci::scan_bytes(
        text.as_bytes(),
        &secrets.pans(),
        &secrets.pins(),
        &secrets.cvcs(),
    )
}

/// A copy of `text` with card numbers masked and PINs and CVCs starred; if anything is still
/// found after that (a card number glued into a longer field that no mask can be fitted to),
/// the whole text is withheld.
fn redacted(text: &str, secrets: &Secrets) -> String {
    let mut out = pci::redact_with(text, &secrets.pins(), &secrets.cvcs());
    for digits in &secrets.pans {
        // A known card number glued to other digits (an ISO 8583 length, a sequence number):
        // the text redaction reads those as one longer number and leaves them. All starred: a
        // first-six-last-four mask glued to the length digits would show eight.
        out = out.replace(digits.as_str(), &"*".repeat(digits.len()));
    }
    if leaks(&out, secrets).is_empty() {
        out
    } else {
        "[payhil: withheld: card data that could not be masked]".into()
    }
}

/// Whether `text` holds card data: a leak the scan finds, or a known card number anywhere
/// (glued to other digits, as [`redacted`] masks it).
pub(crate) fn holds_card_data(text: &str, secrets: &Secrets) -> bool {
    secrets.pans.iter().any(|p| text.contains(p.as_str())) || !leaks(text, secrets).is_empty()
}

/// `text` redacted for keeping (failure messages, step summaries): card numbers, PINs and CVCs.
pub(crate) fn redact(text: &str, secrets: &Secrets) -> String {
    redacted(text, secrets)
}

/// Scans the artifacts and every transcript entry (its text and its machine-local details),
/// then redacts them. The terminal's own log lines are reported as "terminal log" findings.
pub(crate) fn check(artifacts: Vec<Artifact>, entries: Vec<Entry>, secrets: &Secrets) -> Evidence {
    let (findings, kept) = check_artifacts(artifacts, secrets);
    let mut scan = TranscriptCheck::new(secrets.clone());
    let clean: Vec<Entry> = entries.into_iter().map(|e| scan.entry(e)).collect();
    let mut findings = findings;
    findings.extend(scan.findings);
    Evidence {
        findings,
        artifacts: kept,
        transcript: transcript::render(&clean),
        replayable: transcript::render_replayable(&clean),
        entries: clean,
    }
}

/// The artifacts' findings and their redacted copies.
pub(crate) fn check_artifacts(
    artifacts: Vec<Artifact>,
    secrets: &Secrets,
) -> (Vec<String>, Vec<Artifact>) {
    let mut findings = Vec::new();
    let mut kept = Vec::new();
    for a in artifacts {
        for leak in leaks(&a.text, secrets) {
            findings.push(format!(
                "{}: {}:{}:{}: {}",
                rule(leak.kind),
                a.name,
                leak.line,
                leak.column,
                describe(&leak)
            ));
        }
        kept.push(Artifact {
            text: redacted(&a.text, secrets),
            name: a.name,
        });
    }
    (findings, kept)
}

/// The card-data check of a transcript, one entry at a time in the order they were recorded
/// (at the end of a run, or as each entry is recorded when the transcript streams to a file):
/// findings name the line and column of the rendered transcript; each entry comes back
/// redacted.
pub(crate) struct TranscriptCheck {
    secrets: Secrets,
    /// The rendered transcript's line the next entry starts on.
    line: usize,
    /// What was found so far.
    pub(crate) findings: Vec<String>,
}

impl TranscriptCheck {
    pub(crate) fn new(secrets: Secrets) -> Self {
        Self {
            secrets,
            line: 1,
            findings: Vec::new(),
        }
    }

    /// Scans one entry and gives back its redacted copy.
    pub(crate) fn entry(&mut self, e: Entry) -> Entry {
        let secrets = &self.secrets;
        let line = self.line;
        // Where the entry's text starts in its line of the rendered transcript.
        let prefix = transcript::render(&[Entry {
            text: String::new(),
            local: None,
            ..e.clone()
        }])
        .len()
            - 1;
        let where_ = |leak: &Leak, start: usize| {
            let column = if leak.line == 1 {
                start + leak.column
            } else {
                leak.column
            };
            format!("transcript:{}:{column}", line + leak.line - 1)
        };
        let log = if e.source == Source::TerminalLog {
            "terminal log: "
        } else {
            ""
        };
        for leak in leaks(&e.text, secrets) {
            self.findings.push(format!(
                "{}: {log}{}: {}",
                rule(leak.kind),
                where_(&leak, prefix),
                describe(&leak)
            ));
        }
        if let Some(local) = &e.local {
            let start = prefix + e.text.len() + 2;
            // The machine-local details are the harness's own (process ids, ports, device
            // paths): a process id equal to a test PIN or CVC is chance, not a leak (it failed
            // one suite run in about fifty). A card number there is still a finding.
            let chance = |l: &Leak| matches!(l.kind, LeakKind::Pin | LeakKind::Cvc);
            for leak in leaks(local, secrets).into_iter().filter(|l| !chance(l)) {
                self.findings.push(format!(
                    "{}: {}: {}",
                    rule(leak.kind),
                    where_(&leak, start),
                    describe(&leak)
                ));
            }
        }
        self.line += transcript::render(std::slice::from_ref(&e))
            .matches('\n')
            .count();
        Entry {
            text: redacted(&e.text, secrets),
            local: e.local.as_deref().map(|l| redacted(l, secrets)),
            ..e
        }
    }
}

/// PCI-02 findings in what the terminal keeps at rest (an emulated terminal's flash image):
/// card numbers in any encoding, PINs and CVCs, one finding per thing found and encoding with
/// how often and where first (a journal repeats a card in every record).
pub(crate) fn storage_findings(image: &[u8], secrets: &Secrets) -> Vec<String> {
    let mut seen: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let found = pci::scan_storage(image, &secrets.pans(), &secrets.pins(), &secrets.cvcs());
    for leak in &found {
        let what = match leak.kind {
            LeakKind::Pan | LeakKind::RevealingMask => format!("{} {}", leak.kind, leak.masked),
            LeakKind::Pin | LeakKind::Cvc => format!("a {}", leak.kind),
        };
        let e = seen
            .entry(format!("{what} ({})", leak.encoding))
            .or_insert((leak.offset, 0));
        e.1 += 1;
    }
    let mut out: Vec<(usize, String)> = seen
        .into_iter()
        .map(|(what, (first, n))| {
            let times = if n == 1 {
                String::new()
            } else {
                format!(", {n} times")
            };
            (
                first,
                format!("PCI-02: terminal storage: {what} at offset {first:#x}{times}"),
            )
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, f)| f).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use payhil_transport::transcript::Entry;

    fn entry(source: Source, text: &str, local: Option<&str>) -> Entry {
        Entry {
            micros: 1_000,
            clock: 1_767_603_600,
            source,
            text: text.into(),
            local: local.map(Into::into),
        }
    }

    fn catalogue() -> Secrets {
        Secrets::catalogue()
    }

    /// A flake under load: the emulator's process id was a test card's PIN, and the spawn
    /// line's local details failed the run with PCI-02/PBS-01.
    #[test]
    fn a_process_id_equal_to_a_pin_or_cvc_in_the_local_details_is_no_finding() {
        let secrets = catalogue();
        let pin = secrets.pins()[0].to_string();
        let cvc = visa_cvc();
        for number in [pin.as_str(), cvc] {
            let local = format!("pid Some({number}) on /dev/pts/3");
            let e = entry(Source::Step, "spawned the emulator on a PTY", Some(&local));
            let found = check(Vec::new(), vec![e], &secrets);
            assert_eq!(found.findings, Vec::<String>::new(), "{local}");
        }
        // In the terminal's own text it is still one.
        let e = entry(Source::TerminalLog, &format!("keypad buffer {pin}"), None);
        assert!(!check(Vec::new(), vec![e], &secrets).findings.is_empty());
    }

    fn visa_cvc() -> &'static str {
        payhil_cards::catalogue::by_name("visa")
            .map(|c| c.cvc.reveal())
            .unwrap_or_default()
    }

    #[test]
    fn pci_01_a_leaking_artifact_is_reported_and_kept_masked_only() {
        let secrets = catalogue();
        let cvc = visa_cvc();
        let artifacts = vec![Artifact {
            name: "step02_receipt".into(),
            text: format!("PAYHIL TEST SHOP\nCARD 5019100000000006\nCVC {cvc}\nPIN 739216\n"),
        }];
        let ev = check(artifacts, Vec::new(), &secrets);
        assert_eq!(
            ev.findings,
            [
                "PCI-01: step02_receipt:2:6: full card number 501910******0006",
                "PCI-02/PBS-01: step02_receipt:3:5: a CVC appears",
                "PCI-02/PBS-01: step02_receipt:4:5: a PIN appears",
            ]
        );
        assert_eq!(
            ev.artifacts[0].text,
            "PAYHIL TEST SHOP\nCARD 501910******0006\nCVC ***\nPIN ****\n"
        );
        let all = format!("{:?}{}{}", ev.findings, ev.transcript, ev.replayable);
        for secret in ["5019100000000006", cvc, "739216"] {
            assert!(!all.contains(secret), "{all}");
        }
    }

    #[test]
    fn pci_01_the_transcript_and_the_terminal_log_are_reported_and_kept_masked_only() {
        let secrets = catalogue();
        let cvc = visa_cvc();
        let entries = vec![
            entry(Source::Step, "step 1 (line 4): Purchase", None),
            // A full number glued behind its ISO 8583 length in the terminal's log.
            entry(Source::TerminalLog, "tx field2=164111111111111111 ok", None),
            entry(
                Source::Host,
                &format!("<- 0200 cvc {cvc}"),
                Some("pid 4242"),
            ),
            // The harness's own numbers (a seeded cut offset, a pid) take every value, but are
            // never zero-padded to three digits like the test CVCs.
            entry(
                Source::Proxy,
                &format!("random cut at Some({})", &cvc[1..]),
                None,
            ),
            entry(
                Source::Step,
                "spawned",
                Some(&format!("pid Some({})", &cvc[1..])),
            ),
        ];
        let ev = check(Vec::new(), entries, &secrets);
        assert_eq!(
            ev.findings,
            [
                "PCI-01: terminal log: transcript:2:48: full card number 411111******1111 \
                 (ASCII behind an ISO 8583 length prefix)",
                "PCI-02/PBS-01: transcript:3:48: a CVC appears",
            ]
        );
        assert!(
            ev.transcript.contains("tx field2=16**************** ok"),
            "{}",
            ev.transcript
        );
        assert!(
            ev.replayable.contains("<- 0200 cvc ***"),
            "{}",
            ev.replayable
        );
        let cut = format!("random cut at Some({})", &cvc[1..]);
        assert!(ev.replayable.contains(&cut), "{}", ev.replayable);
        assert!(!ev.transcript.contains("4111111111111111"));
    }

    #[test]
    fn pci_01_what_cannot_be_masked_is_withheld() {
        let secrets = catalogue();
        // Not a test card, glued behind its length: found, and no mask fits it.
        let entries = vec![entry(Source::TerminalLog, "f2 164000000000000002 x", None)];
        let ev = check(Vec::new(), entries, &secrets);
        assert_eq!(ev.findings.len(), 1, "{:?}", ev.findings);
        assert!(!ev.transcript.contains("4000000000000002"));
        assert!(ev.transcript.contains("withheld"), "{}", ev.transcript);
    }

    #[test]
    fn pci_02_storage_findings_name_each_card_once_with_where_and_how_often() {
        let secrets = catalogue();
        let mut flash = vec![0xFF; 4096];
        let record = [0x10, 0x50, 0x19, 0x10, 0, 0, 0, 0, 0x06];
        flash[0x100..0x109].copy_from_slice(&record);
        flash[0x200..0x209].copy_from_slice(&record);
        // Followed by 0x00, not erased flash: "06739216FFFFFFFF" would also be the format 0 PIN
        // block of the BankAxept card, whose account field is all zeros.
        flash[0x300..0x305].copy_from_slice(&[0x06, 0x73, 0x92, 0x16, 0x00]);
        assert_eq!(
            storage_findings(&flash, &secrets),
            [
                "PCI-02: terminal storage: full card number 501910******0006 (packed BCD \
                 behind a one-byte length) at offset 0x101, 2 times",
                "PCI-02: terminal storage: a PIN (packed BCD behind a one-byte length) at \
                 offset 0x301",
            ]
        );
        assert!(storage_findings(&[0xFF; 4096], &secrets).is_empty());
    }
}
