//! The simulated network: in-memory streams to in-process servers, through
//! the firewall shim, in virtual time.
//!
//! Hosts get addresses from the documentation ranges (192.0.2.0/24, then
//! 198.51.100.0/24 and 203.0.113.0/24; IPv6 from 2001:db8::/32 where enabled)
//! in the order they are added. A connection walks the [`firewall`] layers
//! from the client outward; a delivered connection becomes a
//! `tokio::io::duplex` pair whose far end is handed to the host's [`Service`]
//! for that port on a task of its own. Nothing here touches a socket, so a run
//! under paused time is exact and repeatable.

pub mod firewall;
mod link;
mod middlebox;
mod prefixed;

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use mock_mail_servers::tls::{CertificateAuthority, KeyExchange, Validity};
use tokio::time::Instant;

use super::{BoxFuture, NetStream, Network};
use firewall::{route, Family, Layer, Verdict};

/// Buffer of each in-memory connection, per direction.
const PIPE_CAPACITY: usize = 64 * 1024;

/// What listens on a port: called with the server's end of each connection.
pub type Service = Arc<dyn Fn(NetStream) -> BoxFuture<'static, ()> + Send + Sync>;

struct SimHost {
    name: String,
    v4: IpAddr,
    v6: Option<IpAddr>,
    services: BTreeMap<u16, Service>,
    /// The host's own firewall, asked at each connection (a ban list).
    gate: Option<HostGate>,
}

/// A host's own firewall that decides at each connection: `None` lets it
/// in, `Some(Action::Drop)` or `Some(Action::Reject)` stops it. What it
/// decides can change while the world runs (fail2ban bans an address
/// after failed logins).
pub type HostGate = Arc<dyn Fn() -> Option<firewall::Action> + Send + Sync>;

/// Certificate authorities of re-signing scanners, by issuer name.
struct Resigners {
    authorities: BTreeMap<String, Arc<CertificateAuthority>>,
    validity: Option<Validity>,
    key_exchange: KeyExchange,
}

struct Inner {
    hosts: Vec<SimHost>,
    layers: Vec<Layer>,
    dns: BTreeMap<String, String>,
    resolver: Resolver,
    resigners: Resigners,
    log: Mutex<EventLog>,
    origin: Instant,
}

/// The most events a network's log keeps: a scenario needs a few dozen; a
/// world served for days must not grow with every connection.
pub const LOG_LIMIT: usize = 10_000;

/// The network's log: the first [`LOG_LIMIT`] events, and a count of the rest.
#[derive(Debug, Default)]
struct EventLog {
    lines: Vec<String>,
    dropped: usize,
}

/// A simulated internet. Cheap to clone; clones share hosts and log.
#[derive(Clone)]
pub struct SimNetwork {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SimNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hosts: Vec<&str> = self.inner.hosts.iter().map(|h| h.name.as_str()).collect();
        f.debug_struct("SimNetwork")
            .field("hosts", &hosts)
            .field("layers", &self.inner.layers)
            .finish()
    }
}

/// What a real socket can show of a simulated connection (see
/// [`SimNetwork::fate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortFate {
    /// Nothing listens, or a firewall rejects: not bound, so refused.
    Refused,
    /// Dropped: a real socket cannot leave a SYN unanswered, so the
    /// connection is accepted and nothing ever arrives.
    Silent,
    /// Accepted, then reset.
    Reset,
    /// Relayed into the simulated network (servers, middleboxes, links).
    Relay,
}

/// How the client's DNS resolver behaves, and the error kind each shows
/// (the same as on the real network).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Resolver {
    /// It answers: names resolve, unknown names are `NotFound`.
    #[default]
    Answers,
    /// It never answers: the lookup waits for the caller's timeout.
    Down,
    /// It fails at once (SERVFAIL): `TimedOut`, as a resolver that gave no answer.
    Fails,
    /// There is no network to reach it: `NetworkUnreachable`.
    NoNetwork,
}

