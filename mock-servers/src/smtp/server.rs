//! The SMTP server: configuration plus store, serving connections over any stream.

use std::sync::Arc;

use crate::line::LineRef;
use crate::mailstore::SharedStore;
use crate::serve::{LineServer, LineSession, ServedSession};
use crate::smtp::session::{SmtpConfig, SmtpSession};
use crate::{Next, TlsMode};

/// An SMTP server: configuration, mail store and TLS identity, ready to serve
/// any number of connections, each until QUIT, idle timeout or disconnect.
pub type SmtpServer = LineServer<SmtpSession>;

impl ServedSession for SmtpSession {
    type Config = SmtpConfig;

    fn start(config: Arc<SmtpConfig>, store: SharedStore, mode: TlsMode, tls: bool) -> Self {
        let starttls = mode == TlsMode::StartTls && tls;
        SmtpSession::new(config, store, starttls, mode == TlsMode::Implicit)
    }

    fn max_connections(config: &SmtpConfig) -> usize {
        config.max_connections
    }

    fn idle_timeout(config: &SmtpConfig) -> std::time::Duration {
        config.idle_timeout
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
