//! The IMAP server: configuration plus store, serving connections over any stream.

use std::io;
use std::sync::Arc;

use crate::imap::session::{ImapConfig, ImapSession, MAX_COMMAND_LINE};
use crate::line::LineRef;
use crate::mailstore::SharedStore;
use crate::serve::{serve_session, ConnectionLimit, LineSession, MailServer, ServerTls};
use crate::stream::AsyncStream;
use crate::{Next, TlsMode};

/// An IMAP server: configuration, mail store and TLS identity.
#[derive(Debug, Clone)]
pub struct ImapServer {
    config: Arc<ImapConfig>,
    store: SharedStore,
    tls: ServerTls,
    connections: ConnectionLimit,
}

impl ImapServer {
    /// A server; with `ServerTls::None`, STARTTLS is not offered and
    /// implicit TLS fails.
    pub fn new(config: ImapConfig, store: SharedStore, tls: ServerTls) -> Self {
        ImapServer {
            connections: ConnectionLimit::new(config.max_connections),
            config: Arc::new(config),
            store,
            tls,
        }
    }

    /// Serves one client over `stream` until LOGOUT, idle timeout or disconnect.
    pub async fn serve<S: AsyncStream>(&self, stream: S, mode: TlsMode) -> io::Result<()> {
        let session = ImapSession::new(
            self.config.clone(),
            self.store.clone(),
            mode == TlsMode::StartTls && self.tls.is_available(),
            mode == TlsMode::Implicit,
        );
        let admitted = self.connections.try_admit();
        serve_session(
            stream,
            session,
            mode,
            &self.tls,
            self.config.idle_timeout,
            admitted,
        )
        .await
    }
}

impl MailServer for ImapServer {
    fn serve<S: AsyncStream + 'static>(
        &self,
        stream: S,
        mode: TlsMode,
    ) -> impl std::future::Future<Output = io::Result<()>> + Send {
        ImapServer::serve(self, stream, mode)
    }
}

impl LineSession for ImapSession {
    fn greeting(&mut self) -> (Vec<u8>, Next) {
        let response = ImapSession::greeting(self);
        (response.bytes, response.next)
    }

    fn greeting_delay(&self) -> std::time::Duration {
        ImapSession::greeting_delay(self)
    }

    fn max_line(&self) -> usize {
        MAX_COMMAND_LINE
    }

    fn handle(&mut self, line: LineRef<'_>, out: &mut Vec<u8>) -> Next {
        let response = match line {
            LineRef::Complete(line) => self.handle_line(line),
            LineRef::TooLong => self.line_too_long(),
        };
        out.extend_from_slice(&response.bytes);
        response.next
    }

    fn idle_goodbye(&self) -> Vec<u8> {
        ImapSession::idle_goodbye(self)
    }

    fn busy(&self) -> Vec<u8> {
        ImapSession::busy(self)
    }

    fn tls_established(&mut self) {
        ImapSession::tls_established(self);
    }
}
