//! Writing a bundle: under `<dir>.incomplete` (holding an `INCOMPLETE` marker) while the run
//! goes, renamed to `<dir>` only once every file, the manifest, the statement and the signature
//! are written. A crashed or interrupted run leaves the `.incomplete` directory, which
//! [`crate::verify`] rejects: never a bundle that verifies but lies.

use crate::manifest::{self, INCOMPLETE, SIGNATURE, STATEMENT};
use crate::report::*;
use crate::{EvidenceError, formats, html, signing};
use payhil_scenario::ScenarioReport;
use payhil_transport::Source;
use payhil_transport::transcript::Entry;
use std::path::{Path, PathBuf};
use std::time::Instant;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How a run started.
pub struct RunStart {
    /// The seed.
    pub seed: u64,
    /// `emulated` or `physical:<port>`.
    pub target: String,
    /// The command line.
    pub command: Vec<String>,
}

/// A scenario's outcome as the CLI judged it.
pub struct ScenarioOutcome<'a> {
    /// Bundle-relative name (its path under its root, without `.toml`).
    pub id: String,
    /// The scenario file.
    pub file: &'a Path,
    /// The run's report; `None` when the file did not parse.
    pub report: Option<&'a ScenarioReport>,
    /// Why it could not run (a parse error), if so.
    pub refused: Option<String>,
    /// Why it was not run on this terminal (a step it does not offer), if so.
    pub skipped: Option<String>,
    /// Receipts or settlement files that differ from their reviewed snapshots.
    pub snapshot_problems: Vec<String>,
}

/// A bundle being written.
pub struct BundleWriter {
    final_dir: PathBuf,
    work: PathBuf,
    report: Report,
    started: OffsetDateTime,
    clock: Instant,
    sign_key: Option<minisign::SecretKey>,
}

/// What [`BundleWriter::finish`] made.
pub struct Finished {
    /// The bundle.
    pub dir: PathBuf,
    /// Files in the manifest.
    pub files: usize,
    /// Their total size in bytes.
    pub bytes: u64,
    /// Problems with the evidence (each fails the run).
    pub findings: Vec<String>,
}

