//! From a scenario's (or a command line's) account settings to the probe's
//! [`Account`].

use crate::probe::{Account, Credentials, Endpoint, Protocol, Security};

use super::model::{AccountSpec, SecuritySpec};

/// Where the probe sends its relay check unless the client says otherwise.
pub const DEFAULT_RCPT: &str = "relay-check@outside.mailprobe.example";

impl SecuritySpec {
    /// The probe's security for this setting.
    pub fn security(self) -> Security {
        match self {
            SecuritySpec::None => Security::None,
            SecuritySpec::Starttls => Security::StartTls,
            SecuritySpec::Tls => Security::Tls,
        }
    }
}

impl AccountSpec {
    /// The probe's account for these settings.
    pub fn account(&self, protocol: Protocol) -> Account {
        let spec = self;
        let security = spec.security.security();
        let credentials = spec.user.as_ref().map(|user| Credentials {
            user: user.clone(),
            password: spec.password.clone().unwrap_or_default(),
        });
        // A sender is never built from an address: `taro@0.2.10` is no domain.
        let domain = if crate::probe::is_address(&spec.host) {
            "mailprobe.invalid".to_string()
        } else {
            mock_mail_servers::smtp::session::parent_domain(&spec.host)
        };
        let from = spec.from.clone().unwrap_or_else(|| match &spec.user {
            Some(user) if user.contains('@') => user.clone(),
            Some(user) => format!("{user}@{domain}"),
            None => format!("mailprobe@{domain}"),
        });
        Account {
            endpoint: Endpoint {
                protocol,
                host: spec.host.clone(),
                port: spec
                    .port
                    .map_or_else(|| protocol.default_port(security), |p| p.get()),
                security,
            },
            credentials,
            from,
            rcpt: spec
                .rcpt
                .clone()
                .unwrap_or_else(|| DEFAULT_RCPT.to_string()),
            message_size: spec.message_size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(host: &str, user: Option<&str>) -> AccountSpec {
        AccountSpec {
            host: host.into(),
            port: None,
            security: SecuritySpec::Starttls,
            user: user.map(str::to_string),
            password: None,
            from: None,
            rcpt: None,
            message_size: None,
        }
    }

    #[test]
    fn the_default_sender_is_never_built_from_an_address() {
        let from = |host, user| spec(host, user).account(Protocol::Smtp).from;
        assert_eq!(
            from("smtp.other.example", Some("taro")),
            "taro@other.example"
        );
        assert_eq!(from("192.0.2.10", Some("taro")), "taro@mailprobe.invalid");
        assert_eq!(from("[2001:db8::1]", None), "mailprobe@mailprobe.invalid");
        assert_eq!(from("192.0.2.10", Some("taro@x.example")), "taro@x.example");
    }
}
