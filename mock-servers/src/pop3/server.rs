//! The POP3 server: configuration plus store, serving connections over any stream.

use std::sync::Arc;

use crate::line::LineRef;
use crate::mailstore::SharedStore;
use crate::pop3::session::{Pop3Config, Pop3Session, MAX_COMMAND_LINE};
use crate::serve::{LineServer, LineSession, ServedSession};
use crate::{Next, TlsMode};

/// A POP3 server: configuration, mail store and TLS identity, ready to serve
/// any number of connections, each until QUIT, idle timeout or disconnect.
pub type Pop3Server = LineServer<Pop3Session>;

impl ServedSession for Pop3Session {
    type Config = Pop3Config;

    fn start(config: Arc<Pop3Config>, store: SharedStore, mode: TlsMode, tls: bool) -> Self {
        Pop3Session::new(config, store, mode == TlsMode::StartTls && tls)
    }

    fn max_connections(config: &Pop3Config) -> usize {
        config.max_connections
    }

    fn idle_timeout(config: &Pop3Config) -> std::time::Duration {
        config.idle_timeout
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
