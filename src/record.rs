//! `mailprobe record`: a report becomes a scenario whose world shows the
//! same observations, and whose `expect:` is what the probe concluded.
//!
//! The world is inferred from the wire only, attempt by attempt: each
//! host:port gets the server mode that answered (plain, STARTTLS, TLS), and
//! each transport failure the firewall behaviour that shows it (unanswered:
//! `drop`; refused: no listener; reset: `reset`; accepted then closed
//! without a greeting, or closed at the ClientHello: the local mail
//! scanner; answered by another host: a redirect). Greetings, AUTH
//! mechanisms, refusals and certificate properties follow what was seen.
//! Where two worlds would show the same thing, the report's diagnosis picks
//! the one that names it (a STARTTLS stripper rather than a server without
//! STARTTLS, say). What cannot be inferred is left at the defaults, and the
//! round-trip test (`tests/record.rs`) lists where that changes the verdict.

use std::collections::BTreeMap;
use std::fmt::Write;

use indexmap::IndexMap;

use crate::probe::tls::reason;
use crate::probe::{Attempt, EventKind, Failure, Protocol, Purpose, Security, Step, TlsFailure};
use crate::report::Report;

/// The password the recorded client uses (the report never holds one).
pub const RECORDED_PASSWORD: &str = "recorded-password";
/// The world's password when the recorded login was refused.
const OTHER_PASSWORD: &str = "not-the-recorded-password";

/// A host of the recorded world.
#[derive(Debug, Default)]
struct Host {
    smtp: BTreeMap<u16, &'static str>,
    pop3: BTreeMap<u16, &'static str>,
    imap: BTreeMap<u16, &'static str>,
    web: BTreeMap<u16, &'static str>,
    smtp_extra: Vec<String>,
    pop3_extra: Vec<String>,
    imap_extra: Vec<String>,
    certificate: Vec<String>,
    /// The default certificate, for clients that name no server (SNI).
    without_sni: Vec<String>,
    legacy_tls: bool,
    weak_tls: bool,
    ipv6: bool,
    /// A ban after failed logins, as seen: `{ maxretry: 1, action: ... }`.
    fail2ban: Option<String>,
    /// SMTP AUTH as seen: `Some(Some(list))` listed, `Some(None)` EHLO
    /// answered without AUTH, `None` never asked.
    auth: Option<Option<Vec<String>>>,
    /// AUTH was refused until STARTTLS: the list was never visible.
    auth_hidden: bool,
}

/// The world being inferred.
#[derive(Debug, Default)]
struct World {
    hosts: IndexMap<String, Host>,
    /// Rules by layer, in order.
    local: Vec<String>,
    isp: Vec<String>,
    /// Link faults, in a layer of their own beyond the ISP's rules.
    path: Vec<String>,
    dns: Vec<String>,
    user_password: String,
    /// The world's user has another address than the client's sender.
    other_address: bool,
    /// The world's user has another login name than the client's.
    other_user: bool,
    user_locked: bool,
    /// Names that resolve to another host (a wrong DNS entry, a captive
    /// portal's resolver): observations of the name belong to that host.
    aliases: BTreeMap<String, String>,
    /// The names each host's ports other than 25 greeted with.
    greeted_elsewhere: BTreeMap<String, Vec<String>>,
    /// The resolver's behaviour, when it did not answer.
    resolver: Option<&'static str>,
    /// Public roots the certificates showed (`{ name: ..., distrusted: true }`).
    roots: Vec<String>,
    /// The client's trust store, when it was seen to lack a current root.
    client_trust: Option<Vec<String>>,
}

impl World {
    fn host(&mut self, name: &str) -> &mut Host {
        self.hosts.entry(name.to_ascii_lowercase()).or_default()
    }

    /// The world's host behind a name the client used.
    fn behind(&self, name: &str) -> String {
        let name = name.to_ascii_lowercase();
        self.aliases
            .get(&name)
            .or_else(|| self.aliases.get("*"))
            .cloned()
            .unwrap_or(name)
    }

    /// Sets the mode of `host:port` for `protocol`, unless already known
    /// (a plaintext port seen to offer STARTTLS becomes `starttls`). A port
    /// that answered in another protocol keeps it.
    fn serve(&mut self, protocol: Protocol, name: &str, port: u16, mode: &'static str) {
        let host = self.host(name);
        let taken = |ports: &BTreeMap<u16, &str>| ports.contains_key(&port);
        let answered_otherwise = match protocol {
            Protocol::Smtp => taken(&host.pop3) || taken(&host.imap),
            Protocol::Pop3 => taken(&host.smtp) || taken(&host.imap),
            Protocol::Imap => taken(&host.smtp) || taken(&host.pop3),
        };
        if answered_otherwise {
            return;
        }
        let ports = match protocol {
            Protocol::Smtp => &mut host.smtp,
            Protocol::Pop3 => &mut host.pop3,
            Protocol::Imap => &mut host.imap,
        };
        let known = ports.entry(port).or_insert(mode);
        if *known == "plain" && mode == "starttls" {
            *known = mode;
        }
    }

