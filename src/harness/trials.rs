//! Scenario folders as tests under `cargo test`: one libtest-mimic trial per
//! scenario file, named by the path `mailprobe run` prints for it.
//!
//! Another repository's `tests/scenarios.rs` (with `harness = false` for it
//! in `Cargo.toml`) is a few lines:
//!
//! ```no_run
//! // tests/scenarios.rs
//! let args = libtest_mimic::Arguments::from_args();
//! let trials = mailprobe::harness::trials::trials("scenarios").unwrap();
//! libtest_mimic::run(&args, trials).exit();
//! ```
//!
//! A scenario with `ignore: reason` is an ignored trial; a failure lists every
//! expectation that did not hold, then the transcript.

use std::path::{Path, PathBuf};

use libtest_mimic::{Failed, Trial};

use crate::scenario;

/// A trial for every scenario file under `folder` (a path relative to the
/// working directory, as `cargo test` runs from the package root), named as
/// `mailprobe run folder` prints it: `scenarios/seed/op25b-behind-scanner.yaml`.
pub fn trials(folder: impl AsRef<Path>) -> std::io::Result<Vec<Trial>> {
    let folder = folder.as_ref().to_path_buf();
    let files = scenario::discover(std::slice::from_ref(&folder))?;
    Ok(files.into_iter().map(trial).collect())
}

/// The name of a scenario file, as `mailprobe run` prints it.
pub fn name(file: &Path) -> String {
    let name = file
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    name.strip_prefix("./").map(str::to_string).unwrap_or(name)
}

fn trial(file: PathBuf) -> Trial {
    let ignored = scenario::load(&file)
        .ok()
        .and_then(|s| s.ignore)
        .map(|reason| format!("ignored: {reason}"));
    let trial = Trial::test(name(&file), move || replay(&file));
    match ignored {
        // libtest-mimic shows the kind beside the name: the reason is there.
        Some(reason) => trial.with_kind(reason).with_ignored_flag(true),
        None => trial,
    }
}

fn replay(file: &Path) -> Result<(), Failed> {
    let scenario = scenario::load(file).map_err(|error| error.to_string())?;
    let run = super::run(&scenario).map_err(|error| format!("{}: {error}", file.display()))?;
    super::check_snapshot(&scenario, file, &run, false)?;
    if run.passed() {
        return Ok(());
    }
    let mut message = format!("{}: expectations not met\n", file.display());
    for probe in run.probes.iter().filter(|p| !p.passed()) {
        for mismatch in &probe.mismatches {
            message.push_str(&format!(
                "  {} / {}: {mismatch}\n",
                probe.probe,
                probe.protocol.name()
            ));
        }
    }
    message.push_str("\n--- transcript ---\n");
    message.push_str(&run.transcript);
    Err(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trials_are_named_as_run_prints_and_ignored_ones_say_why() {
        let folder = std::env::temp_dir().join(format!("mailprobe-trials-{}", std::process::id()));
        std::fs::create_dir_all(folder.join("sub")).unwrap();
        let scenario = "name: x\nworld:\n  hosts:\n    mx.example: { smtp: { ports: { 25: plain } } }\nclient:\n  smtp: { host: mx.example, port: 25 }\n";
        std::fs::write(folder.join("sub/a.yaml"), scenario).unwrap();
        std::fs::write(
            folder.join("b.yaml"),
            format!("{scenario}ignore: waiting for a fix\n"),
        )
        .unwrap();
        let trials = trials(&folder).unwrap();
        let names: Vec<&str> = trials.iter().map(|t| t.name()).collect();
        let base = name(&folder);
        assert_eq!(
            names,
            vec![format!("{base}/b.yaml"), format!("{base}/sub/a.yaml")]
        );
        assert!(trials[0].has_ignored_flag());
        assert_eq!(trials[0].kind(), "ignored: waiting for a fix");
        assert!(!trials[1].has_ignored_flag());
        assert_eq!(name(Path::new("./scenarios/a.yaml")), "scenarios/a.yaml");
        let _ = std::fs::remove_dir_all(folder);
    }
}