/// How many hosts the documentation address ranges (192.0.2.0/24,
/// 198.51.100.0/24, 203.0.113.0/24) give addresses to.
pub const MAX_HOSTS: usize = 3 * 254;

/// Too many hosts for the documentation address ranges.
#[derive(Debug, thiserror::Error)]
#[error("a simulated world holds at most {MAX_HOSTS} hosts")]
pub struct TooManyHosts;

/// Builds a [`SimNetwork`].
#[derive(Default)]
pub struct SimNetworkBuilder {
    hosts: Vec<SimHost>,
    layers: Vec<Layer>,
    dns: BTreeMap<String, String>,
    resolver: Resolver,
    authorities: BTreeMap<String, Arc<CertificateAuthority>>,
    validity: Option<Validity>,
    key_exchange: KeyExchange,
}

impl SimNetworkBuilder {
    /// An empty world.
    pub fn new() -> Self {
        SimNetworkBuilder::default()
    }

    /// Adds a host (or returns the existing one) and gives it the next address.
    pub fn host(&mut self, name: &str) -> Result<IpAddr, TooManyHosts> {
        let index = self.index(name)?;
        Ok(self.hosts[index].v4)
    }

    /// The index of host `name`, adding it first if it is new.
    fn index(&mut self, name: &str) -> Result<usize, TooManyHosts> {
        if let Some(index) = self
            .hosts
            .iter()
            .position(|h| h.name.eq_ignore_ascii_case(name))
        {
            return Ok(index);
        }
        let v4 = documentation_address(self.hosts.len()).ok_or(TooManyHosts)?;
        self.hosts.push(SimHost {
            name: name.to_ascii_lowercase(),
            v4,
            v6: None,
            services: BTreeMap::new(),
            gate: None,
        });
        Ok(self.hosts.len() - 1)
    }

    /// Gives `host` an IPv6 address too (2001:db8::N); it resolves to both,
    /// IPv6 first.
    pub fn enable_ipv6(&mut self, host: &str) -> Result<(), TooManyHosts> {
        let index = self.index(host)?;
        let segment = u16::try_from(index + 1).map_err(|_| TooManyHosts)?;
        self.hosts[index].v6 = Some(IpAddr::V6(Ipv6Addr::new(
            0x2001, 0xdb8, 0, 0, 0, 0, 0, segment,
        )));
        Ok(())
    }

    /// Makes `service` listen on `host:port` (adding the host if needed).
    /// Puts `gate` in front of every port of `host`.
    pub fn gate(&mut self, host: &str, gate: HostGate) -> Result<(), TooManyHosts> {
        let index = self.index(host)?;
        self.hosts[index].gate = Some(gate);
        Ok(())
    }

    pub fn listen(&mut self, host: &str, port: u16, service: Service) -> Result<(), TooManyHosts> {
        let index = self.index(host)?;
        self.hosts[index].services.insert(port, service);
        Ok(())
    }

    /// Appends a layer; layers are walked in the order they were added.
    pub fn layer(&mut self, layer: Layer) {
        self.layers.push(layer);
    }

    /// How the client's resolver behaves.
    pub fn resolver(&mut self, resolver: Resolver) {
        self.resolver = resolver;
    }

    /// Makes `name` resolve to the addresses of host `target` (`*` overrides
    /// every name, as a captive portal's resolver does).
    pub fn dns_override(&mut self, name: &str, target: &str) {
        self.dns
            .insert(name.to_ascii_lowercase(), target.to_ascii_lowercase());
    }

    /// Registers the root a re-signing scanner signs with, and the validity
    /// of the certificates it forges.
    pub fn resigning_authority(
        &mut self,
        issuer: &str,
        authority: Arc<CertificateAuthority>,
        validity: Validity,
    ) {
        self.authorities.insert(issuer.to_string(), authority);
        self.validity = Some(validity);
    }

    /// How the network's TLS parties (a re-signing scanner's two sides,
    /// and the servers of the world built on it) agree keys:
    /// [`KeyExchange::InProcess`] when every client is of this process too
    /// (the default is [`KeyExchange::Fresh`]).
    pub fn key_exchange(&mut self, key_exchange: KeyExchange) {
        self.key_exchange = key_exchange;
    }

