//! Which other endpoints to try when the configured one fails. Pure.

use super::{Endpoint, Protocol, Security};

/// The standard (port, security) pairs of a protocol, most secure first.
fn standard(protocol: Protocol) -> &'static [(u16, Security)] {
    match protocol {
        Protocol::Smtp => &[
            (587, Security::StartTls),
            (465, Security::Tls),
            (25, Security::StartTls),
            (25, Security::None),
            (587, Security::None),
        ],
        Protocol::Pop3 => &[
            (995, Security::Tls),
            (110, Security::StartTls),
            (110, Security::None),
        ],
        Protocol::Imap => &[
            (993, Security::Tls),
            (143, Security::StartTls),
            (143, Security::None),
        ],
    }
}

/// Every standard setting of `host` for a protocol, most secure first, with
/// `extra` (a non-standard port the user gave) tried in each mode up front.
pub fn survey(protocol: Protocol, host: &str, extra: Option<u16>) -> Vec<Endpoint> {
    let extra = extra
        .into_iter()
        .flat_map(|port| [Security::StartTls, Security::Tls, Security::None].map(|s| (port, s)));
    let mut endpoints: Vec<Endpoint> = Vec::new();
    for (port, security) in extra.chain(standard(protocol).iter().copied()) {
        let endpoint = Endpoint {
            protocol,
            host: host.to_string(),
            port,
            security,
        };
        if !endpoints.contains(&endpoint) {
            endpoints.push(endpoint);
        }
    }
    endpoints
}

/// Alternatives to `configured` on the same host, in the order to try them:
/// the configured port with the other security modes (a wrong security
/// setting is the cheapest fix), then the protocol's standard ports. An
/// account that asked for implicit TLS tries the implicit-TLS port first:
/// RFC 8314 section 3.3 prefers it to STARTTLS where both work.
pub fn alternatives(configured: &Endpoint) -> Vec<Endpoint> {
    let implicit = (configured.security == Security::Tls).then(|| {
        (
            configured.protocol.default_port(Security::Tls),
            Security::Tls,
        )
    });
    let same_port =
        [Security::Tls, Security::StartTls, Security::None].map(|s| (configured.port, s));
    let mut candidates: Vec<Endpoint> = Vec::new();
    let order = implicit
        .iter()
        .chain(same_port.iter())
        .chain(standard(configured.protocol));
    for (port, security) in order {
        let candidate = Endpoint {
            port: *port,
            security: *security,
            ..configured.clone()
        };
        if candidate != *configured && !candidates.contains(&candidate) {
            candidates.push(candidate);
        }
    }
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(protocol: Protocol, port: u16, security: Security) -> Endpoint {
        Endpoint {
            protocol,
            host: "mx.example".into(),
            port,
            security,
        }
    }

    fn pairs(list: Vec<Endpoint>) -> Vec<(u16, Security)> {
        list.into_iter().map(|e| (e.port, e.security)).collect()
    }

    #[test]
    fn same_port_first_then_standard_ports() {
        use Security::*;
        let tried = pairs(alternatives(&endpoint(Protocol::Smtp, 465, None)));
        assert_eq!(tried[0], (465, Tls));
        assert!(tried.contains(&(587, StartTls)));
        assert!(!tried.contains(&(465, None)));
        assert_eq!(
            tried.len(),
            tried.iter().collect::<std::collections::HashSet<_>>().len()
        );
    }

    #[test]
    fn port_25_falls_back_to_submission() {
        use Security::*;
        let tried = pairs(alternatives(&endpoint(Protocol::Smtp, 25, None)));
        assert_eq!(&tried[..3], &[(25, Tls), (25, StartTls), (587, StartTls)]);
    }

    #[test]
    fn a_survey_covers_every_standard_setting_once() {
        let all = pairs(survey(Protocol::Smtp, "mx.example", None));
        assert_eq!(all.len(), 5);
        assert_eq!(all[0], (587, Security::StartTls));
        let with_extra = pairs(survey(Protocol::Pop3, "mx.example", Some(110)));
        assert_eq!(
            with_extra.len(),
            4,
            "110 is standard: only TLS on 110 is new"
        );
    }

    #[test]
    fn implicit_tls_asked_tries_the_implicit_tls_port_first() {
        use Security::*;
        let tried = pairs(alternatives(&endpoint(Protocol::Smtp, 587, Tls)));
        assert_eq!(tried[0], (465, Tls));
        let tried = pairs(alternatives(&endpoint(Protocol::Pop3, 110, Tls)));
        assert_eq!(tried[0], (995, Tls));
    }

    #[test]
    fn pop3_alternatives() {
        use Security::*;
        let tried = pairs(alternatives(&endpoint(Protocol::Pop3, 995, Tls)));
        assert_eq!(
            tried,
            vec![(995, StartTls), (995, None), (110, StartTls), (110, None)]
        );
    }
}
