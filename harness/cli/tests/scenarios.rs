//! Every scenario file under `scenarios/` is its own test, run over the same real PTY + TCP path
//! as `payhil run` (the emulator is this package's `payhil emulate`, a separate process). Receipts
//! and settlement files are snapshot-tested with insta next to the scenario
//! (`scenarios/<group>/snapshots/`).

use libtest_mimic::{Arguments, Failed, Trial};
use payhil_scenario::runner::{RunOptions, TerminalTarget};
use payhil_scenario::snapshot;
use std::path::Path;
use std::time::Duration;

fn run_one(path: &Path) -> Result<(), Failed> {
    let scn = payhil_scenario::parse_file(path).map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let opts = RunOptions {
        // A scenario about the cash register's link runs where there is one to cut.
        target: TerminalTarget::emulated_for(
            &scn,
            env!("CARGO_BIN_EXE_payhil").into(),
            vec!["emulate".into()],
        ),
        seed: 0,
        boot_timeout: Duration::from_secs(10),
        proxy_listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        progress: None,
    };
    let report = rt.block_on(payhil_scenario::run(&scn, &opts));
    if !report.passed() {
        let mut msg = String::new();
        if let Some(f) = &report.failure {
            msg += &format!(
                "step {} ({}:{}): {}\n",
                f.step,
                path.display(),
                f.line,
                f.message
            );
        }
        for f in &report.invariant_findings {
            msg += &format!("{f}\n");
        }
        msg += "transcript:\n";
        msg += &report.transcript;
        return Err(msg.into());
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(snapshot::dir_for(path));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_input_file(path);
    settings.set_description(format!("{} [{}]", scn.name, scn.rules.join(" ")));
    settings.set_omit_expression(true);
    settings.bind(|| {
        for a in &report.artifacts {
            insta::assert_snapshot!(snapshot::name(&report.stem, &a.name), a.text);
        }
    });
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let files = payhil_scenario::discovery::scenario_files(std::slice::from_ref(&dir))
        .unwrap_or_else(|e| panic!("{e}"));
    let trials = files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&dir).unwrap_or(&p).with_extension("");
            Trial::test(format!("scenario::{}", rel.display()), move || run_one(&p))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
