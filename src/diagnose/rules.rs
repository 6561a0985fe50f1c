//! The diagnosis rules, in order. Each looks only at the probe's report.

use crate::probe::{Attempt, Failure, ProbeReport, Protocol, Purpose, Security, Step, TlsFailure};

use super::{Cause, Diagnosis};

/// Names the cause of what `report` shows.
pub fn diagnose(report: &ProbeReport) -> Diagnosis {
    let configured = &report.configured;
    let suggestion = report
        .follow_ups
        .iter()
        .find(|a| a.is_ok())
        .map(|a| a.endpoint.clone());
    let mut evidence: Vec<String> = report.attempts().map(describe).collect();
    let cause = match configured.failure() {
        None => Cause::Ok,
        Some((step, failure)) => classify(report, step, failure, &mut evidence),
    };
    let mut remedy = cause.info().remedy.to_string();
    if let Some(endpoint) = &suggestion {
        remedy.push_str(&format!(
            " Verified to work: port {} with security {}.",
            endpoint.port,
            endpoint.security.name()
        ));
    }
    Diagnosis {
        cause,
        evidence,
        remedy,
        suggestion,
    }
}

fn classify(
    report: &ProbeReport,
    step: Step,
    failure: &Failure,
    evidence: &mut Vec<String>,
) -> Cause {
    let configured = &report.configured;
    let endpoint = &configured.endpoint;
    match (step, failure) {
        (Step::Resolve, _) => Cause::HostNotFound,
        (Step::Auth, Failure::NotOffered { .. }) => Cause::AuthUnavailable,
        (Step::Auth | Step::User | Step::Pass, _) => Cause::AuthFailed,
        (Step::MailFrom, Failure::Reply { code: 530, .. }) => Cause::RelayDenied,
        (Step::RcptTo, Failure::Reply { code, text }) if is_relay_denial(*code, text) => {
            Cause::RelayDenied
        }
        (Step::TlsHandshake, Failure::Tls(TlsFailure::NotTls { .. })) => Cause::PlaintextExpected,
        (Step::TlsHandshake, Failure::Tls(TlsFailure::Closed { received: 0 })) => {
            evidence.push(
                "The ClientHello got no answer at all: the connection was closed, which is how a \
                 local mail scanner that cannot read TLS behaves."
                    .into(),
            );
            Cause::TlsBrokenByLocalScanner
        }
        _ if endpoint.protocol == Protocol::Smtp
            && endpoint.port == 25
            && matches!(step, Step::Connect | Step::Greeting)
            && !configured.reached_server()
            && port_25_is_the_difference(report) =>
        {
            if matches!(failure, Failure::Closed { received: 0 }) {
                evidence.push(
                    "The connection was accepted and then closed with no greeting: a local proxy \
                     (an antivirus mail scanner) accepted it and could not reach the server."
                        .into(),
                );
            }
            Cause::OutboundPort25Blocked
        }
        (Step::Greeting, Failure::TimedOut { partial, .. })
            if partial.is_empty()
                && endpoint.security != Security::Tls
                && tls_would_work(report) =>
        {
            Cause::ImplicitTlsExpected
        }
        (Step::Connect, Failure::Refused) => Cause::ConnectionRefused,
        (Step::Connect, Failure::TimedOut { .. }) => Cause::ConnectTimedOut,
        (Step::Greeting, Failure::Closed { received: 0 }) => Cause::ConnectionClosed,
        (_, Failure::TimedOut { .. }) => Cause::ReplyTimedOut,
        (Step::StartTls | Step::Stls, Failure::NotOffered { .. }) => Cause::StartTlsUnavailable,
        (Step::TlsHandshake, Failure::Tls(_)) => Cause::TlsFailed,
        (_, Failure::Reply { .. } | Failure::PopError { .. }) => Cause::ServerRejected,
        _ => Cause::Unknown,
    }
}

/// RCPT refused for policy (RFC 3463 X.7.1) or with the classic relay codes.
fn is_relay_denial(code: u16, text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    text.starts_with("5.7.1")
        || lower.contains("relay")
        || (code == 530 && text.starts_with("5.7.0"))
}

/// Port 25 failed, but the same server answered on another port, or the
/// control server answered on port 25.
fn port_25_is_the_difference(report: &ProbeReport) -> bool {
    let other_port = report
        .follow_ups
        .iter()
        .any(|a| a.endpoint.port != 25 && a.reached_server());
    let control = report.control.as_ref().is_some_and(Attempt::reached_server);
    other_port || control
}

/// A follow-up with implicit TLS on the configured port reached the server,
/// or the port is a standard implicit-TLS port.
fn tls_would_work(report: &ProbeReport) -> bool {
    let port = report.configured.endpoint.port;
    let tried = report.follow_ups.iter().any(|a| {
        a.endpoint.port == port && a.endpoint.security == Security::Tls && a.reached_server()
    });
    tried || matches!(port, 465 | 995)
}

/// One sentence per attempt: where, and how it went.
fn describe(attempt: &Attempt) -> String {
    let role = match attempt.purpose {
        Purpose::Configured => "as configured",
        Purpose::FollowUp => "follow-up",
        Purpose::Control => "control",
    };
    let (_, end) = attempt.span();
    match attempt.failure() {
        None => format!("{role}, {}: worked", attempt.endpoint),
        Some((step, failure)) => format!(
            "{role}, {}: {} failed at {:.3}s: {failure}",
            attempt.endpoint,
            step.name(),
            end.as_secs_f64()
        ),
    }
}
