//! What a replay of a scenario library came to, for CI: one JSON object per
//! probe (`mailprobe run --format json`) and a JUnit XML file
//! (`mailprobe run --junit FILE`) with one test case per scenario file, as
//! `cargo test --test scenarios` counts them.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::ScenarioRun;
use crate::harness::transcript::escape_controls;

/// How one scenario file ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Every expectation held (and the snapshot, if any, matched).
    Passed,
    /// Some expectation did not hold: the reasons.
    Failed(Vec<String>),
    /// `ignore:` in the file: the reason.
    Skipped(String),
    /// The file could not be loaded or its world not built.
    Error(String),
}

/// One scenario file's result.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    /// The path as `run` prints it (the test's name under `cargo test`).
    pub path: String,
    /// How it ended.
    pub ending: Ending,
    /// Every probe run, in order (none if skipped or in error).
    pub probes: Vec<ProbeResult>,
    /// Virtual time the scenario took.
    pub virtual_time: Duration,
    /// Wall time the replay took.
    pub wall_time: Duration,
}

/// One probe of one protocol, as `--format json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    /// The scenario file.
    pub path: String,
    /// The probe's name.
    pub probe: String,
    /// `smtp` or `pop3`.
    pub protocol: &'static str,
    /// `pass` or `fail`.
    pub outcome: &'static str,
    /// What the emulated client would show, e.g. `0x800CCC0F`.
    pub client_error: Option<String>,
    /// The Windows Sockets error beside it, e.g. 10060 (WSAETIMEDOUT).
    pub socket_error: Option<u32>,
    /// The emulated client.
    pub client: &'static str,
    /// The cause id the probe named.
    pub diagnosis: &'static str,
    /// The cause id the scenario expects, if it names one.
    pub expected: Option<String>,
    /// Expectations that did not hold.
    pub mismatches: Vec<String>,
    /// Virtual seconds the whole scenario took.
    pub scenario_virtual_seconds: f64,
    /// Wall seconds the whole scenario took.
    pub scenario_wall_seconds: f64,
}

impl ScenarioResult {
    /// The result of a replay, with the snapshot check's error if any.
    pub fn of_run(
        path: String,
        run: &ScenarioRun,
        snapshot_error: Option<String>,
        wall_time: Duration,
    ) -> Self {
        let probes: Vec<ProbeResult> = run
            .probes
            .iter()
            .map(|probe| ProbeResult {
                path: path.clone(),
                probe: probe.probe.clone(),
                protocol: probe.protocol.name(),
                outcome: if probe.passed() { "pass" } else { "fail" },
                client_error: probe.client_error.as_ref().map(|e| e.code.to_string()),
                socket_error: probe.client_error.as_ref().and_then(|e| e.socket_error),
                client: probe.client.id(),
                diagnosis: probe.diagnosis.cause.id(),
                expected: probe.expected_diagnosis.clone(),
                mismatches: probe.mismatches.clone(),
                scenario_virtual_seconds: run.virtual_time.as_secs_f64(),
                scenario_wall_seconds: wall_time.as_secs_f64(),
            })
            .collect();
        let mut reasons: Vec<String> = run
            .probes
            .iter()
            .flat_map(|probe| {
                probe.mismatches.iter().map(|mismatch| {
                    format!("{} / {}: {mismatch}", probe.probe, probe.protocol.name())
                })
            })
            .collect();
        reasons.extend(snapshot_error);
        ScenarioResult {
            path,
            ending: if reasons.is_empty() {
                Ending::Passed
            } else {
                Ending::Failed(reasons)
            },
            probes,
            virtual_time: run.virtual_time,
            wall_time,
        }
    }

    /// A file that did not replay: skipped, or in error.
    pub fn without_run(path: String, ending: Ending) -> Self {
        ScenarioResult {
            path,
            ending,
            probes: Vec::new(),
            virtual_time: Duration::ZERO,
            wall_time: Duration::ZERO,
        }
    }
}

