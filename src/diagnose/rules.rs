//! The diagnosis rules, in order. Each looks only at the probe's report.

use std::time::Duration;

use crate::probe::pacing::Paced;
use crate::probe::smtp;
use crate::probe::tls::reason;
use crate::probe::x509::CertificateInfo;
use crate::probe::{
    Attempt, Endpoint, EventKind, Failure, ProbeReport, Protocol, Purpose, Security, Step,
    TlsFailure,
};

use super::{Cause, Diagnosis};

/// A connection slower than this to open means a slow path, not a slow server.
const SLOW_CONNECT: Duration = Duration::from_secs(1);
/// Silence this long before a failure mid-session is a stall.
const STALL_SILENCE: Duration = Duration::from_secs(10);

/// Antivirus products that re-sign TLS, by a word of their root's name.
const ANTIVIRUS_ROOTS: &[(&str, &str)] = &[
    ("avast", "Avast"),
    ("avg", "AVG"),
    ("eset", "ESET"),
    ("kaspersky", "Kaspersky Anti-Virus"),
    ("bitdefender", "Bitdefender"),
    ("bullguard", "BullGuard"),
    ("dr.web", "Dr.Web"),
    ("mcafee", "McAfee"),
    ("norton", "Norton"),
    ("sophos", "Sophos"),
    ("trend micro", "Trend Micro"),
];

/// The antivirus product whose root signed a certificate, if any.
pub fn antivirus_product(issuer: &str) -> Option<&'static str> {
    let issuer = issuer.to_ascii_lowercase();
    ANTIVIRUS_ROOTS
        .iter()
        .find(|(word, _)| {
            issuer
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '.')
                .any(|w| w == *word)
        })
        .map(|(_, product)| *product)
}

/// Names the cause of what `report` shows.
pub fn diagnose(report: &ProbeReport) -> Diagnosis {
    let configured = &report.configured;
    // Never suggest dropping encryption the client asked for; a check
    // with SNI changes the client, not the setting.
    let wanted = configured.endpoint.security;
    let suggestion = report
        .follow_ups
        .iter()
        .filter(|a| a.purpose == Purpose::FollowUp)
        .find(|a| a.is_ok() && a.endpoint.security.at_least_as_secure_as(wanted))
        .map(|a| a.endpoint.clone());
    let mut evidence: Vec<String> = report.attempts().map(describe).collect();
    let (rule, cause) = match configured.failure() {
        None => worked_with(report, &mut evidence),
        Some((step, failure)) => classify(report, step, failure, &mut evidence),
    };
    let mut remedy = cause.info().remedy.to_string();
    if let Some(endpoint) = &suggestion {
        remedy.push_str(&format!(
            " Verified to work: port {} with security {}.",
            endpoint.port,
            endpoint.security.name()
        ));
        if wanted == Security::Tls {
            let implicit = endpoint.protocol.default_port(Security::Tls);
            let why = match endpoint.security {
                Security::Tls => {
                    " Implicit TLS is preferred over STARTTLS (RFC 8314, section 3.3).".to_string()
                }
                _ => format!(
                    " Implicit TLS (port {implicit}) did not work here, so STARTTLS is suggested."
                ),
            };
            remedy.push_str(&why);
        }
    }
    Diagnosis {
        cause,
        rule,
        evidence,
        remedy,
        suggestion,
    }
}

/// What a session that worked still shows, in order, each check made once:
/// the first that applies names the cause and adds its evidence; else it
/// simply worked.
fn worked_with(report: &ProbeReport, evidence: &mut Vec<String>) -> (&'static str, Cause) {
    let configured = &report.configured;
    if ipv6_refused(configured) {
        evidence.push(
            "The IPv6 address refused the connection (an answer: the IPv6 path works) and the IPv4 one worked: nothing listens on the IPv6 address the name publishes."
                .into(),
        );
        return ("worked-after-ipv6-refused", Cause::Ipv6ServiceMissing);
    }
    if fell_back_from_ipv6(configured) {
        evidence.push("The IPv6 address failed and the IPv4 one worked.".into());
        return ("worked-after-ipv6-failed", Cause::Ipv6Broken);
    }
    if answered_by_a_local_proxy(report) {
        evidence.push(answered_from_this_machine(report));
        return (
            "answered-from-this-machine",
            Cause::AntivirusAnswersForServer,
        );
    }
    if let Some(window) = cut_down_window(configured) {
        evidence.push(window_evidence(window));
        return ("one-window-per-round-trip", Cause::TcpWindowScalingBroken);
    }
    if let Some(hidden) = streaming_hidden_on_the_way(report) {
        evidence.push(held_for_scanning(configured.endpoint.port, &hidden));
        return ("streaming-hidden-before-tls", Cause::AntivirusHoldsMessage);
    }
    if let Some((issuer, product)) =
        certificate(configured).and_then(|c| Some((&c.issuer, antivirus_product(&c.issuer)?)))
    {
        evidence.push(format!(
            "The certificate was issued by \"{issuer}\", {product}'s root, which this client trusts: \
             {product} reads the TLS session and passes it on. Mail works here; a client with a \
             trust store of its own (Thunderbird) refuses the same certificate."
        ));
        return ("worked-through-trusted-scanner", Cause::Ok);
    }
    ("worked", Cause::Ok)
}

/// What every rule looks at: the report and its configured attempt's failure.
struct Facts<'a> {
    report: &'a ProbeReport,
    configured: &'a Attempt,
    endpoint: &'a crate::probe::Endpoint,
    step: Step,
    failure: &'a Failure,
}

impl Facts<'_> {
    fn port_25(&self) -> bool {
        self.endpoint.protocol == Protocol::Smtp && self.endpoint.port == 25
    }
}

