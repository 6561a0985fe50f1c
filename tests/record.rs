//! The round trip as a property: for every probe of every shipped scenario,
//! run → report → record → run gives the same diagnosis, client error and
//! suggestion, and the same sequence of step outcomes.
//!
//! Where it cannot hold yet, the probe is listed in [`KNOWN_GAPS`] with the
//! reason; a listed probe that starts to round-trip fails the test too, so
//! the list only goes down.

mod common;

use std::path::Path;

use mailprobe::harness::{self, ProbeRun};
use mailprobe::probe::{Attempt, Failure, Outcome};
use mailprobe::record::record;
use mailprobe::report::Report;
use mailprobe::scenario;

/// `(scenario path below scenarios/, probe name, protocol)` and why the
/// recorded world does not reproduce it yet.
const KNOWN_GAPS: &[(&str, &str, &str, &str)] = &[];

/// What must survive the round trip.
#[derive(Debug, PartialEq, Eq)]
struct Verdict {
    diagnosis: String,
    client_error: Option<String>,
    suggestion: Option<(u16, String)>,
    steps: Vec<String>,
}

fn outcome(attempt: &Attempt) -> String {
    let what = match &attempt.outcome {
        Outcome::Ok => "ok".to_string(),
        Outcome::Failed { step, failure } => {
            let kind = match failure {
                Failure::Reply { code, .. } => format!("reply {code}"),
                Failure::Tls(tls) => format!("tls {}", variant(tls)),
                other => variant(other),
            };
            format!("{} failed: {kind}", step.name())
        }
    };
    format!(
        "{} {}:{} {}: {what}",
        attempt.purpose.label(),
        attempt.endpoint.port,
        attempt.endpoint.security.name(),
        attempt.endpoint.protocol.name()
    )
}

/// The serde name of an enum's variant.
fn variant<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        Ok(serde_json::Value::Object(map)) => map.keys().next().cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

fn verdict(run: &ProbeRun) -> Verdict {
    Verdict {
        diagnosis: run.diagnosis.cause.id().to_string(),
        client_error: run.client_error.as_ref().map(|e| e.code.to_string()),
        suggestion: run
            .diagnosis
            .suggestion
            .as_ref()
            .map(|s| (s.port, s.security.name().to_string())),
        steps: run.report.attempts().map(outcome).collect(),
    }
}

/// Records `report` and replays the scenario; the replayed verdict, or why
/// there is none.
fn round_trip(report: &Report, origin: &str) -> Result<Verdict, String> {
    let text = record(report, origin);
    let recorded = scenario::parse(&text, Path::new("recorded.yaml"))
        .map_err(|e| format!("the recorded scenario does not load: {e}\n{text}"))?;
    let replay = harness::run(&recorded).map_err(|e| format!("{e}\n{text}"))?;
    let run = replay
        .probes
        .first()
        .ok_or_else(|| format!("no probe in the recorded scenario\n{text}"))?;
    if !run.passed() {
        return Err(format!(
            "the recorded expectations do not hold: {:?}\n{text}",
            run.mismatches
        ));
    }
    Ok(verdict(run))
}

#[test]
fn every_library_probe_round_trips_through_record() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut unexpected = Vec::new();
    let mut fixed = Vec::new();
    let mut probes = 0;
    for (file, run) in common::library() {
        let relative = Path::new(&file)
            .strip_prefix(&root)
            .map_or(file.clone(), |p| p.display().to_string());
        for (probe, report) in run.probes.iter().zip(run.reports()) {
            probes += 1;
            let key = (
                relative.as_str(),
                probe.probe.as_str(),
                probe.protocol.name(),
            );
            let gap = KNOWN_GAPS
                .iter()
                .find(|(f, p, proto, _)| (*f, *p, *proto) == key);
            let expected = verdict(probe);
            let problem = match round_trip(&report, &relative) {
                Ok(replayed) if replayed == expected => None,
                Ok(replayed) => Some(format!("expected {expected:#?}\nreplayed {replayed:#?}")),
                Err(why) => Some(why),
            };
            match (problem, gap) {
                (None, Some(_)) => fixed.push(format!("{key:?}")),
                (Some(problem), None) => unexpected.push(format!("{key:?}: {problem}")),
                _ => {}
            }
        }
    }
    assert!(probes > 100, "only {probes} probes");
    assert!(
        fixed.is_empty(),
        "these now round-trip: remove them from KNOWN_GAPS\n{}",
        fixed.join("\n")
    );
    assert!(
        unexpected.is_empty(),
        "{} of {probes} probes do not round-trip:\n\n{}",
        unexpected.len(),
        unexpected.join("\n\n")
    );
}