    fn rule(&mut self, local: bool, rule: String) {
        let layer = if local {
            &mut self.local
        } else {
            &mut self.isp
        };
        if !layer.contains(&rule) {
            layer.push(rule);
        }
    }
}

/// The lines received in an attempt, in order.
/// Whether the probe sent a line starting with `prefix` on `attempt`.
fn sent(attempt: &Attempt, prefix: &str) -> bool {
    attempt
        .events
        .iter()
        .any(|e| matches!(&e.what, EventKind::Sent(line) if line.starts_with(prefix)))
}

fn received(attempt: &Attempt) -> Vec<&str> {
    attempt
        .events
        .iter()
        .filter_map(|e| match &e.what {
            EventKind::Received(line) => Some(line.as_str()),
            _ => None,
        })
        .collect()
}

fn tls_established(attempt: &Attempt) -> bool {
    attempt
        .events
        .iter()
        .any(|e| matches!(e.what, EventKind::TlsEstablished { .. }))
}

fn certificate(attempt: &Attempt) -> Option<&crate::probe::x509::CertificateInfo> {
    attempt.events.iter().find_map(|e| match &e.what {
        EventKind::Certificate(info) => Some(info),
        _ => None,
    })
}

/// Whether the server offered STARTTLS (SMTP) or STLS (POP3).
fn offers_upgrade(lines: &[&str]) -> bool {
    lines.iter().any(|line| {
        // IMAP lists capabilities on one line: `* CAPABILITY ... STARTTLS`,
        // or in the greeting's `[CAPABILITY ...]`.
        if line.starts_with("* ") && line.contains("CAPABILITY") {
            return line
                .split(|c: char| c.is_whitespace() || c == ']')
                .any(|w| w.eq_ignore_ascii_case("STARTTLS"));
        }
        let word = line.get(4..).unwrap_or(line).split_whitespace().next();
        let bare = line.split_whitespace().next();
        [word, bare]
            .iter()
            .flatten()
            .any(|w| w.eq_ignore_ascii_case("STARTTLS") || w.eq_ignore_ascii_case("STLS"))
    })
}

/// The host name a greeting gives (`220 mx.example ESMTP`, `+OK mx.example`).
fn greeting_host(line: &str) -> Option<String> {
    let name = line.split_whitespace().nth(1)?;
    (name.contains('.') && !crate::probe::is_address(name))
        .then(|| name.trim_end_matches('.').to_ascii_lowercase())
}

/// The SASL mechanisms of the last EHLO reply that listed any.
fn auth_mechanisms(lines: &[&str]) -> Option<Vec<String>> {
    let mut found = None;
    for line in lines {
        let text = line.get(4..).unwrap_or("").to_ascii_uppercase();
        if let Some(rest) = text
            .strip_prefix("AUTH ")
            .or_else(|| text.strip_prefix("AUTH="))
        {
            found = Some(rest.split_whitespace().map(str::to_string).collect());
        }
    }
    found
}

fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_string())
}

