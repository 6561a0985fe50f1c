//! A mail server for a test, in a few lines: [`MockMail`].
//!
//! The builder collects what the test needs (which SMTP and POP3 ports, in
//! which security mode, which accounts) and makes the servers, a test
//! certificate authority and a shared mail store that keeps every accepted
//! message with its envelope. [`MockMailBuilder::start`] serves them on
//! `127.0.0.1` at ports the system picks; [`MockMailBuilder::build`] hands
//! the same servers to anything else that carries streams (mailprobe's
//! simulated network serves them in virtual time).
//!
//! The servers stop when the [`MockMail`] handle is dropped.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, SystemTime};

use rustls::pki_types::CertificateDer;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::imap::{ImapConfig, ImapServer};
use crate::listen::accept_forever;
use crate::mailstore::{Account, MailStore, Message, Received, SharedStore, WaitTimedOut};
use crate::pop3::{Pop3Config, Pop3Server};
use crate::serve::{MailServer, ServerTls};
use crate::smtp::session::AuthBeforeTls;
use crate::smtp::{SmtpConfig, SmtpServer};
use crate::tls::{CertificateAuthority, TlsSetupError, Validity};
use crate::TlsMode;

/// The host name the servers greet with and the certificate names, unless
/// the builder says otherwise.
pub const DEFAULT_HOSTNAME: &str = "mail.example.test";
/// The common name of a fixture's certificate authority.
pub const CA_NAME: &str = "mock-mail-servers Test CA";

/// A mail protocol a fixture serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// SMTP (submission and relay).
    Smtp,
    /// POP3.
    Pop3,
    /// IMAP.
    Imap,
}

impl Protocol {
    /// The well-known port for a protocol in a security mode: SMTP 25, 587
    /// (STARTTLS), 465 (TLS); POP3 110 (plain and STLS), 995 (TLS); IMAP 143
    /// (plain and STARTTLS), 993 (TLS).
    pub fn default_port(self, mode: TlsMode) -> u16 {
        match (self, mode) {
            (Protocol::Smtp, TlsMode::Plain) => 25,
            (Protocol::Smtp, TlsMode::StartTls) => 587,
            (Protocol::Smtp, TlsMode::Implicit) => 465,
            (Protocol::Pop3, TlsMode::Plain | TlsMode::StartTls) => 110,
            (Protocol::Pop3, TlsMode::Implicit) => 995,
            (Protocol::Imap, TlsMode::Plain | TlsMode::StartTls) => 143,
            (Protocol::Imap, TlsMode::Implicit) => 993,
        }
    }
}

/// Why a fixture could not start.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// Certificates or the TLS configuration could not be made.
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    /// A loopback port could not be bound.
    #[error("cannot listen on 127.0.0.1: {0}")]
    Bind(#[from] io::Error),
    /// A network that carries the servers could not be built.
    #[error("cannot build the network: {0}")]
    Network(String),
}

/// Collects a fixture's servers and accounts. Start from [`MockMail::builder`].
#[derive(Debug, Clone)]
pub struct MockMailBuilder {
    hostname: String,
    ports: Vec<(Protocol, u16, TlsMode)>,
    users: Vec<Account>,
    catch_all: bool,
    smtp: Option<SmtpConfig>,
    pop3: Option<Pop3Config>,
    now: Option<SystemTime>,
}

impl Default for MockMailBuilder {
    fn default() -> Self {
        MockMailBuilder {
            hostname: DEFAULT_HOSTNAME.to_string(),
            ports: Vec::new(),
            users: Vec::new(),
            catch_all: false,
            smtp: None,
            pop3: None,
            now: None,
        }
    }
}

impl MockMailBuilder {
    /// The name in greetings and certificates (default
    /// [`DEFAULT_HOSTNAME`]); its parent domain is the local mail domain.
    /// Certificates also name `localhost`, `127.0.0.1` and `::1`.
    pub fn hostname(mut self, hostname: &str) -> Self {
        self.hostname = hostname.to_string();
        self
    }

    /// An SMTP port in `mode`: [`TlsMode::Plain`], [`TlsMode::StartTls`] or
    /// [`TlsMode::Implicit`]. Call once per port.
    pub fn smtp(self, mode: TlsMode) -> Self {
        self.smtp_on(Protocol::Smtp.default_port(mode), mode)
    }

    /// An SMTP port with the number it has on a simulated network (on
    /// loopback the system picks the number).
    pub fn smtp_on(mut self, port: u16, mode: TlsMode) -> Self {
        self.ports.push((Protocol::Smtp, port, mode));
        self
    }

    /// A POP3 port in `mode`. Call once per port.
    pub fn pop3(self, mode: TlsMode) -> Self {
        self.pop3_on(Protocol::Pop3.default_port(mode), mode)
    }

    /// A POP3 port with the number it has on a simulated network.
    pub fn pop3_on(mut self, port: u16, mode: TlsMode) -> Self {
        self.ports.push((Protocol::Pop3, port, mode));
        self
    }

