//! `index.html`: one self-contained page (no script, no external resource) a lab reads offline:
//! summary, traceability (rules without passing evidence first), each scenario's steps,
//! failures, fault timeline, offline-queue plot, receipts and settlement files.

use crate::report::{ExposurePoint, QueuePoint, Report, ScenarioEvidence, Verdict};
use std::fmt::Write;

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "<span class=pass>PASS</span>",
        Verdict::Fail => "<span class=fail>FAIL</span>",
        Verdict::Skipped => "<span class=skip>SKIPPED</span>",
    }
}

/// Renders the page. `artifact_text` gives an artifact's (redacted) text by bundle path.
pub fn render(r: &Report, artifact_text: &dyn Fn(&str) -> Option<String>) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>payhil evidence: {passed} passed, {failed} failed</title>\n<style>{CSS}</style></head><body>\n",
        passed = r.totals.passed,
        failed = r.totals.failed
    );
    let _ = write!(
        h,
        "<h1>payhil evidence</h1>\n<table class=kv><tr><th>Result</th><td>{} passed, {} failed, {} skipped of {} scenarios</td></tr>\
         <tr><th>Seed</th><td>{}</td></tr><tr><th>Harness</th><td>{} {} ({})</td></tr>\
         <tr><th>Target</th><td>{}</td></tr><tr><th>Host</th><td>{}</td></tr>\
         <tr><th>Started</th><td>{}</td></tr><tr><th>Finished</th><td>{}</td></tr></table>\n",
        r.totals.passed,
        r.totals.failed,
        r.totals.skipped,
        r.totals.scenarios,
        esc(&r.run.seed),
        esc(&r.harness.name),
        esc(&r.harness.version),
        esc(&r.harness.git_commit),
        esc(&r.run.target),
        esc(&r.run.host),
        esc(&r.run.started),
        esc(&r.run.finished)
    );
    if let Some(d) = r.scenarios.iter().find_map(|s| s.device.as_ref()) {
        let _ = writeln!(
            h,
            "<h2>Terminal</h2><table class=kv><tr><th>Model</th><td>{}</td></tr><tr><th>Serial</th><td>{}</td></tr>\
             <tr><th>Firmware</th><td>{}</td></tr><tr><th>Build hash</th><td>{}</td></tr>\
             <tr><th>Terminal / merchant</th><td>{} / {}</td></tr></table>",
            esc(&d.model),
            esc(&d.serial),
            esc(&d.firmware_version),
            esc(&d.build_hash),
            esc(&d.terminal_id),
            esc(&d.merchant_id)
        );
    }
    if !r.evidence_findings.is_empty() {
        h.push_str("<h2 class=fail>Evidence findings</h2><ul>");
        for f in &r.evidence_findings {
            let _ = write!(h, "<li>{}</li>", esc(f));
        }
        h.push_str("</ul>\n");
    }
    h.push_str("<h2>Traceability</h2>\n<p>Rules without passing evidence first.</p>\n<table id=traceability><tr><th>Rule</th><th>Source</th><th>Evidence</th><th>Scenarios</th></tr>\n");
    let mut rules: Vec<_> = r.rules.iter().collect();
    rules.sort_by_key(|x| x.evidenced);
    for rule in rules {
        let scen: Vec<String> = rule
            .scenarios
            .iter()
            .map(|s| {
                format!(
                    "<a href=\"#{}\">{}</a> {}",
                    anchor(&s.scenario),
                    esc(&s.scenario),
                    verdict(s.verdict)
                )
            })
            .collect();
        let _ = writeln!(
            h,
            "<tr data-rule=\"{id}\"><td>{id}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&rule.source),
            if rule.evidenced {
                "<span class=pass>passed</span>"
            } else {
                "<span class=fail>none</span>"
            },
            if scen.is_empty() {
                "no scenario".to_string()
            } else {
                scen.join("<br>")
            },
            id = esc(&rule.id)
        );
    }
    h.push_str("</table>\n<h2>Scenarios</h2>\n");
    for s in &r.scenarios {
        scenario(&mut h, s, artifact_text);
    }
    h.push_str("</body></html>\n");
    h
}

