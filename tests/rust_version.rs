//! The `rust-version` the crates declare is the truth: no locked dependency
//! needs a newer Rust than it says.

use std::process::Command;

/// `1.88` or `1.88.0` as comparable numbers (a missing part is 0).
fn version(text: &str) -> [u32; 3] {
    let mut parts = text.split('.').map(|part| part.parse().unwrap_or(0));
    [0; 3].map(|_| parts.next().unwrap_or(0))
}

#[test]
fn rust_version_covers_every_locked_dependency() {
    let cargo = env!("CARGO");
    let rustc = Command::new("rustc").arg("-vV").output().unwrap();
    let rustc = String::from_utf8_lossy(&rustc.stdout);
    let host = rustc
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host");
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", host])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let declared = packages
        .iter()
        .find(|p| p["name"] == "mailprobe")
        .and_then(|p| p["rust_version"].as_str())
        .expect("mailprobe declares a rust-version");
    let (needed, by) = packages
        .iter()
        .filter_map(|p| Some((p["rust_version"].as_str()?, p["name"].as_str()?)))
        .max_by_key(|(v, _)| version(v))
        .unwrap();
    assert!(
        version(declared) >= version(needed),
        "rust-version {declared} is too old: {by} needs {needed}"
    );
}
