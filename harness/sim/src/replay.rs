//! A failing cut as a scenario file: the scenario up to the step the cut fell in, a power cut at
//! that step's write, the interrupted step without its expectation (a cut leaves its outcome
//! open), and nothing after: the runner's end-of-run drain and exactly-once check are the
//! oracle's recovery.
//!
//! The power cut is written as `power_cut = { flash_write = N, torn = BOOL }`: the Nth flash write
//! counted from the start of the step that follows it.

use payhil_scenario::Scenario;

/// The replayable scenario for a cut at write `write_in_step` of step `step` (`absolute`:
/// counted from the first boot).
pub fn scenario(
    source: &str,
    scn: &Scenario,
    step: usize,
    write_in_step: u32,
    tear: bool,
    absolute: u32,
) -> String {
    // The file's text before its first [[step]], then one block per step.
    let mut header = String::new();
    let mut blocks: Vec<String> = Vec::new();
    for line in source.lines() {
        if line.trim() == "[[step]]" {
            blocks.push(String::new());
        }
        let into = blocks.last_mut().unwrap_or(&mut header);
        into.push_str(line);
        into.push('\n');
    }
    let cut = format!(
        "[[step]]\npower_cut = {{ flash_write = {write_in_step}, torn = {tear} }}\nnote = \"payhil powerloss: write {absolute} of the run{}\"\n\n",
        if tear { ", torn" } else { ", clean" }
    );
    let mut out = format!(
        "# Replay of a failing power cut found by `payhil powerloss {}`: write {absolute} ({}).\n",
        scn.path.display(),
        if tear { "torn" } else { "clean" }
    );
    out.push_str(&header.replace("end_with_pending = true", "end_with_pending = false"));
    if step == 0 || blocks.len() != scn.steps.len() {
        out.push_str(&format!(
            "# The cut falls during the first boot, before any step (write {absolute}).\n"
        ));
        out.push_str(&cut);
        for b in &blocks {
            out.push_str(b);
        }
        return out;
    }
    let shown = step.min(blocks.len() + 1);
    for b in blocks.iter().take(shown - 1) {
        out.push_str(b);
    }
    out.push_str(&cut);
    match blocks.get(shown - 1) {
        Some(b) => {
            for line in b.lines() {
                // The interrupted step's outcome is open: its expectation does not apply.
                if !line.trim_start().starts_with("expect") {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        // Past the last step: the cut falls in the end-of-run drain.
        None => out.push_str("[[step]]\nforward = true\n"),
    }
    out
}
