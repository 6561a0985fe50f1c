//! What the interop tests against real servers share: running the binary,
//! a test CA's files, and the live round trip (probe → report → record →
//! run). Each test crate uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mock_mail_servers::tls::{CertificateAuthority, Validity};

/// The environment variable the tests pass passwords in.
pub const PASSWORD_VARIABLE: &str = "MAILPROBE_INTEROP_PASSWORD";

/// Runs the mailprobe binary with `password` in [`PASSWORD_VARIABLE`].
pub fn mailprobe(args: &[&str], password: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailprobe"))
        .args(args)
        .env(PASSWORD_VARIABLE, password)
        .output()
        .unwrap()
}

/// A fresh folder for one test, world-writable (servers drop privileges).
pub fn folder(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mailprobe-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

/// Writes `cert.pem`, `key.pem` (for `name`, valid around `valid_at`) and
/// the root `ca.pem` into `dir`; returns the root's path.
pub fn certificates(dir: &Path, name: &str, valid_at: time::OffsetDateTime) -> PathBuf {
    let validity = Validity::around(valid_at);
    let authority = CertificateAuthority::new("mailprobe Interop Test CA", validity).unwrap();
    let identity = authority.issue(&[name.to_string()], validity).unwrap();
    std::fs::write(dir.join("cert.pem"), identity.chain_pem()).unwrap();
    std::fs::write(dir.join("key.pem"), identity.key_pem()).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, authority.certificate_pem()).unwrap();
    ca
}

/// Runs `probe` (whose arguments must write the report to `report`),
/// checks the live diagnosis, then records the report into a scenario and
/// replays it: the scenario's expectations (the live outcome, client error,
/// diagnosis, suggestion) must hold. Returns the probe's stdout.
pub fn probe_and_round_trip(args: &[&str], password: &str, report: &Path, cause: &str) -> String {
    let output = mailprobe(args, password);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        stdout.contains(&format!("diagnosis: {cause} ")),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json = std::fs::read_to_string(report).unwrap();
    assert!(
        password.is_empty() || !json.contains(password),
        "the password is in the report"
    );
    round_trip(report);
    stdout
}

/// Records the report into a scenario and replays it: the scenario's
/// expectations (the live outcome, client error, diagnosis, suggestion)
/// must hold.
pub fn round_trip(report: &Path) {
    let scenario = report.with_extension("yaml");
    let recorded = mailprobe(
        &[
            "record",
            report.to_str().unwrap(),
            "-o",
            scenario.to_str().unwrap(),
        ],
        "",
    );
    assert!(recorded.status.success(), "{recorded:?}");
    let replay = mailprobe(&["run", scenario.to_str().unwrap()], "");
    let text = std::fs::read_to_string(&scenario).unwrap();
    assert!(
        replay.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&replay.stdout)
    );
}
