//! The POP3 server: configuration plus store, serving connections over any stream.

use std::io;
use std::sync::Arc;

use crate::line::LineRef;
use crate::mailstore::SharedStore;
use crate::pop3::session::{Pop3Config, Pop3Session, MAX_COMMAND_LINE};
use crate::serve::{serve_session, ConnectionLimit, LineSession, MailServer, ServerTls};
use crate::stream::AsyncStream;
use crate::{Next, TlsMode};

/// A POP3 server: configuration, mail store and TLS identity.
#[derive(Debug, Clone)]
pub struct Pop3Server {
    config: Arc<Pop3Config>,
    store: SharedStore,
    tls: ServerTls,
    connections: ConnectionLimit,
}

impl Pop3Server {
    /// A server; with `ServerTls::None`, STLS is not offered and implicit TLS fails.
    pub fn new(config: Pop3Config, store: SharedStore, tls: ServerTls) -> Self {
        Pop3Server {
            connections: ConnectionLimit::new(config.max_connections),
            config: Arc::new(config),
            store,
            tls,
        }
    }

    /// Serves one client over `stream` until QUIT, idle timeout or disconnect.
    pub async fn serve<S: AsyncStream>(&self, stream: S, mode: TlsMode) -> io::Result<()> {
        let session = Pop3Session::new(
            self.config.clone(),
            self.store.clone(),
            mode == TlsMode::StartTls && self.tls.is_available(),
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

impl MailServer for Pop3Server {
    fn serve<S: AsyncStream + 'static>(
        &self,
        stream: S,
        mode: TlsMode,
    ) -> impl std::future::Future<Output = io::Result<()>> + Send {
        Pop3Server::serve(self, stream, mode)
    }
}

impl LineSession for Pop3Session {
    fn greeting(&mut self) -> (Vec<u8>, Next) {
        let response = Pop3Session::greeting(self);
        (response.to_wire(), response.next)
    }

    fn greeting_delay(&self) -> std::time::Duration {
        Pop3Session::greeting_delay(self)
    }

    fn max_line(&self) -> usize {
        MAX_COMMAND_LINE
    }

    fn handle(&mut self, line: LineRef<'_>, out: &mut Vec<u8>) -> Next {
        let response = match line {
            LineRef::Complete(line) => self.handle_line(line),
            LineRef::TooLong => self.line_too_long(),
        };
        response.write_to(out);
        response.next
    }

    fn idle_goodbye(&self) -> Vec<u8> {
        b"-ERR idle timeout, closing\r\n".to_vec()
    }

    fn busy(&self) -> Vec<u8> {
        b"-ERR [SYS/TEMP] Too many connections, try again later\r\n".to_vec()
    }

    fn tls_established(&mut self) {
        Pop3Session::tls_established(self);
    }
}