/// Infers the world from one attempt.
fn observe(world: &mut World, attempt: &Attempt, protocol: Protocol, cause: &str) {
    // The connection after a refused login tells only whether the address
    // was banned; the earlier failures are not in the report, so the one
    // the probe saw bans.
    if attempt.purpose == Purpose::AfterRefusedLogin {
        let action = match attempt.failure() {
            Some((Step::Connect, Failure::Refused)) => "reject",
            Some((Step::Connect, Failure::TimedOut { .. })) => "drop",
            _ => return,
        };
        let host = world.behind(&attempt.endpoint.host);
        world.host(&host).fail2ban = Some(format!("{{ maxretry: 1, action: {action} }}"));
        return;
    }
    // A local proxy answered the configured session: the proxy, named as
    // its greeting names itself.
    if cause == "antivirus-answers-for-server" && attempt.purpose == Purpose::Configured {
        let greeting = attempt.greeting().unwrap_or("");
        let words = greeting.get(4..).unwrap_or("");
        let product = words
            .split_once(' ')
            .map_or("antivirus", |(_, rest)| rest)
            .trim_end_matches(" SMTP proxy ready")
            .trim();
        let port = attempt.endpoint.port;
        world.rule(
            true,
            format!(
                "{{ port: {port}, intercept: answering-scanner, product: {} }}",
                quote(if product.is_empty() {
                    "antivirus"
                } else {
                    product
                })
            ),
        );
        return;
    }
    // A proxy relayed the configured session and hid the streaming
    // extensions: a holding scanner on that port, and the server behind it.
    if cause == "antivirus-holds-message" && attempt.purpose == Purpose::Configured {
        let port = attempt.endpoint.port;
        world.rule(
            true,
            format!("{{ port: {port}, intercept: holding-scanner }}"),
        );
    }
    // A server that greets as this machine (`220 localhost ...`) does so
    // in the recorded world too, where the probe checks its other port.
    if protocol == Protocol::Smtp && attempt.greeted_from_this_machine() {
        if let Some(greeting) = attempt.greeting() {
            let host = world.behind(&attempt.endpoint.host);
            world.host(&host).set(protocol, "greeting", quote(greeting));
        }
    }
    let host = world.behind(&attempt.endpoint.host);
    let port = attempt.endpoint.port;
    let security = attempt.endpoint.security;
    let lines = received(attempt);
    let wanted_mode = match security {
        Security::None => "plain",
        Security::StartTls => "starttls",
        Security::Tls => "tls",
    };
    let plain_mode = if offers_upgrade(&lines) {
        "starttls"
    } else {
        "plain"
    };
    let failure = attempt.failure();
    // An IPv6 address that failed while IPv4 was tried next.
    for event in &attempt.events {
        match &event.what {
            EventKind::Resolved(addresses) if addresses.iter().any(|a| a.contains(':')) => {
                world.host(&host).ipv6 = true;
            }
            EventKind::ConnectFailed { address, failure } if address.starts_with('[') => {
                let action = match failure {
                    Failure::Refused => "reject",
                    Failure::Reset => "reset",
                    _ => "drop",
                };
                world.rule(
                    false,
                    format!("{{ to: {host}, family: ipv6, action: {action} }}"),
                );
            }
            _ => {}
        }
    }
    // Port 25 answered by another host than the host's other ports: a
    // transparent redirect. (An address greeted by its server's name is not.)
    if let Some(other) = lines.first().and_then(|g| greeting_host(g)) {
        let elsewhere = world
            .greeted_elsewhere
            .get(&host)
            .cloned()
            .unwrap_or_default();
        if port == 25
            && other != host
            && !elsewhere.contains(&other)
            && attempt.purpose != Purpose::Control
            && cause.contains("port-25")
        {
            world.host(&host);
            world.rule(
                false,
                format!("{{ to: {host}, port: {port}, redirect: {other} }}"),
            );
            world.serve(protocol, &other, port, plain_mode);
            return;
        }
    }
    match failure {
        Some((Step::Resolve, Failure::NoDnsAnswer)) => {
            // No answer at once is a failing resolver; after a wait, a dead one.
            let (start, end) = attempt.span();
            let waited = end.saturating_sub(start) > std::time::Duration::from_millis(500);
            world.resolver = Some(if waited { "down" } else { "fails" });
            world.host(&host);
            return;
        }
        Some((Step::Resolve | Step::Connect, Failure::NetworkUnreachable)) => {
            world.host(&host);
            world.rule(true, "{ action: no-route }".to_string());
            return;
        }
        Some((Step::Resolve, _)) => return,
        Some((Step::Connect, Failure::TimedOut { .. })) => {
            world.host(&host);
            world.rule(
                false,
                format!("{{ to: {host}, port: {port}, action: drop }}"),
            );
            return;
        }
        Some((Step::Connect, Failure::Refused)) => {
            world.host(&host);
            if cause == "outbound-port-25-blocked" || cause == "connection-refused" {
                world.rule(
                    false,
                    format!("{{ to: {host}, port: {port}, action: reject }}"),
                );
            }
            return;
        }
        Some((Step::Connect, Failure::HostUnreachable)) => {
            world.host(&host);
            world.rule(
                false,
                format!("{{ to: {host}, port: {port}, action: unreachable }}"),
            );
            return;
        }
        Some((_, Failure::Reset)) if lines.is_empty() => {
            world.host(&host);
            world.rule(
                false,
                format!("{{ to: {host}, port: {port}, action: reset }}"),
            );
            return;
        }
        Some((Step::Greeting, Failure::Closed { received: 0 })) => {
            // Accepted, then closed with no greeting: a local scanner whose
            // own connection onward went nowhere.
            world.host(&host);
            world.rule(true, format!("{{ port: {port}, intercept: mail-scanner }}"));
            world.rule(
                false,
                format!("{{ to: {host}, port: {port}, action: drop }}"),
            );
            return;
        }
        Some((Step::Greeting, Failure::TimedOut { partial, .. }))
            if partial.is_empty() && lines.is_empty() =>
        {
            if cause == "slow-greeting" {
                world.serve(protocol, &host, port, "plain");
                world
                    .host(&host)
                    .set(protocol, "greeting_delay", "600s".into());
            } else {
                world.serve(protocol, &host, port, "tls");
            }
            return;
        }
        Some((
            Step::Greeting,
            refusal
            @ (Failure::Reply { .. } | Failure::PopError { .. } | Failure::ImapError { .. }),
        )) => {
            let greeting = match refusal {
                Failure::Reply { code, text } => format!("{code} {text}"),
                Failure::PopError { text } => format!("-ERR {text}"),
                Failure::ImapError { status, text } => format!("{status} {text}"),
                _ => String::new(),
            };
            let mode = wanted_mode_for_plain(security, plain_mode);
            world.serve(protocol, &host, port, mode);
            world
                .host(&host)
                .set(protocol, "greeting", quote(&greeting));
            return;
        }
        Some((Step::Greeting, Failure::Garbage { bytes })) => {
            let other = if bytes.starts_with(b"+OK") || bytes.starts_with(b"-ERR") {
                Some(Protocol::Pop3)
            } else if bytes.starts_with(b"220") {
                Some(Protocol::Smtp)
            } else {
                None
            };
            if let Some(other) = other.filter(|o| *o != protocol) {
                world.serve(other, &host, port, "plain");
            }
            return;
        }
        Some((Step::TlsHandshake, Failure::Tls(tls))) => {
            observe_tls(world, attempt, protocol, tls, cause, plain_mode);
            return;
        }
        _ => {}
    }
    // The server answered: the port's mode is what worked.
    let mode = if tls_established(attempt) {
        wanted_mode
    } else if security == Security::Tls {
        "tls"
    } else {
        plain_mode
    };
    if cause == "starttls-stripped" && security == Security::StartTls && !tls_established(attempt) {
        world.serve(protocol, &host, port, "starttls");
        world.rule(
            true,
            format!("{{ port: {port}, intercept: starttls-stripper }}"),
        );
    } else if cause == "esmtp-inspection" && attempt.purpose == Purpose::Configured {
        world.serve(protocol, &host, port, mode);
        world.rule(
            true,
            format!("{{ port: {port}, intercept: esmtp-inspection }}"),
        );
    } else {
        world.serve(protocol, &host, port, mode);
    }
    if attempt.purpose == Purpose::Control {
        return;
    }
    // The mechanisms any attempt saw listed; an EHLO reply without AUTH
    // in every attempt means the server offers none.
    let ehlo_answered = lines.iter().skip(1).any(|l| l.starts_with("250"));
    if protocol == Protocol::Smtp && ehlo_answered {
        let seen = world.host(&host);
        match auth_mechanisms(&lines) {
            Some(mechanisms) if !mechanisms.is_empty() => seen.auth = Some(Some(mechanisms)),
            _ if seen.auth.is_none() => seen.auth = Some(None),
            _ => {}
        }
    }
    // A login too soon after another: the refusal as worded (the earlier
    // login is not in the report), and the delay CAPA listed.
    if cause == "login-too-soon" {
        let listed = lines
            .iter()
            .find_map(|line| crate::probe::pop3::login_delay(line));
        if let Some(seconds) = listed {
            world
                .host(&host)
                .set(protocol, "login_delay", format!("{seconds}s"));
        }
    }
    // A provider's refusal of the right password, as it was worded (the
    // other clients' sessions behind a connection limit are not in the
    // report: the refusal stands for them).
    if matches!(
        cause,
        "app-password-required" | "basic-auth-disabled" | "login-too-soon" | "too-many-connections"
    ) {
        let refusal = match failure {
            Some((Step::Auth, Failure::Reply { code, text })) => Some(format!("{code} {text}")),
            Some((Step::Pass, Failure::PopError { text })) => Some(text.clone()),
            Some((Step::Auth, Failure::ImapError { text, .. })) => Some(text.clone()),
            _ => None,
        };
        if let Some(refusal) = refusal {
            world
                .host(&host)
                .set(protocol, "refuse_logins", quote(&refusal));
            return;
        }
    }
    // A block list's refusal of a client that did not log in, as worded.
    if let (
        "client-address-blocklisted",
        Some((Step::MailFrom | Step::RcptTo, Failure::Reply { code, text })),
    ) = (cause, failure)
    {
        world.host(&host).set(
            protocol,
            "refuse_unauthenticated",
            quote(&format!("{code} {text}")),
        );
        return;
    }
    // IMAP and POP3 mechanisms, when none took a password (only OAuth).
    if let Some((Step::Auth, Failure::NotOffered { .. })) = failure {
        let listed: std::collections::BTreeSet<String> = match protocol {
            Protocol::Imap if !lines.iter().any(|l| l.contains("LOGINDISABLED")) => lines
                .iter()
                .flat_map(|line| crate::probe::imap::auth_mechanisms(line))
                .collect(),
            Protocol::Pop3 => lines
                .iter()
                .flat_map(|line| crate::probe::pop3::sasl_mechanisms(line))
                .collect(),
            _ => Default::default(),
        };
        if !listed.is_empty() {
            let listed: Vec<String> = listed.into_iter().collect();
            world
                .host(&host)
                .set(protocol, "auth", format!("[{}]", listed.join(", ")));
            return;
        }
    }
    match failure {
        Some((Step::Auth, Failure::Reply { code: 535, .. }))
        | Some((Step::Pass, Failure::PopError { .. }))
        | Some((Step::Auth, Failure::ImapError { .. }))
            if cause == "auth-failed" || cause == "client-address-banned" =>
        {
            world.user_password = OTHER_PASSWORD.to_string();
        }
        Some((Step::Pass, Failure::PopError { text })) if text.contains("IN-USE") => {
            world.user_locked = true;
        }
        Some((Step::Examine, Failure::ImapError { text, .. })) if text.contains("[INUSE]") => {
            world.user_locked = true;
        }
        Some((Step::Auth, Failure::NotOffered { what })) if what.contains("LOGINDISABLED") => {
            world
                .host(&host)
                .set(protocol, "login_disabled", "true".into());
        }
        Some((Step::Auth, Failure::ImapError { text, .. })) => {
            // A refusal of the right password (a provider's policy).
            world
                .host(&host)
                .set(protocol, "refuse_logins", quote(text));
        }
        Some((Step::Auth, Failure::Reply { code: 530, .. })) => {
            let seen = world.host(&host);
            seen.set(protocol, "auth_before_tls", "hidden".into());
            // Hidden before TLS: what it offers after is not known.
            seen.auth_hidden = true;
        }
        Some((Step::Auth, Failure::Reply { code: 538, .. })) => {
            world
                .host(&host)
                .set(protocol, "auth_before_tls", "encryption-required".into());
        }
        Some((Step::MailFrom, Failure::Reply { code: 553, .. })) => {
            world
                .host(&host)
                .set(protocol, "sender_must_match_login", "true".into());
            world.other_address = true;
        }
        Some((Step::MailFrom, Failure::Reply { code: 530, .. })) => {
            world
                .host(&host)
                .set(protocol, "relay", "auth-required".into());
        }
        // An outside recipient accepted from a client that did not log in
        // (and did not check mail first): an open relay.
        None if protocol == Protocol::Smtp
            && attempt.purpose != Purpose::AfterPop3Login
            && sent(attempt, "RCPT TO:")
            && !sent(attempt, "AUTH ") =>
        {
            world.host(&host).set(protocol, "relay", "open".into());
        }
        Some((Step::User, Failure::PopError { .. })) => {
            world
                .host(&host)
                .set(protocol, "reject_unknown_users", "true".into());
            world.other_user = true;
        }
        _ => {}
    }
}