/// A rule names a cause, adding its own evidence, or passes.
type Rule = fn(&Facts<'_>, &mut Vec<String>) -> Option<Cause>;

/// The rules in the order they are asked; the first that names a cause
/// decides. Earlier rules look for what masks the later ones' symptoms (a
/// hijacking resolver, a box rewriting the session) before the symptoms.
const RULES: &[(&str, Rule)] = &[
    ("name-lookup-failed", name_lookup_failed),
    ("resolver-answers-everything", resolver_answers_everything),
    ("masked-greeting", masked_greeting),
    (
        "port-25-answered-by-another-server",
        port_25_answered_by_another_server,
    ),
    ("starttls-missing", starttls_missing),
    ("greeted-by-another-site", greeted_by_another_site),
    ("account-refused", account_refused),
    ("tls-handshake-failed", tls_handshake_failed),
    ("greeting-of-another-protocol", greeting_of_another_protocol),
    ("only-port-25-fails", only_port_25_fails),
    ("reset", reset),
    ("slow-path", slow_path),
    ("first-large-flight-lost", first_large_flight_lost),
    ("server-out-of-bounds", server_out_of_bounds),
    ("how-the-connection-ended", how_the_connection_ended),
];

fn classify(
    report: &ProbeReport,
    step: Step,
    failure: &Failure,
    evidence: &mut Vec<String>,
) -> (&'static str, Cause) {
    let configured = &report.configured;
    let facts = Facts {
        report,
        configured,
        endpoint: &configured.endpoint,
        step,
        failure,
    };
    RULES
        .iter()
        .find_map(|(name, rule)| rule(&facts, evidence).map(|cause| (*name, cause)))
        .unwrap_or(("none", Cause::Unknown))
}

fn name_lookup_failed(facts: &Facts<'_>, _: &mut Vec<String>) -> Option<Cause> {
    if facts.step != Step::Resolve {
        return None;
    }
    Some(match facts.failure {
        Failure::NoDnsAnswer => Cause::DnsUnavailable,
        Failure::NetworkUnreachable => Cause::NetworkUnreachable,
        _ => Cause::HostNotFound,
    })
}

/// A name that cannot exist resolved: a captive portal's resolver.
fn resolver_answers_everything(facts: &Facts<'_>, evidence: &mut Vec<String>) -> Option<Cause> {
    let addresses = facts
        .report
        .canary
        .as_ref()
        .filter(|_| facts.step.is_transport())?;
    evidence.push(format!(
        "A name that cannot exist ({}) resolved to {}: the resolver answers every name.",
        crate::probe::CANARY_NAME,
        addresses.join(", ")
    ));
    Some(Cause::CaptivePortal)
}

/// `220 ****`: a PIX/ASA rewrote the session.
fn masked_greeting(facts: &Facts<'_>, evidence: &mut Vec<String>) -> Option<Cause> {
    let greeting = facts
        .configured
        .greeting()
        .filter(|g| is_masked_greeting(g))?;
    evidence.push(format!("The greeting arrived masked: \"{greeting}\"."));
    Some(Cause::EsmtpInspection)
}

/// STARTTLS/STLS missing: stripped on the path, or not offered.
fn starttls_missing(facts: &Facts<'_>, evidence: &mut Vec<String>) -> Option<Cause> {
    if !matches!(
        (facts.step, facts.failure),
        (Step::StartTls | Step::Stls, Failure::NotOffered { .. })
    ) {
        return None;
    }
    match received(facts.configured).find(|l| is_stripped_capability(l)) {
        Some(line) => {
            evidence.push(format!(
                "A capability line reads \"{line}\" where STARTTLS was."
            ));
            Some(Cause::StartTlsStripped)
        }
        None => Some(Cause::StartTlsUnavailable),
    }
}

/// Port 25 answered, but by another server than the other ports (or the
/// control's): a transparent proxy.
fn port_25_answered_by_another_server(
    facts: &Facts<'_>,
    evidence: &mut Vec<String>,
) -> Option<Cause> {
    if !(facts.port_25() && facts.configured.reached_server()) {
        return None;
    }
    evidence.push(redirected_port_25(facts.report)?);
    Some(Cause::OutboundPort25Blocked)
}

/// The session failed after a greeting from another site's server.
fn greeted_by_another_site(facts: &Facts<'_>, evidence: &mut Vec<String>) -> Option<Cause> {
    let host = &facts.endpoint.host;
    if facts.step.is_transport() || crate::probe::is_address(host) {
        return None;
    }
    let other = greeting_host(facts.configured).filter(|g| !same_site(g, host))?;
    evidence.push(format!(
        "{host} greeted as {other}, a host of another domain: the name leads to another server."
    ));
    Some(Cause::DnsWrongHost)
}

/// The server refused the session, the login or the envelope.
fn account_refused(facts: &Facts<'_>, evidence: &mut Vec<String>) -> Option<Cause> {
    let login_step = matches!(facts.step, Step::Auth | Step::User | Step::Pass);
    let refusal = refusal_text(facts.failure).to_ascii_lowercase();
    if login_step && is_app_password_refusal(facts.failure, &refusal) {
        return Some(Cause::AppPasswordRequired);
    }
    if login_step && is_basic_auth_refusal(facts.failure, &refusal) {
        return Some(Cause::BasicAuthDisabled);
    }
    if facts.step == Step::Pass && refusal.contains("[login-delay]") {
        let listed = received(facts.configured).find_map(crate::probe::pop3::login_delay);
        if let Some(seconds) = listed {
            evidence.push(format!(
                "CAPA lists LOGIN-DELAY {seconds}: the server admits one login to a maildrop every {seconds} seconds."
            ));
        }
        return Some(Cause::LoginTooSoon);
    }
    if login_step {
        if let Some(again) = refused_after_the_login(facts.report) {
            evidence.push(format!(
                "The server refused the login, and a new connection to the same port right after it {}: the server's firewall banned this address after failed logins (fail2ban).",
                match again {
                    Failure::TimedOut { .. } => "went unanswered",
                    _ => "was refused",
                }
            ));
            return Some(Cause::ClientAddressBanned);
        }
    }
    let session_step = login_step || matches!(facts.step, Step::Greeting | Step::Examine);
    if session_step && names_a_connection_limit(&refusal) {
        evidence.push(format!(
            "The server refused the session for its number of connections: \"{}\". Other clients of the account or of the address (a phone, a second computer, a client's parallel connections) hold the sessions it allows.",
            refusal_text(facts.failure)
        ));
        return Some(Cause::TooManyConnections);
    }
    let envelope_step = matches!(facts.step, Step::MailFrom | Step::RcptTo);
    if let Some(login) = relayed_after_pop3_login(facts.report) {
        evidence.push(format!(
            "The recipient was refused; after a POP3 login to {} the same session setting was accepted: the server lets a client relay only for a while after it checked its mail (POP-before-SMTP).",
            login.endpoint.host
        ));
        return Some(Cause::PopBeforeSmtp);
    }
    if envelope_step && names_a_block_list(&refusal) {
        return Some(Cause::ClientAddressBlocklisted);
    }
    if facts.step == Step::Auth
        && matches!(facts.failure, Failure::NotOffered { .. })
        && offers_only_oauth(facts.configured)
    {
        return Some(Cause::OAuthRequired);
    }
    Some(match (facts.step, facts.failure) {
        // RFC 3501 LOGINDISABLED, or a NO [PRIVACYREQUIRED]: not before TLS.
        (Step::Auth, Failure::NotOffered { what }) if what.contains("LOGINDISABLED") => {
            Cause::AuthRequiresTls
        }
        (Step::Auth, Failure::ImapError { text, .. }) if text.contains("[PRIVACYREQUIRED]") => {
            Cause::AuthRequiresTls
        }
        (Step::Examine, Failure::ImapError { text, .. }) if text.contains("[INUSE]") => {
            Cause::MailboxLocked
        }
        (Step::Auth, Failure::ImapError { .. }) => Cause::AuthFailed,
        (Step::Greeting, Failure::ImapError { .. }) => Cause::ServerBusy,
        (Step::Auth, Failure::NotOffered { .. }) => Cause::AuthUnavailable,
        (Step::Auth, Failure::Reply { code: 538, .. }) => Cause::AuthRequiresTls,
        (Step::Auth, Failure::Reply { code: 530, text }) if text.starts_with("5.7.0") => {
            Cause::AuthRequiresTls
        }
        (
            Step::Auth,
            Failure::Reply {
                code: 502..=504, ..
            },
        ) if !offers_auth(facts.configured) => Cause::AuthUnavailable,
        (Step::Pass | Step::User, Failure::PopError { text }) if text.starts_with("[IN-USE]") => {
            Cause::MailboxLocked
        }
        (
            Step::Auth | Step::User | Step::Pass,
            Failure::Reply { .. } | Failure::PopError { .. },
        ) => Cause::AuthFailed,
        (Step::MailFrom, Failure::Reply { code: 530, .. }) => Cause::RelayDenied,
        (Step::MailFrom | Step::RcptTo, Failure::Reply { code: 552, .. }) => Cause::MessageTooLarge,
        (
            Step::MailFrom,
            Failure::Reply {
                code: 550 | 553 | 554,
                ..
            },
        ) => Cause::SenderRejected,
        (Step::RcptTo, Failure::Reply { code, text }) if is_bad_address(*code, text) => {
            Cause::RecipientAddressInvalid
        }
        (Step::RcptTo, Failure::Reply { code, text }) if is_relay_denial(*code, text) => {
            Cause::RelayDenied
        }
        (Step::Greeting, Failure::Reply { code: 421, .. }) => Cause::ServerBusy,
        (
            Step::Greeting,
            Failure::Reply {
                code: 500..=599, ..
            },
        ) => Cause::SessionRefused,
        (Step::Greeting, Failure::PopError { .. }) => Cause::ServerBusy,
        _ => return None,
    })
}

fn tls_handshake_failed(facts: &Facts<'_>, evidence: &mut Vec<String>) -> Option<Cause> {
    match (facts.step, facts.failure) {
        (Step::TlsHandshake, Failure::Tls(tls)) => Some(classify_tls(facts.report, tls, evidence)),
        _ => None,
    }
}

fn greeting_of_another_protocol(facts: &Facts<'_>, evidence: &mut Vec<String>) -> Option<Cause> {
    let (Step::Greeting, Failure::Garbage { bytes }) = (facts.step, facts.failure) else {
        return None;
    };
    let other = other_protocol(facts.endpoint.protocol, bytes)?;
    evidence.push(format!(
        "The server greeted in {other}, not {}.",
        facts.endpoint.protocol.name().to_uppercase()
    ));
    Some(Cause::WrongProtocol)
}

/// Port 25 failed before any greeting where another route worked.
fn only_port_25_fails(facts: &Facts<'_>, evidence: &mut Vec<String>) -> Option<Cause> {
    let before_greeting =
        matches!(facts.step, Step::Connect | Step::Greeting) && !facts.configured.reached_server();
    if !(facts.port_25()
        && before_greeting
        && port_25_is_the_difference(facts.report, facts.failure))
    {
        return None;
    }
    match facts.failure {
        Failure::Closed { received: 0 } => evidence.push(
            "The connection was accepted and then closed with no greeting: a local proxy (an \
             antivirus mail scanner) accepted it and could not reach the server."
                .into(),
        ),
        Failure::Reset => evidence.push("The connection was reset right after it opened.".into()),
        _ => {}
    }
    Some(Cause::OutboundPort25Blocked)
}

fn reset(facts: &Facts<'_>, _: &mut Vec<String>) -> Option<Cause> {
    matches!(facts.failure, Failure::Reset).then_some(Cause::ConnectionReset)
}

/// A timeout on a path that trickles data or takes seconds to connect.
fn slow_path(facts: &Facts<'_>, _: &mut Vec<String>) -> Option<Cause> {
    let Failure::TimedOut {
        partial, silent, ..
    } = facts.failure
    else {
        return None;
    };
    // Bytes still trickling in when the time ran out: a slow link. Bytes
    // that stopped long before: a stall (the next rule).
    if !partial.is_empty() && *silent < STALL_SILENCE {
        return Some(Cause::LowBandwidth);
    }
    connect_time(facts.configured)
        .filter(|t| *t >= SLOW_CONNECT)
        .map(|_| Cause::HighLatency)
}

/// A TLS handshake that got nothing back and stayed open, where plaintext
/// replies from the same host passed: the certificate flight, the first
/// full-size packet, was lost on the way (a path-MTU blackhole).
fn first_large_flight_lost(facts: &Facts<'_>, evidence: &mut Vec<String>) -> Option<Cause> {
    let (Step::TlsHandshake, Failure::TimedOut { partial, .. }) = (facts.step, facts.failure)
    else {
        return None;
    };
    if !partial.is_empty() {
        return None;
    }
    let host = &facts.endpoint.host;
    let same_host: Vec<&Attempt> = facts
        .report
        .attempts()
        .filter(|a| a.endpoint.host.eq_ignore_ascii_case(host))
        .collect();
    // A handshake with this host that worked: the path carries the flight.
    let secured = same_host.iter().any(|a| {
        a.events
            .iter()
            .any(|e| matches!(e.what, EventKind::TlsEstablished { .. }))
    });
    if secured {
        return None;
    }
    let answered = same_host.iter().find(|a| a.greeting().is_some())?;
    evidence.push(format!(
        "Small packets pass: port {} answered in plaintext ({} lines). Every TLS handshake with {host} got nothing back after the ClientHello, and the connection stayed open: the server's certificate flight, the first full-size packet, is lost on the way, and no \"fragmentation needed\" came back (a path-MTU blackhole).",
        answered.endpoint.port,
        received(answered).count()
    ));
    Some(Cause::PathMtuBlackhole)
}

/// The server sent more than the probe reads, or kept the probe past its
/// overall deadline after it had answered.
fn server_out_of_bounds(facts: &Facts<'_>, evidence: &mut Vec<String>) -> Option<Cause> {
    match facts.failure {
        Failure::TooMuch { what, limit } => {
            evidence.push(format!(
                "The server sent more than {limit} {what}: no real server needs that much at this step."
            ));
            Some(Cause::ServerMisbehaving)
        }
        Failure::Garbage { bytes } => {
            evidence.push(format!(
                "The server sent bytes that are not a reply of the protocol: {}.",
                crate::probe::observation::show_bytes(bytes)
            ));
            Some(Cause::ServerMisbehaving)
        }
        Failure::DeadlineExceeded { deadline } if facts.configured.reached_server() => {
            evidence.push(format!(
                "The server kept answering, slowly, until the probe's deadline of {}s passed.",
                deadline.as_secs_f64()
            ));
            Some(Cause::ServerMisbehaving)
        }
        _ => None,
    }
}

/// What is left: how the connection ended, and when.
fn how_the_connection_ended(facts: &Facts<'_>, _: &mut Vec<String>) -> Option<Cause> {
    let reached = facts.configured.reached_server();
    Some(match (facts.step, facts.failure) {
        (Step::Greeting, Failure::TimedOut { partial, .. })
            if partial.is_empty()
                && facts.endpoint.security != Security::Tls
                && tls_would_work(facts.report) =>
        {
            Cause::ImplicitTlsExpected
        }
        (Step::Connect, Failure::Refused) if nothing_listens(facts.report) => Cause::NoMailServer,
        (Step::Connect, Failure::Refused) => Cause::ConnectionRefused,
        (Step::Connect, Failure::HostUnreachable) => Cause::HostUnreachable,
        (Step::Connect, Failure::NetworkUnreachable) => Cause::NetworkUnreachable,
        (Step::Connect, Failure::TimedOut { .. }) => Cause::ConnectTimedOut,
        (_, Failure::TimedOut { partial, .. }) if !partial.is_empty() => Cause::MidSessionStall,
        (Step::Greeting, Failure::TimedOut { .. }) => Cause::SlowGreeting,
        (_, Failure::TimedOut { .. }) if reached => Cause::MidSessionStall,
        (step, Failure::Closed { .. })
            if step != Step::Greeting
                && received(facts.configured).count() == 1
                && silence_before_failure(facts.configured) < STALL_SILENCE =>
        {
            Cause::ClosedAfterGreeting
        }
        (_, Failure::Closed { .. })
            if reached && silence_before_failure(facts.configured) >= STALL_SILENCE =>
        {
            Cause::MidSessionStall
        }
        (_, Failure::Closed { .. }) => Cause::ConnectionClosed,
        (_, Failure::TimedOut { .. }) => Cause::ReplyTimedOut,
        (_, Failure::Reply { .. } | Failure::PopError { .. } | Failure::ImapError { .. }) => {
            Cause::ServerRejected
        }
        _ => return None,
    })
}

fn classify_tls(report: &ProbeReport, failure: &TlsFailure, evidence: &mut Vec<String>) -> Cause {
    let configured = &report.configured;
    let attempts: Vec<&Attempt> = report.attempts().collect();
    let certificate = certificate(configured);
    match failure {
        TlsFailure::NotTls { .. } => Cause::PlaintextExpected,
        TlsFailure::VersionRefused { offered, .. } => {
            evidence.push(format!(
                "The server refused {offered}, the newest version this client speaks; current clients speak TLS 1.2 or later."
            ));
            Cause::ClientTlsTooOld
        }
        TlsFailure::Closed { received: 0 } => {
            evidence.push(
                "The ClientHello got no answer at all: the connection was closed, which is how a \
                 local mail scanner that cannot read TLS behaves."
                    .into(),
            );
            Cause::TlsBrokenByLocalScanner
        }
        TlsFailure::Certificate(_) if accepted_with_server_name(report, evidence) => {
            Cause::SniRequired
        }
        TlsFailure::Certificate(why) if why == reason::UNKNOWN_ISSUER => {
            let missing = certificate.and_then(|c| c.missing_intermediate.as_deref());
            match (
                certificate.and_then(|c| antivirus_product(&c.issuer)),
                missing,
            ) {
                (Some(product), _) => {
                    let issuer = certificate.map_or("", |c| c.issuer.as_str());
                    evidence.push(format!(
                        "The certificate was issued by \"{issuer}\": {product} is intercepting TLS."
                    ));
                    Cause::TlsInterceptedByAntivirus
                }
                (None, Some(intermediate)) => {
                    evidence.push(format!(
                        "The server sent its certificate alone; the intermediate \"{intermediate}\", which links it to a trusted root, was left out."
                    ));
                    Cause::CertificateChainIncomplete
                }
                (None, None) => match (
                    certificate.and_then(|c| c.distrusted_root.as_deref()),
                    certificate.and_then(|c| c.current_root.as_deref()),
                ) {
                    (Some(root), _) => {
                        evidence.push(format!(
                            "The certificate chains to \"{root}\", a root current trust stores removed: clients that still hold it accept the certificate, current ones refuse it."
                        ));
                        Cause::CertificateRootDistrusted
                    }
                    (None, Some(root)) => {
                        evidence.push(format!(
                            "The certificate chains to \"{root}\", which a current trust store holds and this client's does not: its store is older than the server's certificate authority."
                        ));
                        Cause::TrustStoreOutdated
                    }
                    (None, None) => Cause::CertificateUntrusted,
                },
            }
        }
        TlsFailure::Certificate(why) if why == reason::EXPIRED || why == reason::NOT_YET_VALID => {
            Cause::CertificateExpired
        }
        TlsFailure::Certificate(why) if why == reason::WRONG_NAME => {
            let host = &configured.endpoint.host;
            let other = attempts
                .iter()
                .filter(|a| a.endpoint.host.eq_ignore_ascii_case(host))
                .find_map(|a| greeting_host(a))
                // An address has no DNS entry to be wrong.
                .filter(|g| !g.eq_ignore_ascii_case(host) && !crate::probe::is_address(host));
            match (other, certificate) {
                (Some(other), Some(certificate))
                    if certificate
                        .names
                        .iter()
                        .any(|n| n.eq_ignore_ascii_case(&other)) =>
                {
                    evidence.push(format!(
                        "{host} answered as {other}, with a certificate for {other}: the name leads to another host."
                    ));
                    Cause::DnsWrongHost
                }
                _ => Cause::CertificateNameMismatch,
            }
        }
        TlsFailure::Alert(alert) if alert == "ProtocolVersion" => Cause::TlsVersionMismatch,
        TlsFailure::Alert(alert) if alert == "HandshakeFailure" => {
            evidence.push(
                "The server answered the ClientHello with a handshake_failure alert: it accepts none of the cipher suites and key exchanges a current client offers."
                    .into(),
            );
            Cause::TlsNoCommonCipher
        }
        _ => Cause::TlsFailed,
    }
}

/// Whether the check naming the server (SNI) got past the handshake where
/// the configured attempt, naming none, had the certificate refused; says
/// which certificates each was shown.
fn accepted_with_server_name(report: &ProbeReport, evidence: &mut Vec<String>) -> bool {
    let Some(named) = report.check(Purpose::ServerName) else {
        return false;
    };
    let secured = named
        .events
        .iter()
        .any(|e| matches!(e.what, EventKind::TlsEstablished { .. }));
    if !secured {
        return false;
    }
    let names =
        |attempt: &Attempt| certificate(attempt).map_or_else(String::new, |c| c.names.join(", "));
    evidence.push(format!(
        "Naming no server (no SNI), the client was shown a certificate for [{}]; naming {} it was shown one for [{}], which it accepts.",
        names(&report.configured),
        named.endpoint.host,
        names(named)
    ));
    true
}

/// The lines the server sent, in order.
fn received(attempt: &Attempt) -> impl Iterator<Item = &str> {
    attempt.events.iter().filter_map(|e| match &e.what {
        EventKind::Received(line) => Some(line.as_str()),
        _ => None,
    })
}

/// The host name a greeting announces (`220 mx.example ESMTP` → `mx.example`).
fn greeting_host(attempt: &Attempt) -> Option<String> {
    let name = attempt.greeting_name()?;
    name.contains('.')
        .then(|| name.trim_end_matches('.').to_ascii_lowercase())
}

/// Whether two host names share their last two labels (`mx1.provider.example`
/// and `smtp.provider.example` do); servers often greet with another name of
/// their own site, rarely with another site's.
fn same_site(a: &str, b: &str) -> bool {
    let site = |name: &str| {
        let labels: Vec<String> = name
            .trim_end_matches('.')
            .rsplit('.')
            .take(2)
            .map(str::to_ascii_lowercase)
            .collect();
        labels
    };
    site(a) == site(b)
}

/// The certificate the server presented, if a handshake got that far.
fn certificate(attempt: &Attempt) -> Option<&CertificateInfo> {
    attempt.events.iter().rev().find_map(|e| match &e.what {
        EventKind::Certificate(certificate) => Some(certificate),
        _ => None,
    })
}

/// Which other protocol a greeting belongs to, if it is recognisably one.
fn other_protocol(expected: Protocol, greeting: &[u8]) -> Option<&'static str> {
    let smtp = greeting.len() >= 4
        && greeting[..3].iter().all(u8::is_ascii_digit)
        && matches!(greeting[3], b' ' | b'-');
    let pop3 = greeting.starts_with(b"+OK") || greeting.starts_with(b"-ERR");
    let imap = greeting.starts_with(b"* OK") || greeting.starts_with(b"* PREAUTH");
    match expected {
        Protocol::Pop3 | Protocol::Imap if smtp => Some("SMTP"),
        Protocol::Smtp | Protocol::Imap if pop3 => Some("POP3"),
        Protocol::Smtp | Protocol::Pop3 if imap => Some("IMAP"),
        _ if greeting.starts_with(b"HTTP/") => Some("HTTP"),
        _ => None,
    }
}

