//! Checks that serde cannot express: references between parts of a scenario,
//! known cause ids, one probe form. Each problem points at the text it is about.

use std::collections::BTreeSet;

use super::load::nearest;
use super::model::{
    ActionName, ClientName, ClientSpec, Expectations, MiddleboxName, Port, Scenario,
};
use crate::diagnose::{Cause, ClientKind};

/// A problem found after parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line of the text the problem is about, when found.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
    /// What is wrong and what to do.
    pub message: String,
}

/// Checks a parsed scenario; `source` is its text, to locate problems.
pub fn validate(scenario: &Scenario, source: &str) -> Result<(), Problem> {
    let problem = |needle: &str, message: String| {
        let (line, column) = locate(source, needle).unzip();
        Err(Problem {
            line,
            column,
            message,
        })
    };
    // At `needle`, found after each of `anchors` in turn.
    let problem_after = |anchors: &[&str], needle: &str, message: String| {
        let (line, column) = locate_after(source, anchors, needle).unzip();
        Err(Problem {
            line,
            column,
            message,
        })
    };
    let mut root_names = std::collections::BTreeSet::new();
    for root in &scenario.world.roots {
        let name = root.name.trim();
        if name.is_empty() || name == crate::harness::world::WORLD_CA_NAME {
            return problem(
                "roots:",
                format!("world `roots`: `{name}` cannot name a public root; give each its own name, such as \"ISRG Root X1\" (the world's own root, \"{}\", is always there)", crate::harness::world::WORLD_CA_NAME),
            );
        }
        if !root_names.insert(name) {
            return problem(
                name,
                format!("world `roots`: `{name}` is listed twice; list each root once"),
            );
        }
    }
    let hosts: Vec<&str> = scenario.world.hosts.keys().map(String::as_str).collect();
    if hosts.len() > crate::net::sim::MAX_HOSTS {
        let extra = hosts
            .get(crate::net::sim::MAX_HOSTS)
            .copied()
            .unwrap_or("hosts:");
        return problem(
            extra,
            format!(
                "the world has {} hosts; a simulated world holds at most {}",
                hosts.len(),
                crate::net::sim::MAX_HOSTS
            ),
        );
    }

    for (name, host) in &scenario.world.hosts {
        if !is_host_name(name) {
            return problem(
                name,
                format!("`{name}` is not a valid host name (letters, digits, '-' and '.')"),
            );
        }
        let certificates = || host.certificate.iter().chain(host.without_sni.iter());
        if let Some(mixed) = certificates()
            .find(|c| c.intermediate.is_some() && (c.issuer.is_some() || c.self_signed))
        {
            let what = if mixed.self_signed {
                "self_signed"
            } else {
                "issuer"
            };
            return problem(
                name,
                format!("host `{name}`: `intermediate` chains the certificate to the world's root, which `{what}` replaces; keep one of the two"),
            );
        }
        let other_names = certificates()
            .flat_map(|c| c.names.iter().flatten())
            .chain(host.domains.iter());
        for other in other_names {
            if !is_host_name(other) {
                return problem(other, format!("host `{name}`: `{other}` is not a valid domain name (letters, digits, '-' and '.')"));
            }
        }
        let services = [
            ("SMTP", host.smtp.as_ref().map(|s| &s.ports)),
            ("POP3", host.pop3.as_ref().map(|p| &p.ports)),
            ("IMAP", host.imap.as_ref().map(|i| &i.ports)),
        ];
        let web = host.web.as_ref().map(|w| w.ports.keys());
        let mut taken: Vec<(Port, &str)> = web.into_iter().flatten().map(|p| (*p, "web")).collect();
        for (service, ports) in services {
            for port in ports.into_iter().flat_map(|p| p.keys()) {
                if let Some((_, other)) = taken.iter().find(|(p, _)| p == port) {
                    return problem(
                        name,
                        format!("host `{name}` has both {other} and {service} on port {port}; one port serves one protocol"),
                    );
                }
                taken.push((*port, service));
            }
        }
        let mechanisms = [
            host.smtp.as_ref().map(|s| &s.auth),
            host.pop3.as_ref().map(|p| &p.auth),
            host.imap.as_ref().map(|i| &i.auth),
        ];
        if let Some(bad) = mechanisms
            .into_iter()
            .flatten()
            .flatten()
            .find(|m| !is_mechanism_name(m))
        {
            return problem(
                bad,
                format!("host `{name}`: `{bad}` is not a login mechanism name (1 to 20 letters, digits, '-' and '_', as PLAIN or XOAUTH2)"),
            );
        }
    }

    let mut users = BTreeSet::new();
    for user in &scenario.world.users {
        if !users.insert(user.user.as_str()) {
            return problem(&user.user, format!("user `{}` is listed twice", user.user));
        }
        if !user.address.contains('@') {
            return problem(
                &user.address,
                format!(
                    "address `{}` of user `{}` has no '@'",
                    user.address, user.user
                ),
            );
        }
    }

    for (layer, rules) in &scenario.world.network {
        for (index, rule) in rules.iter().enumerate() {
            let at = format!("rule {} of network layer `{layer}`", index + 1);
            let chosen = [
                rule.action.is_some(),
                rule.redirect.is_some(),
                rule.intercept.is_some(),
            ]
            .iter()
            .filter(|set| **set)
            .count();
            if chosen > 1 {
                return problem(layer, format!("{at} has more than one of `action`, `redirect` and `intercept`; a rule does one thing"));
            }
            if chosen == 0 && rule.link.is_none() {
                return problem(layer, format!("{at} needs `action: allow|drop|reject|reset|unreachable|no-route`, `redirect: HOST`, `intercept: MIDDLEBOX` or `link: {{...}}`"));
            }
            let passes = matches!(rule.action, None | Some(ActionName::Allow))
                && rule.redirect.is_none()
                && rule.intercept.is_none();
            if rule.link.as_ref().and_then(|l| l.bandwidth) == Some(0) {
                return problem_after(&[layer.as_str()], "bandwidth", format!("{at}: `bandwidth: 0` would let nothing through; give bytes per second from 1 up, or leave it out for an unlimited link"));
            }
            if let Some(max) = rule.link.as_ref().and_then(|l| l.max_packet) {
                if !(1..=65535).contains(&max) {
                    return problem_after(&[layer.as_str()], "max_packet", format!("{at}: `max_packet: {max}` is out of range; give the largest packet that passes in bytes, from 1 to 65535 (1400 for a typical VPN, 1452 for PPPoE)"));
                }
            }
            if let Some(link) = &rule.link {
                if let Some(window) = link.window {
                    if !(1..=65535).contains(&window) {
                        return problem_after(&[layer.as_str()], "window", format!("{at}: `window: {window}` is out of range; give the bytes that cross per round trip, from 1 to 65535 (256 where a router broke window scaling)"));
                    }
                    if link.latency.is_none_or(|l| l.0.is_zero()) {
                        return problem_after(&[layer.as_str()], "window", format!("{at}: `window` caps the bytes per round trip, and the link's round trip is its `latency`: add one, such as `latency: 0.1`"));
                    }
                }
            }
            if rule.link.is_some() && !passes {
                return problem(layer, format!("{at}: `link` faults apply to connections that pass (`action: allow` or no action)"));
            }
            if rule.upstream_timeout.is_some() && rule.intercept.is_none() {
                return problem(
                    layer,
                    format!("{at}: `upstream_timeout` applies only to `intercept` rules"),
                );
            }
            let scanner = matches!(
                rule.intercept,
                Some(MiddleboxName::AnsweringScanner | MiddleboxName::HoldingScanner)
            );
            if let Some(product) = &rule.product {
                if !scanner {
                    return problem(
                        layer,
                        format!("{at}: `product` applies only to `intercept: answering-scanner` and `intercept: holding-scanner`"),
                    );
                }
                if product.is_empty() || product.chars().any(char::is_control) {
                    return problem(
                        layer,
                        format!("{at}: `product` names the proxy in its greeting or the network log: give a name without line breaks or control characters, such as \"avast! Antivirus\""),
                    );
                }
            }
            if let Some(rate) = rule.scan_rate {
                if rule.intercept != Some(MiddleboxName::HoldingScanner) {
                    return problem_after(
                        &[layer.as_str()],
                        "scan_rate",
                        format!("{at}: `scan_rate` applies only to `intercept: holding-scanner`"),
                    );
                }
                if !(1..=1_000_000_000).contains(&rate) {
                    return problem_after(&[layer.as_str()], "scan_rate", format!("{at}: `scan_rate: {rate}` is out of range; give the bytes the scanner reads per second, from 1 to 1000000000 (100000 holds a 6 MB message for a minute)"));
                }
            }
            if rule.issuer.is_some() && rule.intercept != Some(MiddleboxName::ResigningScanner) {
                return problem(
                    layer,
                    format!("{at}: `issuer` applies only to `intercept: resigning-scanner`"),
                );
            }
            if let Some(target) = &rule.redirect {
                if !hosts.iter().any(|h| h.eq_ignore_ascii_case(target)) {
                    return problem(target, unknown_host(target, &hosts, &at));
                }
            }
            for host in rule.to.iter().flat_map(|t| t.0.iter()) {
                if !hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
                    return problem(host, unknown_host(host, &hosts, &at));
                }
            }
        }
    }

    for (name, target) in &scenario.world.dns {
        if !hosts.iter().any(|h| h.eq_ignore_ascii_case(target)) {
            return problem(
                target,
                unknown_host(target, &hosts, &format!("dns entry `{name}`")),
            );
        }
    }
    for (name, host) in &scenario.world.hosts {
        if let Some(greeting) = host.pop3.as_ref().and_then(|p| p.greeting.as_deref()) {
            if mock_mail_servers::pop3::Status::parse(greeting.as_bytes()).is_none() {
                return problem(
                    greeting,
                    format!(
                        "host `{name}`: POP3 greeting `{greeting}` must start with +OK or -ERR"
                    ),
                );
            }
        }
        if let Some(greeting) = host.imap.as_ref().and_then(|i| i.greeting.as_deref()) {
            let word = greeting.split_whitespace().next().unwrap_or("");
            if !word.eq_ignore_ascii_case("OK") && !word.eq_ignore_ascii_case("BYE") {
                return problem(
                    greeting,
                    format!("host `{name}`: IMAP greeting `{greeting}` must start with OK or BYE (without the `* `)"),
                );
            }
        }
        if let Some(jail) = &host.fail2ban {
            let windows = [("findtime", jail.findtime.0), ("bantime", jail.bantime.0)];
            let empty = windows.iter().find(|(_, d)| d.is_zero()).map(|(k, _)| *k);
            if jail.maxretry == 0 || empty.is_some() {
                let field = empty.unwrap_or("maxretry");
                return problem_after(&[name.as_str()], field, format!("host `{name}`: fail2ban `{field}` must be above zero: `maxretry` is the failed logins that ban (1 up, fail2ban's default 5), `findtime` and `bantime` durations such as 600s"));
            }
        }
        let session_limits = [
            host.pop3.as_ref().and_then(|p| p.max_user_connections),
            host.imap.as_ref().and_then(|i| i.max_user_connections),
        ];
        if session_limits.contains(&Some(0)) {
            return problem_after(&[name.as_str()], "max_user_connections", format!("host `{name}`: `max_user_connections: 0` would refuse every login; give the sessions one user may hold, from 1 up (Dovecot's default is 10)"));
        }
        let refusals = host.smtp.iter().flat_map(|s| {
            [
                ("refuse_logins", s.refuse_logins.as_deref(), "534 or 535"),
                (
                    "refuse_unauthenticated",
                    s.refuse_unauthenticated.as_deref(),
                    "550 or 554",
                ),
            ]
        });
        for (field, refusal, examples) in refusals {
            let Some(refusal) = refusal else { continue };
            let negative = mock_mail_servers::smtp::Reply::from_line(refusal)
                .is_some_and(|reply| (400..=599).contains(&reply.code));
            if !negative {
                return problem(refusal, format!("host `{name}`: `{field}: {refusal}` must start with a negative reply code such as {examples}"));
            }
        }
        if let Some(greeting) = host.smtp.as_ref().and_then(|s| s.greeting.as_deref()) {
            if mock_mail_servers::smtp::Reply::from_line(greeting).is_none() {
                return problem(greeting, format!("host `{name}`: greeting `{greeting}` must start with a reply code such as 421 or 554"));
            }
        }
    }

    let roots = root_names_of(scenario);
    let probes: Vec<(&str, &ClientSpec, Option<&Expectations>)> =
        match (&scenario.client, scenario.probes.is_empty()) {
            (Some(_), false) => {
                return problem(
                    "probes:",
                    "use either `client`/`expect` (one probe) or `probes` (several), not both"
                        .into(),
                )
            }
            (None, true) => {
                return problem(
                    "world:",
                    "the scenario has no probe: add `client` and `expect`, or `probes`".into(),
                )
            }
            (None, false) => {
                if scenario.expect.is_some() {
                    return problem(
                        "expect:",
                        "with `probes`, each probe has its own `expect`".into(),
                    );
                }
                scenario
                    .probes
                    .iter()
                    .map(|p| (p.name.as_str(), &p.client, Some(&p.expect)))
                    .collect()
            }
            (Some(client), true) => vec![("as configured", client, scenario.expect.as_ref())],
        };
    for (name, client, expect) in probes {
        if client.accounts().iter().all(|(_, spec)| spec.is_none()) {
            return problem(
                name,
                format!("probe `{name}`: the client needs `smtp`, `pop3`, `imap` or several"),
            );
        }
        for (protocol, spec) in client.accounts() {
            let Some(spec) = spec else { continue };
            let known = hosts.iter().any(|h| h.eq_ignore_ascii_case(&spec.host))
                || scenario
                    .world
                    .dns
                    .keys()
                    .any(|n| n == "*" || n.eq_ignore_ascii_case(&spec.host));
            let expected = expect.and_then(|e| e.of(protocol));
            let meant_missing = expected
                .and_then(|e| e.diagnosis.as_deref())
                .is_some_and(|id| id == Cause::HostNotFound.id());
            if !known && !meant_missing {
                let at = format!("probe `{name}`, {}", protocol.name());
                let mut message = unknown_host(&spec.host, &hosts, &at);
                message.push_str(&format!(
                    "; a probe of a name that does not resolve must expect `diagnosis: {}`",
                    Cause::HostNotFound.id()
                ));
                let (line, column) = locate_after(
                    source,
                    &[name, "client:", protocol.name(), "host:"],
                    &spec.host,
                )
                .unzip();
                return Err(Problem {
                    line,
                    column,
                    message,
                });
            }
            if let Err(unsafe_value) = spec.account(protocol).check_wire_values() {
                let key = format!("{}:", unsafe_value.field);
                let anchors = [name, "client:", protocol.name()];
                return problem_after(
                    &anchors,
                    &key,
                    format!("probe `{name}`, {}: {unsafe_value}", protocol.name()),
                );
            }
        }
        // A name no root of the world has is a root the store holds that
        // no server here uses (an old store's DST Root CA X3); one that
        // differs from a root's only in case is a slip.
        for listed in client.trust.iter().flatten() {
            let slip = roots
                .iter()
                .find(|root| **root != listed && root.eq_ignore_ascii_case(listed));
            if let Some(root) = slip {
                return problem_after(
                    &[name, "trust"],
                    listed,
                    format!("probe `{name}`: `trust` names `{listed}`; the world's root is spelt `{root}`"),
                );
            }
        }
        for control in client.control.iter().flat_map(|c| c.as_slice()) {
            if !hosts.iter().any(|h| h.eq_ignore_ascii_case(control)) {
                return problem(
                    control,
                    unknown_host(control, &hosts, &format!("probe `{name}`: control")),
                );
            }
        }
        let Some(expect) = expect else { continue };
        for (protocol, spec) in client.accounts() {
            if expect.of(protocol).is_some() && spec.is_none() {
                let key = protocol.name();
                return problem(
                    &format!("{key}:"),
                    format!(
                        "probe `{name}` expects an {} result but the client has no `{key}`",
                        key.to_uppercase()
                    ),
                );
            }
        }
        for code in expect.each().filter_map(|e| e.client_error.as_deref()) {
            if let Some(hint) = unknown_client_code(code, client.emulate) {
                return problem_after(&[name, "expect:"], code, format!("probe `{name}`: {hint}"));
            }
        }
        for id in expect.each().filter_map(|e| e.diagnosis.as_deref()) {
            if Cause::from_id(id).is_none() {
                let ids: Vec<&str> = Cause::ALL.iter().map(|c| c.id()).collect();
                let hint = match nearest(id, &ids) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => "`mailprobe explain` lists the causes".to_string(),
                };
                return problem(id, format!("unknown diagnosis `{id}`; {hint}"));
            }
        }
    }
    Ok(())
}