    /// The finished network. Its log's timestamps count from now.
    pub fn build(self) -> SimNetwork {
        SimNetwork {
            inner: Arc::new(Inner {
                hosts: self.hosts,
                layers: self.layers,
                dns: self.dns,
                resolver: self.resolver,
                resigners: Resigners {
                    authorities: self.authorities,
                    validity: self.validity,
                    key_exchange: self.key_exchange,
                },
                log: Mutex::new(EventLog::default()),
                origin: Instant::now(),
            }),
        }
    }
}

fn documentation_address(index: usize) -> Option<IpAddr> {
    let (block, offset) = (index / 254, (index % 254) as u8 + 1);
    let prefix = [[192, 0, 2], [198, 51, 100], [203, 0, 113]].get(block)?;
    Some(IpAddr::V4(Ipv4Addr::new(
        prefix[0], prefix[1], prefix[2], offset,
    )))
}

impl SimNetwork {
    /// What the network did, one line per event, with virtual timestamps.
    /// This is the world's view; the probe never reads it.
    /// At most [`LOG_LIMIT`] events are kept; a last line counts the rest.
    pub fn log(&self) -> Vec<String> {
        let log = self.inner.log.lock().unwrap_or_else(|p| p.into_inner());
        let mut lines = log.lines.clone();
        if log.dropped > 0 {
            lines.push(format!("({} more events not kept)", log.dropped));
        }
        lines
    }

    /// Logs `event`, formatted only if the log has room for it.
    fn record(&self, event: std::fmt::Arguments<'_>) {
        let mut log = self.inner.log.lock().unwrap_or_else(|p| p.into_inner());
        if log.lines.len() >= LOG_LIMIT {
            log.dropped = log.dropped.saturating_add(1);
            return;
        }
        let at = self.inner.origin.elapsed();
        log.lines
            .push(format!("[{:>8.3}s] {event}", at.as_secs_f64()));
    }

    fn host_name(&self, host: usize) -> &str {
        &self.inner.hosts[host].name
    }

    fn host_index(&self, name: &str) -> Option<usize> {
        self.inner
            .hosts
            .iter()
            .position(|h| h.name.eq_ignore_ascii_case(name))
    }

    fn host_by_ip(&self, ip: IpAddr) -> Option<(usize, Family)> {
        self.inner.hosts.iter().enumerate().find_map(|(index, h)| {
            if h.v4 == ip {
                Some((index, Family::V4))
            } else if h.v6 == Some(ip) {
                Some((index, Family::V6))
            } else {
                None
            }
        })
    }

    /// A server configuration presenting a certificate for `host` signed by
    /// the re-signing scanner's root `issuer`: forged once per upstream name
    /// and kept, as real scanners keep theirs.
    fn forge_certificate(&self, issuer: &str, host: &str) -> Option<Arc<rustls::ServerConfig>> {
        let resigners = &self.inner.resigners;
        let authority = resigners.authorities.get(issuer)?;
        let identity = authority
            .issue_shared(&[host.to_string()], resigners.validity?)
            .ok()?;
        identity.server_config_with(resigners.key_exchange).ok()
    }

    /// How the network's TLS parties agree keys: its re-signing scanners,
    /// and the servers of the world it was built for.
    pub fn key_exchange(&self) -> KeyExchange {
        self.inner.resigners.key_exchange
    }