    /// An IMAP port in `mode` (read-only INBOX). Call once per port.
    pub fn imap(self, mode: TlsMode) -> Self {
        self.imap_on(Protocol::Imap.default_port(mode), mode)
    }

    /// An IMAP port with the number it has on a simulated network.
    pub fn imap_on(mut self, port: u16, mode: TlsMode) -> Self {
        self.ports.push((Protocol::Imap, port, mode));
        self
    }

    /// An account: login, password and mail address.
    pub fn user(mut self, user: &str, password: &str, address: &str) -> Self {
        self.users.push(Account {
            user: user.to_string(),
            password: password.to_string(),
            address: address.to_string(),
        });
        self
    }

    /// Keep mail to any recipient, with or without AUTH: nothing is relayed
    /// anywhere, and every message shows in [`MockMailServices::messages`]. Without
    /// it the SMTP server behaves like a submission server (outside
    /// recipients only after AUTH, unknown local users refused).
    pub fn catch_all(mut self) -> Self {
        self.catch_all = true;
        self
    }

    /// Refuse AUTH until STARTTLS, without advertising it
    /// (`530 5.7.0 Must issue a STARTTLS command first`), as most
    /// submission servers do.
    pub fn auth_after_tls_only(self) -> Self {
        self.configure_smtp(|config| config.auth_before_tls = AuthBeforeTls::Hidden)
    }

    /// Changes the SMTP servers' configuration (relay policy, SIZE, AUTH
    /// mechanisms, greeting, ...). The host name is the builder's.
    pub fn configure_smtp(mut self, change: impl FnOnce(&mut SmtpConfig)) -> Self {
        let mut config = self
            .smtp
            .take()
            .unwrap_or_else(|| SmtpConfig::new(&self.hostname));
        change(&mut config);
        self.smtp = Some(config);
        self
    }

    /// Changes the POP3 servers' configuration.
    pub fn configure_pop3(mut self, change: impl FnOnce(&mut Pop3Config)) -> Self {
        let mut config = self
            .pop3
            .take()
            .unwrap_or_else(|| Pop3Config::new(&self.hostname));
        change(&mut config);
        self.pop3 = Some(config);
        self
    }

    /// The time certificates are valid around (a year either side); default
    /// now. Set it to a scenario's clock in virtual time.
    pub fn valid_at(mut self, now: SystemTime) -> Self {
        self.now = Some(now);
        self
    }

    /// Makes the servers, the certificate authority and the store, without
    /// listening anywhere: for a caller with its own transport. Without any
    /// port asked for, there is one SMTP port in STARTTLS mode.
    pub fn build(self) -> Result<MockMailServices, FixtureError> {
        let now = OffsetDateTime::from(self.now.unwrap_or_else(SystemTime::now));
        let ca = CertificateAuthority::new(CA_NAME, Validity::around(now))?;
        let names = [self.hostname.as_str(), "localhost", "127.0.0.1", "::1"].map(String::from);
        let tls = ServerTls::Modern(ca.issue(&names, Validity::around(now))?.server_config()?);
        let mut store = MailStore::new().keeping_journal();
        for account in self.users {
            store.add_account(account);
        }
        let store = SharedStore::new(store);
        let mut smtp = self.smtp.unwrap_or_else(|| SmtpConfig::new(&self.hostname));
        smtp.hostname = self.hostname.clone();
        smtp.catch_all |= self.catch_all;
        let mut pop3 = self.pop3.unwrap_or_else(|| Pop3Config::new(&self.hostname));
        pop3.hostname = self.hostname.clone();
        let smtp = SmtpServer::new(smtp, store.clone(), tls.clone());
        let pop3 = Pop3Server::new(pop3, store.clone(), tls.clone());
        let imap = ImapConfig::new(&self.hostname);
        let imap = ImapServer::new(imap, store.clone(), tls);
        let mut ports = self.ports;
        if ports.is_empty() {
            ports.push((Protocol::Smtp, 587, TlsMode::StartTls));
        }
        let ports = ports
            .into_iter()
            .map(|(protocol, port, mode)| ServicePort {
                protocol,
                port,
                mode,
            })
            .collect();
        Ok(MockMailServices {
            hostname: self.hostname,
            ports,
            smtp,
            pop3,
            imap,
            store,
            ca_der: ca.certificate().clone(),
            ca_pem: ca.certificate_pem(),
        })
    }

    /// Builds the servers and serves each port on `127.0.0.1` at a port the
    /// system picks, until the returned handle is dropped.
    pub async fn start(self) -> Result<MockMail, FixtureError> {
        let services = self.build()?;
        let mut listening = Vec::new();
        let mut tasks = Vec::new();
        for port in &services.ports {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
            listening.push((*port, listener.local_addr()?));
            let task = match port.protocol {
                Protocol::Smtp => {
                    tokio::spawn(serve_forever(listener, services.smtp.clone(), port.mode))
                }
                Protocol::Pop3 => {
                    tokio::spawn(serve_forever(listener, services.pop3.clone(), port.mode))
                }
                Protocol::Imap => {
                    tokio::spawn(serve_forever(listener, services.imap.clone(), port.mode))
                }
            };
            tasks.push(task);
        }
        Ok(MockMail {
            services,
            listening,
            tasks,
        })
    }
}

