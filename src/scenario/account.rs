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
        let domain = mock_servers::smtp::session::parent_domain(&spec.host);
        let from = spec.from.clone().unwrap_or_else(|| match &spec.user {
            Some(user) if user.contains('@') => user.clone(),
            Some(user) => format!("{user}@{domain}"),
            None => format!("mailprobe@{domain}"),
        });
        Account {
            endpoint: Endpoint {
                protocol,
                host: spec.host.clone(),
                port: spec.port.unwrap_or_else(|| protocol.default_port(security)),
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
