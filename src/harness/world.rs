//! Builds a running simulated world from a scenario's `world`.

use std::sync::Arc;
use std::time::Duration;

use mock_mail_servers::imap::{ImapConfig, ImapGreeting, ImapServer};
use mock_mail_servers::mailstore::{Account, MailStore, SharedStore};
use mock_mail_servers::pop3::{Pop3Config, Pop3Server};
use mock_mail_servers::serve::{MailServer, ServerTls};
use mock_mail_servers::smtp::session::{parent_domain, AuthBeforeTls};
use mock_mail_servers::smtp::{RelayPolicy, Reply, SmtpConfig, SmtpServer};
use mock_mail_servers::tls::{
    config_by_server_name, CertificateAuthority, KeyExchange, KeyKind, ServerIdentity,
    TlsSetupError, Validity,
};
use mock_mail_servers::TlsMode;
use rustls::RootCertStore;
use time::OffsetDateTime;

use crate::net::sim::firewall::{Action, Family, Layer, LinkFaults, Middlebox, Rule};
use crate::net::sim::{Resolver, Service, SimNetwork, SimNetworkBuilder};
use crate::net::NetStream;
use crate::scenario::model::{
    ActionName, AuthBeforeTlsSpec, BanAction, CertificateSpec, Fail2banSpec, FamilySpec, HostSpec,
    ImapSpec, IntermediateSpec, LinkSpec, MiddleboxName, PortMode, Relay, ResolverSpec, RuleSpec,
    SmtpSpec, UserSpec, World,
};

/// The common name of every world's root certificate.
pub const WORLD_CA_NAME: &str = "mailprobe World Root CA";
/// The common name of the world's intermediate CA, which issues the
/// certificates of hosts whose spec names an `intermediate`.
pub const WORLD_INTERMEDIATE_NAME: &str = "mailprobe World Issuing CA";
/// How long a mail scanner waits for its upstream unless the rule says otherwise.
pub const DEFAULT_SCANNER_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);
/// How fast a holding scanner reads a message unless the rule says: 100 KB
/// a second holds a 6 MB attachment at the end of DATA for a minute.
pub const DEFAULT_SCAN_RATE: u64 = 100_000;
/// The root a re-signing scanner uses unless the rule names one.
pub const DEFAULT_RESIGNING_ISSUER: &str = "Avast Web/Mail Shield Root";

/// A world ready for probes: the network, and the root its servers chain to.
pub struct BuiltWorld {
    /// The simulated network with every server listening.
    pub network: SimNetwork,
    /// What a current client of this world trusts: the world's root and
    /// its public roots that are not distrusted.
    pub roots: RootCertStore,
    /// Every root of the world by name (its own, its public roots, the
    /// issuers hosts name), for a client that lists its own (`trust`).
    pub named_roots: Vec<(String, rustls::pki_types::CertificateDer<'static>)>,
    /// The roots in `roots`, as certificates.
    pub current_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// The world's public roots that current stores removed.
    pub distrusted_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// The world's intermediate certificates, as a client that keeps known
    /// intermediates (Firefox's preloaded list) has them.
    pub intermediates: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// The shared mail store.
    pub store: SharedStore,
    /// The root its servers chain to (see [`BuiltWorld::ca_pem`]).
    root: Arc<CertificateAuthority>,
    /// Every server port, in the scenario's order.
    pub ports: Vec<ServerPort>,
}

impl BuiltWorld {
    /// How the world's servers agree TLS keys: a client of the world uses
    /// the same (see [`build_for_probe`]).
    pub fn key_exchange(&self) -> KeyExchange {
        self.network.key_exchange()
    }

    /// The world's root certificate in PEM, for real clients of a served
    /// world. Made when asked: a replay never needs it.
    pub fn ca_pem(&self) -> String {
        self.root.certificate_pem()
    }

    /// The root's key in PEM, to serve with the same root again (`--ca-dir`).
    pub fn ca_key_pem(&self) -> String {
        self.root.key_pem()
    }
}

/// A port a server of the world listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPort {
    /// The host.
    pub host: String,
    /// The port.
    pub port: u16,
    /// `smtp`, `pop3` or `web`.
    pub service: &'static str,
    /// How the port protects its transport.
    pub mode: PortMode,
}