/// `220 ****2***0**`: a PIX/ASA masked banner.
fn is_masked_greeting(line: &str) -> bool {
    let Some(text) = line.get(4..) else {
        return false;
    };
    text.matches('*').count() >= 3 && text.chars().all(|c| matches!(c, '*' | '2' | '0' | ' '))
}

/// `250-XXXXXXXA` or `XXXX`: a capability that was overwritten; in IMAP's
/// untagged lines, a word of eight or more X.
fn is_stripped_capability(line: &str) -> bool {
    if line.starts_with("* ") {
        return line
            .split(' ')
            .any(|word| word.len() >= 8 && word.chars().all(|c| c == 'X'));
    }
    let word = line
        .get(4..)
        .filter(|_| line.starts_with("250"))
        .unwrap_or(line);
    word.len() >= 4 && word.trim_end_matches('A').chars().all(|c| c == 'X')
}

/// What a server said in a refusal, code and all; empty for other failures.
fn refusal_text(failure: &Failure) -> String {
    match failure {
        Failure::Reply { code, text } => format!("{code} {text}"),
        Failure::PopError { text } | Failure::ImapError { text, .. } => text.clone(),
        _ => String::new(),
    }
}

/// `534 5.7.9` (RFC 4954: the mechanism is too weak, which providers send
/// for "application-specific password required"), or that text.
fn is_app_password_refusal(failure: &Failure, lowered: &str) -> bool {
    matches!(failure, Failure::Reply { code: 534, text } if text.starts_with("5.7.9"))
        || mentions_any(lowered, &["application-specific password", "app password"])
}

