//! `report.json`'s schema (`report.schema.json`, JSON Schema 2020-12) and a check of a report
//! against it. The check covers the keywords the schema uses (`type`, `const`, `enum`,
//! `properties`, `required`, `additionalProperties: false`, `items`, `oneOf`, `minimum`,
//! `$ref` into `$defs`): with `additionalProperties: false` everywhere, a field the harness
//! writes but the schema does not document fails it, as does a documented one it leaves out.

use serde_json::Value;

/// The schema, as shipped beside the crate.
pub const SCHEMA: &str = include_str!("../report.schema.json");

/// Every way `value` breaks the schema (empty: it conforms).
pub fn check(value: &Value) -> Vec<String> {
    let schema: Value = match serde_json::from_str(SCHEMA) {
        Ok(s) => s,
        Err(e) => return vec![format!("the schema does not parse: {e}")],
    };
    let mut out = Vec::new();
    node(&schema, &schema, value, "$", &mut out);
    out
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => false,
    }
}

fn node(root: &Value, s: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        match r
            .strip_prefix("#/$defs/")
            .and_then(|name| root.get("$defs").and_then(|d| d.get(name)))
        {
            Some(target) => node(root, target, v, at, out),
            None => out.push(format!("{at}: unresolved $ref {r}")),
        }
        return;
    }
    if let Some(alts) = s.get("oneOf").and_then(Value::as_array) {
        let fits = alts
            .iter()
            .filter(|a| {
                let mut o = Vec::new();
                node(root, a, v, at, &mut o);
                o.is_empty()
            })
            .count();
        if fits != 1 {
            out.push(format!(
                "{at}: matches {fits} of the oneOf alternatives, not exactly 1"
            ));
        }
        return;
    }
    if let Some(c) = s.get("const") {
        if c != v {
            out.push(format!("{at}: must be {c}, is {v}"));
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            out.push(format!("{at}: {v} is not one of {e:?}"));
        }
    }
    match s.get("type") {
        Some(Value::String(t)) if !type_ok(t, v) => {
            out.push(format!("{at}: must be of type {t}"));
            return;
        }
        Some(Value::Array(ts)) if !ts.iter().any(|t| t.as_str().is_some_and(|t| type_ok(t, v))) => {
            out.push(format!("{at}: must be one of the types {ts:?}"));
            return;
        }
        _ => {}
    }
    if let Some(min) = s.get("minimum").and_then(Value::as_i64) {
        if v.as_i64().is_some_and(|n| n < min) {
            out.push(format!("{at}: below the minimum {min}"));
        }
    }
    if let (Some(obj), Some(props)) = (
        v.as_object(),
        s.get("properties").and_then(Value::as_object),
    ) {
        for req in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(k) = req.as_str() {
                if !obj.contains_key(k) {
                    out.push(format!("{at}: required field {k} is missing"));
                }
            }
        }
        let closed = s.get("additionalProperties") == Some(&Value::Bool(false));
        for (k, val) in obj {
            match props.get(k) {
                Some(ps) => node(root, ps, val, &format!("{at}.{k}"), out),
                None if closed => out.push(format!("{at}: field {k} is not in the schema")),
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            node(root, items, x, &format!("{at}[{i}]"), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::*;

    /// A report with every optional part present.
    fn full() -> Report {
        Report {
            schema: SCHEMA_URL.into(),
            schema_version: SCHEMA_VERSION,
            harness: Harness {
                name: "payhil".into(),
                version: "0.1.0".into(),
                git_commit: "abc".into(),
            },
            run: RunInfo {
                seed: "18446744073709551615".into(),
                started: "2026-11-22T07:00:00Z".into(),
                finished: "2026-11-22T07:01:00Z".into(),
                host: "lab".into(),
                target: "emulated".into(),
                command: vec!["payhil".into(), "run".into()],
            },
            totals: Totals {
                scenarios: 1,
                passed: 0,
                failed: 1,
                skipped: 0,
            },
            rules: vec![RuleEvidence {
                id: "NETS-01".into(),
                source: "seed 001".into(),
                scenarios: vec![RuleScenario {
                    scenario: "network/x".into(),
                    verdict: Verdict::Fail,
                }],
                evidenced: false,
            }],
            scenarios: vec![ScenarioEvidence {
                id: "network/x".into(),
                file: "scenarios/network/x.toml".into(),
                sha256: "00".repeat(32),
                title: "x".into(),
                rules: vec!["NETS-01".into()],
                verdict: Verdict::Fail,
                elapsed_ms: 12,
                device: Some(Device {
                    protocol_version: 2,
                    model: "M".into(),
                    serial: "S".into(),
                    firmware_version: "1".into(),
                    build_hash: "h".into(),
                    terminal_id: "T".into(),
                    merchant_id: "M".into(),
                    queue_capacity: 1024,
                }),
                steps: vec![StepEvidence {
                    index: 1,
                    line: 3,
                    summary: "clock set".into(),
                }],
                failures: vec![FailureEvidence {
                    source: FailureSource::Invariant,
                    step: 0,
                    line: 0,
                    message: "lost 1".into(),
                }],
                artifacts: vec![ArtifactRef {
                    name: "settlement".into(),
                    path: "scenarios/network/x/settlement.txt".into(),
                }],
                transcript: "scenarios/network/x/transcript.jsonl".into(),
                faults: vec![TimelineEvent {
                    micros: 5,
                    clock: 1,
                    source: "net".into(),
                    text: "link Down".into(),
                }],
                queue: vec![QueuePoint {
                    micros: 6,
                    clock: 1,
                    pending: 1,
                    pending_minor: 100,
                }],
                exposure: vec![ExposurePoint {
                    step: 2,
                    clock: 1,
                    card: "457123******1234".into(),
                    minor: 100,
                }],
            }],
            signer_public_key: Some("RW...".into()),
            evidence_findings: vec!["x".into()],
        }
    }

    #[test]
    fn the_report_the_harness_writes_is_what_the_schema_documents() {
        let mut r = full();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(check(&v), Vec::<String>::new());
        r.scenarios[0].device = None;
        r.signer_public_key = None;
        assert_eq!(
            check(&serde_json::to_value(&r).unwrap()),
            Vec::<String>::new()
        );
    }

    #[test]
    fn an_undocumented_missing_or_mistyped_field_fails() {
        let mut v = serde_json::to_value(full()).unwrap();
        v["scenarios"][0]["extra"] = Value::Bool(true);
        v["run"].as_object_mut().unwrap().remove("seed");
        v["totals"]["passed"] = Value::String("0".into());
        v["scenarios"][0]["verdict"] = Value::String("maybe".into());
        let problems = check(&v);
        assert_eq!(problems.len(), 4, "{problems:#?}");
    }
}
