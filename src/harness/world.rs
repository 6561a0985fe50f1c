//! Builds a running simulated world from a scenario's `world`.

use std::sync::Arc;
use std::time::Duration;

use mock_servers::mailstore::{Account, MailStore, SharedStore};
use mock_servers::pop3::{Pop3Config, Pop3Server};
use mock_servers::sasl::Mechanism;
use mock_servers::smtp::session::parent_domain;
use mock_servers::smtp::{RelayPolicy, SmtpConfig, SmtpServer};
use mock_servers::tls::{CertificateAuthority, Validity};
use mock_servers::TlsMode;
use rustls::RootCertStore;
use time::OffsetDateTime;

use crate::net::sim::firewall::{Action, Layer, Middlebox, Rule};
use crate::net::sim::{Service, SimNetwork, SimNetworkBuilder};
use crate::net::{BoxFuture, NetStream};
use crate::scenario::model::{
    ActionName, AuthMechanism, MiddleboxName, PortMode, Relay, RuleSpec, UserSpec, World,
};

/// The common name of every world's root certificate.
pub const WORLD_CA_NAME: &str = "mailprobe World Root CA";
/// How long a mail scanner waits for its upstream unless the rule says otherwise.
pub const DEFAULT_SCANNER_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);

/// A world ready for probes: the network, and the root its servers chain to.
pub struct BuiltWorld {
    /// The simulated network with every server listening.
    pub network: SimNetwork,
    /// What a client of this world trusts.
    pub roots: RootCertStore,
    /// The shared mail store.
    pub store: SharedStore,
}

/// Why a world could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Certificates or TLS configuration failed.
    #[error("TLS setup failed: {0}")]
    Tls(#[from] mock_servers::tls::TlsSetupError),
    /// Too many hosts.
    #[error(transparent)]
    TooManyHosts(#[from] crate::net::sim::TooManyHosts),
    /// The root could not be trusted.
    #[error("cannot trust the world's root: {0}")]
    Roots(#[from] rustls::Error),
}

/// Builds `world` with certificates valid around `clock`. Must run inside a
/// tokio runtime: servers are spawned as connections arrive.
pub fn build(world: &World, clock: OffsetDateTime) -> Result<BuiltWorld, BuildError> {
    let validity = Validity::around(clock);
    let ca = CertificateAuthority::new(WORLD_CA_NAME, validity)?;
    let store = SharedStore::new(mail_store(&world.users));
    let mut builder = SimNetworkBuilder::new();
    for (name, host) in &world.hosts {
        builder.host(name)?;
        if host.smtp.is_none() && host.pop3.is_none() {
            continue;
        }
        let tls = Some(
            ca.issue(std::slice::from_ref(name), validity)?
                .server_config()?,
        );
        let domains = if host.domains.is_empty() {
            vec![parent_domain(name)]
        } else {
            host.domains
                .iter()
                .map(|d| d.to_ascii_lowercase())
                .collect()
        };
        if let Some(smtp) = &host.smtp {
            let mut config = SmtpConfig::new(name);
            config.domains = domains.clone();
            config.auth = smtp.auth.iter().map(|m| mechanism(*m)).collect();
            config.relay = match smtp.relay {
                Relay::AuthOnly => RelayPolicy::AuthOnly,
                Relay::AuthRequired => RelayPolicy::AuthRequired,
                Relay::Open => RelayPolicy::Open,
            };
            let server = SmtpServer::new(config, store.clone(), tls.clone());
            for (port, mode) in &smtp.ports {
                let serve = |server: SmtpServer, stream, mode| -> BoxFuture<'static, ()> {
                    Box::pin(async move {
                        let _ = server.serve(stream, mode).await;
                    })
                };
                builder.listen(name, *port, service(server.clone(), tls_mode(*mode), serve))?;
            }
        }
        if let Some(pop3) = &host.pop3 {
            let mut config = Pop3Config::new(name);
            config.domains = domains.clone();
            let server = Pop3Server::new(config, store.clone(), tls.clone());
            for (port, mode) in &pop3.ports {
                let serve = |server: Pop3Server, stream, mode| -> BoxFuture<'static, ()> {
                    Box::pin(async move {
                        let _ = server.serve(stream, mode).await;
                    })
                };
                builder.listen(name, *port, service(server.clone(), tls_mode(*mode), serve))?;
            }
        }
    }
    for (name, rules) in &world.network {
        builder.layer(Layer {
            name: name.clone(),
            rules: rules.iter().map(rule).collect(),
        });
    }
    let mut roots = RootCertStore::empty();
    roots.add(ca.certificate().clone())?;
    Ok(BuiltWorld {
        network: builder.build(),
        roots,
        store,
    })
}

/// A listening service: each connection is served by a clone of `server`.
fn service<S: Clone + Send + Sync + 'static>(
    server: S,
    mode: TlsMode,
    serve: fn(S, NetStream, TlsMode) -> BoxFuture<'static, ()>,
) -> Service {
    Arc::new(move |stream| serve(server.clone(), stream, mode))
}

fn mail_store(users: &[UserSpec]) -> MailStore {
    let mut store = MailStore::new();
    for user in users {
        store.add_account(Account {
            user: user.user.clone(),
            password: user.password.clone(),
            address: user.address.clone(),
        });
        for message in &user.mailbox {
            let from = message
                .from
                .clone()
                .unwrap_or_else(|| "sender@mailprobe.example".into());
            let mut content = format!(
                "From: {from}\r\nTo: {}\r\nSubject: {}\r\n\r\n",
                user.address, message.subject
            );
            for line in message.body.lines() {
                content.push_str(line);
                content.push_str("\r\n");
            }
            store.deliver(&user.user, content.into_bytes());
        }
    }
    store
}

fn mechanism(mechanism: AuthMechanism) -> Mechanism {
    match mechanism {
        AuthMechanism::Plain => Mechanism::Plain,
        AuthMechanism::Login => Mechanism::Login,
    }
}

fn tls_mode(mode: PortMode) -> TlsMode {
    match mode {
        PortMode::Plain => TlsMode::Plain,
        PortMode::Starttls => TlsMode::StartTls,
        PortMode::Tls => TlsMode::Implicit,
    }
}

fn rule(spec: &RuleSpec) -> Rule {
    let action = match (spec.action, spec.intercept) {
        (_, Some(MiddleboxName::MailScanner)) => Action::Intercept(Middlebox::MailScanner {
            upstream_timeout: spec
                .upstream_timeout
                .map_or(DEFAULT_SCANNER_UPSTREAM_TIMEOUT, |s| s.0),
        }),
        (Some(ActionName::Allow), None) | (None, None) => Action::Allow,
        (Some(ActionName::Drop), None) => Action::Drop,
        (Some(ActionName::Reject), None) => Action::Reject,
    };
    Rule {
        to: spec.to.as_ref().map(|t| t.0.clone()).unwrap_or_default(),
        ports: spec.port.as_ref().map(|p| p.0.clone()).unwrap_or_default(),
        action,
    }
}