    /// Connects to host `host` (an index) on `port`, entering the path at layer `start`.
    fn connect_from(
        &self,
        start: usize,
        host: usize,
        port: u16,
        family: Family,
    ) -> BoxFuture<'static, io::Result<NetStream>> {
        let network = self.clone();
        Box::pin(async move {
            let name = network.host_name(host).to_string();
            let layer_name = |layer: usize| network.inner.layers[layer].name.clone();
            let route = route(&network.inner.layers, start, &name, port, family);
            let delay: std::time::Duration = route.faults.iter().map(|f| f.latency).sum();
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let stream = match route.verdict {
                Verdict::Drop { layer } => {
                    network.record(format_args!("{}: drop {name}:{port}", layer_name(layer)));
                    std::future::pending().await
                }
                Verdict::Reject { layer } => {
                    network.record(format_args!("{}: reject {name}:{port}", layer_name(layer)));
                    return Err(io::Error::from(io::ErrorKind::ConnectionRefused));
                }
                Verdict::Unreachable { layer } => {
                    network.record(format_args!(
                        "{}: host unreachable {name}:{port}",
                        layer_name(layer)
                    ));
                    return Err(io::Error::from(io::ErrorKind::HostUnreachable));
                }
                Verdict::NoRoute { layer } => {
                    network.record(format_args!(
                        "{}: no route to {name}:{port}",
                        layer_name(layer)
                    ));
                    return Err(io::Error::from(io::ErrorKind::NetworkUnreachable));
                }
                Verdict::Reset { layer } => {
                    network.record(format_args!(
                        "{}: accept then reset {name}:{port}",
                        layer_name(layer)
                    ));
                    link::reset_at_once()
                }
                Verdict::Redirect { layer, to } => {
                    network.record(format_args!(
                        "{}: redirect {name}:{port} to {to}:{port}",
                        layer_name(layer)
                    ));
                    let Some(target) = network.host_index(&to) else {
                        return Err(io::Error::from(io::ErrorKind::ConnectionRefused));
                    };
                    network
                        .connect_from(layer + 1, target, port, family)
                        .await?
                }
                Verdict::Intercept { layer, middlebox } => {
                    network.record(format_args!(
                        "{}: {} intercepts {name}:{port}",
                        layer_name(layer),
                        middlebox.name()
                    ));
                    middlebox::spawn(network.clone(), layer + 1, host, port, family, middlebox)
                }
                Verdict::Deliver => match network.host_gate(host) {
                    Some(firewall::Action::Drop) => {
                        network.record(format_args!("{name}: own firewall (a ban) drops :{port}"));
                        std::future::pending().await
                    }
                    Some(_) => {
                        network
                            .record(format_args!("{name}: own firewall (a ban) rejects :{port}"));
                        return Err(io::Error::from(io::ErrorKind::ConnectionRefused));
                    }
                    None => network.deliver(host, port)?,
                },
            };
            Ok(route.faults.into_iter().rev().fold(stream, link::degrade))
        })
    }

    /// What a real socket can show of a connection to `host:port` from the
    /// client's side (for `serve`): refused, accepted and silent (a drop),
    /// reset, or relayed into this network.
    pub fn fate(&self, host: &str, port: u16) -> PortFate {
        match self.host_index(host) {
            Some(index) => self.fate_from(0, index, port, 0),
            None => PortFate::Refused,
        }
    }

    fn fate_from(&self, start: usize, host: usize, port: u16, hops: usize) -> PortFate {
        let name = self.host_name(host);
        match route(&self.inner.layers, start, name, port, Family::V4).verdict {
            Verdict::Drop { .. } => PortFate::Silent,
            Verdict::Reject { .. } | Verdict::Unreachable { .. } | Verdict::NoRoute { .. } => {
                PortFate::Refused
            }
            Verdict::Reset { .. } => PortFate::Reset,
            Verdict::Intercept { .. } => PortFate::Relay,
            Verdict::Redirect { layer, to } => match self.host_index(&to) {
                // A redirect loop ends as a refusal, as the relay would.
                Some(target) if hops < 8 => self.fate_from(layer + 1, target, port, hops + 1),
                _ => PortFate::Refused,
            },
            Verdict::Deliver if self.inner.hosts[host].services.contains_key(&port) => {
                PortFate::Relay
            }
            Verdict::Deliver => PortFate::Refused,
        }
    }

    /// A host's own IPv4 address, without asking the client's resolver
    /// (which a world may have made fail).
    pub fn address_of(&self, host: &str) -> Option<IpAddr> {
        self.host_index(host)
            .map(|index| self.inner.hosts[index].v4)
    }

    /// Every host's name, in order.
    pub fn host_names(&self) -> Vec<String> {
        self.inner.hosts.iter().map(|h| h.name.clone()).collect()
    }

    /// For `serve`: where a connection to `addr` meets no rule, middlebox
    /// or link fault on its way, the service itself, to run on `stream` (a
    /// real socket) with no relay in between; otherwise `stream` back, to be
    /// carried through the network by [`Network::connect`].
    pub fn serve_directly(
        &self,
        addr: SocketAddr,
        stream: NetStream,
    ) -> Result<BoxFuture<'static, ()>, NetStream> {
        let Some((host, family)) = self.host_by_ip(addr.ip()) else {
            return Err(stream);
        };
        let target = &self.inner.hosts[host];
        let route = route(&self.inner.layers, 0, &target.name, addr.port(), family);
        let Some(service) = target.services.get(&addr.port()) else {
            return Err(stream);
        };
        if !matches!(route.verdict, Verdict::Deliver)
            || !route.faults.is_empty()
            || target.gate.is_some()
        {
            return Err(stream);
        }
        self.record(format_args!(
            "{}:{}: connection accepted",
            target.name,
            addr.port()
        ));
        Ok(service(stream))
    }

    /// What the host's own firewall decides for a connection now.
    fn host_gate(&self, host: usize) -> Option<firewall::Action> {
        self.inner.hosts[host].gate.as_ref().and_then(|gate| gate())
    }

    fn deliver(&self, host: usize, port: u16) -> io::Result<NetStream> {
        let target = &self.inner.hosts[host];
        let Some(service) = target.services.get(&port) else {
            self.record(format_args!(
                "{}:{port}: nothing listening, refused",
                target.name
            ));
            return Err(io::Error::from(io::ErrorKind::ConnectionRefused));
        };
        self.record(format_args!("{}:{port}: connection accepted", target.name));
        let (client, server) = tokio::io::duplex(PIPE_CAPACITY);
        tokio::spawn(service(Box::new(server)));
        Ok(Box::new(client))
    }

    /// The host a name resolves to, after DNS overrides.
    fn lookup(&self, name: &str) -> Option<usize> {
        let name = name.to_ascii_lowercase();
        let dns = &self.inner.dns;
        let target = dns
            .get(&name)
            .or_else(|| dns.get("*"))
            .map_or(name.as_str(), String::as_str);
        self.host_index(target)
    }
}

