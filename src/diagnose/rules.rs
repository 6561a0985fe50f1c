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
            && port_25_is_the_difference(report, failure) =>
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

/// Port 25 failed where another route worked: the control server answered on
/// port 25, or (unless the refusal could simply mean nothing listens on 25)
/// the same server answered on another port.
fn port_25_is_the_difference(report: &ProbeReport, failure: &Failure) -> bool {
    if report.control.as_ref().is_some_and(Attempt::reached_server) {
        return true;
    }
    let other_port = report
        .follow_ups
        .iter()
        .any(|a| a.endpoint.port != 25 && a.reached_server());
    other_port && !matches!(failure, Failure::Refused)
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::probe::{Endpoint, Event, EventKind, Outcome};

    fn endpoint(port: u16, security: Security) -> Endpoint {
        Endpoint {
            protocol: Protocol::Smtp,
            host: "smtp.other.example".into(),
            port,
            security,
        }
    }

    fn attempt(
        purpose: Purpose,
        port: u16,
        security: Security,
        outcome: Option<(Step, Failure)>,
    ) -> Attempt {
        let reached = outcome.as_ref().is_none_or(|(step, _)| {
            !matches!(step, Step::Connect | Step::Greeting | Step::TlsHandshake)
        });
        let events = if reached {
            vec![Event {
                at: Duration::ZERO,
                what: EventKind::Received("220 ready".into()),
            }]
        } else {
            vec![]
        };
        Attempt {
            purpose,
            endpoint: endpoint(port, security),
            events,
            outcome: match outcome {
                None => Outcome::Ok,
                Some((step, failure)) => Outcome::Failed { step, failure },
            },
        }
    }

    fn report(
        configured: Attempt,
        follow_ups: Vec<Attempt>,
        control: Option<Attempt>,
    ) -> ProbeReport {
        ProbeReport {
            configured,
            follow_ups,
            control,
            canary: None,
        }
    }

    fn timeout() -> Failure {
        Failure::TimedOut {
            waited: Duration::from_secs(30),
            partial: vec![],
        }
    }

    fn cause(
        configured: Option<(Step, Failure)>,
        port: u16,
        security: Security,
        follow_ups: Vec<Attempt>,
        control: Option<Attempt>,
    ) -> Cause {
        diagnose(&report(
            attempt(Purpose::Configured, port, security, configured),
            follow_ups,
            control,
        ))
        .cause
    }

    #[test]
    fn port_25_needs_a_differential_to_be_called_blocked() {
        let configured = Some((Step::Connect, timeout()));
        assert_eq!(
            cause(configured.clone(), 25, Security::None, vec![], None),
            Cause::ConnectTimedOut
        );
        let control = attempt(Purpose::Control, 25, Security::None, None);
        assert_eq!(
            cause(
                configured.clone(),
                25,
                Security::None,
                vec![],
                Some(control)
            ),
            Cause::OutboundPort25Blocked
        );
        let submission = attempt(Purpose::FollowUp, 587, Security::StartTls, None);
        assert_eq!(
            cause(configured, 25, Security::None, vec![submission], None),
            Cause::OutboundPort25Blocked
        );
        let closed = Some((Step::Greeting, Failure::Closed { received: 0 }));
        let submission = attempt(Purpose::FollowUp, 587, Security::StartTls, None);
        assert_eq!(
            cause(closed.clone(), 25, Security::None, vec![submission], None),
            Cause::OutboundPort25Blocked
        );
        assert_eq!(
            cause(closed, 25, Security::None, vec![], None),
            Cause::ConnectionClosed
        );
    }

    #[test]
    fn tls_failures_are_told_apart_by_what_came_back() {
        let silent = Some((
            Step::TlsHandshake,
            Failure::Tls(TlsFailure::Closed { received: 0 }),
        ));
        assert_eq!(
            cause(silent, 465, Security::Tls, vec![], None),
            Cause::TlsBrokenByLocalScanner
        );
        let plaintext = Some((
            Step::TlsHandshake,
            Failure::Tls(TlsFailure::NotTls {
                first_bytes: b"220 mx".to_vec(),
            }),
        ));
        assert_eq!(
            cause(plaintext, 587, Security::Tls, vec![], None),
            Cause::PlaintextExpected
        );
        let alert = Some((
            Step::TlsHandshake,
            Failure::Tls(TlsFailure::Alert("HandshakeFailure".into())),
        ));
        assert_eq!(
            cause(alert, 465, Security::Tls, vec![], None),
            Cause::TlsFailed
        );
    }

    #[test]
    fn a_silent_greeting_means_implicit_tls_only_where_tls_fits() {
        let silent = Some((Step::Greeting, timeout()));
        assert_eq!(
            cause(silent.clone(), 465, Security::None, vec![], None),
            Cause::ImplicitTlsExpected
        );
        assert_eq!(
            cause(silent.clone(), 2525, Security::None, vec![], None),
            Cause::ReplyTimedOut
        );
        let tls_works = attempt(Purpose::FollowUp, 2525, Security::Tls, None);
        assert_eq!(
            cause(silent, 2525, Security::None, vec![tls_works], None),
            Cause::ImplicitTlsExpected
        );
    }

    #[test]
    fn envelope_refusals() {
        let relay = Some((
            Step::RcptTo,
            Failure::Reply {
                code: 554,
                text: "5.7.1 Relay access denied".into(),
            },
        ));
        assert_eq!(
            cause(relay, 587, Security::StartTls, vec![], None),
            Cause::RelayDenied
        );
        let auth_first = Some((
            Step::MailFrom,
            Failure::Reply {
                code: 530,
                text: "5.7.0 Authentication required".into(),
            },
        ));
        assert_eq!(
            cause(auth_first, 587, Security::StartTls, vec![], None),
            Cause::RelayDenied
        );
        let unknown_user = Some((
            Step::RcptTo,
            Failure::Reply {
                code: 550,
                text: "5.1.1 User unknown".into(),
            },
        ));
        assert_eq!(
            cause(unknown_user, 587, Security::StartTls, vec![], None),
            Cause::ServerRejected
        );
    }

    #[test]
    fn the_suggestion_is_the_first_follow_up_that_worked() {
        let failed = attempt(
            Purpose::FollowUp,
            25,
            Security::StartTls,
            Some((Step::Connect, timeout())),
        );
        let worked = attempt(Purpose::FollowUp, 587, Security::StartTls, None);
        let diagnosis = diagnose(&report(
            attempt(
                Purpose::Configured,
                25,
                Security::None,
                Some((Step::Connect, timeout())),
            ),
            vec![failed, worked],
            None,
        ));
        assert_eq!(
            diagnosis.suggestion,
            Some(endpoint(587, Security::StartTls))
        );
        assert!(diagnosis
            .remedy
            .ends_with("Verified to work: port 587 with security starttls."));
        assert_eq!(diagnosis.evidence.len(), 3);
    }

    #[test]
    fn success_is_ok_without_follow_ups() {
        assert_eq!(
            cause(None, 587, Security::StartTls, vec![], None),
            Cause::Ok
        );
    }
}
