//! The probe engine: talks to an account's server the way a mail client does,
//! step by step, and records what it saw.
//!
//! [`Prober::probe`] makes the configured [`Attempt`]; when it fails in
//! reaching or securing the server, it follows up with the other standard
//! ports and security modes on the same host ([`followup`]) and, where the
//! client knows one, a control host on the configured port. The result is a
//! [`ProbeReport`] of observations only; [`crate::diagnose`] judges it.
//!
//! The probe never sends DATA and never deletes mail.

pub mod conversation;
pub mod dialog;
pub mod followup;
pub mod observation;
pub mod pop3;
pub mod smtp;
pub mod tls;
pub mod wire;
pub mod x509;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::net::Network;
use conversation::{Conversation, Recorder};
pub use observation::{
    Attempt, Event, EventKind, Failure, Outcome, ProbeReport, Purpose, Step, TlsFailure,
};
use wire::Wire;

/// A mail protocol the probe speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// Sending: SMTP submission or relay.
    Smtp,
    /// Receiving: POP3.
    Pop3,
}

impl Protocol {
    /// `smtp` or `pop3`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Smtp => "smtp",
            Protocol::Pop3 => "pop3",
        }
    }

    /// The usual port for a security mode (RFC 8314, 6409, 1939, 2595).
    pub fn default_port(self, security: Security) -> u16 {
        match (self, security) {
            (Protocol::Smtp, Security::None) => 25,
            (Protocol::Smtp, Security::StartTls) => 587,
            (Protocol::Smtp, Security::Tls) => 465,
            (Protocol::Pop3, Security::None | Security::StartTls) => 110,
            (Protocol::Pop3, Security::Tls) => 995,
        }
    }
}

/// How the client protects the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Security {
    /// Plaintext throughout.
    None,
    /// Plaintext, upgraded with STARTTLS (SMTP) or STLS (POP3).
    StartTls,
    /// TLS from the first byte ("SSL" in older clients).
    Tls,
}

impl Security {
    /// Whether this mode protects the connection at least as well as
    /// `other` (STARTTLS and implicit TLS both encrypt; plaintext does not).
    pub fn at_least_as_secure_as(self, other: Security) -> bool {
        self != Security::None || other == Security::None
    }
    /// `none`, `starttls` or `tls`, as in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Security::None => "none",
            Security::StartTls => "starttls",
            Security::Tls => "tls",
        }
    }
}

/// Where a client connects, and how.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The protocol spoken.
    pub protocol: Protocol,
    /// The server's host name.
    pub host: String,
    /// The TCP port.
    pub port: u16,
    /// The security mode.
    pub security: Security,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}:{} security={}",
            self.protocol.name(),
            self.host,
            self.port,
            self.security.name()
        )
    }
}

/// A user name and password. The password never appears in Debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The login name.
    pub user: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A mail account as a client has it configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The server and how to reach it.
    pub endpoint: Endpoint,
    /// Login, if the server requires one.
    pub credentials: Option<Credentials>,
    /// The sender address for the SMTP envelope check.
    pub from: String,
    /// A recipient outside the server's domains, to check relaying.
    pub rcpt: String,
    /// The size of the message to send, declared with SIZE.
    pub message_size: Option<u64>,
}

/// How long the probe waits. The defaults are those of a typical client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// For the TCP connection.
    pub connect: Duration,
    /// For each reply (and each TLS handshake).
    pub reply: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(30),
            reply: Duration::from_secs(60),
        }
    }
}

/// A name that cannot exist (RFC 6761 reserves `.invalid`). If it resolves,
/// the resolver answers every name: a captive portal or a hijacking ISP.
pub const CANARY_NAME: &str = "mailprobe-canary.invalid";

/// What an attempt does once connected.
#[derive(Debug, Clone, Copy)]
enum Plan<'a> {
    /// Everything a client does: log in, and for SMTP check the envelope.
    Full(&'a Account),
    /// Only reach the server and secure the connection (control probes).
    Reach,
}

/// Runs probes over a [`Network`].
pub struct Prober {
    network: Arc<dyn Network>,
    tls: tls::TlsClient,
    timeouts: Timeouts,
    client_name: String,
    origin: Instant,
}

impl Prober {
    /// A prober; event times count from its creation.
    pub fn new(network: Arc<dyn Network>, tls: tls::TlsClient, timeouts: Timeouts) -> Self {
        Prober {
            network,
            tls,
            timeouts,
            client_name: "mailprobe.local".to_string(),
            origin: Instant::now(),
        }
    }

    /// Tries the account on every standard setting of its host (and its own
    /// port), for `mailprobe suggest`: one attempt each, in order.
    pub async fn survey(&self, account: &Account) -> Vec<Attempt> {
        let endpoint = &account.endpoint;
        let extra = Some(endpoint.port).filter(|p| {
            !followup::survey(endpoint.protocol, &endpoint.host, None)
                .iter()
                .any(|e| e.port == *p)
        });
        let mut attempts = Vec::new();
        for candidate in followup::survey(endpoint.protocol, &endpoint.host, extra) {
            attempts.push(
                self.attempt(Purpose::FollowUp, &candidate, Plan::Full(account))
                    .await,
            );
        }
        attempts
    }

