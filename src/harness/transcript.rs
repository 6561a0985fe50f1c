//! Plain-text transcripts: stable across runs, readable in a diff.

use std::fmt::Write;

use crate::probe::{Attempt, EventKind};

use super::ProbeRun;

/// Appends one probe run: every attempt's events, the verdict, the client's error.
pub fn write_probe(out: &mut String, run: &ProbeRun) {
    let _ = writeln!(out, "== probe: {} / {} ==", run.probe, run.protocol.name());
    for attempt in run.report.attempts() {
        write_attempt(out, attempt);
    }
    let diagnosis = &run.diagnosis;
    let _ = writeln!(
        out,
        "diagnosis: {} (rule: {})",
        diagnosis.cause.id(),
        diagnosis.rule
    );
    let _ = writeln!(out, "evidence:");
    for line in &diagnosis.evidence {
        let _ = writeln!(out, "  - {line}");
    }
    let _ = writeln!(out, "remedy: {}", diagnosis.remedy);
    if let Some(endpoint) = &diagnosis.suggestion {
        let _ = writeln!(
            out,
            "suggestion: port {} security={}",
            endpoint.port,
            endpoint.security.name()
        );
    }
    match &run.client_error {
        Some(error) => {
            let _ = writeln!(out, "{}: {error}", run.client.id());
            if run.client == crate::diagnose::ClientKind::OutlookExpress6 {
                let _ = writeln!(
                    out,
                    "  {}",
                    error.dialog_details(&run.report.configured.endpoint)
                );
            }
        }
        None => {
            let _ = writeln!(out, "{}: no error", run.client.id());
        }
    }
    if !run.checked {
        // Nothing was expected of this run (a live probe, or a demonstration).
    } else if run.mismatches.is_empty() {
        let _ = writeln!(out, "expectations: met");
    } else {
        for mismatch in &run.mismatches {
            let _ = writeln!(out, "MISMATCH {mismatch}");
        }
    }
    out.push('\n');
}

fn write_attempt(out: &mut String, attempt: &Attempt) {
    let role = attempt.purpose.label();
    let _ = writeln!(out, "-- {role}: {}", attempt.endpoint);
    for event in &attempt.events {
        let text = match &event.what {
            EventKind::Resolved(addresses) => format!(
                "resolved {} -> {}",
                attempt.endpoint.host,
                addresses.join(", ")
            ),
            EventKind::Connected(address) => format!("connected to {address}"),
            EventKind::ConnectFailed { address, failure } => {
                format!("connect to {address} failed: {failure}; trying the next address")
            }
            EventKind::Certificate(certificate) => format!(
                "certificate: subject \"{}\", issuer \"{}\", names [{}], valid until {}",
                certificate.subject,
                certificate.issuer,
                certificate.names.join(", "),
                certificate.not_after
            ),
            EventKind::TlsEstablished { version, cipher } => {
                format!("TLS established: {version} {cipher}")
            }
            EventKind::Sent(line) => format!("C: {line}"),
            EventKind::Received(line) => format!("S: {line}"),
            EventKind::Failed(step, failure) => format!("FAILED at {}: {failure}", step.name()),
        };
        let _ = writeln!(out, "[{:>8.3}s] {text}", event.at.as_secs_f64());
    }
}
