//! The real network: the system resolver and TCP.

use std::io;
use std::net::{IpAddr, SocketAddr};

use super::{BoxFuture, NetStream, Network};

/// DNS through the system resolver, connections over TCP.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealNetwork;

impl Network for RealNetwork {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host, 0)).await.map_err(|error| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("cannot resolve {host}: {error}"),
                )
            })?;
            let mut ips: Vec<IpAddr> = Vec::new();
            for addr in addrs {
                if !ips.contains(&addr.ip()) {
                    ips.push(addr.ip());
                }
            }
            if ips.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{host} has no addresses"),
                ));
            }
            Ok(ips)
        })
    }

    fn connect(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<NetStream>> {
        Box::pin(async move {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as NetStream)
        })
    }
}