/// The roots a client's `trust` can name: the world's own, its `roots`,
/// the issuers certificates name, and the re-signing scanners' roots.
fn root_names_of(scenario: &Scenario) -> BTreeSet<&str> {
    use crate::harness::world::{DEFAULT_RESIGNING_ISSUER, WORLD_CA_NAME};
    let world = &scenario.world;
    let issuers = world.hosts.values().flat_map(|host| {
        let certificates = host.certificate.iter().chain(host.without_sni.iter());
        certificates.filter_map(|c| c.issuer.as_deref())
    });
    let scanners = world
        .network
        .values()
        .flatten()
        .filter(|rule| rule.intercept == Some(MiddleboxName::ResigningScanner))
        .map(|rule| rule.issuer.as_deref().unwrap_or(DEFAULT_RESIGNING_ISSUER));
    std::iter::once(WORLD_CA_NAME)
        .chain(world.roots.iter().map(|root| root.name.as_str()))
        .chain(issuers)
        .chain(scanners)
        .collect()
}

/// Why an expected `client_error` cannot match, if it cannot: a code (or
/// an error id) that the emulated client never shows. Text with spaces is
/// a part of the message and is matched as such.
fn unknown_client_code(code: &str, client: ClientName) -> Option<String> {
    let looks_like_a_code = !code.contains(' ') && !code.eq_ignore_ascii_case("none");
    if !looks_like_a_code {
        return None;
    }
    let kind = match client {
        ClientName::OutlookExpress6 => ClientKind::OutlookExpress6,
        ClientName::Thunderbird => ClientKind::Thunderbird,
        ClientName::Outlook => ClientKind::Outlook,
    };
    let mut known: Vec<&str> = Cause::ALL
        .iter()
        .flat_map(|c| c.info().codes(kind).iter().copied())
        .collect();
    known.sort_unstable();
    known.dedup();
    if known.iter().any(|k| k.eq_ignore_ascii_case(code)) {
        return None;
    }
    let hint = match nearest(code, &known) {
        Some(best) => format!("did you mean `{best}`?"),
        None => "`mailprobe explain` lists the codes".to_string(),
    };
    Some(format!(
        "{} never shows the error `{code}`; {hint}",
        kind.id()
    ))
}

