//! Compares what a probe concluded with what the scenario expects. Pure.

use super::ProbeRun;
use crate::probe::Endpoint;
use crate::scenario::model::{OutcomeSpec, ProtocolExpectation, SuggestSpec};

/// Every expectation that does not hold, as "expected X, got Y" sentences.
pub fn mismatches(
    expected: &ProtocolExpectation,
    suggest: Option<&SuggestSpec>,
    actual: &ProbeRun,
) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(outcome) = expected.outcome {
        let got = if actual.report.configured.is_ok() {
            OutcomeSpec::Ok
        } else {
            OutcomeSpec::Fail
        };
        if outcome != got {
            found.push(format!(
                "outcome: expected {}, got {}",
                outcome_name(outcome),
                outcome_name(got)
            ));
        }
    }
    if let Some(code) = &expected.client_error {
        // The code, or (for clients that show sentences) part of the message.
        let matches = actual
            .client_error
            .as_ref()
            .map_or(code.eq_ignore_ascii_case("none"), |e| {
                code.eq_ignore_ascii_case(e.code)
                    || e.message.to_lowercase().contains(&code.to_lowercase())
            });
        if !matches {
            let got = actual.client_error.as_ref().map_or("none", |e| e.code);
            found.push(format!("client_error: expected {code}, got {got}"));
        }
    }
    if let Some(id) = &expected.diagnosis {
        let got = actual.diagnosis.cause.id();
        if id != got {
            found.push(format!("diagnosis: expected {id}, got {got}"));
        }
    }
    if let Some(expected) = expected.suggest.as_ref().or(suggest) {
        let got = actual.diagnosis.suggestion.as_ref();
        let matches = got
            .is_some_and(|e| expected.port == e.port && e.security == expected.security.security());
        if !matches {
            found.push(format!(
                "suggest: expected port {} security={}, got {}",
                expected.port,
                expected.security.security().name(),
                got.map_or("no suggestion".to_string(), describe)
            ));
        }
    }
    found
}

fn describe(endpoint: &Endpoint) -> String {
    format!(
        "port {} security={}",
        endpoint.port,
        endpoint.security.name()
    )
}

fn outcome_name(outcome: OutcomeSpec) -> &'static str {
    match outcome {
        OutcomeSpec::Ok => "ok",
        OutcomeSpec::Fail => "fail",
    }
}
