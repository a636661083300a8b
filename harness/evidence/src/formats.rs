//! The report in the formats other tools read: JUnit XML (quick-junit) and CTRF JSON.

use crate::report::{Report, Verdict};
use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};
use std::time::Duration;

/// `junit.xml`: one test suite, one test case per scenario, with the seed, the terminal's
/// identity and the rule IDs as properties.
pub fn junit(r: &Report) -> Result<String, String> {
    let mut report = quick_junit::Report::new("payhil");
    let mut suite = TestSuite::new("payhil run");
    suite.add_property(Property::new("seed", r.run.seed.as_str()));
    suite.add_property(Property::new("harness.version", r.harness.version.as_str()));
    suite.add_property(Property::new(
        "harness.git_commit",
        r.harness.git_commit.as_str(),
    ));
    for s in &r.scenarios {
        let status = match s.verdict {
            Verdict::Pass => TestCaseStatus::success(),
            Verdict::Skipped => {
                let mut st = TestCaseStatus::skipped();
                if let Some(f) = s.failures.first() {
                    st.set_message(f.message.clone());
                }
                st
            }
            Verdict::Fail => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let msg = s
                    .failures
                    .iter()
                    .map(|f| f.message.as_str())
                    .collect::<Vec<_>>()
                    .join("\n");
                st.set_message(msg.lines().next().unwrap_or("failed").to_string());
                st.set_description(msg);
                st
            }
        };
        let mut case = TestCase::new(s.id.as_str(), status);
        case.set_classname("scenarios");
        case.set_time(Duration::from_millis(s.elapsed_ms));
        case.add_property(Property::new("seed", r.run.seed.as_str()));
        case.add_property(Property::new("rules", s.rules.join(" ")));
        case.add_property(Property::new("scenario.sha256", s.sha256.as_str()));
        if let Some(d) = &s.device {
            case.add_property(Property::new("terminal.model", d.model.as_str()));
            case.add_property(Property::new("terminal.serial", d.serial.as_str()));
            case.add_property(Property::new(
                "terminal.firmware_version",
                d.firmware_version.as_str(),
            ));
            case.add_property(Property::new("terminal.build_hash", d.build_hash.as_str()));
        }
        suite.add_test_case(case);
    }
    report.add_test_suite(suite);
    report.to_string().map_err(|e| e.to_string())
}

/// `ctrf.json`: the Common Test Report Format (results, tool, summary, tests).
pub fn ctrf(r: &Report, start_ms: u128, stop_ms: u128) -> serde_json::Value {
    let tests: Vec<serde_json::Value> = r
        .scenarios
        .iter()
        .map(|s| {
            let mut t = serde_json::json!({
                "name": s.id,
                "status": match s.verdict { Verdict::Pass => "passed", Verdict::Fail => "failed", Verdict::Skipped => "skipped" },
                "duration": s.elapsed_ms,
                "suite": "scenarios",
                "filePath": s.file,
                "tags": s.rules,
            });
            if let Some(f) = s.failures.first() {
                t["message"] = serde_json::Value::String(f.message.clone());
            }
            t
        })
        .collect();
    serde_json::json!({
        "results": {
            "tool": { "name": "payhil", "version": r.harness.version },
            "summary": {
                "tests": r.totals.scenarios,
                "passed": r.totals.passed,
                "failed": r.totals.failed,
                "pending": 0,
                "skipped": r.totals.skipped,
                "other": 0,
                "start": start_ms,
                "stop": stop_ms,
            },
            "tests": tests,
            "environment": {
                "appName": "payhil",
                "buildName": r.harness.git_commit,
                "osPlatform": std::env::consts::OS,
            },
            "extra": { "seed": r.run.seed },
        }
    })
}