fn unknown_host(host: &str, hosts: &[&str], at: &str) -> String {
    match nearest(host, hosts) {
        Some(best) => {
            format!("{at}: host `{host}` is not in `world.hosts`; did you mean `{best}`?")
        }
        None => format!("{at}: host `{host}` is not in `world.hosts`"),
    }
}

/// A SASL mechanism name (RFC 4422 section 3.1), or POP3's `USER`.
fn is_mechanism_name(name: &str) -> bool {
    (1..=20).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// The 1-based line and column of the first occurrence of `needle`
/// outside comments.
fn locate(source: &str, needle: &str) -> Option<(usize, usize)> {
    locate_after(source, &[], needle)
}

/// The first `needle` after each anchor in turn (anchors that are not
/// found are skipped), outside comments: the place of a key inside one
/// block of the file.
pub(crate) fn locate_after(source: &str, anchors: &[&str], needle: &str) -> Option<(usize, usize)> {
    // Comment lines blanked out, so that offsets and lines stay put.
    let text: String = source
        .lines()
        .map(|line| {
            if line.trim_start().starts_with('#') {
                " ".repeat(line.len())
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut from = 0;
    for anchor in anchors {
        if let Some(offset) = text.get(from..).and_then(|rest| rest.find(anchor)) {
            from += offset;
        }
    }
    let offset = from + text.get(from..)?.find(needle)?;
    let line = text[..offset].matches('\n').count() + 1;
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    Some((line, text[line_start..offset].chars().count() + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        assert!(is_host_name("smtp.other.example"));
        assert!(is_host_name("localhost"));
        assert!(!is_host_name("bad_name.example"));
        assert!(!is_host_name("-x.example"));
        assert!(!is_host_name("a..b"));
    }

    #[test]
    fn mechanism_names() {
        assert!(is_mechanism_name("XOAUTH2"));
        assert!(is_mechanism_name("CRAM-MD5"));
        assert!(!is_mechanism_name("PLAIN\r\nQUIT"));
        assert!(!is_mechanism_name(""));
        assert!(!is_mechanism_name("A-NAME-FAR-TOO-LONG-TO-BE-ONE"));
    }

    #[test]
    fn locates_text() {
        assert_eq!(
            locate("a: 1\n  to: mx.example\n", "mx.example"),
            Some((2, 7))
        );
        assert_eq!(locate("a: 1\n", "zzz"), None);
    }
}
