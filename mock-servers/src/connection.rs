//! The server side of one connection: framed lines in, bytes out, TLS upgrade.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::{TlsAcceptor, TlsStream};

use crate::line::LineBuffer;
use crate::stream::{AsyncStream, MaybeTls};

/// Why a server stopped reading from its client.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The client closed its side.
    #[error("client closed the connection")]
    Closed,
    /// No whole line arrived within the idle timeout.
    #[error("client idle for {0:?}")]
    Idle(Duration),
    /// The transport failed.
    #[error("transport error: {0}")]
    Io(#[from] io::Error),
}

/// A server's connection to one client over any stream.
pub struct Connection<S> {
    stream: MaybeTls<S>,
    lines: LineBuffer,
    idle_timeout: Duration,
}

impl<S: AsyncStream> Connection<S> {
    /// Wraps a fresh plaintext stream.
    pub fn new(stream: S, max_line: usize, idle_timeout: Duration) -> Self {
        Connection {
            stream: MaybeTls::Plain(stream),
            lines: LineBuffer::new(max_line),
            idle_timeout,
        }
    }

    /// Whether the session is protected by TLS.
    pub fn is_tls(&self) -> bool {
        self.stream.is_tls()
    }

    /// The line framer, e.g. to raise its cap while message text is read.
    pub fn lines_mut(&mut self) -> &mut LineBuffer {
        &mut self.lines
    }

    /// Waits until a whole line is buffered, which must arrive within the
    /// idle timeout: a client trickling a byte now and then (slow-loris) is
    /// cut as an idle one. Lines are then taken from [`Connection::lines_mut`].
    pub async fn fill(&mut self) -> Result<(), ReadError> {
        if self.lines.has_line() {
            return Ok(());
        }
        let reading = async {
            let mut chunk = [0u8; 4096];
            loop {
                let read = self.stream.read(&mut chunk).await?;
                if read == 0 {
                    return Err(ReadError::Closed);
                }
                self.lines.ingest(&chunk[..read]);
                if self.lines.has_line() {
                    return Ok(());
                }
            }
        };
        tokio::time::timeout(self.idle_timeout, reading)
            .await
            .map_err(|_| ReadError::Idle(self.idle_timeout))?
    }

    /// Writes bytes and flushes them, within the idle timeout: a client
    /// that floods commands and never reads the replies cannot hold the
    /// connection (and its slot) for ever.
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let writing = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        tokio::time::timeout(self.idle_timeout, writing)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "client stopped reading"))?
    }

    /// Runs the server side of a TLS handshake on the current stream.
    ///
    /// Bytes the client pipelined before the handshake are discarded.
    pub async fn accept_tls(&mut self, config: Arc<rustls::ServerConfig>) -> io::Result<()> {
        self.lines.clear();
        let MaybeTls::Plain(plain) = self.stream.detach() else {
            return Err(io::Error::other("TLS is already active"));
        };
        let accept = TlsAcceptor::from(config).accept(plain);
        let tls = tokio::time::timeout(self.idle_timeout, accept)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
        self.stream = MaybeTls::Tls(Box::new(TlsStream::Server(tls)));
        Ok(())
    }

    /// Plays a server that shares nothing with a current client (only TLS
    /// 1.0, or only weak cipher suites): reads the client's first record and
    /// answers with the fatal alert `description` (`protocol_version` 70,
    /// `handshake_failure` 40), as such servers do.
    pub async fn refuse_tls_as_legacy_server(&mut self, description: u8) -> io::Result<()> {
        self.lines.clear();
        let mut record = [0u8; 5];
        let read =
            tokio::time::timeout(self.idle_timeout, self.stream.read_exact(&mut record)).await;
        if !matches!(read, Ok(Ok(_))) {
            return Ok(());
        }
        // Alert record: type 21, version TLS 1.0, length 2, fatal (2), the description.
        self.write(&[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, description])
            .await?;
        self.shutdown().await;
        Ok(())
    }

    /// Closes the connection, sending TLS close_notify where TLS is active.
    pub async fn shutdown(&mut self) {
        let _ = self.stream.shutdown().await;
    }
}