/// Whether a login refusal says passwords are not accepted at all: Microsoft's
/// 5.7.139, or Google's "web login required" (SMTP 534 5.7.14, IMAP
/// `[WEBALERT ...]`, POP3 `-ERR [AUTH] Web login required`).
fn is_basic_auth_refusal(failure: &Failure, lowered: &str) -> bool {
    matches!(failure, Failure::Reply { code: 534, text } if text.starts_with("5.7.14"))
        || mentions_any(
            lowered,
            &[
                "5.7.139",
                "basic authentication is disabled",
                "smtpclientauthentication is disabled",
                "web login required",
                "log in via your web browser",
                "[webalert",
            ],
        )
}

/// Whether the session that worked was greeted from this machine while the
/// server, where a proxy cannot read, greets under another name (a server
/// that calls itself `localhost` does so on every port).
fn answered_by_a_local_proxy(report: &ProbeReport) -> bool {
    let configured = &report.configured;
    let same_name_there = report
        .check(Purpose::ServerOwnGreeting)
        .and_then(Attempt::greeting_name)
        .zip(configured.greeting_name())
        .is_some_and(|(own, here)| own.eq_ignore_ascii_case(here));
    configured.greeted_from_this_machine() && !same_name_there
}

/// What says that a local proxy answered the session, and what the server
/// itself says where the proxy cannot read.
fn answered_from_this_machine(report: &ProbeReport) -> String {
    let greeting = report.configured.greeting().unwrap_or("");
    let product = antivirus_product(greeting)
        .map(|p| format!(" ({p})"))
        .unwrap_or_default();
    let own = report.check(Purpose::ServerOwnGreeting);
    let server = match own.and_then(|a| a.greeting().map(|g| (a.endpoint.port, g))) {
        Some((port, g)) => format!(
            " On port {port}, over TLS that a proxy cannot read, the server greets \"{g}\"."
        ),
        None => String::new(),
    };
    format!(
        "The session was answered from this machine, \"{greeting}\": a local proxy{product} took it in the server's place and accepts what the server may refuse later, when the client can no longer be told.{server}"
    )
}

