//! The SMTP server: configuration plus store, serving connections over any stream.

use std::io;
use std::sync::Arc;

use crate::line::LineRef;
use crate::mailstore::SharedStore;
use crate::serve::{serve_session, ConnectionLimit, LineSession, MailServer, ServerTls};
use crate::smtp::session::{SmtpConfig, SmtpSession};
use crate::stream::AsyncStream;
use crate::{Next, TlsMode};

/// An SMTP server: configuration, mail store and TLS identity, ready to serve
/// any number of connections.
#[derive(Debug, Clone)]
pub struct SmtpServer {
    config: Arc<SmtpConfig>,
    store: SharedStore,
    tls: ServerTls,
    connections: ConnectionLimit,
}

impl SmtpServer {
    /// A server; with `ServerTls::None`, STARTTLS is not offered and implicit TLS fails.
    pub fn new(config: SmtpConfig, store: SharedStore, tls: ServerTls) -> Self {
        SmtpServer {
            connections: ConnectionLimit::new(config.max_connections),
            config: Arc::new(config),
            store,
            tls,
        }
    }

    /// Serves one client over `stream` until QUIT, idle timeout or disconnect.
    pub async fn serve<S: AsyncStream>(&self, stream: S, mode: TlsMode) -> io::Result<()> {
        let session = SmtpSession::new(
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

impl MailServer for SmtpServer {
    fn serve<S: AsyncStream + 'static>(
        &self,
        stream: S,
        mode: TlsMode,
    ) -> impl std::future::Future<Output = io::Result<()>> + Send {
        SmtpServer::serve(self, stream, mode)
    }
}

impl LineSession for SmtpSession {
    fn greeting(&mut self) -> (Vec<u8>, Next) {
        let response = SmtpSession::greeting(self);
        (
            response.reply.map(|r| r.to_wire()).unwrap_or_default(),
            response.next,
        )
    }

    fn greeting_delay(&self) -> std::time::Duration {
        SmtpSession::greeting_delay(self)
    }

    fn max_line(&self) -> usize {
        SmtpSession::max_line(self)
    }

    fn handle(&mut self, line: LineRef<'_>, out: &mut Vec<u8>) -> Next {
        let response = match line {
            LineRef::Complete(line) => self.handle_line(line),
            LineRef::TooLong => self.line_too_long(),
        };
        if let Some(reply) = &response.reply {
            reply.write_to(out);
        }
        response.next
    }

    fn idle_goodbye(&self) -> Vec<u8> {
        self.idle_timeout_reply().to_wire()
    }

    fn busy(&self) -> Vec<u8> {
        b"421 4.3.2 Too many connections, try again later\r\n".to_vec()
    }

    fn tls_established(&mut self) {
        SmtpSession::tls_established(self);
    }
}
