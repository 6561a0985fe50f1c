//! The `mock-mail-servers` fixture on the simulated network, in virtual time.
//!
//! [`MockMail::builder`](mock_mail_servers::MockMail::builder) collects the
//! servers; [`Simulate::simulate`] puts them on one host of a
//! [`SimNetwork`] behind a firewall of your rules, instead of on loopback.
//! [`SimMail::connect`] opens a [`SimStream`]: `Send + Sync + Debug`, with a
//! peer address, and (with the `lettre` feature, on by default) a
//! `lettre::transport::smtp::client::AsyncTokioStream`, so
//! `AsyncSmtpConnection::connect_with_transport` takes it as it is.
//!
//! Under `#[tokio::test(start_paused = true)]` a dropped port costs no real
//! time: a 30-second connect timeout passes at once.
//!
//! ```
//! use std::time::Duration;
//! use mailprobe::fixture::Simulate;
//! use mailprobe::net::sim::firewall::Action;
//! use mock_mail_servers::{MockMail, TlsMode};
//! use tokio::io::AsyncReadExt;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mail = MockMail::builder()
//!     .smtp(TlsMode::Plain)
//!     .smtp(TlsMode::StartTls)
//!     .simulate()
//!     .firewall(&[25], Action::Drop)
//!     .start()
//!     .await?;
//! // Port 25 is dropped: the connect never completes.
//! let blocked = tokio::time::timeout(Duration::from_secs(30), mail.connect(25)).await;
//! assert!(blocked.is_err());
//! // Port 587 answers.
//! let mut stream = mail.connect(587).await?;
//! let mut greeting = [0u8; 64];
//! let n = stream.read(&mut greeting).await?;
//! assert!(greeting[..n].starts_with(b"220 mail.example.test"));
//! # Ok(())
//! # }
//! ```

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::SystemTime;

use mock_mail_servers::fixture::{FixtureError, MockMailBuilder, MockMailServices, Protocol};
use mock_mail_servers::tls::{CertificateAuthority, Validity};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::harness::world::service;
use crate::net::sim::firewall::{Action, Layer, Middlebox, Rule};
use crate::net::sim::{SimNetwork, SimNetworkBuilder};
use crate::net::{NetStream, Network};

/// The name of the firewall layer a [`SimMailBuilder`] adds.
pub const FIREWALL_LAYER: &str = "firewall";

/// Puts a fixture's servers on a simulated network.
pub trait Simulate {
    /// The servers on one host of a simulated network, named as the
    /// builder's host name; add firewall rules, then
    /// [`start`](SimMailBuilder::start).
    fn simulate(self) -> SimMailBuilder;
}

impl Simulate for MockMailBuilder {
    fn simulate(self) -> SimMailBuilder {
        SimMailBuilder {
            servers: self,
            rules: Vec::new(),
            now: None,
        }
    }
}

/// A fixture on the simulated network, before it starts.
#[derive(Debug, Clone)]
pub struct SimMailBuilder {
    servers: MockMailBuilder,
    rules: Vec<Rule>,
    now: Option<SystemTime>,
}

impl SimMailBuilder {
    /// A firewall rule for connections to the fixture's host on `ports`
    /// (empty: every port): [`Action::Drop`], [`Action::Reject`], a link
    /// fault ([`Action::Degrade`]), a middlebox ([`Action::Intercept`]), ...
    /// Rules are tried in the order given; the first match decides.
    pub fn firewall(mut self, ports: &[u16], action: Action) -> Self {
        self.rules.push(Rule {
            to: Vec::new(),
            ports: ports.to_vec(),
            family: None,
            action,
        });
        self
    }

    /// A firewall rule as the scenario model has it (hosts, ports, family).
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// The time certificates are valid around, the fixture's and those a
    /// re-signing scanner forges (default now).
    pub fn valid_at(mut self, now: SystemTime) -> Self {
        self.servers = self.servers.valid_at(now);
        self.now = Some(now);
        self
    }

