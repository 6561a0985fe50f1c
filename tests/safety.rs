//! Safety properties over the whole scenario library and over scenario
//! files that try to smuggle commands: credentials never travel over a
//! connection weaker than the account's, the probe never sends DATA or DELE,
//! and a value with a line break is refused at its line.

mod common;
use common::library;

use std::path::Path;

use mailprobe::probe::{Attempt, EventKind};
use mailprobe::scenario;

/// The lines an attempt sent, as recorded (one recorded line is one line on
/// the wire: the wire refuses lines holding CR, LF or NUL).
fn sent(attempt: &Attempt) -> impl Iterator<Item = &str> {
    attempt.events.iter().filter_map(|e| match &e.what {
        EventKind::Sent(line) => Some(line.as_str()),
        _ => None,
    })
}

fn verb(line: &str) -> String {
    line.split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

#[test]
fn credentials_never_travel_over_a_weaker_connection() {
    let mut weaker_attempts = 0;
    for (file, run) in library() {
        for probe in &run.probes {
            let wanted = probe.report.configured.endpoint.security;
            for attempt in probe.report.attempts() {
                if attempt.endpoint.security.at_least_as_secure_as(wanted) {
                    continue;
                }
                weaker_attempts += 1;
                for line in sent(attempt) {
                    let verb = verb(line);
                    assert!(
                        !matches!(verb.as_str(), "AUTH" | "USER" | "PASS")
                            && !line.starts_with("<user name>")
                            && !line.starts_with("<password"),
                        "{file}: {} sent {line:?} over {} although the account asks for {}",
                        attempt.purpose.label(),
                        attempt.endpoint,
                        wanted.name()
                    );
                }
                assert!(
                    attempt
                        .events
                        .iter()
                        .any(|e| matches!(e.what, EventKind::Withheld(_))),
                    "{file}: {} does not say why it stopped short",
                    attempt.endpoint
                );
            }
        }
    }
    assert!(
        weaker_attempts > 10,
        "the library exercises weaker follow-ups"
    );
}

#[test]
fn never_data_nor_dele_in_any_scenario() {
    let mut lines = 0;
    for (file, run) in library() {
        for probe in &run.probes {
            for attempt in probe.report.attempts() {
                for line in sent(attempt) {
                    lines += 1;
                    let verb = verb(line);
                    assert!(
                        !matches!(verb.as_str(), "DATA" | "DELE" | "BDAT"),
                        "{file}: the probe sent {line:?}"
                    );
                }
            }
        }
    }
    assert!(lines > 500, "only {lines} lines sent over the library");
}

/// A scenario whose SMTP client block holds `field: value`.
fn with_client_value(field: &str, value: &str) -> String {
    let user = if field == "user" {
        ""
    } else {
        "    user: taro\n"
    };
    format!(
        "name: smuggling\nworld:\n  hosts:\n    mx.example:\n      smtp: {{ ports: {{ 25: plain }} }}\nclient:\n  smtp:\n    host: mx.example\n{user}    {field}: {value}\n"
    )
}

#[test]
fn line_breaks_in_client_values_are_refused_at_their_line() {
    for (field, value) in [
        ("user", r#""taro\r\nDATA""#),
        ("password", r#""pw\nDELE 1""#),
        ("from", r#""a@b.example>\r\nDATA""#),
        ("rcpt", r#""a@b.example\u0000""#),
        ("from", r#""a@b.example> SIZE=1""#),
    ] {
        let text = with_client_value(field, value);
        let error = scenario::parse(&text, Path::new("smuggling.yaml"))
            .expect_err(&format!("{field}: {value} was accepted"));
        let shown = error.to_string();
        let expected_line = if field == "user" { 9 } else { 10 };
        assert_eq!(error.line, Some(expected_line), "{shown}");
        assert!(shown.contains(&format!("{field} contains")), "{shown}");
        assert!(!shown.contains("DELE"), "the password was printed: {shown}");
    }
    let text = with_client_value("rcpt", "postmaster@b.example");
    scenario::parse(&text, Path::new("fine.yaml")).unwrap();
}

/// The hostile scenario files: each names, in its first line, part of the
/// error it must get (`# expect: ...`).
fn hostile_scenarios() -> Vec<(std::path::PathBuf, String)> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile-scenarios");
    let files = scenario::discover(&[folder]).unwrap();
    assert!(files.len() >= 15, "{files:?}");
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).unwrap();
            let expected = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# expect: "))
                .unwrap_or_else(|| panic!("{}: no `# expect:` line", file.display()))
                .to_string();
            (file, expected)
        })
        .collect()
}

#[test]
fn every_hostile_scenario_is_an_error_at_its_line() {
    for (file, expected) in hostile_scenarios() {
        let error = scenario::load(&file).expect_err(&file.display().to_string());
        let shown = error.to_string();
        assert!(shown.contains(&expected), "{shown}\nexpected: {expected}");
        assert!(
            error.line.is_some_and(|l| l > 1) && error.column.is_some(),
            "not located: {shown}"
        );
    }
}

fn mailprobe(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mailprobe"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn check_and_run_refuse_the_hostile_scenarios_without_panic_or_hang() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile-scenarios");
    let folder = folder.to_str().unwrap();
    let count = hostile_scenarios().len();
    let check = mailprobe(&["check", folder]);
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{stdout}");
    // One error per file (each followed by the offending line), then the count.
    let errors = stdout.lines().filter(|l| l.starts_with(folder)).count();
    assert_eq!(errors, count, "{stdout}");
    let run = mailprobe(&["run", folder]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.ends_with(&format!("0 passed, {count} failed\n")),
        "{stdout}"
    );
    assert!(!String::from_utf8_lossy(&run.stderr).contains("panicked"));
}

#[test]
fn out_of_range_flags_and_special_files_are_errors() {
    for args in [
        vec!["probe", "--smtp", "127.0.0.1", "--reply-timeout", "1e20s"],
        vec!["probe", "--smtp", "127.0.0.1", "--deadline=-1s"],
        vec!["probe", "--smtp", "127.0.0.1", "--connect-timeout", "NaN"],
        vec![
            "serve",
            "scenarios/seed/op25b-behind-scanner.yaml",
            "--for",
            "18446744073709551615",
        ],
    ] {
        let output = mailprobe(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("a week"), "{args:?}: {stderr}");
    }
    let output = mailprobe(&["check", "/dev/zero"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("not a regular file"), "{stdout}");
    // Reports, maps and roots are read with the same bound.
    for args in [
        vec!["record", "/dev/zero"],
        vec!["probe", "--smtp", "127.0.0.1", "--ca", "/dev/zero"],
        vec![
            "probe",
            "--smtp",
            "mx.example",
            "--connect-map",
            "/dev/zero",
        ],
    ] {
        let output = mailprobe(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("not a regular file"), "{args:?}: {stderr}");
    }
}
