//! The committed JSON Schema against a standard validator (python-jsonschema,
//! Draft 7, as `.ci/run` installs it): every shipped scenario validates, and
//! the usual mistakes fail with a message that names them.
//!
//! Behind the `interop` feature; a missing validator fails the test loudly.
#![cfg(feature = "interop")]

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the validator over `files`: one "OK path" or "INVALID path: why"
/// line per file.
fn validate(files: &[PathBuf]) -> String {
    let output = Command::new("python3")
        .arg(root().join("tests/tools/validate_schema.py"))
        .arg(root().join("scenarios/scenario.schema.json"))
        .args(files)
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "python-jsonschema and PyYAML are needed (.ci/run installs them): {stderr}"
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn every_shipped_scenario_validates() {
    let files = mailprobe::scenario::discover(&[root().join("scenarios")]).unwrap();
    assert!(files.len() > 100);
    let verdicts = validate(&files);
    let invalid: Vec<&str> = verdicts.lines().filter(|l| !l.starts_with("OK ")).collect();
    assert!(invalid.is_empty(), "{invalid:#?}");
    assert_eq!(verdicts.lines().count(), files.len());
}

#[test]
fn a_misspelled_key_a_port_out_of_range_and_an_unknown_cause_fail_by_name() {
    let good =
        std::fs::read_to_string(root().join("scenarios/seed/op25b-behind-scanner.yaml")).unwrap();
    let cases = [
        (
            "misspelled",
            good.replacen("port: 25,", "prot: 25,", 1),
            "'prot' was unexpected",
        ),
        (
            "port-key",
            good.replacen("25: plain", "70000: plain", 1),
            "'70000' does not match any of the regexes",
        ),
        (
            "port-value",
            good.replacen("port: 25,", "port: 70000,", 1),
            "70000 is greater than the maximum of 65535",
        ),
        (
            "cause",
            good.replacen(
                "diagnosis: outbound-port-25-blocked",
                "diagnosis: port-25-blocked",
                1,
            ),
            "'port-25-blocked' is not one of",
        ),
    ];
    let folder = std::env::temp_dir().join(format!("mailprobe-schema-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    for (name, text, expected) in cases {
        assert_ne!(text, good, "{name}: the mistake was not made");
        let file = folder.join(format!("{name}.yaml"));
        std::fs::write(&file, text).unwrap();
        let verdict = validate(std::slice::from_ref(&file));
        assert!(verdict.starts_with("INVALID"), "{name}: {verdict}");
        assert!(verdict.contains(expected), "{name}: {verdict}");
        assert!(
            !verdict.contains("is not valid under any of the given schemas"),
            "{name}: {verdict}"
        );
    }
    let _ = std::fs::remove_dir_all(folder);
}