/// Serves every connection `listener` takes with a clone of `server`; the
/// connections end with this task.
async fn serve_forever<M: MailServer>(listener: TcpListener, server: M, mode: TlsMode) {
    let mut connections = JoinSet::new();
    let accepted = |stream| {
        let server = server.clone();
        // Finished connections are reaped as new ones come.
        while connections.try_join_next().is_some() {}
        connections.spawn(async move {
            let _ = server.serve(stream, mode).await;
        });
    };
    accept_forever(&listener, accepted, |_| {}).await;
}

/// One port of a fixture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServicePort {
    /// What it speaks.
    pub protocol: Protocol,
    /// Its number on a simulated network.
    pub port: u16,
    /// How it protects its transport.
    pub mode: TlsMode,
}

/// A fixture's servers before they listen anywhere (see
/// [`MockMailBuilder::build`]).
#[derive(Debug, Clone)]
pub struct MockMailServices {
    /// The name in greetings and certificates.
    pub hostname: String,
    /// The ports asked for, in order.
    pub ports: Vec<ServicePort>,
    /// The SMTP server every SMTP port serves.
    pub smtp: SmtpServer,
    /// The POP3 server every POP3 port serves.
    pub pop3: Pop3Server,
    /// The IMAP server every IMAP port serves.
    pub imap: ImapServer,
    /// The store both share, keeping a journal of accepted mail.
    pub store: SharedStore,
    /// The certificate authority's root, DER.
    pub ca_der: CertificateDer<'static>,
    /// The certificate authority's root, PEM.
    pub ca_pem: String,
}

impl MockMailServices {
    /// Every message the SMTP server accepted, oldest first, with envelopes.
    pub fn messages(&self) -> Vec<Received> {
        self.store.received()
    }

    /// Waits until at least `count` messages were accepted, at most
    /// `timeout`, and returns them all.
    pub async fn wait_for_messages(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<Received>, WaitTimedOut> {
        self.store.wait_for(count, timeout).await
    }

    /// The messages in `user`'s mailbox (what POP3 lists), oldest first.
    pub fn mailbox(&self, user: &str) -> Vec<Message> {
        self.store.lock().messages(user).to_vec()
    }

    /// The root certificate to trust, DER.
    pub fn ca_der(&self) -> &[u8] {
        self.ca_der.as_ref()
    }

    /// The root certificate to trust, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A rustls root store holding the fixture's root, for a client's
    /// `ClientConfig`.
    pub fn root_store(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        // The root was made just now by rcgen: it always parses.
        let _ = roots.add(self.ca_der.clone());
        roots
    }
}

/// Mail servers on loopback for one test; they stop when this is dropped.
///
/// It dereferences to [`MockMailServices`] for the messages, mailboxes and
/// the root certificate.
#[derive(Debug)]
pub struct MockMail {
    services: MockMailServices,
    listening: Vec<(ServicePort, SocketAddr)>,
    tasks: Vec<JoinHandle<()>>,
}

impl MockMail {
    /// A builder with nothing configured.
    pub fn builder() -> MockMailBuilder {
        MockMailBuilder::default()
    }

    /// The address of the first SMTP port.
    pub fn smtp_addr(&self) -> Option<SocketAddr> {
        self.first(Protocol::Smtp, None)
    }

    /// The address of the first POP3 port.
    pub fn pop3_addr(&self) -> Option<SocketAddr> {
        self.first(Protocol::Pop3, None)
    }

    /// The address of the first IMAP port.
    pub fn imap_addr(&self) -> Option<SocketAddr> {
        self.first(Protocol::Imap, None)
    }

    /// The address of the first port of `protocol` in `mode`.
    pub fn addr(&self, protocol: Protocol, mode: TlsMode) -> Option<SocketAddr> {
        self.first(protocol, Some(mode))
    }

    /// Every port with its loopback address, in the builder's order.
    pub fn ports(&self) -> &[(ServicePort, SocketAddr)] {
        &self.listening
    }

    fn first(&self, protocol: Protocol, mode: Option<TlsMode>) -> Option<SocketAddr> {
        self.listening
            .iter()
            .find(|(port, _)| port.protocol == protocol && mode.is_none_or(|m| m == port.mode))
            .map(|(_, addr)| *addr)
    }

    /// Stops listening and ends every connection, and returns once they
    /// are gone: a connect after it is refused. Dropping the handle does the
    /// same without waiting.
    pub async fn stop(mut self) {
        for task in std::mem::take(&mut self.tasks) {
            task.abort();
            let _ = task.await;
        }
    }
}

impl std::ops::Deref for MockMail {
    type Target = MockMailServices;

    fn deref(&self) -> &MockMailServices {
        &self.services
    }
}

impl Drop for MockMail {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
