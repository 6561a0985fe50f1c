//! The probe's way into a world served on loopback (`serve --map FILE`,
//! `probe --connect-map FILE`, or curl-like `--connect-to`): the world's
//! names resolve to stand-in addresses, and a connection to HOST:PORT goes
//! to the local port that serves it. What is not served is refused and
//! unknown names do not exist, as in the world: nothing leaves the machine.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::{BoxFuture, NetStream, Network};

/// HOST:PORT pairs and the local addresses that serve them.
#[derive(Debug, Clone, Default)]
pub struct MappedNetwork {
    hosts: Vec<String>,
    routes: BTreeMap<(String, u16), SocketAddr>,
}

/// The stand-in address of the i-th host: 198.18.0.0/15 is for benchmarks
/// (RFC 2544) and is never connected to; it only names the host.
fn stand_in(index: usize) -> Option<IpAddr> {
    let index = u32::try_from(index).ok()?.checked_add(1)?;
    (index < 1 << 17).then(|| IpAddr::V4(Ipv4Addr::from(0xc612_0000 | index)))
}

impl MappedNetwork {
    /// Serves `host:port` from `local`.
    pub fn add(&mut self, host: &str, port: u16, local: SocketAddr) {
        let host = host.to_ascii_lowercase();
        if !self.hosts.contains(&host) {
            self.hosts.push(host.clone());
        }
        self.routes.insert((host, port), local);
    }

    /// Reads `HOST:PORT ADDRESS:PORT` lines (`#` starts a comment), as
    /// `serve --map` writes them; errors name the line.
    pub fn parse(text: &str) -> Result<MappedNetwork, String> {
        let mut network = MappedNetwork::default();
        for (number, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let wrong = || {
                format!(
                    "line {}: expected `HOST:PORT ADDRESS:PORT`, found {line:?}",
                    number + 1
                )
            };
            let (served, local) = line.split_once(char::is_whitespace).ok_or_else(wrong)?;
            let (host, port) = served.rsplit_once(':').ok_or_else(wrong)?;
            let port: u16 = port.parse().map_err(|_| wrong())?;
            let local: SocketAddr = local.trim().parse().map_err(|_| wrong())?;
            network.add(host, port, local);
        }
        Ok(network)
    }

    /// One `--connect-to HOST:PORT:ADDRESS:PORT` (curl's form).
    pub fn connect_to(&mut self, spec: &str) -> Result<(), String> {
        let wrong = || format!("--connect-to {spec:?}: expected HOST:PORT:ADDRESS:PORT");
        let mut parts = spec.splitn(3, ':');
        let (host, port, local) = (parts.next(), parts.next(), parts.next());
        let (Some(host), Some(port), Some(local)) = (host, port, local) else {
            return Err(wrong());
        };
        let port: u16 = port.parse().map_err(|_| wrong())?;
        let local: SocketAddr = local.parse().map_err(|_| wrong())?;
        self.add(host, port, local);
        Ok(())
    }

    /// Whether nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

impl Network for MappedNetwork {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            let host = host.to_ascii_lowercase();
            self.hosts
                .iter()
                .position(|h| *h == host)
                .and_then(stand_in)
                .map(|ip| vec![ip])
                .ok_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, format!("{host}: not in the map"))
                })
        })
    }

    fn connect(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<NetStream>> {
        let local = self
            .hosts
            .iter()
            .enumerate()
            .find(|(index, _)| stand_in(*index) == Some(addr.ip()))
            .and_then(|(_, host)| self.routes.get(&(host.clone(), addr.port())))
            .copied();
        Box::pin(async move {
            let local = local.ok_or_else(|| io::Error::from(io::ErrorKind::ConnectionRefused))?;
            let stream = tokio::net::TcpStream::connect(local).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as NetStream)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_maps_and_refuses_what_is_not_served() {
        let mut network =
            MappedNetwork::parse("# served\nmx.example:25 127.0.0.1:40025\n\n").unwrap();
        network
            .connect_to("mx.example:587:127.0.0.1:40587")
            .unwrap();
        assert!(MappedNetwork::parse("mx.example 127.0.0.1:1").is_err());
        assert!(network.connect_to("mx.example:x:127.0.0.1:1").is_err());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let ip = network.resolve("MX.example").await.unwrap()[0];
            assert_eq!(ip, "198.18.0.1".parse::<IpAddr>().unwrap());
            let kind = |r: io::Result<NetStream>| r.err().map(|e| e.kind());
            assert_eq!(
                kind(network.connect(SocketAddr::new(ip, 110)).await),
                Some(io::ErrorKind::ConnectionRefused)
            );
            assert_eq!(
                network
                    .resolve("other.example")
                    .await
                    .err()
                    .map(|e| e.kind()),
                Some(io::ErrorKind::NotFound)
            );
        });
    }
}