    /// Builds the servers and the network. Call it inside a tokio runtime:
    /// servers run on tasks as connections arrive.
    pub async fn start(self) -> Result<SimMail, FixtureError> {
        let services = self.servers.build()?;
        let host = services.hostname.clone();
        let mut network = SimNetworkBuilder::new();
        let too_many = |e: crate::net::sim::TooManyHosts| FixtureError::Network(e.to_string());
        network.host(&host).map_err(too_many)?;
        for port in &services.ports {
            let serve = match port.protocol {
                Protocol::Smtp => service(services.smtp.clone(), port.mode),
                Protocol::Pop3 => service(services.pop3.clone(), port.mode),
                Protocol::Imap => service(services.imap.clone(), port.mode),
            };
            network.listen(&host, port.port, serve).map_err(too_many)?;
        }
        let now = time::OffsetDateTime::from(self.now.unwrap_or_else(SystemTime::now));
        for rule in &self.rules {
            if let Action::Intercept(Middlebox::ResigningScanner { issuer, .. }) = &rule.action {
                let validity = Validity::around(now);
                let authority = CertificateAuthority::new(issuer, validity)?;
                network.resigning_authority(issuer, std::sync::Arc::new(authority), validity);
            }
        }
        if !self.rules.is_empty() {
            network.layer(Layer {
                name: FIREWALL_LAYER.to_string(),
                rules: self.rules,
            });
        }
        let network = network.build();
        let address = network
            .address_of(&host)
            .ok_or_else(|| FixtureError::Network(format!("{host} has no address")))?;
        Ok(SimMail {
            services,
            network,
            address,
        })
    }
}

/// A fixture's servers on a simulated network. Everything ends with the
/// runtime; dropping it ends nothing that is still connected.
#[derive(Debug)]
pub struct SimMail {
    services: MockMailServices,
    network: SimNetwork,
    address: IpAddr,
}

impl SimMail {
    /// Connects to the fixture's host on `port` through the firewall. A
    /// dropped port never completes: apply your own timeout.
    pub async fn connect(&self, port: u16) -> io::Result<SimStream> {
        let peer = SocketAddr::new(self.address, port);
        let stream = self.network.connect(peer).await?;
        Ok(SimStream::new(stream, peer))
    }

    /// The network, for anything that takes a [`Network`] (the probe).
    pub fn network(&self) -> &SimNetwork {
        &self.network
    }

    /// The host's address on the simulated network (from 192.0.2.0/24).
    pub fn address(&self) -> IpAddr {
        self.address
    }

    /// What the network did, with virtual timestamps.
    pub fn log(&self) -> Vec<String> {
        self.network.log()
    }
}

impl std::ops::Deref for SimMail {
    type Target = MockMailServices;

    fn deref(&self) -> &MockMailServices {
        &self.services
    }
}

/// A connection over the simulated network: `Send + Sync + Debug`, with the
/// peer's address, as mail client libraries ask of a transport.
pub struct SimStream {
    // Only ever used through `&mut self` (`Mutex::get_mut`, no locking): the
    // mutex is what makes a `Send`-only stream `Sync`.
    inner: Mutex<NetStream>,
    peer: SocketAddr,
}

impl SimStream {
    /// Wraps a stream from a [`Network`] connected to `peer`.
    pub fn new(stream: NetStream, peer: SocketAddr) -> Self {
        SimStream {
            inner: Mutex::new(stream),
            peer,
        }
    }

    /// The address connected to.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.peer)
    }

    fn stream(self: Pin<&mut Self>) -> Pin<&mut NetStream> {
        let inner = self
            .get_mut()
            .inner
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Pin::new(inner)
    }
}

impl std::fmt::Debug for SimStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimStream")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl AsyncRead for SimStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.stream().poll_read(cx, buf)
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.stream().poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stream().poll_shutdown(cx)
    }
}

#[cfg(feature = "lettre")]
impl lettre::transport::smtp::client::AsyncTokioStream for SimStream {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.peer)
    }
}
