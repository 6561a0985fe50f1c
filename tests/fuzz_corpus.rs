//! Replays the fuzzing corpus (`fuzz/corpus/<target>/`) through the same
//! entry points the cargo-fuzz targets use, on stable: a regression that a
//! fuzzer once found, or a reproduction from `docs/robustness.md`, fails
//! `cargo test` without a nightly toolchain. The scenario target also
//! replays the hostile scenario files and the seed scenarios.

use std::path::{Path, PathBuf};

use mailprobe::fuzz::TARGETS;

fn files(folder: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_input_runs_without_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, target) in TARGETS {
        let mut inputs = files(&root.join("fuzz/corpus").join(name));
        if *name == "scenario" {
            inputs.extend(files(&root.join("tests/hostile-scenarios")));
            inputs.extend(files(&root.join("scenarios/seed")));
        }
        assert!(inputs.len() >= 2, "{name}: the corpus is empty");
        for input in inputs {
            let data = std::fs::read(&input).unwrap();
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{name} panicked on {}", input.display());
        }
    }
}
