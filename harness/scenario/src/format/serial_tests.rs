//! The `serial` step, `link_error` and `response_timeout`: what they parse to, and errors that
//! name file, line and column.

use super::super::*;
use payhil_faults::{LineFault, SerialDirection, SerialFault, When};

fn parse(steps: &str) -> Result<Scenario, ScenarioError> {
    parse_str(
        Path::new("s.toml"),
        &format!("name = \"x\"\nrules = [\"PBS-02\"]\n{steps}"),
    )
}

fn fault(step: &str) -> Option<SerialFault> {
    let s = parse(&format!("[[step]]\n{step}\n")).unwrap();
    match s.steps[0].action {
        Action::Serial(f) => f,
        ref other => panic!("{other:?}"),
    }
}

#[test]
fn serial_steps_parse_to_their_faults() {
    assert_eq!(
        fault(r#"serial = { fault = "flip_bits", direction = "both", rate = 0.25, bits = 3 }"#),
        Some(SerialFault {
            fault: LineFault::FlipBits(3),
            direction: SerialDirection::Both,
            when: When::RatePpm(250_000),
        })
    );
    assert_eq!(
        fault(
            r#"serial = { fault = "silence", direction = "from_terminal", at_frame = 6, frames = 2 }"#
        ),
        Some(SerialFault {
            fault: LineFault::Silence,
            direction: SerialDirection::FromTerminal,
            when: When::AtFrame { first: 6, count: 2 },
        })
    );
    assert_eq!(
        fault(r#"serial = { fault = "flood", direction = "to_terminal" }"#).map(|f| f.fault),
        Some(LineFault::Flood(1024 * 1024))
    );
    assert_eq!(fault(r#"serial = { fault = "none" }"#), None);
}

#[test]
fn bad_serial_steps_are_reported_where_they_are_written() {
    let cases = [
        (
            r#"serial = { fault = "zap", direction = "both" }"#,
            "\"zap\"",
            "fault is flip_bits",
        ),
        (
            r#"serial = { fault = "truncate", direction = "up" }"#,
            "\"up\"",
            "direction is",
        ),
        (
            r#"serial = { fault = "truncate", direction = "both", rate = 1.5 }"#,
            "1.5",
            "above 0, at most 1",
        ),
        (
            r#"serial = { fault = "truncate", direction = "both", rate = 0.5, at_frame = 2 }"#,
            "2 }",
            "not both",
        ),
        (
            r#"serial = { fault = "truncate", direction = "both", at_frame = 0 }"#,
            "0 }",
            "counts from 1",
        ),
        (
            r#"serial = { fault = "truncate", direction = "both", bits = 2 }"#,
            "2 }",
            "`bits` is for flip_bits only",
        ),
        (
            r#"serial = { fault = "flood", direction = "both", bytes = 999999999999 }"#,
            "999999999999",
            "`bytes` is 1 to",
        ),
        (
            r#"serial = { fault = "none", direction = "both" }"#,
            "\"both\"",
            "takes nothing else",
        ),
        (
            r#"serial = { fault = "split", direction = "both", frames = 2 }"#,
            "2 }",
            "goes with `at_frame`",
        ),
    ];
    for (step, at, want) in cases {
        let text = format!("[[step]]\n{step}\n");
        let e = parse(&text).unwrap_err();
        let col = step.find(at).unwrap() + 1;
        assert_eq!((e.line, e.column), (4, col), "{step}: {e}");
        assert!(e.message.contains(want), "{step}: {e}");
        assert!(e.to_string().starts_with("s.toml:4:"), "{e}");
    }
    let e = parse("[[step]]\nserial = { fault = \"truncate\" }\n").unwrap_err();
    assert!(e.message.contains("needs `direction`"), "{e}");
}

#[test]
fn link_error_belongs_to_the_last_step_that_talks_to_the_terminal() {
    let ok = parse("[[step]]\nserial = { fault = \"silence\", direction = \"to_terminal\" }\n[[step]]\nforward = true\nlink_error = \"no response\"\n").unwrap();
    assert_eq!(ok.steps[1].link_error.as_deref(), Some("no response"));
    let e =
        parse("[[step]]\nforward = true\nlink_error = \"no response\"\n[[step]]\nforward = true\n")
            .unwrap_err();
    assert_eq!(e.line, 5, "{e}");
    assert!(e.message.contains("belongs to the last step"), "{e}");
    let e = parse("[[step]]\nserial = { fault = \"none\" }\nlink_error = \"x\"\n").unwrap_err();
    assert!(e.message.contains("sends the terminal nothing"), "{e}");
}

#[test]
fn the_response_timeout_must_outlast_the_host_timeout() {
    let e = parse(
        "[terminal]\nhost_timeout = \"2s\"\nresponse_timeout = \"1s\"\n[[step]]\nforward = true\n",
    )
    .unwrap_err();
    assert_eq!((e.line, e.column), (5, 20), "{e}");
    assert!(e.message.contains("more than host_timeout"), "{e}");
    let s = parse("[terminal]\nhost_timeout = \"300ms\"\nresponse_timeout = \"800ms\"\n[[step]]\nforward = true\n").unwrap();
    assert_eq!(s.terminal.response_timeout_ms, Some(800));
}