fn anchor(id: &str) -> String {
    id.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

fn scenario(h: &mut String, s: &ScenarioEvidence, artifact_text: &dyn Fn(&str) -> Option<String>) {
    let _ = writeln!(
        h,
        "<section id=\"{}\"><h3>{} {}</h3><p>{} &middot; rules {} &middot; {} ms &middot; file {} (sha256 {})</p>",
        anchor(&s.id),
        verdict(s.verdict),
        esc(&s.id),
        esc(&s.title),
        esc(&s.rules.join(" ")),
        s.elapsed_ms,
        esc(&s.file),
        esc(&s.sha256)
    );
    if !s.failures.is_empty() {
        h.push_str("<ul class=failures>");
        for f in &s.failures {
            let _ = write!(
                h,
                "<li>{:?} (step {}, line {}): <pre>{}</pre></li>",
                f.source,
                f.step,
                f.line,
                esc(&f.message)
            );
        }
        h.push_str("</ul>");
    }
    h.push_str("<details><summary>Steps</summary><ol>");
    for st in &s.steps {
        let _ = write!(h, "<li>line {}: {}</li>", st.line, esc(&st.summary));
    }
    h.push_str("</ol></details>");
    if !s.faults.is_empty() {
        h.push_str("<details><summary>Fault timeline</summary><table><tr><th>ms</th><th>clock</th><th>source</th><th>event</th></tr>");
        for f in &s.faults {
            let _ = write!(
                h,
                "<tr><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                f.micros as f64 / 1000.0,
                f.clock,
                esc(&f.source),
                esc(&f.text)
            );
        }
        h.push_str("</table></details>");
    }
    if s.queue.len() > 1 {
        h.push_str("<details><summary>Offline queue and exposure</summary>");
        plot(h, &s.queue);
        h.push_str("</details>");
    }
    if !s.exposure.is_empty() {
        h.push_str("<details><summary>Exposure per card</summary>");
        plot_exposure(h, &s.exposure, s.steps.len() + 1);
        h.push_str("</details>");
    }
    for a in &s.artifacts {
        if let Some(text) = artifact_text(&a.path) {
            let _ = write!(
                h,
                "<details><summary>{}</summary><pre>{}</pre></details>",
                esc(&a.name),
                esc(&text)
            );
        }
    }
    let _ = writeln!(
        h,
        "<p>Transcript: <a href=\"{}\">{}</a></p></section>",
        esc(&s.transcript),
        esc(&s.transcript)
    );
}

/// An inline SVG of queue depth (items) and exposure (amount) over the reports.
fn plot(h: &mut String, q: &[QueuePoint]) {
    let (w, ht) = (600.0_f64, 160.0_f64);
    let n = q.len().saturating_sub(1).max(1) as f64;
    let max_items = q.iter().map(|p| p.pending).max().unwrap_or(0).max(1) as f64;
    let max_minor = q.iter().map(|p| p.pending_minor).max().unwrap_or(0).max(1) as f64;
    let line = |f: &dyn Fn(&QueuePoint) -> f64, max: f64| -> String {
        q.iter()
            .enumerate()
            .map(|(i, p)| {
                format!(
                    "{:.1},{:.1}",
                    i as f64 / n * w,
                    ht - f(p) / max * (ht - 10.0)
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = write!(
        h,
        "<svg width={w} height={ht} viewBox=\"0 0 {w} {ht}\" role=img aria-label=\"offline queue\">\
         <polyline fill=none stroke=\"#1565c0\" stroke-width=2 points=\"{}\"/>\
         <polyline fill=none stroke=\"#c62828\" stroke-width=1 stroke-dasharray=4 points=\"{}\"/></svg>\
         <p><span style=\"color:#1565c0\">items pending (max {})</span>, <span style=\"color:#c62828\">amount pending (max {} minor units)</span>, per queue report</p>",
        line(&|p| p.pending as f64, max_items),
        line(&|p| p.pending_minor as f64, max_minor),
        max_items,
        max_minor
    );
}

const CSS: &str = "body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}\
td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}\
.pass{color:#2e7d32;font-weight:bold}.fail{color:#c62828;font-weight:bold}.skip{color:#666}pre{background:#f6f6f6;padding:4px;overflow-x:auto}\
section{border-top:1px solid #ddd;margin-top:1em}";

/// Line colours for the cards of one plot, in turn.
const CARD_COLOURS: [&str; 6] = [
    "#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f",
];

/// An inline SVG of each card's exposure (the harness's own figure) over the steps: one step
/// line per card, held from each change to the next, `last` the final step (the drain).
fn plot_exposure(h: &mut String, points: &[ExposurePoint], last: usize) {
    let (w, ht) = (600.0_f64, 160.0_f64);
    let mut cards: Vec<&str> = Vec::new();
    for p in points {
        if !cards.contains(&p.card.as_str()) {
            cards.push(&p.card);
        }
    }
    let max = points.iter().map(|p| p.minor).max().unwrap_or(0).max(1) as f64;
    let x = |step: usize| step as f64 / last.max(1) as f64 * w;
    let y = |minor: u64| ht - minor as f64 / max * (ht - 10.0);
    let _ = write!(
        h,
        "<svg width={w} height={ht} viewBox=\"0 0 {w} {ht}\" role=img aria-label=\"exposure per card\">"
    );
    let mut legend = String::new();
    for (i, card) in cards.iter().enumerate() {
        let colour = CARD_COLOURS[i % CARD_COLOURS.len()];
        // A step line: level from the start (0) until the first change, then each change's
        // value until the next one, to the end.
        let mut at = (0_usize, 0_u64);
        let mut pts = vec![format!("{:.1},{:.1}", x(0), y(0))];
        let mut peak = 0;
        for p in points.iter().filter(|p| p.card == *card) {
            pts.push(format!("{:.1},{:.1}", x(p.step), y(at.1)));
            pts.push(format!("{:.1},{:.1}", x(p.step), y(p.minor)));
            at = (p.step, p.minor);
            peak = peak.max(p.minor);
        }
        pts.push(format!("{:.1},{:.1}", x(last), y(at.1)));
        let _ = write!(
            h,
            "<polyline fill=none stroke=\"{colour}\" stroke-width=2 points=\"{}\"/>",
            pts.join(" ")
        );
        let _ = write!(
            legend,
            "<span style=\"color:{colour}\">{} (max {} minor units)</span> ",
            esc(card),
            peak
        );
    }
    let _ = write!(
        h,
        "</svg><p>{legend}: approved offline and not yet at the host, by step (the harness's ledger)</p>"
    );
}