impl Network for SimNetwork {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            match self.inner.resolver {
                Resolver::Answers => {}
                Resolver::Down => {
                    self.record(format_args!("dns: {host}: no answer from the resolver"));
                    std::future::pending::<()>().await;
                }
                Resolver::Fails => {
                    self.record(format_args!("dns: {host}: SERVFAIL"));
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "SERVFAIL"));
                }
                Resolver::NoNetwork => {
                    self.record(format_args!("dns: {host}: no route to the resolver"));
                    return Err(io::Error::from(io::ErrorKind::NetworkUnreachable));
                }
            }
            match self.lookup(host) {
                Some(index) => {
                    let found = &self.inner.hosts[index];
                    Ok(found.v6.into_iter().chain([found.v4]).collect())
                }
                None => {
                    self.record(format_args!("dns: {host}: no such name"));
                    Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("{host}: no such name"),
                    ))
                }
            }
        })
    }

    fn connect(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<NetStream>> {
        match self.host_by_ip(addr.ip()) {
            Some((host, family)) => self.connect_from(0, host, addr.port(), family),
            None => Box::pin(async move {
                self.record(format_args!("{addr}: no route, SYN lost"));
                std::future::pending().await
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use firewall::{Action, LinkFaults, Rule};
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn echo() -> Service {
        Arc::new(|mut stream: NetStream| {
            Box::pin(async move {
                let mut buffer = [0u8; 1024];
                while let Ok(n) = stream.read(&mut buffer).await {
                    if n == 0 || stream.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
            })
        })
    }

    fn rule(ports: &[u16], action: Action) -> Rule {
        Rule {
            to: vec![],
            ports: ports.to_vec(),
            family: None,
            action,
        }
    }

    fn world(rules: Vec<Rule>) -> SimNetwork {
        let mut builder = SimNetworkBuilder::new();
        builder.listen("echo.example", 7, echo()).unwrap();
        builder.host("quiet.example").unwrap();
        builder.layer(Layer {
            name: "isp".into(),
            rules,
        });
        builder.build()
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
    }

    async fn connect(network: &SimNetwork, host: &str, port: u16) -> io::Result<NetStream> {
        let ip = network.resolve(host).await?[0];
        tokio::time::timeout(
            Duration::from_secs(30),
            network.connect(SocketAddr::new(ip, port)),
        )
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
    }

    #[test]
    fn the_log_keeps_a_bounded_number_of_events() {
        runtime().block_on(async {
            let network = world(vec![]);
            for _ in 0..LOG_LIMIT + 5 {
                drop(connect(&network, "echo.example", 7).await.unwrap());
            }
            let log = network.log();
            assert_eq!(log.len(), LOG_LIMIT + 1);
            assert_eq!(
                log.last().map(String::as_str),
                Some("(5 more events not kept)")
            );
        });
    }

    #[test]
    fn addresses_come_from_documentation_ranges() {
        assert_eq!(documentation_address(0), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(
            documentation_address(254),
            Some("198.51.100.1".parse().unwrap())
        );
        assert_eq!(documentation_address(762), None);
    }

    #[test]
    fn delivered_connections_reach_the_service() {
        runtime().block_on(async {
            let network = world(vec![]);
            let mut stream = connect(&network, "echo.example", 7).await.unwrap();
            stream.write_all(b"ping").await.unwrap();
            let mut reply = [0u8; 4];
            stream.read_exact(&mut reply).await.unwrap();
            assert_eq!(&reply, b"ping");
        });
    }

    #[test]
    fn faults_map_to_the_error_kinds_of_a_real_network() {
        runtime().block_on(async {
            let network = world(vec![rule(&[25], Action::Drop), rule(&[26], Action::Reset)]);
            let kind = |r: io::Result<NetStream>| r.err().map(|e| e.kind());
            assert_eq!(
                kind(connect(&network, "nowhere.example", 7).await),
                Some(io::ErrorKind::NotFound)
            );
            assert_eq!(
                kind(connect(&network, "quiet.example", 7).await),
                Some(io::ErrorKind::ConnectionRefused)
            );
            let start = Instant::now();
            assert_eq!(
                kind(connect(&network, "echo.example", 25).await),
                Some(io::ErrorKind::TimedOut)
            );
            assert_eq!(
                start.elapsed(),
                Duration::from_secs(30),
                "virtual time only"
            );
            let mut reset = connect(&network, "echo.example", 26).await.unwrap();
            let mut byte = [0u8; 1];
            assert_eq!(
                reset.read(&mut byte).await.unwrap_err().kind(),
                io::ErrorKind::ConnectionReset
            );
        });
    }

    #[test]
    fn links_delay_and_reset() {
        runtime().block_on(async {
            let faults = LinkFaults {
                latency: Duration::from_secs(2),
                reset_after: Some(3),
                ..LinkFaults::default()
            };
            let network = world(vec![rule(&[], Action::Degrade(faults))]);
            let start = Instant::now();
            let mut stream = connect(&network, "echo.example", 7).await.unwrap();
            assert_eq!(
                start.elapsed(),
                Duration::from_secs(2),
                "connecting takes the latency"
            );
            stream.write_all(b"hello").await.unwrap();
            let mut first = [0u8; 3];
            stream.read_exact(&mut first).await.unwrap();
            assert_eq!(&first, b"hel");
            assert_eq!(start.elapsed(), Duration::from_secs(4));
            let mut more = [0u8; 2];
            assert_eq!(
                stream.read(&mut more).await.unwrap_err().kind(),
                io::ErrorKind::ConnectionReset
            );
        });
    }

    #[test]
    fn the_lower_of_two_byte_limits_acts_first() {
        runtime().block_on(async {
            let faults = LinkFaults {
                reset_after: Some(3),
                stall_after: Some(4),
                ..LinkFaults::default()
            };
            let network = world(vec![rule(&[], Action::Degrade(faults))]);
            let mut stream = connect(&network, "echo.example", 7).await.unwrap();
            stream.write_all(b"hello").await.unwrap();
            let mut first = [0u8; 3];
            stream.read_exact(&mut first).await.unwrap();
            let mut more = [0u8; 2];
            assert_eq!(
                stream.read(&mut more).await.unwrap_err().kind(),
                io::ErrorKind::ConnectionReset
            );
        });
    }

    #[test]
    fn a_packet_over_the_path_limit_is_lost_with_all_after_it() {
        runtime().block_on(async {
            let faults = LinkFaults {
                max_packet: Some(8),
                ..LinkFaults::default()
            };
            let network = world(vec![rule(&[], Action::Degrade(faults))]);
            let mut stream = connect(&network, "echo.example", 7).await.unwrap();
            stream.write_all(b"small").await.unwrap();
            let mut echoed = [0u8; 5];
            stream.read_exact(&mut echoed).await.unwrap();
            assert_eq!(&echoed, b"small", "a small packet passes both ways");
            stream.write_all(b"far too large a packet").await.unwrap();
            stream.write_all(b"tiny").await.unwrap();
            let mut more = [0u8; 4];
            let waited =
                tokio::time::timeout(Duration::from_secs(600), stream.read(&mut more)).await;
            assert!(waited.is_err(), "nothing after the lost packet arrives");
        });
    }

    #[test]
    fn a_cut_down_window_crosses_once_per_round_trip_both_ways() {
        runtime().block_on(async {
            let faults = LinkFaults {
                latency: Duration::from_millis(100),
                window: Some(4),
                ..LinkFaults::default()
            };
            let network = world(vec![rule(&[], Action::Degrade(faults))]);
            let mut stream = connect(&network, "echo.example", 7).await.unwrap();
            let start = tokio::time::Instant::now();
            stream.write_all(b"0123456789").await.unwrap();
            let mut arrivals = Vec::new();
            let mut echoed = Vec::new();
            while echoed.len() < 10 {
                let mut buffer = [0u8; 16];
                let n = stream.read(&mut buffer).await.unwrap();
                echoed.extend_from_slice(&buffer[..n]);
                arrivals.push((start.elapsed().as_millis(), n));
            }
            assert_eq!(echoed, b"0123456789");
            // Up: 4 bytes now, 4 a round trip later, 2 after another; each
            // echo comes back a latency later, in windows of its own.
            assert_eq!(arrivals, vec![(100, 4), (200, 4), (300, 2)]);
        });
    }

    #[test]
    fn dns_overrides_and_ipv6() {
        runtime().block_on(async {
            let mut builder = SimNetworkBuilder::new();
            builder.listen("echo.example", 7, echo()).unwrap();
            builder.enable_ipv6("echo.example").unwrap();
            builder.host("portal.example").unwrap();
            builder.dns_override("*", "portal.example");
            let network = builder.build();
            let portal = network.resolve("anything.invalid").await.unwrap();
            assert_eq!(portal, vec!["192.0.2.2".parse::<IpAddr>().unwrap()]);
            let mut builder = SimNetworkBuilder::new();
            builder.listen("echo.example", 7, echo()).unwrap();
            builder.enable_ipv6("echo.example").unwrap();
            let addresses = builder.build().resolve("echo.example").await.unwrap();
            assert_eq!(
                addresses,
                vec![
                    "2001:db8::1".parse::<IpAddr>().unwrap(),
                    "192.0.2.1".parse().unwrap()
                ]
            );
        });
    }
}