    /// Probes `account`, following up when it fails in transport (or at all
    /// on port 25, where a transparent proxy may answer). `control`
    /// names a server known to work (typically the ISP's own).
    pub async fn probe(&self, account: &Account, control: Option<&str>) -> ProbeReport {
        let configured = self
            .attempt(Purpose::Configured, &account.endpoint, Plan::Full(account))
            .await;
        let mut report = ProbeReport {
            configured,
            follow_ups: Vec::new(),
            control: None,
            canary: None,
        };
        let Some((step, _)) = report.configured.failure() else {
            return report;
        };
        if step.is_transport() {
            report.canary = self
                .network
                .resolve(CANARY_NAME)
                .await
                .ok()
                .map(|addresses| addresses.iter().map(|a| a.to_string()).collect());
        }
        // Account failures need no other ports, except on 25, where a
        // transparent proxy may have answered instead of the server.
        let redirect_suspected =
            account.endpoint.protocol == Protocol::Smtp && account.endpoint.port == 25;
        if step == Step::Resolve || !(step.is_transport() || redirect_suspected) {
            return report;
        }
        for endpoint in followup::alternatives(&account.endpoint) {
            let attempt = self
                .attempt(Purpose::FollowUp, &endpoint, Plan::Full(account))
                .await;
            // A weaker mode that works is evidence, not a fix: keep looking.
            let fixed = attempt.is_ok()
                && endpoint
                    .security
                    .at_least_as_secure_as(account.endpoint.security);
            report.follow_ups.push(attempt);
            if fixed {
                break;
            }
        }
        if let Some(host) = control.filter(|h| !h.eq_ignore_ascii_case(&account.endpoint.host)) {
            let endpoint = Endpoint {
                host: host.to_string(),
                ..account.endpoint.clone()
            };
            report.control = Some(self.attempt(Purpose::Control, &endpoint, Plan::Reach).await);
        }
        report
    }

    async fn attempt(&self, purpose: Purpose, endpoint: &Endpoint, plan: Plan<'_>) -> Attempt {
        let mut recorder = Recorder::new(self.origin);
        let result = self.converse(&mut recorder, endpoint, plan).await;
        recorder.finish(purpose, endpoint.clone(), result)
    }

    async fn converse(
        &self,
        recorder: &mut Recorder,
        endpoint: &Endpoint,
        plan: Plan<'_>,
    ) -> Result<(), (Step, Failure)> {
        let stream = self.open(recorder, endpoint).await?;
        let mut conversation = Conversation::new(Wire::new(stream, self.timeouts.reply), recorder);
        if endpoint.security == Security::Tls {
            conversation.start_tls(&self.tls, &endpoint.host).await?;
        }
        let account = match plan {
            Plan::Full(account) => Some(account),
            Plan::Reach => None,
        };
        let credentials = account.and_then(|a| a.credentials.clone());
        let (tls, host) = (&self.tls, endpoint.host.as_str());
        let result = match endpoint.protocol {
            Protocol::Smtp => {
                let envelope = account.map(|a| smtp::Envelope {
                    from: a.from.clone(),
                    rcpt: a.rcpt.clone(),
                    size: a.message_size,
                });
                let dialog = smtp::SmtpDialog::new(
                    &self.client_name,
                    endpoint.security,
                    credentials,
                    envelope,
                );
                dialog::drive(&mut conversation, tls, host, dialog).await
            }
            Protocol::Pop3 => {
                let dialog =
                    pop3::Pop3Dialog::new(endpoint.security, credentials, account.is_some());
                dialog::drive(&mut conversation, tls, host, dialog).await
            }
        };
        conversation.close().await;
        result
    }

    /// Resolves and connects, recording both.
    async fn open(
        &self,
        recorder: &mut Recorder,
        endpoint: &Endpoint,
    ) -> Result<crate::net::NetStream, (Step, Failure)> {
        let addresses = self
            .network
            .resolve(&endpoint.host)
            .await
            .map_err(|_| (Step::Resolve, Failure::NameNotFound))?;
        recorder.record(EventKind::Resolved(
            addresses.iter().map(|a| a.to_string()).collect(),
        ));
        // Every address in turn, as clients fall back from IPv6 to IPv4.
        let mut last = Failure::Refused;
        for (index, ip) in addresses.iter().enumerate() {
            let address = SocketAddr::new(*ip, endpoint.port);
            let connect = self.network.connect(address);
            let failure = match tokio::time::timeout(self.timeouts.connect, connect).await {
                Err(_) => Failure::TimedOut {
                    waited: self.timeouts.connect,
                    partial: Vec::new(),
                    silent: self.timeouts.connect,
                },
                Ok(Err(error)) => connect_failure(error),
                Ok(Ok(stream)) => {
                    recorder.record(EventKind::Connected(address.to_string()));
                    return Ok(stream);
                }
            };
            if index + 1 < addresses.len() {
                recorder.record(EventKind::ConnectFailed {
                    address: address.to_string(),
                    failure: failure.clone(),
                });
            }
            last = failure;
        }
        Err((Step::Connect, last))
    }
}

fn connect_failure(error: std::io::Error) -> Failure {
    match error.kind() {
        std::io::ErrorKind::ConnectionRefused => Failure::Refused,
        std::io::ErrorKind::ConnectionReset => Failure::Reset,
        std::io::ErrorKind::TimedOut => Failure::TimedOut {
            waited: Duration::ZERO,
            partial: Vec::new(),
            silent: Duration::ZERO,
        },
        _ => Failure::Io(error.to_string()),
    }
}
