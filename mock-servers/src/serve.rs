//! The one I/O loop both servers share: greet, read a line, answer, upgrade
//! to TLS or close when the session says so.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::connection::{Connection, ReadError};
use crate::line::Line;
use crate::stream::AsyncStream;
use crate::{Next, TlsMode};

/// What a protocol state machine offers the I/O loop.
pub trait LineSession {
    /// Bytes sent when the connection opens (after the handshake on implicit TLS).
    fn greeting(&self) -> Vec<u8>;
    /// The longest line accepted now, CRLF included.
    fn max_line(&self) -> usize;
    /// Answers one framed line: the bytes to send and what comes next.
    fn handle(&mut self, line: Line) -> (Vec<u8>, Next);
    /// Bytes sent to an idle client before closing, if any.
    fn idle_goodbye(&self) -> Vec<u8>;
    /// Called when a STARTTLS/STLS handshake completed.
    fn tls_established(&mut self);
}

/// Serves one connection with `session` until it ends.
pub async fn serve_session<S: AsyncStream, L: LineSession>(
    stream: S,
    mut session: L,
    mode: TlsMode,
    tls: Option<Arc<rustls::ServerConfig>>,
    idle_timeout: Duration,
) -> io::Result<()> {
    let tls_config = || {
        tls.clone()
            .ok_or_else(|| io::Error::other("TLS requested but the server has no certificate"))
    };
    let mut connection = Connection::new(stream, session.max_line(), idle_timeout);
    if mode == TlsMode::Implicit {
        connection.accept_tls(tls_config()?).await?;
    }
    connection.write(&session.greeting()).await?;
    loop {
        connection.lines_mut().set_max_line(session.max_line());
        let line = match connection.read_line().await {
            Ok(line) => line,
            Err(ReadError::Closed) => return Ok(()),
            Err(ReadError::Idle(_)) => {
                connection.write(&session.idle_goodbye()).await?;
                connection.shutdown().await;
                return Ok(());
            }
            Err(ReadError::Io(error)) => return Err(error),
        };
        let (bytes, next) = session.handle(line);
        if !bytes.is_empty() {
            connection.write(&bytes).await?;
        }
        match next {
            Next::Continue => {}
            Next::StartTls => {
                connection.accept_tls(tls_config()?).await?;
                session.tls_established();
            }
            Next::Close => {
                connection.shutdown().await;
                return Ok(());
            }
        }
    }
}