impl Host {
    /// Sets `key: value` on the host's server for `protocol`, once.
    fn set(&mut self, protocol: Protocol, key: &str, value: String) {
        let extra = match protocol {
            Protocol::Smtp => &mut self.smtp_extra,
            Protocol::Pop3 => &mut self.pop3_extra,
            Protocol::Imap => &mut self.imap_extra,
        };
        let prefix = format!("{key}:");
        if !extra.iter().any(|e| e.starts_with(&prefix)) {
            extra.push(format!("{key}: {value}"));
        }
    }
}

/// What a captive portal showed: TLS answered with its certificate (its
/// web server speaks TLS there), or connections dropped or refused.
fn observe_portal(world: &mut World, attempt: &Attempt) {
    let portal = world.behind(&attempt.endpoint.host);
    let port = attempt.endpoint.port;
    match attempt.failure() {
        Some((Step::Connect, Failure::TimedOut { .. })) => {
            world.rule(
                false,
                format!("{{ to: {portal}, port: {port}, action: drop }}"),
            );
        }
        Some((Step::TlsHandshake, Failure::Tls(TlsFailure::Certificate(_)))) => {
            world.host(&portal).web.insert(port, "tls");
        }
        _ => {}
    }
}

/// Link faults the configured attempt shows, for every connection to the
/// account's host: a slow connect (latency), a reset or stall after the
/// bytes that arrived, a close after a delay, a trickle (bandwidth).
fn link_faults(world: &mut World, attempt: &Attempt, host: &str) {
    // A TLS flight in equal bursts a round trip apart: the window and the
    // round trip that paced it.
    if let Some((_, window, round_trip)) = crate::diagnose::cut_down_window(attempt) {
        world.path.push(format!(
            "{{ to: {host}, link: {{ latency: {}ms, window: {window} }} }}",
            round_trip.as_millis()
        ));
        return;
    }
    if tls_established(attempt) {
        return;
    }
    let time_of = |wanted: fn(&EventKind) -> bool| {
        attempt
            .events
            .iter()
            .find(|e| wanted(&e.what))
            .map(|e| e.at)
    };
    let resolved = time_of(|k| matches!(k, EventKind::Resolved(_)));
    let connected = time_of(|k| matches!(k, EventKind::Connected(_)));
    let (_, end) = attempt.span();
    let lines = received(attempt);
    let bytes: usize = lines.iter().map(|l| l.len() + 2).sum();
    let mut faults = Vec::new();
    if let (Some(resolved), Some(connected)) = (resolved, connected) {
        let latency = connected.saturating_sub(resolved);
        if latency >= std::time::Duration::from_secs(1) {
            faults.push(format!("latency: {}ms", latency.as_millis()));
        }
    }
    let since_connect = connected.map(|c| end.saturating_sub(c));
    match attempt.failure() {
        // A handshake that got nothing back on an open connection: the
        // certificate flight lost on a path that drops large packets.
        Some((Step::TlsHandshake, Failure::TimedOut { partial, .. })) if partial.is_empty() => {
            faults.push("max_packet: 1400".to_string());
        }
        Some((step, Failure::Reset)) if step != Step::Connect && bytes > 0 => {
            faults.push(format!("reset_after: {bytes}"));
        }
        Some((
            _,
            Failure::TimedOut {
                partial, silent, ..
            },
        )) if bytes > 0 => {
            let total = bytes + partial.len();
            if !partial.is_empty() && *silent < std::time::Duration::from_secs(10) {
                let millis = since_connect.map_or(1000, |d| d.as_millis().max(1));
                let rate = ((total as u128 * 1000 + millis / 2) / millis).max(1);
                faults.push(format!("bandwidth: {rate}"));
            } else {
                faults.push(format!("stall_after: {total}"));
            }
        }
        Some((_, Failure::Closed { .. })) if bytes > 0 => {
            // A long silence before the close: the data had stopped.
            let last = attempt
                .events
                .iter()
                .rev()
                .find(|e| matches!(e.what, EventKind::Received(_)))
                .map_or(end, |e| e.at);
            if end.saturating_sub(last) >= std::time::Duration::from_secs(10) {
                faults.push(format!("stall_after: {bytes}"));
            }
            if let Some(after) = since_connect {
                faults.push(format!("close_after: {}ms", after.as_millis()));
            }
        }
        _ => {}
    }
    if !faults.is_empty() {
        let rule = format!("{{ to: {host}, link: {{ {} }} }}", faults.join(", "));
        if !world.path.contains(&rule) {
            world.path.push(rule);
        }
    }
}

