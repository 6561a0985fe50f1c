//! A local antivirus mail scanner, as such products behaved around 2007.
//!
//! It listens on the ports it was told to scan and accepts at once. Only then
//! does it open its own connection to the real server, through the layers
//! beyond it; if that fails it closes the client's connection, so the client
//! sees "connected, then closed before any greeting". It relays plaintext both
//! ways, and it cannot read TLS: when the client starts a TLS handshake on a
//! scanned port (implicit TLS on 465/995, or after STARTTLS/STLS), it closes
//! the connection.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{NetStream, SimNetwork, PIPE_CAPACITY};

/// The first bytes of a TLS handshake record: content type 22, version 3.x.
fn starts_tls_handshake(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == 0x16 && bytes[1] == 0x03
}

/// Accepts a client connection for `host:port` and serves it from a task.
pub(super) fn spawn(
    network: SimNetwork,
    next_layer: usize,
    host: usize,
    port: u16,
    upstream_timeout: Duration,
) -> NetStream {
    let (client, local) = tokio::io::duplex(PIPE_CAPACITY);
    tokio::spawn(async move {
        let name = network.inner.hosts[host].name.clone();
        let upstream = tokio::time::timeout(
            upstream_timeout,
            network.connect_from(next_layer, host, port),
        )
        .await;
        let upstream = match upstream {
            Ok(Ok(upstream)) => upstream,
            Ok(Err(error)) => {
                network.record(format!(
                    "mail-scanner: upstream {name}:{port} failed ({error}); closing client"
                ));
                return;
            }
            Err(_) => {
                network.record(format!(
                    "mail-scanner: upstream {name}:{port} not answered in {}s; closing client",
                    upstream_timeout.as_secs()
                ));
                return;
            }
        };
        if relay(local, upstream).await {
            network.record(format!(
                "mail-scanner: client started TLS to {name}:{port}; closing"
            ));
        }
    });
    Box::new(client)
}

/// Relays until either side closes. Returns true if it closed the
/// connection because the client began a TLS handshake.
async fn relay(local: tokio::io::DuplexStream, upstream: NetStream) -> bool {
    let (mut client_read, mut client_write) = tokio::io::split(local);
    let (mut server_read, mut server_write) = tokio::io::split(upstream);
    let to_server = async {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => return false,
                Ok(n) if starts_tls_handshake(&buffer[..n]) => return true,
                Ok(n) => {
                    if server_write.write_all(&buffer[..n]).await.is_err() {
                        return false;
                    }
                }
            }
        }
    };
    let to_client = async {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::select! {
        biased;
        saw_tls = to_server => saw_tls,
        () = to_client => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_a_client_hello_but_not_a_command() {
        assert!(starts_tls_handshake(&[0x16, 0x03, 0x01, 0x02, 0x00]));
        assert!(!starts_tls_handshake(b"EHLO client\r\n"));
        assert!(!starts_tls_handshake(&[0x16]));
    }
}
