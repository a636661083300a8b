//! A seed replays a run exactly, under any load (issue 8, "Deterministic under load"): the whole
//! scenario suite runs twice with one seed while every core is kept busy, and each scenario's
//! transcript, without its wall-clock field and machine-local details, must be the same byte for
//! byte. Before the fix, a fault change returned before open connections were cut, the proxy and
//! host named connections by their peer port, and the terminal's log lines landed wherever the
//! scheduler put them.

use payhil_scenario::runner::{RunOptions, TerminalTarget};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Keeps every core busy until dropped.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let n = std::thread::available_parallelism().map_or(2, |n| n.get());
        let threads = (0..n)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(
                            x.wrapping_mul(6364136223846793005).wrapping_add(1),
                        );
                    }
                })
            })
            .collect();
        Self { stop, threads }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn suite(seed: u64) -> Vec<(String, bool, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let files = payhil_scenario::discovery::scenario_files(std::slice::from_ref(&dir))
        .expect("the shipped scenarios are readable");
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let opts_for = |scn: &payhil_scenario::Scenario| {
        RunOptions {
            // A scenario about the cash register's link runs where there is one to cut.
            target: TerminalTarget::emulated_for(
                scn,
                env!("CARGO_BIN_EXE_payhil").into(),
                vec!["emulate".into()],
            ),
            seed,
            boot_timeout: Duration::from_secs(20),
            proxy_listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            progress: None,
        }
    };
    files
        .iter()
        .map(|p| {
            let scn = payhil_scenario::parse_file(p).expect("the shipped scenarios parse");
            let report = rt.block_on(payhil_scenario::run(&scn, &opts_for(&scn)));
            (
                scn.stem.clone(),
                report.passed(),
                report.replayable_transcript,
            )
        })
        .collect()
}

#[test]
fn one_seed_replays_the_suite_byte_for_byte_under_load() {
    let _load = Load::start();
    let first = suite(20_261_122);
    let second = suite(20_261_122);
    assert_eq!(first.len(), second.len());
    for ((name, ok_a, a), (_, ok_b, b)) in first.iter().zip(&second) {
        assert!(*ok_a && *ok_b, "{name} failed under load");
        if a != b {
            let at = a
                .lines()
                .zip(b.lines())
                .position(|(x, y)| x != y)
                .unwrap_or(a.lines().count().min(b.lines().count()));
            let show = |t: &str| {
                t.lines()
                    .skip(at.saturating_sub(3))
                    .take(8)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            panic!(
                "{name}: the transcripts of two runs with one seed differ at line {}:\n--- first\n{}\n--- second\n{}",
                at + 1,
                show(a),
                show(b)
            );
        }
    }
}