/// Bursts smaller than this are not a TCP window a real stack advertises.
const SMALLEST_WINDOW: usize = 64;
/// Fewer bursts than this do not show a window that never grows.
const WINDOW_BURSTS: usize = 4;

/// The attempt's TLS flight and round trip, where the flight came in equal
/// bursts a round trip apart (give or take a quarter): one window per round
/// trip, a window that never grows.
pub fn cut_down_window(attempt: &Attempt) -> Option<(&Paced, usize, Duration)> {
    let round_trip = command_round_trip(attempt).filter(|t| *t >= Duration::from_millis(10))?;
    let paced = attempt.events.iter().find_map(|e| match &e.what {
        EventKind::Paced(paced) => Some(paced),
        _ => None,
    })?;
    let window = paced
        .window
        .filter(|w| (SMALLEST_WINDOW..=65535).contains(w))?;
    let quarter = round_trip / 4;
    let about_a_round_trip = paced.gap >= round_trip.saturating_sub(quarter)
        && paced.gap <= round_trip.saturating_add(quarter);
    (paced.bursts >= WINDOW_BURSTS && about_a_round_trip).then_some((paced, window, round_trip))
}

/// The shortest time from a line the probe sent to the next line it
/// received: a round trip, with the server's time to answer.
fn command_round_trip(attempt: &Attempt) -> Option<Duration> {
    let mut sent_at = None;
    let mut shortest: Option<Duration> = None;
    for event in &attempt.events {
        match &event.what {
            EventKind::Sent(_) => sent_at = Some(event.at),
            EventKind::Received(_) => {
                if let Some(sent) = sent_at.take() {
                    let took = event.at.saturating_sub(sent);
                    shortest = Some(shortest.map_or(took, |s| s.min(took)));
                }
            }
            _ => {}
        }
    }
    shortest
}

