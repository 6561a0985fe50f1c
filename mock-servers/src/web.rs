//! A captive portal's web server: whatever arrives, the answer is a redirect
//! to the login page.

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;

use crate::stream::AsyncStream;

/// Answers one request on `stream` (after a TLS handshake when `tls` is
/// given) with `302 Found` to `location`, then closes.
pub async fn serve_portal<S: AsyncStream>(
    stream: S,
    tls: Option<Arc<rustls::ServerConfig>>,
    location: &str,
) -> io::Result<()> {
    match tls {
        Some(config) => answer(TlsAcceptor::from(config).accept(stream).await?, location).await,
        None => answer(stream, location).await,
    }
}

async fn answer<S: AsyncStream>(mut stream: S, location: &str) -> io::Result<()> {
    let mut request = [0u8; 4096];
    let _ = stream.read(&mut request).await?;
    let response = format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