fn now_text(t: OffsetDateTime) -> String {
    t.format(&Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

impl BundleWriter {
    /// Starts a bundle that will be `dir`. Fails at once (before any scenario runs) if `dir`
    /// exists, if a crashed run's `dir.incomplete` is in the way, or if nothing can be written.
    pub fn create(
        dir: &Path,
        start: RunStart,
        sign_key: Option<minisign::SecretKey>,
    ) -> Result<Self, EvidenceError> {
        let work = Self::claim(dir)?;
        Self::start_in(dir, work, start, sign_key)
    }

    /// As [`BundleWriter::create`], for a directory payhil chose (named for the second and the
    /// seed): when a run that started in the same second with the same seed has it (parallel CI
    /// jobs), the next free of `dir-2`, `dir-3`, ... is taken instead. Returns where the bundle
    /// will be.
    pub fn create_unique(
        dir: &Path,
        start: RunStart,
        sign_key: Option<minisign::SecretKey>,
    ) -> Result<(Self, PathBuf), EvidenceError> {
        let mut candidate = dir.to_path_buf();
        let name = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        for n in 2..=1000u32 {
            match Self::claim(&candidate) {
                Ok(work) => {
                    let w = Self::start_in(&candidate, work, start, sign_key)?;
                    return Ok((w, candidate));
                }
                Err(EvidenceError::Exists(_)) => {
                    candidate = dir.with_file_name(format!("{name}-{n}"));
                }
                Err(e) => return Err(e),
            }
        }
        Err(EvidenceError::Exists(candidate))
    }

    /// Creates `dir.incomplete`, atomically: of two runs that chose the same directory, one gets
    /// it and the other is told (it used to be both, each removing the other's files).
    fn claim(dir: &Path) -> Result<PathBuf, EvidenceError> {
        if dir.exists() {
            return Err(EvidenceError::Exists(dir.to_path_buf()));
        }
        let name = dir
            .file_name()
            .ok_or_else(|| EvidenceError::io(dir, std::io::Error::other("no directory name")))?
            .to_string_lossy()
            .to_string();
        let work = dir.with_file_name(format!("{name}.incomplete"));
        if let Some(parent) = work.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| EvidenceError::io(parent, e))?;
        }
        match std::fs::create_dir(&work) {
            Ok(()) => Ok(work),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(EvidenceError::Exists(work))
            }
            Err(e) => Err(EvidenceError::io(&work, e)),
        }
    }

    fn start_in(
        dir: &Path,
        work: PathBuf,
        start: RunStart,
        sign_key: Option<minisign::SecretKey>,
    ) -> Result<Self, EvidenceError> {
        let started = OffsetDateTime::now_utc();
        let marker = format!(
            "payhil run started {} with seed {}; this bundle is incomplete until the run \
             finishes and it is renamed without `.incomplete`\n",
            now_text(started),
            start.seed
        );
        std::fs::write(work.join(INCOMPLETE), marker)
            .map_err(|e| EvidenceError::io(&work.join(INCOMPLETE), e))?;
        let signer_public_key = match &sign_key {
            Some(sk) => Some(signing::public_of(sk)?.to_base64()),
            None => None,
        };
        Ok(Self {
            final_dir: dir.to_path_buf(),
            work,
            report: Report {
                schema: SCHEMA_URL.into(),
                schema_version: SCHEMA_VERSION,
                harness: Harness {
                    name: "payhil".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    git_commit: env!("PAYHIL_GIT_COMMIT").into(),
                },
                run: RunInfo {
                    seed: start.seed.to_string(),
                    started: now_text(started),
                    finished: String::new(),
                    host: host_name(),
                    target: start.target,
                    command: start.command,
                },
                totals: Totals::default(),
                rules: Vec::new(),
                scenarios: Vec::new(),
                signer_public_key,
                evidence_findings: Vec::new(),
            },
            started,
            clock: Instant::now(),
            sign_key,
        })
    }

    /// The directory being written (`<dir>.incomplete`).
    pub fn work_dir(&self) -> &Path {
        &self.work
    }

    /// Where scenario `id`'s transcript goes, for the runner to stream it there as the run
    /// goes ([`payhil_scenario::run_to`]); [`BundleWriter::add`] takes it from there.
    pub fn transcript_path(&self, id: &str) -> PathBuf {
        self.work.join(format!("scenarios/{id}/transcript.jsonl"))
    }

    /// Writes a file of the bundle through the card-data gate: an artifact that holds a test
    /// card's number, PIN or CVC (or any card number) is stored redacted and the run fails.
    fn put(&mut self, rel: &str, text: &str) {
        let clean = payhil_scenario::runner::redact(text);
        if clean != text {
            self.report
                .evidence_findings
                .push(format!("PCI-01: {rel} held card data; stored redacted"));
        }
        let path = self.work.join(rel);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, clean.as_bytes()));
        if let Err(e) = written {
            self.report
                .evidence_findings
                .push(format!("{rel} could not be written: {e}"));
        }
    }

    /// Records one scenario: its transcript (JSON Lines) and artifacts under
    /// `scenarios/<id>/`, and its entry in the report. Write errors are findings, not aborts: the
    /// suite goes on and its summary is printed.
    pub fn add(&mut self, o: ScenarioOutcome<'_>) {
        let base = format!("scenarios/{}", o.id);
        let sha256 = std::fs::read(o.file)
            .map(|b| manifest::sha256_hex(&b))
            .unwrap_or_else(|e| format!("unreadable: {e}"));
        let mut ev = ScenarioEvidence {
            id: o.id.clone(),
            file: o.file.display().to_string(),
            sha256,
            title: String::new(),
            rules: Vec::new(),
            verdict: Verdict::Pass,
            elapsed_ms: 0,
            device: None,
            steps: Vec::new(),
            failures: Vec::new(),
            artifacts: Vec::new(),
            transcript: format!("{base}/transcript.jsonl"),
            faults: Vec::new(),
            queue: Vec::new(),
            exposure: Vec::new(),
        };
        if let Some(why) = &o.refused {
            ev.failures.push(FailureEvidence {
                source: FailureSource::Run,
                step: 0,
                line: 0,
                message: why.clone(),
            });
        }
        let mut jsonl = String::new();
        let mut streamed = false;
        if let Some(r) = o.report {
            ev.title = r.name.clone();
            ev.rules = r.rules.clone();
            ev.elapsed_ms = u64::try_from(r.elapsed.as_millis()).unwrap_or(u64::MAX);
            ev.device = r.device.as_ref().map(|d| Device {
                protocol_version: d.protocol_version,
                model: d.model.clone(),
                serial: d.serial.clone(),
                firmware_version: d.firmware_version.clone(),
                build_hash: d.build_hash.clone(),
                terminal_id: d.terminal_id.clone(),
                merchant_id: d.merchant_id.clone(),
                queue_capacity: d.queue_capacity,
            });
            ev.exposure = r
                .exposure
                .iter()
                .map(|p| ExposurePoint {
                    step: p.step,
                    clock: p.clock,
                    card: p.card.clone(),
                    minor: p.minor,
                })
                .collect();
            ev.steps = r
                .steps
                .iter()
                .map(|s| StepEvidence {
                    index: s.index,
                    line: s.line,
                    summary: s.summary.clone(),
                })
                .collect();
            if let Some(f) = &r.failure {
                ev.failures.push(FailureEvidence {
                    source: step_source(f.step, &f.message),
                    step: f.step,
                    line: f.line,
                    message: f.message.clone(),
                });
            }
            for f in &r.invariant_findings {
                ev.failures.push(FailureEvidence {
                    source: FailureSource::Invariant,
                    step: 0,
                    line: 0,
                    message: f.clone(),
                });
            }
            let here = self.transcript_path(&o.id);
            match &r.transcript_file {
                // Streamed into place during the run: read back one line at a time.
                Some(f) if *f == here => {
                    streamed = true;
                    self.take_streamed(&base, &here, &mut ev);
                }
                _ => {
                    for e in &r.transcript_entries {
                        jsonl.push_str(&payhil_scenario::transcript_file::encode(e));
                        jsonl.push('\n');
                        timeline(e, &mut ev);
                    }
                }
            }
            for a in &r.artifacts {
                let rel = format!("{base}/{}.txt", a.name);
                self.put(&rel, &a.text);
                ev.artifacts.push(ArtifactRef {
                    name: a.name.clone(),
                    path: rel,
                });
            }
        }
        for p in &o.snapshot_problems {
            ev.failures.push(FailureEvidence {
                source: FailureSource::Snapshot,
                step: 0,
                line: 0,
                message: p.clone(),
            });
        }
        if !streamed {
            self.put(&ev.transcript.clone(), &jsonl);
        }
        ev.verdict = match &o.skipped {
            Some(why) if ev.failures.is_empty() => {
                ev.failures.push(FailureEvidence {
                    source: FailureSource::Run,
                    step: 0,
                    line: 0,
                    message: format!("skipped: {why}"),
                });
                Verdict::Skipped
            }
            _ if ev.failures.is_empty() => Verdict::Pass,
            _ => Verdict::Fail,
        };
        self.report.scenarios.push(ev);
    }

    /// Takes a transcript the runner streamed to `path` (bundle-relative `base`): its fault
    /// timeline and queue plot, read one line at a time, and the card-data gate, line by line
    /// as for every other file (the runner redacted each entry already; should the gate still
    /// find something, the file is rewritten redacted and the run fails).
    fn take_streamed(&mut self, base: &str, path: &Path, ev: &mut ScenarioEvidence) {
        let mut dirty = false;
        let read = payhil_scenario::transcript_file::for_each(path, |e| {
            timeline(&e, ev);
            // The entry's text and details, not its JSON: the times are the harness's own
            // numbers, and a digit run of them equal to a test PIN is chance (redacting the
            // line also broke its JSON).
            let clean = payhil_scenario::runner::redact_entry(e.clone());
            dirty |= clean.text != e.text || clean.local != e.local;
        });
        let rel = format!("{base}/transcript.jsonl");
        if let Err(e) = read {
            self.report
                .evidence_findings
                .push(format!("{rel} could not be read back: {e}"));
        } else if dirty {
            self.report
                .evidence_findings
                .push(format!("PCI-01: {rel} held card data; stored redacted"));
            if let Err(e) = rewrite_redacted(path) {
                self.report
                    .evidence_findings
                    .push(format!("{rel} could not be rewritten redacted: {e}"));
            }
        }
    }

    /// Writes the reports, the manifest, the statement and the signature, and renames the
    /// bundle into place.
    pub fn finish(mut self) -> Result<Finished, EvidenceError> {
        let finished = OffsetDateTime::now_utc();
        self.report.run.finished = now_text(finished);
        let count = |v: Verdict| {
            self.report
                .scenarios
                .iter()
                .filter(|s| s.verdict == v)
                .count()
        };
        self.report.totals = Totals {
            scenarios: self.report.scenarios.len(),
            passed: count(Verdict::Pass),
            failed: count(Verdict::Fail),
            skipped: count(Verdict::Skipped),
        };
        self.report.rules = payhil_scenario::rules::all()
            .into_iter()
            .map(|rule| {
                let scenarios: Vec<RuleScenario> = self
                    .report
                    .scenarios
                    .iter()
                    .filter(|s| s.rules.contains(&rule.id))
                    .map(|s| RuleScenario {
                        scenario: s.id.clone(),
                        verdict: s.verdict,
                    })
                    .collect();
                RuleEvidence {
                    evidenced: scenarios.iter().any(|s| s.verdict == Verdict::Pass),
                    id: rule.id,
                    source: rule.source,
                    scenarios,
                }
            })
            .collect();
        let junit = formats::junit(&self.report).map_err(EvidenceError::Format)?;
        self.put("junit.xml", &junit);
        let ms = |t: OffsetDateTime| (t.unix_timestamp_nanos() / 1_000_000).max(0) as u128;
        let ctrf = formats::ctrf(&self.report, ms(self.started), ms(finished));
        self.put("ctrf.json", &format!("{ctrf:#}\n"));
        let work = self.work.clone();
        let page = html::render(&self.report, &|rel| {
            std::fs::read_to_string(work.join(rel)).ok()
        });
        self.put("index.html", &page);
        // Last of the content: the findings of every file above are in it.
        let json = serde_json::to_string_pretty(&self.report)
            .map_err(|e| EvidenceError::Format(e.to_string()))?;
        self.put("report.json", &format!("{json}\n"));
        let remove = self.work.join(INCOMPLETE);
        std::fs::remove_file(&remove).map_err(|e| EvidenceError::io(&remove, e))?;
        let text = manifest::write(&self.work).map_err(|e| EvidenceError::io(&self.work, e))?;
        // A skipped scenario is in neither list: it is no evidence either way.
        let (passed, failed): (Vec<_>, Vec<_>) = self
            .report
            .scenarios
            .iter()
            .filter(|s| s.verdict != Verdict::Skipped)
            .partition(|s| s.verdict == Verdict::Pass);
        let statement = signing::statement(
            &manifest::sha256_hex(text.as_bytes()),
            &passed.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
            &failed.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
            &self
                .report
                .scenarios
                .iter()
                .map(|s| (s.file.clone(), s.sha256.clone()))
                .collect::<Vec<_>>(),
        );
        let statement = format!("{statement:#}\n");
        let st_path = self.work.join(STATEMENT);
        std::fs::write(&st_path, &statement).map_err(|e| EvidenceError::io(&st_path, e))?;
        if let Some(sk) = &self.sign_key {
            let comment = format!(
                "payhil evidence seed {} finished {}",
                self.report.run.seed, self.report.run.finished
            );
            let sig = signing::sign(sk, statement.as_bytes(), &comment)?;
            let sig_path = self.work.join(SIGNATURE);
            std::fs::write(&sig_path, sig).map_err(|e| EvidenceError::io(&sig_path, e))?;
        }
        std::fs::rename(&self.work, &self.final_dir)
            .map_err(|e| EvidenceError::io(&self.final_dir, e))?;
        let lines = manifest::parse(&text).map_err(EvidenceError::Format)?;
        let bytes = lines
            .iter()
            .filter_map(|(_, p)| std::fs::metadata(self.final_dir.join(p)).ok())
            .map(|m| m.len())
            .sum();
        let _ = self.clock;
        Ok(Finished {
            dir: self.final_dir,
            files: lines.len(),
            bytes,
            findings: self.report.evidence_findings,
        })
    }
}