/// The mode of a port that answered in plaintext to a client that wanted it.
fn wanted_mode_for_plain(security: Security, plain_mode: &'static str) -> &'static str {
    match security {
        Security::Tls => "tls",
        _ => plain_mode,
    }
}

fn observe_tls(
    world: &mut World,
    attempt: &Attempt,
    protocol: Protocol,
    failure: &TlsFailure,
    cause: &str,
    plain_mode: &'static str,
) {
    let host = world.behind(&attempt.endpoint.host);
    let port = attempt.endpoint.port;
    let mode = if attempt.endpoint.security == Security::Tls {
        "tls"
    } else {
        "starttls"
    };
    match failure {
        TlsFailure::NotTls { .. } => world.serve(protocol, &host, port, plain_mode),
        TlsFailure::Closed { received: 0 } => {
            world.serve(protocol, &host, port, mode);
            world.rule(true, format!("{{ port: {port}, intercept: mail-scanner }}"));
        }
        TlsFailure::Alert(alert) if alert == "ProtocolVersion" => {
            world.serve(protocol, &host, port, mode);
            world.host(&host).legacy_tls = true;
        }
        TlsFailure::Alert(alert) if alert == "HandshakeFailure" => {
            world.serve(protocol, &host, port, mode);
            world.host(&host).weak_tls = true;
        }
        TlsFailure::Certificate(why) => {
            world.serve(protocol, &host, port, mode);
            let info = certificate(attempt);
            let entry = if why == reason::UNKNOWN_ISSUER {
                match info {
                    Some(info) if cause == "tls-intercepted-by-antivirus" => {
                        world.rule(
                            true,
                            format!(
                                "{{ port: {port}, intercept: resigning-scanner, issuer: {} }}",
                                quote(&info.issuer)
                            ),
                        );
                        None
                    }
                    Some(info) if info.missing_intermediate.is_some() => {
                        Some("intermediate: missing".to_string())
                    }
                    Some(info) if info.self_signed => Some("self_signed: true".to_string()),
                    Some(info) => {
                        // A root a current store holds and the client's lacks
                        // (what the client's holds is not known), or one
                        // current stores removed.
                        let roots = [
                            (&info.current_root, ""),
                            (&info.distrusted_root, ", distrusted: true"),
                        ];
                        for (root, distrusted) in roots {
                            let Some(root) = root else { continue };
                            let entry = format!("{{ name: {}{distrusted} }}", quote(root));
                            if !world.roots.contains(&entry) {
                                world.roots.push(entry);
                            }
                        }
                        if info.current_root.is_some() {
                            world.client_trust = Some(Vec::new());
                        }
                        Some(format!("issuer: {}", quote(&info.issuer)))
                    }
                    None => Some("self_signed: true".to_string()),
                }
            } else if why == reason::EXPIRED || why == reason::NOT_YET_VALID {
                Some("expired: true".to_string())
            } else if why == reason::WRONG_NAME {
                let names = info.map(|i| i.names.clone()).unwrap_or_default();
                let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
                Some(format!("names: [{}]", names.join(", ")))
            } else {
                None
            };
            if let Some(entry) = entry {
                // Without SNI the client saw the server's default certificate.
                let default = cause == "sni-required" && attempt.purpose != Purpose::ServerName;
                let seen = world.host(&host);
                let certificate = if default {
                    &mut seen.without_sni
                } else {
                    &mut seen.certificate
                };
                if !certificate.contains(&entry) {
                    certificate.push(entry);
                }
            }
        }
        _ => world.serve(protocol, &host, port, mode),
    }
}

/// The scenario (YAML text) that reproduces `report`. `origin` names where
/// the report came from, for the header comment.
pub fn record(report: &Report, origin: &str) -> String {
    let options = &report.options;
    let protocol = options.protocol();
    let cause = report.diagnosis.cause.as_str();
    let mut world = World {
        user_password: RECORDED_PASSWORD.to_string(),
        ..World::default()
    };
    let account_host = options.endpoint.host.to_ascii_lowercase();
    let portal = report
        .observed
        .canary
        .as_ref()
        .is_some_and(|a| !a.is_empty());
    if portal {
        // Every name resolves to the portal: it answers for the account's
        // host, with its own certificate where it speaks TLS.
        let name = report
            .observed
            .attempts()
            .filter_map(certificate)
            .find_map(|c| c.names.first().cloned())
            .unwrap_or_else(|| "portal.recorded.example".to_string());
        world.aliases.insert("*".into(), name.clone());
        world.host(&name).web.insert(80, "plain");
        world.dns.push(format!("\"*\": {name}"));
    } else if cause == "dns-wrong-host" {
        let configured = &report.observed.configured;
        let other = received(configured)
            .first()
            .and_then(|g| greeting_host(g))
            .or_else(|| certificate(configured).and_then(|c| c.names.first().cloned()))
            .filter(|g| *g != account_host);
        if let Some(other) = other {
            world.aliases.insert(account_host.clone(), other.clone());
            world.dns.push(format!("{account_host}: {other}"));
        }
    }
    link_faults(&mut world, &report.observed.configured, &account_host);
    for attempt in report.observed.attempts() {
        let greeted = received(attempt).first().and_then(|g| greeting_host(g));
        if let (Some(name), true) = (greeted, attempt.endpoint.port != 25) {
            let host = world.behind(&attempt.endpoint.host);
            world.greeted_elsewhere.entry(host).or_default().push(name);
        }
    }
    for attempt in report.observed.attempts() {
        if portal {
            observe_portal(&mut world, attempt);
        } else {
            // A POP-before-SMTP check's login speaks POP3 in an SMTP report.
            observe(&mut world, attempt, attempt.endpoint.protocol, cause);
        }
    }
    // The POP3 login of a POP-before-SMTP check: the client's POP3 account.
    let pop3_login = report
        .observed
        .check(Purpose::AfterPop3Login)
        .filter(|a| a.endpoint.protocol == Protocol::Pop3);
    let pop3_user = pop3_login.and_then(|login| {
        login.events.iter().find_map(|e| match &e.what {
            EventKind::Sent(line) => line.strip_prefix("USER ").map(str::to_string),
            _ => None,
        })
    });
    if cause == "pop-before-smtp" {
        world
            .host(&account_host)
            .set(Protocol::Smtp, "pop_before_smtp", "600s".into());
    }
    for control in &options.controls {
        world.host(control);
    }
    // The account's own host exists unless its name did not resolve, or
    // resolves to another.
    let unresolved = matches!(
        report.observed.configured.failure(),
        Some((Step::Resolve, Failure::NameNotFound))
    );
    if unresolved || world.behind(&account_host) != account_host {
        world.hosts.shift_remove(&account_host);
    }
    let mut out = String::new();
    let _ = writeln!(out, "# Recorded by `mailprobe record` from {origin}");
    let _ = writeln!(
        out,
        "# ({}, probed at {}). The world reproduces what the probe observed on the wire;",
        report.tool, report.clock
    );
    let _ = writeln!(
        out,
        "# passwords are placeholders. See docs/report-format.md."
    );
    let _ = writeln!(
        out,
        "name: {}",
        quote(&format!(
            "Recorded: {} on {} {}:{}",
            report.diagnosis.cause,
            protocol.name(),
            options.endpoint.host,
            options.endpoint.port
        ))
    );
    out.push_str("story: |\n");
    for line in &report.diagnosis.evidence {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(out, "clock: {}", report.clock);
    out.push_str("world:\n  hosts:\n");
    if world.hosts.is_empty() {
        out.push_str("    {}\n");
    }
    // The account's server serves the user's mail domain, whatever its
    // own name (an address, another domain).
    let serving = world.behind(&account_host);
    let user_domain = options
        .from
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase());
    for (name, host) in &world.hosts {
        let _ = writeln!(out, "    {name}:");
        let mut wrote = false;
        // (Not where the name led elsewhere: that host does not know the user.)
        let own = *name == serving && serving == account_host;
        if let Some(domain) = user_domain.as_ref().filter(|_| own) {
            if options.user.is_some()
                && mock_mail_servers::smtp::session::parent_domain(name) != *domain
            {
                let _ = writeln!(out, "      domains: [{domain}]");
                wrote = true;
            }
        }
        for (label, ports, extra) in [
            ("smtp", &host.smtp, &host.smtp_extra),
            ("pop3", &host.pop3, &host.pop3_extra),
            ("imap", &host.imap, &host.imap_extra),
            ("web", &host.web, &Vec::new()),
        ] {
            if ports.is_empty() {
                continue;
            }
            let ports: Vec<String> = ports.iter().map(|(p, m)| format!("{p}: {m}")).collect();
            let mut fields = vec![format!("ports: {{ {} }}", ports.join(", "))];
            if label == "smtp" && !host.auth_hidden {
                if let Some(auth) = &host.auth {
                    let listed = auth.clone().unwrap_or_default();
                    fields.push(format!("auth: [{}]", listed.join(", ")));
                }
            }
            fields.extend(extra.iter().cloned());
            let _ = writeln!(out, "      {label}: {{ {} }}", fields.join(", "));
            wrote = true;
        }
        for (key, entries) in [
            ("certificate", &host.certificate),
            ("without_sni", &host.without_sni),
        ] {
            if !entries.is_empty() {
                let _ = writeln!(out, "      {key}: {{ {} }}", entries.join(", "));
                wrote = true;
            }
        }
        if host.legacy_tls {
            out.push_str("      legacy_tls: true\n");
            wrote = true;
        }
        if host.weak_tls {
            out.push_str("      weak_tls: true\n");
            wrote = true;
        }
        if host.ipv6 {
            out.push_str("      ipv6: true\n");
            wrote = true;
        }
        if let Some(jail) = &host.fail2ban {
            let _ = writeln!(out, "      fail2ban: {jail}");
            wrote = true;
        }
        if !wrote {
            out.push_str("      domains: []\n");
        }
    }
    if let Some(user) = options.user.as_ref().or(pop3_user.as_ref()) {
        let domain = options
            .from
            .rsplit_once('@')
            .map_or("recorded.example", |(_, d)| d);
        let address = if world.other_address {
            format!("someone-else@{domain}")
        } else {
            options.from.clone()
        };
        let login = if world.other_user {
            format!("{user}@{domain}")
        } else {
            user.clone()
        };
        let _ = writeln!(
            out,
            "  users:\n    - {{ user: {}, password: {}, address: {}{} }}",
            quote(&login),
            quote(&world.user_password),
            quote(&address),
            if world.user_locked {
                ", mailbox_locked: true"
            } else {
                ""
            }
        );
    }
    if !world.local.is_empty() || !world.isp.is_empty() || !world.path.is_empty() {
        out.push_str("  network:\n");
        for (layer, rules) in [
            ("local", &world.local),
            ("isp", &world.isp),
            ("path", &world.path),
        ] {
            if rules.is_empty() {
                continue;
            }
            let _ = writeln!(out, "    {layer}:");
            for rule in rules {
                let _ = writeln!(out, "      - {rule}");
            }
        }
    }
    if let Some(resolver) = world.resolver {
        let _ = writeln!(out, "  resolver: {resolver}");
    }
    if !world.roots.is_empty() {
        out.push_str("  roots:\n");
        for root in &world.roots {
            let _ = writeln!(out, "    - {root}");
        }
    }
    if !world.dns.is_empty() {
        out.push_str("  dns:\n");
        for entry in &world.dns {
            let _ = writeln!(out, "    {entry}");
        }
    }
    out.push_str("client:\n");
    let _ = writeln!(out, "  emulate: {}", options.emulate);
    if let Some(trust) = &world.client_trust {
        let names: Vec<String> = trust.iter().map(|n| quote(n)).collect();
        let _ = writeln!(out, "  trust: [{}]", names.join(", "));
    }
    if !options.controls.is_empty() {
        let _ = writeln!(out, "  control: [{}]", options.controls.join(", "));
    }
    if let Some(clock) = &options.client_clock {
        let _ = writeln!(out, "  clock: {clock}");
    }
    if let Some(max_tls) = &options.max_tls {
        let _ = writeln!(out, "  max_tls: {}", quote(max_tls));
    }
    if !options.sni {
        out.push_str("  sni: false\n");
    }
    let _ = writeln!(
        out,
        "  timeouts: {{ connect: {}ms, reply: {}ms, deadline: {}ms }}",
        options.connect_timeout_ms, options.reply_timeout_ms, options.deadline_ms
    );
    let mut account = vec![
        format!("host: {}", options.endpoint.host),
        format!("port: {}", options.endpoint.port),
        format!("security: {}", options.endpoint.security.name()),
    ];
    if let Some(user) = &options.user {
        account.push(format!("user: {}", quote(user)));
        account.push(format!("password: {}", quote(RECORDED_PASSWORD)));
    }
    if protocol == Protocol::Smtp {
        account.push(format!("from: {}", quote(&options.from)));
        account.push(format!("rcpt: {}", quote(&options.rcpt)));
        if let Some(size) = options.message_size {
            account.push(format!("message_size: {size}"));
        }
    }
    let _ = writeln!(out, "  {}: {{ {} }}", protocol.name(), account.join(", "));
    if let (Some(login), Some(user)) = (pop3_login, &pop3_user) {
        let _ = writeln!(
            out,
            "  pop3: {{ host: {}, port: {}, security: {}, user: {}, password: {} }}",
            login.endpoint.host,
            login.endpoint.port,
            login.endpoint.security.name(),
            quote(user),
            quote(RECORDED_PASSWORD)
        );
    }
    out.push_str("expect:\n");
    let mut expect = vec![format!(
        "outcome: {}",
        if report.observed.configured.is_ok() {
            "ok"
        } else {
            "fail"
        }
    )];
    if let Some(error) = &report.client_error {
        expect.push(format!("client_error: {}", quote(&error.code)));
    }
    expect.push(format!("diagnosis: {}", report.diagnosis.cause));
    if let Some(suggestion) = &report.diagnosis.suggestion {
        expect.push(format!(
            "suggest: {{ port: {}, security: {} }}",
            suggestion.port,
            suggestion.security.name()
        ));
    }
    let _ = writeln!(out, "  {}: {{ {} }}", protocol.name(), expect.join(", "));
    out
}