#[test]
fn a_report_is_json_without_the_password() {
    for (file, run) in common::library() {
        let text = std::fs::read_to_string(&file).unwrap();
        for report in run.reports() {
            let json = report.to_json();
            let back = Report::from_json(&json).unwrap();
            assert_eq!(back, report, "{file}");
            for line in text.lines().filter(|l| l.contains("password")) {
                // Every password the scenario gives, in any form.
                for password in line
                    .split(['{', '}', ',', ' '])
                    .skip_while(|w| *w != "password:")
                    .skip(1)
                    .take(1)
                {
                    if password.len() >= 4 {
                        assert!(!json.contains(password), "{file}: {password} in the report");
                    }
                }
            }
        }
    }
}

/// Follow-ups run at once (as live probes run them) reach the same
/// conclusions as the sequential plan, in the same order, over the whole
/// library, and never take longer.
#[test]
fn follow_ups_at_once_keep_the_plan_and_its_conclusions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut faster = 0;
    for file in scenario::discover(&[root]).unwrap() {
        let loaded = scenario::load(&file).unwrap();
        let sequential = harness::run(&loaded).unwrap();
        let at_once = harness::run_at_once(&loaded).unwrap();
        for (one, other) in sequential.probes.iter().zip(&at_once.probes) {
            let (mut one, mut other) = (verdict(one), verdict(other));
            // The sequential plan may run out of time where at once does not:
            // what it did finish must match.
            let cut = one
                .steps
                .iter()
                .position(|s| s.contains("deadline-exceeded"));
            if let Some(cut) = cut {
                one.steps.truncate(cut);
                other.steps.truncate(cut);
            }
            assert_eq!(one, other, "{}", file.display());
        }
        let grace = mailprobe::probe::FOLLOW_UP_GRACE;
        assert!(
            at_once.virtual_time <= sequential.virtual_time + grace,
            "{}: {:?} at once, {:?} in turn\n{}",
            file.display(),
            at_once.virtual_time,
            sequential.virtual_time,
            at_once.transcript
        );
        if at_once.virtual_time < sequential.virtual_time {
            faster += 1;
        }
    }
    assert!(faster > 20, "only {faster} scenarios ran faster");
}

/// Every setting unreachable (a blackhole): the probe at once ends within
/// twice its connect timeout, where the plan in turn takes one per setting.
#[test]
fn a_blackhole_costs_about_one_connect_timeout_at_once() {
    let text = "name: blackhole
world:
  hosts:
    mx.example:
      smtp: { ports: { 25: plain, 587: starttls, 465: tls } }
    isp.example:
      smtp: { ports: { 25: plain } }
  network:
    isp:
      - { action: drop }
client:
  control: isp.example
  smtp: { host: mx.example, port: 587, security: starttls, user: taro, password: pw }
";
    let loaded = scenario::parse(text, Path::new("blackhole.yaml")).unwrap();
    let connect = mailprobe::probe::Timeouts::default().connect;
    let at_once = harness::run_at_once(&loaded).unwrap();
    assert!(
        at_once.virtual_time <= connect * 2,
        "{:?}\n{}",
        at_once.virtual_time,
        at_once.transcript
    );
    let in_turn = harness::run(&loaded).unwrap();
    assert!(
        in_turn.virtual_time >= connect * 5,
        "{:?}",
        in_turn.virtual_time
    );
    assert_eq!(verdict(&at_once.probes[0]), verdict(&in_turn.probes[0]));
}