/// Which of the verdict's sources a step failure came from. The runner's checks say it in
/// their messages ("differs from the scenario", "scenario expects"; "reference model", "model
/// expects", "model allows", "the model's"); a message naming neither is the step's own.
fn step_source(step: usize, message: &str) -> FailureSource {
    let model = [
        "reference model",
        "model expects",
        "model allows",
        "the model's",
    ];
    let scenario = ["differs from the scenario", "scenario expects"];
    if step == 0 {
        FailureSource::Run
    } else if scenario.iter().any(|m| message.contains(m)) {
        FailureSource::Expectation
    } else if model.iter().any(|m| message.contains(m)) {
        FailureSource::Model
    } else {
        FailureSource::Step
    }
}

/// `(pending, pending_minor)` from a `Queue(QueueStatus { ... })` response line.
/// Adds what `e` shows to the scenario's fault timeline and queue plot.
fn timeline(e: &Entry, ev: &mut ScenarioEvidence) {
    let fault = matches!(e.source, Source::Proxy | Source::Line)
        || (e.source == Source::Step && e.text.contains("power"));
    if fault {
        ev.faults.push(TimelineEvent {
            micros: e.micros,
            clock: e.clock,
            source: e.source.tag().into(),
            text: e.text.clone(),
        });
    }
    if e.source == Source::FromTerminal {
        if let Some(q) = queue_point(&e.text) {
            ev.queue.push(QueuePoint {
                micros: e.micros,
                clock: e.clock,
                pending: q.0,
                pending_minor: q.1,
            });
        }
    }
}

