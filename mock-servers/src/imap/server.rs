//! The IMAP server: configuration plus store, serving connections over any stream.

use std::sync::Arc;

use crate::imap::session::{ImapConfig, ImapSession, MAX_COMMAND_LINE};
use crate::line::LineRef;
use crate::mailstore::SharedStore;
use crate::serve::{LineServer, LineSession, ServedSession};
use crate::{Next, TlsMode};

/// An IMAP server: configuration, mail store and TLS identity, ready to serve
/// any number of connections, each until LOGOUT, idle timeout or disconnect.
pub type ImapServer = LineServer<ImapSession>;

impl ServedSession for ImapSession {
    type Config = ImapConfig;

    fn start(config: Arc<ImapConfig>, store: SharedStore, mode: TlsMode, tls: bool) -> Self {
        let starttls = mode == TlsMode::StartTls && tls;
        ImapSession::new(config, store, starttls, mode == TlsMode::Implicit)
    }

    fn max_connections(config: &ImapConfig) -> usize {
        config.max_connections
    }

    fn idle_timeout(config: &ImapConfig) -> std::time::Duration {
        config.idle_timeout
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