/// What says that one small window crosses per round trip.
fn window_evidence((paced, window, round_trip): (&Paced, usize, Duration)) -> String {
    let per_second = window as f64 / round_trip.as_secs_f64().max(0.001);
    let minutes = 5_000_000.0 / per_second.max(1.0) / 60.0;
    format!(
        "The server's TLS flight ({} bytes) came in {} bursts of {window} bytes, each a round trip ({} ms, the quickest a command was answered) after the last: the path lets {window} bytes through per round trip, {:.1} KB/s whatever the line's speed, and the window never grows. A slow line would deliver evenly. A 5 MB attachment would take about {minutes:.0} minutes: a router that breaks TCP window scaling.",
        paced.bytes,
        paced.bursts,
        round_trip.as_millis(),
        per_second / 1000.0
    )
}

/// The server's own EHLO where a proxy cannot read: after STARTTLS in the
/// configured session, or over TLS in the check after it; with that
/// check's endpoint, if it came from one.
fn own_ehlo(report: &ProbeReport) -> Option<(Option<&Endpoint>, Vec<&str>)> {
    let configured = &report.configured;
    if let Some((_, keywords)) = configured.ehlo_keywords().into_iter().find(|(tls, _)| *tls) {
        return Some((None, keywords));
    }
    report
        .follow_ups
        .iter()
        .filter(|a| a.purpose == Purpose::ServerOwnGreeting)
        .find_map(|own| {
            let (_, keywords) = own.ehlo_keywords().into_iter().find(|(tls, _)| *tls)?;
            Some((Some(&own.endpoint), keywords))
        })
}

/// Streaming extensions (PIPELINING, CHUNKING) the server lists where a
/// proxy cannot read and the EHLO relayed in plaintext left out: what a
/// proxy that holds each message hides.
struct HiddenStreaming<'a> {
    /// The extensions left out, in [`smtp::STREAMING_EXTENSIONS`]' order.
    keywords: Vec<&'static str>,
    /// The check that heard the server's own EHLO; none when it came after
    /// STARTTLS in the configured session.
    heard_in: Option<&'a Endpoint>,
}

/// What the plaintext EHLO left out; `None` when nothing is missing or
/// there is nothing to compare.
fn streaming_hidden_on_the_way(report: &ProbeReport) -> Option<HiddenStreaming<'_>> {
    let configured = &report.configured;
    let (_, plain) = configured
        .ehlo_keywords()
        .into_iter()
        .find(|(tls, _)| !*tls)?;
    let (heard_in, own) = own_ehlo(report)?;
    let keywords: Vec<&'static str> = smtp::STREAMING_EXTENSIONS
        .iter()
        .copied()
        .filter(|keyword| smtp::offers(&own, keyword) && !smtp::offers(&plain, keyword))
        .collect();
    (!keywords.is_empty()).then_some(HiddenStreaming { keywords, heard_in })
}

/// What says that a proxy relays the session on `port` and holds the
/// messages.
fn held_for_scanning(port: u16, hidden: &HiddenStreaming<'_>) -> String {
    let them = if hidden.keywords.len() > 1 {
        "them"
    } else {
        "it"
    };
    let keywords = hidden.keywords.join(" and ");
    let own = match hidden.heard_in {
        Some(check) if check.security == Security::Tls => {
            format!("on port {}, over TLS", check.port)
        }
        Some(check) => format!("on port {} after STARTTLS, in a second session", check.port),
        None => "after STARTTLS".to_string(),
    };
    format!(
        "Port {port}'s EHLO, relayed in plaintext, lacks {keywords}; the server's own EHLO {own}, which a proxy cannot read, lists {them}. Something on this machine reads the session and hides what would let the client stream the message past it: a mail scanner that holds each message until it has scanned all of it. Small mails go; a large one keeps the client waiting at the end of DATA past its timeout."
    )
}

/// How the connection after a refused login failed, when it failed to
/// connect at all.
fn refused_after_the_login(report: &ProbeReport) -> Option<&Failure> {
    let again = report.check(Purpose::AfterRefusedLogin)?;
    match again.failure() {
        Some((Step::Connect, failure @ (Failure::Refused | Failure::TimedOut { .. }))) => {
            Some(failure)
        }
        _ => None,
    }
}

