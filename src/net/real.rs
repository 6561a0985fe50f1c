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
            let addrs = tokio::net::lookup_host((host, 0))
                .await
                .map_err(|error| lookup_error(host, &error, has_default_route()))?;
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

/// What a failed lookup means, by the resolver's own words (getaddrinfo's
/// `gai_strerror`): the name does not exist (`NotFound`, NXDOMAIN), the
/// resolver gave no answer (`TimedOut`: a timeout or SERVFAIL, "temporary"
/// or "non-recoverable failure"), or there is no network at all
/// (`NetworkUnreachable`: no default route).
fn lookup_error(host: &str, error: &io::Error, routed: bool) -> io::Error {
    let said = error.to_string();
    let no_answer = said.contains("Temporary failure") || said.contains("Non-recoverable");
    let kind = match (no_answer, routed) {
        (true, false) => io::ErrorKind::NetworkUnreachable,
        (true, true) => io::ErrorKind::TimedOut,
        (false, _) => io::ErrorKind::NotFound,
    };
    io::Error::new(kind, format!("cannot resolve {host}: {said}"))
}

/// Whether the machine has a default route (IPv4 or IPv6), read from
/// /proc: no packet is sent to find out. Where /proc cannot be read, it is
/// taken to have one.
fn has_default_route() -> bool {
    let ipv4 = std::fs::read_to_string("/proc/net/route").map(|table| {
        table
            .lines()
            .skip(1)
            .any(|line| line.split_whitespace().nth(1) == Some("00000000"))
    });
    let ipv6 = std::fs::read_to_string("/proc/net/ipv6_route").map(|table| {
        table.lines().any(|line| {
            let mut fields = line.split_whitespace();
            let destination = fields.next();
            let prefix = fields.next();
            let device = line.split_whitespace().last();
            destination == Some("00000000000000000000000000000000")
                && prefix == Some("00")
                && device != Some("lo")
        })
    });
    match (ipv4, ipv6) {
        (Err(_), Err(_)) => true,
        (v4, v6) => v4.unwrap_or(false) || v6.unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_failures_are_told_apart() {
        let failed = |text: &str, routed| {
            lookup_error("mx.example", &io::Error::other(text.to_string()), routed).kind()
        };
        let nxdomain = "failed to lookup address information: Name or service not known";
        let no_answer =
            "failed to lookup address information: Temporary failure in name resolution";
        assert_eq!(failed(nxdomain, true), io::ErrorKind::NotFound);
        assert_eq!(failed(no_answer, true), io::ErrorKind::TimedOut);
        assert_eq!(failed(no_answer, false), io::ErrorKind::NetworkUnreachable);
    }
}