/// Why a world could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Certificates or TLS configuration failed.
    #[error("TLS setup failed: {0}")]
    Tls(#[from] TlsSetupError),
    /// The scenario's mailboxes hold more than the store keeps.
    #[error("the mailboxes do not fit: {0}")]
    Store(#[from] mock_mail_servers::mailstore::StoreFull),
    /// Too many hosts.
    #[error(transparent)]
    TooManyHosts(#[from] crate::net::sim::TooManyHosts),
    /// The root could not be trusted.
    #[error("cannot trust the world's root: {0}")]
    Roots(#[from] rustls::Error),
}

/// Certificate authorities of a world: the trusted one, and untrusted ones by name.
struct Authorities {
    trusted: Arc<CertificateAuthority>,
    /// Made when a host first asks for it.
    intermediate: Option<Arc<CertificateAuthority>>,
    validity: Validity,
    clock: OffsetDateTime,
    /// Roots other than the trusted one, by name, made once per world.
    named: indexmap::IndexMap<String, Arc<CertificateAuthority>>,
}

impl Authorities {
    /// The root called `name`, made when first asked for.
    fn root(&mut self, name: &str) -> Result<Arc<CertificateAuthority>, TlsSetupError> {
        if name == WORLD_CA_NAME {
            return Ok(self.trusted.clone());
        }
        if let Some(root) = self.named.get(name) {
            return Ok(root.clone());
        }
        let root = CertificateAuthority::shared(name, self.validity, KeyKind::default(), None)?;
        self.named.insert(name.to_string(), root.clone());
        Ok(root)
    }

    /// The identity `host` presents, as its certificate spec says.
    fn identity(
        &mut self,
        host: &str,
        spec: Option<&CertificateSpec>,
    ) -> Result<Arc<ServerIdentity>, TlsSetupError> {
        let default = CertificateSpec::default();
        let spec = spec.unwrap_or(&default);
        let names = spec.names.clone().unwrap_or_else(|| vec![host.to_string()]);
        let validity = if spec.expired {
            Validity {
                not_before: self.clock - time::Duration::days(400),
                not_after: self.clock - time::Duration::days(30),
            }
        } else {
            self.validity
        };
        let issuer = match (&spec.issuer, spec.self_signed) {
            (_, true) => Some(host.to_string()),
            (Some(name), false) => Some(name.clone()),
            (None, false) => None,
        };
        match (issuer, spec.intermediate) {
            (None, None) => self.trusted.issue_shared(&names, validity),
            (None, Some(sent)) => {
                let intermediate = match &mut self.intermediate {
                    Some(intermediate) => intermediate,
                    none => none.insert(
                        self.trusted
                            .intermediate_shared(WORLD_INTERMEDIATE_NAME, self.validity)?,
                    ),
                };
                let identity = intermediate.issue_shared(&names, validity)?;
                Ok(match sent {
                    IntermediateSpec::Sent => identity,
                    IntermediateSpec::Missing => Arc::new(identity.without_intermediates()),
                })
            }
            (Some(name), _) => self.root(&name)?.issue_shared(&names, validity),
        }
    }
}

/// The world's trusted root: its key algorithm, and a key kept from an
/// earlier run (with a validity of its own) for clients that imported it.
#[derive(Debug, Clone, Default)]
pub struct Root {
    /// The algorithm of the root's and the servers' keys.
    pub kind: mock_mail_servers::tls::KeyKind,
    /// The root's key (PEM) and validity, to make the same root again.
    pub kept: Option<(String, Validity)>,
}

/// Builds `world` with certificates valid around `clock`, for any client.
/// Must run inside a tokio runtime: servers are spawned as connections
/// arrive.
pub fn build(world: &World, clock: OffsetDateTime) -> Result<BuiltWorld, BuildError> {
    build_with_root(world, clock, &Root::default())
}

/// [`build`] with the trusted root chosen by `root`.
pub fn build_with_root(
    world: &World,
    clock: OffsetDateTime,
    root: &Root,
) -> Result<BuiltWorld, BuildError> {
    build_with(world, clock, root, KeyExchange::Fresh)
}

/// [`build`] for clients of this process only, such as a replay's probe
/// (its TLS client from [`crate::harness::tls_client`]): TLS keys are
/// agreed with one in-process share ([`KeyExchange::InProcess`]), which
/// spares each handshake its four X25519 multiplications; a real client's
/// handshake fails.
pub fn build_for_probe(world: &World, clock: OffsetDateTime) -> Result<BuiltWorld, BuildError> {
    build_with(world, clock, &Root::default(), KeyExchange::InProcess)
}

fn build_with(
    world: &World,
    clock: OffsetDateTime,
    root: &Root,
    key_exchange: KeyExchange,
) -> Result<BuiltWorld, BuildError> {
    let validity = Validity::around(clock);
    let (root_key, root_validity) = match &root.kept {
        Some((key, kept_validity)) => (Some(key.as_str()), *kept_validity),
        None => (None, validity),
    };
    let trusted = CertificateAuthority::shared(WORLD_CA_NAME, root_validity, root.kind, root_key)?;
    let mut authorities = Authorities {
        trusted,
        intermediate: None,
        validity,
        clock,
        named: indexmap::IndexMap::new(),
    };
    for root in &world.roots {
        authorities.root(&root.name)?;
    }
    let store = SharedStore::new(mail_store(&world.users)?);
    let mut builder = SimNetworkBuilder::new();
    builder.key_exchange(key_exchange);
    let mut listening = Listening {
        builder: &mut builder,
        ports: Vec::new(),
    };
    for (name, host) in &world.hosts {
        listening.builder.host(name)?;
        if world.ipv6 || host.ipv6 {
            listening.builder.enable_ipv6(name)?;
        }
        if host.smtp.is_none() && host.pop3.is_none() && host.imap.is_none() && host.web.is_none() {
            continue;
        }
        let identity = authorities.identity(name, host.certificate.as_ref())?;
        let modern = match &host.without_sni {
            None => identity.server_config_with(key_exchange)?,
            Some(spec) => {
                let default = authorities.identity(name, Some(spec))?;
                config_by_server_name(&identity, &default, key_exchange)?
            }
        };
        let tls = if host.legacy_tls {
            ServerTls::LegacyOnly
        } else if host.weak_tls {
            ServerTls::WeakCiphersOnly
        } else {
            ServerTls::Modern(modern.clone())
        };
        listen(&mut listening, name, host, &tls, &modern, &store)?;
        if let Some(jail) = host.fail2ban {
            let (store, server) = (store.clone(), name.clone());
            let action = match jail.action {
                BanAction::Reject => Action::Reject,
                BanAction::Drop => Action::Drop,
            };
            listening.builder.gate(
                name,
                Arc::new(move || {
                    let now = tokio::time::Instant::now();
                    let failures: Vec<_> = store.lock().failed_logins(&server).collect();
                    banned(&failures, &jail, now).then_some(action.clone())
                }),
            )?;
        }
    }
    let ports = listening.ports;
    for (name, rules) in &world.network {
        let mut layer = Layer {
            name: name.clone(),
            rules: Vec::new(),
        };
        for spec in rules {
            let rule = rule(spec);
            if let Action::Intercept(Middlebox::ResigningScanner { issuer, .. }) = &rule.action {
                // A named root of the world: a client that imported it (as
                // antivirus installers add theirs to the system's store)
                // lists it in `trust`.
                builder.resigning_authority(issuer, authorities.root(issuer)?, validity);
            }
            layer.rules.push(rule);
        }
        builder.layer(layer);
    }
    for (name, target) in &world.dns {
        builder.dns_override(name, target);
    }
    // No route at all (an unconditional `no-route`): the resolver is out of
    // reach too, as on a machine without a network.
    let no_network = world.network.values().flatten().any(|rule| {
        rule.action == Some(ActionName::NoRoute) && rule.to.is_none() && rule.port.is_none()
    });
    builder.resolver(match (no_network, world.resolver) {
        (true, _) => Resolver::NoNetwork,
        (false, ResolverSpec::Answers) => Resolver::Answers,
        (false, ResolverSpec::Down) => Resolver::Down,
        (false, ResolverSpec::Fails) => Resolver::Fails,
    });
    let mut current_roots = vec![authorities.trusted.certificate().clone()];
    let mut distrusted_roots = Vec::new();
    for spec in &world.roots {
        let certificate = authorities.root(&spec.name)?.certificate().clone();
        match spec.distrusted {
            true => distrusted_roots.push(certificate),
            false => current_roots.push(certificate),
        }
    }
    let mut roots = RootCertStore::empty();
    for root in &current_roots {
        roots.add(root.clone())?;
    }
    let named_roots = std::iter::once((WORLD_CA_NAME, &authorities.trusted))
        .chain(authorities.named.iter().map(|(n, r)| (n.as_str(), r)))
        .map(|(name, root)| (name.to_string(), root.certificate().clone()))
        .collect();
    Ok(BuiltWorld {
        network: builder.build(),
        roots,
        named_roots,
        current_roots,
        distrusted_roots,
        intermediates: authorities
            .intermediate
            .iter()
            .map(|i| i.certificate().clone())
            .collect(),
        store,
        root: authorities.trusted.clone(),
        ports,
    })
}

/// Whether fail2ban, as `jail` sets it, bans the client at `now` after
/// logins failed at `failures` (oldest first): some `maxretry` of them fell
/// within `findtime`, and the ban from the last of those has not run out.
fn banned(
    failures: &[tokio::time::Instant],
    jail: &Fail2banSpec,
    now: tokio::time::Instant,
) -> bool {
    let Ok(needed) = usize::try_from(jail.maxretry) else {
        return false;
    };
    let Some(needed) = needed.checked_sub(1) else {
        return false;
    };
    failures.iter().enumerate().any(|(i, at)| {
        let Some(first) = i.checked_sub(needed).and_then(|f| failures.get(f)) else {
            return false;
        };
        at.saturating_duration_since(*first) <= jail.findtime.0
            && now.saturating_duration_since(*at) < jail.bantime.0
    })
}

/// The builder, and the list of what was made to listen where.
struct Listening<'a> {
    builder: &'a mut SimNetworkBuilder,
    ports: Vec<ServerPort>,
}

impl Listening<'_> {
    fn add(
        &mut self,
        host: &str,
        port: u16,
        service: &'static str,
        mode: PortMode,
        serve: Service,
    ) -> Result<(), BuildError> {
        self.builder.listen(host, port, serve)?;
        self.ports.push(ServerPort {
            host: host.to_string(),
            port,
            service,
            mode,
        });
        Ok(())
    }
}

/// Starts the host's servers on their ports.
fn listen(
    listening: &mut Listening<'_>,
    name: &str,
    host: &HostSpec,
    tls: &ServerTls,
    modern: &Arc<rustls::ServerConfig>,
    store: &SharedStore,
) -> Result<(), BuildError> {
    let domains = if host.domains.is_empty() {
        vec![parent_domain(name)]
    } else {
        host.domains
            .iter()
            .map(|d| d.to_ascii_lowercase())
            .collect()
    };
    if let Some(smtp) = &host.smtp {
        let server = SmtpServer::new(
            smtp_config(name, smtp, &domains),
            store.clone(),
            tls.clone(),
        );
        for (port, mode) in &smtp.ports {
            listening.add(
                name,
                port.get(),
                "smtp",
                *mode,
                service(server.clone(), tls_mode(*mode)),
            )?;
        }
    }
    if let Some(pop3) = &host.pop3 {
        let mut config = Pop3Config::new(name);
        config.domains = domains.clone();
        config.reject_unknown_users = pop3.reject_unknown_users;
        config.greeting = pop3
            .greeting
            .as_deref()
            .and_then(|g| mock_mail_servers::pop3::Status::parse(g.as_bytes()));
        config.greeting_delay = pop3.greeting_delay.map_or(Duration::ZERO, |d| d.0);
        config.refuse_logins = pop3.refuse_logins.clone();
        config.login_delay = pop3.login_delay.map(|d| d.0);
        config.max_user_connections = pop3.max_user_connections;
        config.user_pass = pop3.auth.iter().any(|m| m.eq_ignore_ascii_case("USER"));
        config.sasl = pop3
            .auth
            .iter()
            .filter(|m| !m.eq_ignore_ascii_case("USER"))
            .map(|m| m.to_ascii_uppercase())
            .collect();
        let server = Pop3Server::new(config, store.clone(), tls.clone());
        for (port, mode) in &pop3.ports {
            listening.add(
                name,
                port.get(),
                "pop3",
                *mode,
                service(server.clone(), tls_mode(*mode)),
            )?;
        }
    }
    if let Some(imap) = &host.imap {
        let server = ImapServer::new(
            imap_config(name, imap, &domains),
            store.clone(),
            tls.clone(),
        );
        for (port, mode) in &imap.ports {
            listening.add(
                name,
                port.get(),
                "imap",
                *mode,
                service(server.clone(), tls_mode(*mode)),
            )?;
        }
    }
    if let Some(web) = &host.web {
        for (port, mode) in &web.ports {
            let tls = (*mode == PortMode::Tls).then(|| modern.clone());
            let location = format!("http://{name}/login");
            let portal: Service = Arc::new(move |stream: NetStream| {
                let (tls, location) = (tls.clone(), location.clone());
                Box::pin(async move {
                    let _ = mock_mail_servers::web::serve_portal(stream, tls, &location).await;
                })
            });
            listening.add(name, port.get(), "web", *mode, portal)?;
        }
    }
    Ok(())
}

fn imap_config(name: &str, imap: &ImapSpec, domains: &[String]) -> ImapConfig {
    let mut config = ImapConfig::new(name);
    config.domains = domains.to_vec();
    config.auth = imap.auth.iter().map(|m| m.to_ascii_uppercase()).collect();
    config.login_disabled_before_tls = imap.login_disabled;
    config.greeting = imap.greeting.as_deref().map(|greeting| {
        let greeting = greeting.trim();
        let (word, rest) = greeting.split_once(' ').unwrap_or((greeting, ""));
        // Validation allows only OK and BYE.
        if word.eq_ignore_ascii_case("BYE") {
            ImapGreeting::Bye(rest.to_string())
        } else {
            ImapGreeting::Ok(rest.to_string())
        }
    });
    config.greeting_delay = imap.greeting_delay.map_or(Duration::ZERO, |d| d.0);
    config.refuse_logins = imap.refuse_logins.clone();
    config.max_user_connections = imap.max_user_connections;
    config
}

fn smtp_config(name: &str, smtp: &SmtpSpec, domains: &[String]) -> SmtpConfig {
    let mut config = SmtpConfig::new(name);
    config.domains = domains.to_vec();
    config.auth = smtp.auth.iter().map(|m| m.to_ascii_uppercase()).collect();
    config.relay = match smtp.relay {
        Relay::AuthOnly => RelayPolicy::AuthOnly,
        Relay::AuthRequired => RelayPolicy::AuthRequired,
        Relay::Open => RelayPolicy::Open,
    };
    config.auth_before_tls = match smtp.auth_before_tls {
        AuthBeforeTlsSpec::Offered => AuthBeforeTls::Offered,
        AuthBeforeTlsSpec::Hidden => AuthBeforeTls::Hidden,
        AuthBeforeTlsSpec::EncryptionRequired => AuthBeforeTls::EncryptionRequired,
    };
    config.sender_must_match_login = smtp.sender_must_match_login;
    config.smtputf8 = smtp.smtputf8;
    if let Some(size) = smtp.max_size {
        config.max_message_size = size;
    }
    config.greeting = smtp.greeting.as_deref().and_then(Reply::from_line);
    config.greeting_delay = smtp.greeting_delay.map_or(Duration::ZERO, |d| d.0);
    config.refuse_logins = smtp.refuse_logins.as_deref().and_then(Reply::from_line);
    config.refuse_unauthenticated = smtp
        .refuse_unauthenticated
        .as_deref()
        .and_then(Reply::from_line);
    config.pop_before_smtp = smtp.pop_before_smtp.map(|s| s.0);
    config
}

/// A listening service: each connection is served by a clone of `server`.
pub(crate) fn service<M: MailServer>(server: M, mode: TlsMode) -> Service {
    Arc::new(move |stream: NetStream| {
        let server = server.clone();
        Box::pin(async move {
            let _ = server.serve(stream, mode).await;
        })
    })
}

fn mail_store(users: &[UserSpec]) -> Result<MailStore, BuildError> {
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
            store.deliver(&user.user, content.into_bytes())?;
        }
        if user.mailbox_locked {
            store.lock_mailbox(&user.user);
        }
        store.hold_sessions(&user.user, user.open_sessions);
    }
    Ok(store)
}