/// The POP3 login of a POP-before-SMTP check, where the SMTP setting
/// tried after it worked.
fn relayed_after_pop3_login(report: &ProbeReport) -> Option<&Attempt> {
    let mut checks = report
        .follow_ups
        .iter()
        .filter(|a| a.purpose == Purpose::AfterPop3Login);
    let login = checks.next()?;
    let again = checks.next()?;
    (login.is_ok() && again.is_ok() && again.endpoint.protocol == Protocol::Smtp).then_some(login)
}

/// A refusal for the number of connections: per user, per address or in
/// all (Dovecot's `mail_max_userip_connections`, Gmail's "Too many
/// simultaneous connections", RFC 5530's `[LIMIT]`).
fn names_a_connection_limit(lowered: &str) -> bool {
    mentions_any(
        lowered,
        &[
            "too many connections",
            "too many simultaneous connections",
            "too many concurrent connections",
            "too many sessions",
            "maximum number of connections",
            "connection limit",
            "[limit]",
        ],
    )
}

/// Whether lowercased server text contains any of `phrases`.
fn mentions_any(lowered: &str, phrases: &[&str]) -> bool {
    phrases.iter().any(|phrase| lowered.contains(phrase))
}

/// Whether a refusal says the client's address is on a block list (a DNSBL
/// such as Spamhaus's, checked for clients that did not log in).
fn names_a_block_list(lowered: &str) -> bool {
    mentions_any(
        lowered,
        &[
            "blocked using",
            "listed at",
            "listed in",
            "listed on",
            "block list",
            "blocklist",
            "blacklist",
            "dnsbl",
            "spamhaus",
        ],
    )
}

/// Whether every login mechanism the server listed is OAuth.
fn offers_only_oauth(attempt: &Attempt) -> bool {
    let mut mechanisms: Vec<String> = Vec::new();
    for line in received(attempt) {
        let upper = line.to_ascii_uppercase();
        if let Some(list) = upper
            .strip_prefix("250-AUTH ")
            .or_else(|| upper.strip_prefix("250 AUTH "))
        {
            mechanisms.extend(list.split_whitespace().map(str::to_string));
        }
        if upper.starts_with("* ") {
            mechanisms.extend(crate::probe::imap::auth_mechanisms(&upper));
        }
        mechanisms.extend(crate::probe::pop3::sasl_mechanisms(&upper));
    }
    !mechanisms.is_empty()
        && mechanisms
            .iter()
            .all(|m| matches!(m.as_str(), "XOAUTH2" | "OAUTHBEARER" | "XOAUTH"))
}

fn offers_auth(attempt: &Attempt) -> bool {
    received(attempt).any(|line| {
        let upper = line.to_ascii_uppercase();
        upper.starts_with("250-AUTH") || upper.starts_with("250 AUTH")
    })
}

fn fell_back_from_ipv6(attempt: &Attempt) -> bool {
    attempt.events.iter().any(
        |e| matches!(&e.what, EventKind::ConnectFailed { address, .. } if address.starts_with('[')),
    )
}

/// Whether an IPv6 address refused the connection before another address
/// took it.
fn ipv6_refused(attempt: &Attempt) -> bool {
    attempt.events.iter().any(|e| {
        matches!(
            &e.what,
            EventKind::ConnectFailed { address, failure: Failure::Refused } if address.starts_with('[')
        )
    })
}

/// How long the TCP connection took to open.
fn connect_time(attempt: &Attempt) -> Option<Duration> {
    let mut started = None;
    for event in &attempt.events {
        match &event.what {
            EventKind::Resolved(_) | EventKind::ConnectFailed { .. } => started = Some(event.at),
            EventKind::Connected(_) => return started.map(|s| event.at.saturating_sub(s)),
            _ => {}
        }
    }
    None
}

/// Time between the last thing received and the failure.
fn silence_before_failure(attempt: &Attempt) -> Duration {
    let last_received = attempt
        .events
        .iter()
        .filter(|e| matches!(e.what, EventKind::Received(_) | EventKind::Connected(_)))
        .map(|e| e.at)
        .next_back()
        .unwrap_or_default();
    let (_, end) = attempt.span();
    end.saturating_sub(last_received)
}

/// Port 25 was answered by another server than the one behind the other
/// ports (or by the ISP's own, the control).
fn redirected_port_25(report: &ProbeReport) -> Option<String> {
    let on_25 = greeting_host(&report.configured)?;
    let host = &report.configured.endpoint.host;
    if let Some(control) = report.control.as_ref().and_then(greeting_host) {
        if control == on_25 && !on_25.eq_ignore_ascii_case(host) {
            return Some(format!(
                "Port 25 of {host} was answered by {on_25}, the same server as the control: a transparent proxy redirects port 25."
            ));
        }
    }
    let elsewhere = report
        .follow_ups
        .iter()
        .filter(|a| a.endpoint.port != 25)
        .find_map(greeting_host)?;
    (elsewhere != on_25).then(|| {
        format!("Port 25 of {host} was answered by {on_25}, the other ports by {elsewhere}: a transparent proxy redirects port 25.")
    })
}