/// One line of JSON for a probe (`--format json`), or for a file that did
/// not replay (`outcome` `skip` or `error`, with its `reason`).
pub fn json_lines(result: &ScenarioResult) -> Vec<String> {
    let line = |value: serde_json::Value| value.to_string();
    match &result.ending {
        Ending::Skipped(reason) => vec![line(serde_json::json!({
            "path": result.path, "outcome": "skip", "reason": reason,
        }))],
        Ending::Error(reason) => vec![line(serde_json::json!({
            "path": result.path, "outcome": "error", "reason": reason,
        }))],
        Ending::Passed | Ending::Failed(_) => {
            let mut lines: Vec<String> = result
                .probes
                .iter()
                .map(|probe| serde_json::to_string(probe).unwrap_or_default())
                .collect();
            // A snapshot that differs fails the file without failing a probe.
            if let Ending::Failed(reasons) = &result.ending {
                if result.probes.iter().all(|p| p.mismatches.is_empty()) {
                    lines.push(line(serde_json::json!({
                        "path": result.path, "outcome": "fail", "reason": reasons.join("\n"),
                    })));
                }
            }
            lines
        }
    }
}

/// A JUnit XML report: one `testsuite` ("scenarios"), one `testcase` per
/// scenario file, named as under `cargo test`.
pub fn junit(results: &[ScenarioResult]) -> String {
    let count = |pick: fn(&Ending) -> bool| results.iter().filter(|r| pick(&r.ending)).count();
    let failures = count(|e| matches!(e, Ending::Failed(_)));
    let errors = count(|e| matches!(e, Ending::Error(_)));
    let skipped = count(|e| matches!(e, Ending::Skipped(_)));
    let time: f64 = results.iter().map(|r| r.wall_time.as_secs_f64()).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"mailprobe\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time:.6}\">",
        results.len()
    );
    let _ = writeln!(
        xml,
        "  <testsuite name=\"scenarios\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{time:.6}\">",
        results.len()
    );
    for result in results {
        let _ = write!(
            xml,
            "    <testcase classname=\"scenarios\" name=\"{}\" time=\"{:.6}\"",
            xml_escape(&result.path),
            result.wall_time.as_secs_f64()
        );
        let body = match &result.ending {
            Ending::Passed => None,
            Ending::Skipped(reason) => Some(format!(
                "      <skipped message=\"{}\"/>\n",
                xml_escape(reason)
            )),
            Ending::Failed(reasons) => Some(format!(
                "      <failure message=\"expectations not met\">{}</failure>\n",
                xml_escape(&reasons.join("\n"))
            )),
            Ending::Error(reason) => Some(format!(
                "      <error message=\"{}\"/>\n",
                xml_escape(reason)
            )),
        };
        let probes: Vec<String> = result
            .probes
            .iter()
            .map(|p| {
                format!(
                    "{} / {}: {} {} ({})",
                    p.probe,
                    p.protocol,
                    p.outcome,
                    p.diagnosis,
                    p.client_error.as_deref().unwrap_or("no error")
                )
            })
            .collect();
        if body.is_none() && probes.is_empty() {
            xml.push_str("/>\n");
            continue;
        }
        xml.push_str(">\n");
        xml.push_str(body.as_deref().unwrap_or(""));
        if !probes.is_empty() {
            let _ = writeln!(
                xml,
                "      <system-out>{}</system-out>",
                xml_escape(&probes.join("\n"))
            );
        }
        xml.push_str("    </testcase>\n");
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// Text as XML character data or an attribute value: markup escaped, and
/// control characters (which XML 1.0 cannot carry) shown as escapes.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in escape_controls(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(path: &str, ending: Ending) -> ScenarioResult {
        ScenarioResult::without_run(path.to_string(), ending)
    }

    #[test]
    fn junit_counts_each_ending_and_escapes_markup() {
        let results = [
            result("a.yaml", Ending::Passed),
            result(
                "b.yaml",
                Ending::Failed(vec!["expected <ok> & \"x\"".into()]),
            ),
            result("c.yaml", Ending::Skipped("waiting".into())),
            result("d.yaml", Ending::Error("bad\u{1b}[31m".into())),
        ];
        let xml = junit(&results);
        assert!(xml.contains(
            "<testsuite name=\"scenarios\" tests=\"4\" failures=\"1\" errors=\"1\" skipped=\"1\""
        ));
        assert!(xml.contains("name=\"a.yaml\" time=\"0.000000\"/>"));
        assert!(xml.contains("expected &lt;ok&gt; &amp; &quot;x&quot;"));
        assert!(!xml.contains('\u{1b}'));
        assert_eq!(xml.matches("<testcase ").count(), 4);
    }

    #[test]
    fn files_that_did_not_replay_are_one_json_line_each() {
        let lines = json_lines(&result("c.yaml", Ending::Skipped("waiting".into())));
        let value: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(value["outcome"], "skip");
        assert_eq!(value["reason"], "waiting");
    }
}