fn tls_mode(mode: PortMode) -> TlsMode {
    match mode {
        PortMode::Plain => TlsMode::Plain,
        PortMode::Starttls => TlsMode::StartTls,
        PortMode::Tls => TlsMode::Implicit,
    }
}

fn link(spec: &LinkSpec) -> LinkFaults {
    let seconds = |s: Option<crate::scenario::model::Seconds>| s.map_or(Duration::ZERO, |s| s.0);
    LinkFaults {
        latency: seconds(spec.latency),
        bandwidth: spec.bandwidth,
        reset_after: spec.reset_after,
        stall_after: spec.stall_after,
        close_after: spec.close_after.map(|s| s.0),
        slow_close: seconds(spec.slow_close),
        max_packet: spec.max_packet,
        window: spec.window,
    }
}

fn rule(spec: &RuleSpec) -> Rule {
    let upstream_timeout = spec
        .upstream_timeout
        .map_or(DEFAULT_SCANNER_UPSTREAM_TIMEOUT, |s| s.0);
    let action = if let Some(middlebox) = spec.intercept {
        Action::Intercept(match middlebox {
            MiddleboxName::MailScanner => Middlebox::MailScanner { upstream_timeout },
            MiddleboxName::ResigningScanner => Middlebox::ResigningScanner {
                upstream_timeout,
                issuer: spec
                    .issuer
                    .clone()
                    .unwrap_or_else(|| DEFAULT_RESIGNING_ISSUER.to_string()),
            },
            MiddleboxName::EsmtpInspection => Middlebox::EsmtpInspection,
            MiddleboxName::StarttlsStripper => Middlebox::StartTlsStripper,
            MiddleboxName::CloseAfterGreeting => Middlebox::CloseAfterGreeting,
            MiddleboxName::AnsweringScanner => Middlebox::AnsweringScanner {
                product: spec
                    .product
                    .clone()
                    .unwrap_or_else(|| "avast! Antivirus".to_string()),
            },
            MiddleboxName::HoldingScanner => Middlebox::HoldingScanner {
                product: spec
                    .product
                    .clone()
                    .unwrap_or_else(|| "Norton AntiVirus".to_string()),
                scan_rate: spec.scan_rate.unwrap_or(DEFAULT_SCAN_RATE),
            },
        })
    } else if let Some(target) = &spec.redirect {
        Action::Redirect(target.clone())
    } else {
        match spec.action {
            Some(ActionName::Drop) => Action::Drop,
            Some(ActionName::Reject) => Action::Reject,
            Some(ActionName::Unreachable) => Action::Unreachable,
            Some(ActionName::NoRoute) => Action::NoRoute,
            Some(ActionName::Reset) => Action::Reset,
            Some(ActionName::Allow) | None => match &spec.link {
                Some(faults) => Action::Degrade(link(faults)),
                None => Action::Allow,
            },
        }
    };
    Rule {
        to: spec.to.as_ref().map(|t| t.0.clone()).unwrap_or_default(),
        ports: spec
            .port
            .as_ref()
            .map(|p| p.0.iter().map(|port| port.get()).collect())
            .unwrap_or_default(),
        family: spec.family.map(|f| match f {
            FamilySpec::Ipv4 => Family::V4,
            FamilySpec::Ipv6 => Family::V6,
        }),
        action,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::model::Seconds;
    use tokio::time::Instant;

    fn jail(maxretry: u32) -> Fail2banSpec {
        Fail2banSpec {
            maxretry,
            findtime: Seconds(Duration::from_secs(600)),
            bantime: Seconds(Duration::from_secs(3600)),
            action: BanAction::Reject,
        }
    }

    #[test]
    fn a_ban_needs_maxretry_failures_within_findtime_and_lasts_bantime() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let close = [at(0), at(100), at(200)];
        assert!(!banned(&close[..2], &jail(3), at(300)), "two of three");
        assert!(
            banned(&close, &jail(3), at(300)),
            "three within ten minutes"
        );
        assert!(
            banned(&close, &jail(3), at(3799)),
            "within the hour after the third"
        );
        assert!(!banned(&close, &jail(3), at(3800)), "the ban ran out");
        let spread = [at(0), at(500), at(1000)];
        assert!(!banned(&spread, &jail(3), at(1000)), "not within findtime");
        assert!(
            banned(&spread[..1], &jail(1), at(10)),
            "maxretry 1: the first bans"
        );
        assert!(!banned(&spread, &jail(0), at(10)), "maxretry 0 never bans");
    }
}