/// RCPT refused as a malformed address (RFC 3463 X.1.3, or 501).
fn is_bad_address(code: u16, text: &str) -> bool {
    text.starts_with("5.1.3") || (code == 501 && text.to_ascii_lowercase().contains("address"))
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

/// Every port tried on the host refused the connection.
fn nothing_listens(report: &ProbeReport) -> bool {
    !report.follow_ups.is_empty()
        && report
            .follow_ups
            .iter()
            .all(|a| matches!(a.failure(), Some((Step::Connect, Failure::Refused))))
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
    let role = attempt.purpose.label();
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
    use crate::probe::{Endpoint, Event, EventKind, Outcome, Purpose};

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
            silent: Duration::from_secs(30),
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
        let alert = |name: &str| {
            Some((
                Step::TlsHandshake,
                Failure::Tls(TlsFailure::Alert(name.into())),
            ))
        };
        assert_eq!(
            cause(alert("HandshakeFailure"), 465, Security::Tls, vec![], None),
            Cause::TlsNoCommonCipher
        );
        assert_eq!(
            cause(alert("InternalError"), 465, Security::Tls, vec![], None),
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
            Cause::SlowGreeting
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
    fn every_rule_has_a_distinct_name() {
        let names: std::collections::BTreeSet<&str> = RULES.iter().map(|(name, _)| *name).collect();
        assert_eq!(names.len(), RULES.len());
        let diagnosis = diagnose(&report(
            attempt(
                Purpose::Configured,
                25,
                Security::None,
                Some((Step::Connect, timeout())),
            ),
            vec![],
            Some(attempt(Purpose::Control, 25, Security::None, None)),
        ));
        assert_eq!(
            (diagnosis.rule, diagnosis.cause),
            ("only-port-25-fails", Cause::OutboundPort25Blocked)
        );
    }

    /// A worked attempt from its events, each `(milliseconds, event)`.
    fn worked(
        purpose: Purpose,
        port: u16,
        security: Security,
        events: Vec<(u64, EventKind)>,
    ) -> Attempt {
        Attempt {
            events: events
                .into_iter()
                .map(|(ms, what)| Event {
                    at: Duration::from_millis(ms),
                    what,
                })
                .collect(),
            ..attempt(purpose, port, security, None)
        }
    }

    fn ehlo(lines: &[&str]) -> Vec<(u64, EventKind)> {
        let mut events = vec![(0, EventKind::Sent("EHLO pc".into()))];
        for (index, line) in lines.iter().enumerate() {
            let separator = if index + 1 == lines.len() { ' ' } else { '-' };
            events.push((0, EventKind::Received(format!("250{separator}{line}"))));
        }
        events
    }

    fn tls_up() -> (u64, EventKind) {
        let what = EventKind::TlsEstablished {
            version: "TLSv1_3".into(),
            cipher: "TLS13_AES_128_GCM_SHA256".into(),
        };
        (0, what)
    }

    /// A session that worked with a certificate from an antivirus root the
    /// client trusts is still `ok`, and says who reads it; one with the
    /// provider's certificate simply worked.
    #[test]
    fn a_trusted_scanner_is_named_in_a_session_that_worked() {
        let issued_by = |issuer: &str| {
            let info = CertificateInfo {
                subject: "smtp.provider.example".into(),
                issuer: issuer.into(),
                names: vec!["smtp.provider.example".into()],
                not_before: "2026-01-01".into(),
                not_after: "2027-01-01".into(),
                self_signed: false,
                chain_length: 1,
                missing_intermediate: None,
                current_root: None,
                distrusted_root: None,
            };
            let events = vec![(0, EventKind::Certificate(info)), tls_up()];
            diagnose(&report(
                worked(Purpose::Configured, 465, Security::Tls, events),
                vec![],
                None,
            ))
        };
        let scanned = issued_by("Avast Web/Mail Shield Root");
        assert_eq!(
            (scanned.rule, scanned.cause),
            ("worked-through-trusted-scanner", Cause::Ok)
        );
        assert!(scanned.evidence.iter().any(|e| e.contains("Avast reads")));
        let direct = issued_by("ISRG Root X1");
        assert_eq!((direct.rule, direct.cause), ("worked", Cause::Ok));
    }

    #[test]
    fn streaming_extensions_missing_only_before_tls_are_a_holding_proxy() {
        let plain = ehlo(&["mx", "SIZE 10", "STARTTLS"]);
        let secure = ehlo(&["mx", "PIPELINING", "CHUNKING", "SIZE 10"]);
        let session: Vec<_> = plain
            .iter()
            .cloned()
            .chain([tls_up()])
            .chain(secure.iter().cloned())
            .collect();
        let diagnosis = diagnose(&report(
            worked(Purpose::Configured, 587, Security::StartTls, session),
            vec![],
            None,
        ));
        assert_eq!(diagnosis.cause, Cause::AntivirusHoldsMessage);
        assert!(
            diagnosis
                .evidence
                .iter()
                .any(|e| e.contains("lacks PIPELINING and CHUNKING")
                    && e.contains("after STARTTLS, which a proxy cannot read, lists them")),
            "{:?}",
            diagnosis.evidence
        );
        // The same extensions on both sides of STARTTLS: nothing hidden.
        let session: Vec<_> = secure
            .iter()
            .cloned()
            .chain([tls_up()])
            .chain(secure.iter().cloned())
            .collect();
        let same = report(
            worked(Purpose::Configured, 587, Security::StartTls, session),
            vec![],
            None,
        );
        assert_eq!(diagnose(&same).cause, Cause::Ok);
        // A plaintext session compared with the check on port 465.
        let own: Vec<_> = [tls_up()]
            .into_iter()
            .chain(secure.iter().cloned())
            .collect();
        let check = worked(Purpose::ServerOwnGreeting, 465, Security::Tls, own);
        let diagnosis = diagnose(&report(
            worked(Purpose::Configured, 25, Security::None, plain.clone()),
            vec![check],
            None,
        ));
        assert_eq!(diagnosis.cause, Cause::AntivirusHoldsMessage);
        // Without a check there is nothing to compare with.
        let alone = report(
            worked(Purpose::Configured, 25, Security::None, plain),
            vec![],
            None,
        );
        assert_eq!(diagnose(&alone).cause, Cause::Ok);
    }

    #[test]
    fn equal_bursts_a_command_round_trip_apart_are_a_cut_down_window() {
        let paced = |gap: u64, window: Option<usize>| {
            EventKind::Paced(crate::probe::pacing::Paced {
                bytes: 2600,
                bursts: 11,
                window,
                gap: Duration::from_millis(gap),
            })
        };
        let session = |gap: u64, window: Option<usize>| {
            vec![
                (0, EventKind::Received("220 mx".into())),
                (0, EventKind::Sent("EHLO pc".into())),
                (100, EventKind::Received("250 mx".into())),
                (100, tls_up().1),
                (100, paced(gap, window)),
            ]
        };
        let cause_of = |gap, window| {
            diagnose(&report(
                worked(
                    Purpose::Configured,
                    465,
                    Security::Tls,
                    session(gap, window),
                ),
                vec![],
                None,
            ))
            .cause
        };
        assert_eq!(cause_of(100, Some(256)), Cause::TcpWindowScalingBroken);
        assert_eq!(cause_of(120, Some(256)), Cause::TcpWindowScalingBroken);
        // Silences unlike the round trip: a slow line, not a window.
        assert_eq!(cause_of(10, Some(256)), Cause::Ok);
        assert_eq!(cause_of(300, Some(256)), Cause::Ok);
        // Bursts of unequal size, or too small for a TCP window.
        assert_eq!(cause_of(100, None), Cause::Ok);
        assert_eq!(cause_of(100, Some(16)), Cause::Ok);
    }

    #[test]
    fn success_is_ok_without_follow_ups() {
        assert_eq!(
            cause(None, 587, Security::StartTls, vec![], None),
            Cause::Ok
        );
    }
}
