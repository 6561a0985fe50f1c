//! Runs every scenario file under `scenarios/` as its own test.
//!
//! Tests are named by their path below `scenarios/` (`seed/op25b-behind-scanner.yaml`),
//! so the usual filters work: `cargo test --test scenarios -- seed/`. A scenario
//! with `ignore: reason` is reported as ignored. A failure prints every
//! expectation that did not hold, then the transcript.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};

use mailprobe::{harness, scenario};

fn main() {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let files = match scenario::discover(std::slice::from_ref(&root)) {
        Ok(files) => files,
        Err(error) => {
            eprintln!("cannot list {}: {error}", root.display());
            std::process::exit(2);
        }
    };
    let trials = files.into_iter().map(|file| trial(&root, file)).collect();
    libtest_mimic::run(&args, trials).exit();
}

fn trial(root: &Path, file: PathBuf) -> Trial {
    let name = file
        .strip_prefix(root)
        .unwrap_or(&file)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    let ignored = std::fs::read_to_string(&file)
        .ok()
        .and_then(|text| scenario::parse(&text, &file).ok())
        .is_some_and(|s| s.ignore.is_some());
    Trial::test(name, move || replay(&file)).with_ignored_flag(ignored)
}

fn replay(file: &Path) -> Result<(), Failed> {
    let scenario = scenario::load(file).map_err(|error| error.to_string())?;
    let run = harness::run(&scenario).map_err(|error| format!("{}: {error}", file.display()))?;
    let _ = harness::check_snapshot(&scenario, file, &run, false)?;
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
