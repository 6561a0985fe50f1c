//! The simulated network: in-memory streams to in-process servers, through
//! the firewall shim, in virtual time.
//!
//! Hosts get addresses from the documentation ranges (192.0.2.0/24, then
//! 198.51.100.0/24 and 203.0.113.0/24) in the order they are added. A
//! connection walks the [`firewall`] layers from the client outward; a
//! delivered connection becomes a `tokio::io::duplex` pair whose far end is
//! handed to the host's [`Service`] for that port on a task of its own.
//! Nothing here touches a socket, so a run under paused time is exact and
//! repeatable.

pub mod firewall;
mod scanner;

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

use super::{BoxFuture, NetStream, Network};
use firewall::{route, Layer, Middlebox, Verdict};

/// Buffer of each in-memory connection, per direction.
const PIPE_CAPACITY: usize = 64 * 1024;

/// What listens on a port: called with the server's end of each connection.
pub type Service = Arc<dyn Fn(NetStream) -> BoxFuture<'static, ()> + Send + Sync>;

struct SimHost {
    name: String,
    ip: IpAddr,
    services: BTreeMap<u16, Service>,
}

struct Inner {
    hosts: Vec<SimHost>,
    layers: Vec<Layer>,
    log: Mutex<Vec<String>>,
    origin: Instant,
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

/// Too many hosts for the documentation address ranges.
#[derive(Debug, thiserror::Error)]
#[error("a simulated world holds at most 762 hosts")]
pub struct TooManyHosts;

/// Builds a [`SimNetwork`].
#[derive(Default)]
pub struct SimNetworkBuilder {
    hosts: Vec<SimHost>,
    layers: Vec<Layer>,
}

impl SimNetworkBuilder {
    /// An empty world.
    pub fn new() -> Self {
        SimNetworkBuilder::default()
    }

    /// Adds a host (or returns the existing one) and gives it the next address.
    pub fn host(&mut self, name: &str) -> Result<IpAddr, TooManyHosts> {
        if let Some(host) = self.find(name) {
            return Ok(host.ip);
        }
        let ip = documentation_address(self.hosts.len()).ok_or(TooManyHosts)?;
        self.hosts.push(SimHost {
            name: name.to_ascii_lowercase(),
            ip,
            services: BTreeMap::new(),
        });
        Ok(ip)
    }

    /// Makes `service` listen on `host:port` (adding the host if needed).
    pub fn listen(&mut self, host: &str, port: u16, service: Service) -> Result<(), TooManyHosts> {
        self.host(host)?;
        let host = self
            .hosts
            .iter_mut()
            .find(|h| h.name.eq_ignore_ascii_case(host))
            .expect("added above");
        host.services.insert(port, service);
        Ok(())
    }

    /// Appends a layer; layers are walked in the order they were added.
    pub fn layer(&mut self, layer: Layer) {
        self.layers.push(layer);
    }

    /// The finished network. Its log's timestamps count from now.
    pub fn build(self) -> SimNetwork {
        SimNetwork {
            inner: Arc::new(Inner {
                hosts: self.hosts,
                layers: self.layers,
                log: Mutex::new(Vec::new()),
                origin: Instant::now(),
            }),
        }
    }

    fn find(&self, name: &str) -> Option<&SimHost> {
        self.hosts
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
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
    pub fn log(&self) -> Vec<String> {
        self.inner
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn record(&self, event: String) {
        let at = self.inner.origin.elapsed();
        let line = format!("[{:>8.3}s] {event}", at.as_secs_f64());
        self.inner
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line);
    }

    fn host_by_ip(&self, ip: IpAddr) -> Option<usize> {
        self.inner.hosts.iter().position(|h| h.ip == ip)
    }

    /// Connects to host `host` (an index) on `port`, entering the path at layer `start`.
    fn connect_from(
        &self,
        start: usize,
        host: usize,
        port: u16,
    ) -> BoxFuture<'static, io::Result<NetStream>> {
        let network = self.clone();
        Box::pin(async move {
            let name = network.inner.hosts[host].name.clone();
            let layer_name = |layer: usize| network.inner.layers[layer].name.clone();
            match route(&network.inner.layers, start, &name, port) {
                Verdict::Drop { layer } => {
                    network.record(format!("{}: drop {name}:{port}", layer_name(layer)));
                    std::future::pending().await
                }
                Verdict::Reject { layer } => {
                    network.record(format!("{}: reject {name}:{port}", layer_name(layer)));
                    Err(io::Error::from(io::ErrorKind::ConnectionRefused))
                }
                Verdict::Intercept { layer, middlebox } => {
                    network.record(format!(
                        "{}: {} intercepts {name}:{port}",
                        layer_name(layer),
                        middlebox.name()
                    ));
                    Ok(match middlebox {
                        Middlebox::MailScanner { upstream_timeout } => {
                            scanner::spawn(network.clone(), layer + 1, host, port, upstream_timeout)
                        }
                    })
                }
                Verdict::Deliver => network.deliver(host, port),
            }
        })
    }

    fn deliver(&self, host: usize, port: u16) -> io::Result<NetStream> {
        let target = &self.inner.hosts[host];
        let Some(service) = target.services.get(&port) else {
            self.record(format!(
                "{}:{port}: nothing listening, refused",
                target.name
            ));
            return Err(io::Error::from(io::ErrorKind::ConnectionRefused));
        };
        self.record(format!("{}:{port}: connection accepted", target.name));
        let (client, server) = tokio::io::duplex(PIPE_CAPACITY);
        tokio::spawn(service(Box::new(server)));
        Ok(Box::new(client))
    }
}

impl Network for SimNetwork {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            match self
                .inner
                .hosts
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(host))
            {
                Some(found) => Ok(vec![found.ip]),
                None => {
                    self.record(format!("dns: {host}: no such name"));
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
            Some(host) => self.connect_from(0, host, addr.port()),
            None => Box::pin(async move {
                self.record(format!("{addr}: no route, SYN lost"));
                std::future::pending().await
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use firewall::{Action, Rule};
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
            let network = world(vec![Rule {
                to: vec![],
                ports: vec![25],
                action: Action::Drop,
            }]);
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
        });
    }
}
