//! Helpers shared by the integration tests.

use std::path::Path;

use mailprobe::harness;
use mailprobe::scenario;

/// Every scenario of the library, replayed, with its path.
///
/// A scenario whose expectations do not hold is left out: the scenario
/// runner (`cargo test --test scenarios`) reports it, scenario by scenario,
/// and a wrong expectation must not stop cargo in this test first.
pub fn library() -> Vec<(String, harness::ScenarioRun)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    scenario::discover(&[root])
        .unwrap()
        .into_iter()
        .map(|file| {
            let run = harness::run(&scenario::load(&file).unwrap()).unwrap();
            (file.display().to_string(), run)
        })
        .filter(|(_, run)| run.probes.iter().all(|probe| probe.passed()))
        .collect()
}