fn queue_point(text: &str) -> Option<(u64, u64)> {
    let body = text.strip_prefix("Queue(QueueStatus {")?;
    let field = |name: &str| -> Option<u64> {
        let at = body.find(&format!(" {name}: "))? + name.len() + 3;
        body[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok()
    };
    Some((field("pending")?, field("pending_minor")?))
}

/// Rewrites the JSON Lines file at `path` with every entry redacted, one line at a time.
fn rewrite_redacted(path: &Path) -> std::io::Result<()> {
    use std::io::{BufRead, Write};
    let tmp = path.with_extension("jsonl.redacting");
    {
        let input = std::io::BufReader::new(std::fs::File::open(path)?);
        let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        for line in input.lines() {
            let entry = payhil_scenario::transcript_file::decode(&line?)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            let clean = payhil_scenario::runner::redact_entry(entry);
            out.write_all(payhil_scenario::transcript_file::encode(&clean).as_bytes())?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
    }
    std::fs::rename(&tmp, path)
}

/// Points `link` (a symbolic link, replaced) at `target`, e.g. `target/payhil/latest` at the
/// newest bundle.
pub fn point_latest(link: &Path, target: &Path) -> std::io::Result<()> {
    let tmp = link.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, link)
}

#[cfg(test)]
mod tests {
    /// Two runs that start in the same second with the same seed (parallel CI jobs) both get a
    /// bundle: the second moves to `-2`; a directory given by the user is never moved. Before,
    /// both wrote into one directory and each removed the other's files.
    #[test]
    fn runs_that_choose_the_same_directory_each_get_their_own() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let want = dir.path().join("runs").join("20261207T193509Z-1");
        let start = || super::RunStart {
            seed: 1,
            target: "emulated".into(),
            command: vec!["payhil".into()],
        };
        let (_a, at_a) = super::BundleWriter::create_unique(&want, start(), None).expect("first");
        let (_b, at_b) = super::BundleWriter::create_unique(&want, start(), None).expect("second");
        assert_eq!(at_a, want);
        assert_eq!(at_b, dir.path().join("runs").join("20261207T193509Z-1-2"));
        assert!(matches!(
            super::BundleWriter::create(&want, start(), None),
            Err(crate::EvidenceError::Exists(_))
        ));
    }

    /// A streamed transcript rewritten redacted stays JSON Lines: the entry's text is masked,
    /// its times are left alone even where their digits spell a test PIN (the rewrite used to
    /// star them inside the JSON and break the line).
    #[test]
    fn a_transcript_is_rewritten_redacted_entry_by_entry() {
        use payhil_transport::Source;
        use payhil_transport::transcript::Entry;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("transcript.jsonl");
        let e = Entry {
            micros: 739_216,
            clock: 1_772_445_600,
            source: Source::TerminalLog,
            text: "card 5019100000000006 read".into(),
            local: Some("pid 739216".into()),
        };
        let line = payhil_scenario::transcript_file::encode(&e);
        std::fs::write(&path, format!("{line}\n{line}\n")).expect("written");
        super::rewrite_redacted(&path).expect("rewritten");
        let mut back = Vec::new();
        payhil_scenario::transcript_file::for_each(&path, |e| back.push(e)).expect("JSON Lines");
        assert_eq!(back.len(), 2);
        for b in back {
            assert_eq!(b.micros, 739_216);
            assert!(!b.text.contains("5019100000000006"), "{}", b.text);
            assert!(
                b.text.contains("501910"),
                "masked, not withheld: {}",
                b.text
            );
        }
    }

    #[test]
    fn queue_points_are_read_from_queue_responses_only() {
        assert_eq!(
            super::queue_point(
                "Queue(QueueStatus { pending: 3, forwarded: 1, declined_by_host: 0, capacity: 1024, pending_minor: 12500, overdue: 0 }) (#7)"
            ),
            Some((3, 12500))
        );
        assert_eq!(super::queue_point("Clock { unix_s: 5 }"), None);
    }

    #[test]
    fn a_step_failure_is_put_down_to_the_scenario_or_the_model_as_its_message_says() {
        use super::{FailureSource as F, step_source};
        let both = "terminal: approved_offline/approved; model: declined/offline_amount_limit; scenario: declined";
        assert_eq!(
            step_source(3, &format!("outcome differs from the scenario: {both}")),
            F::Expectation
        );
        assert_eq!(
            step_source(
                3,
                &format!("outcome differs from the reference model: {both}")
            ),
            F::Model
        );
        assert_eq!(
            step_source(
                4,
                "offline queue: terminal reports 1 pending; scenario expects 2 (model allows 1..=1)"
            ),
            F::Expectation
        );
        assert_eq!(
            step_source(4, "BAX-10: terminal reports 2 overdue; model expects 0..=1"),
            F::Model
        );
        assert_eq!(
            step_source(5, "no response to Ping (#3) after 3 attempts"),
            F::Step
        );
        assert_eq!(step_source(0, "terminal did not boot"), F::Run);
    }
}
