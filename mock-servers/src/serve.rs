//! The one I/O loop the servers share (greet, read a line, answer, upgrade
//! to TLS or close when the session says so), and the one server type
//! around it: SMTP, POP3 and IMAP differ only in their sessions.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::connection::{Connection, ReadError};
use crate::line::LineRef;
use crate::mailstore::SharedStore;
use crate::stream::AsyncStream;
use crate::{Next, TlsMode};

/// A server that takes one more client over any stream, whatever its
/// protocol: what a listener (a simulated network, an accept loop) needs.
pub trait MailServer: Clone + Send + Sync + 'static {
    /// Serves one client over `stream` until it leaves.
    fn serve<S: AsyncStream + 'static>(
        &self,
        stream: S,
        mode: TlsMode,
    ) -> impl std::future::Future<Output = io::Result<()>> + Send;
}

/// How many connections a server serves at once unless configured otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 100;

/// A protocol's session, as a [`LineServer`] starts one per connection.
pub trait ServedSession: LineSession + Send + 'static {
    /// The server's configuration, shared by its sessions.
    type Config: std::fmt::Debug + Send + Sync + 'static;
    /// A session for a fresh connection in `mode`; `tls_available` says
    /// whether the server has a certificate (to offer STARTTLS/STLS with).
    fn start(
        config: Arc<Self::Config>,
        store: SharedStore,
        mode: TlsMode,
        tls_available: bool,
    ) -> Self;
    /// How many connections the server serves at once.
    fn max_connections(config: &Self::Config) -> usize;
    /// How long a client may stay silent before the server closes.
    fn idle_timeout(config: &Self::Config) -> Duration;
}

/// A mock server of one protocol: configuration, mail store and TLS
/// identity, ready to serve any number of connections; its clones share
/// the store and the connection count. [`crate::smtp::SmtpServer`],
/// [`crate::pop3::Pop3Server`] and [`crate::imap::ImapServer`] are this
/// with their sessions.
pub struct LineServer<P: ServedSession> {
    config: Arc<P::Config>,
    store: SharedStore,
    tls: ServerTls,
    connections: ConnectionLimit,
}

impl<P: ServedSession> LineServer<P> {
    /// A server; with [`ServerTls::None`], STARTTLS/STLS is not offered
    /// and implicit TLS fails.
    pub fn new(config: P::Config, store: SharedStore, tls: ServerTls) -> Self {
        LineServer {
            connections: ConnectionLimit::new(P::max_connections(&config)),
            config: Arc::new(config),
            store,
            tls,
        }
    }

    /// Serves one client over `stream` until it quits, idles out or
    /// disconnects.
    pub async fn serve<S: AsyncStream>(&self, stream: S, mode: TlsMode) -> io::Result<()> {
        let tls_available = self.tls.is_available();
        let session = P::start(self.config.clone(), self.store.clone(), mode, tls_available);
        let admitted = self.connections.try_admit();
        let idle_timeout = P::idle_timeout(&self.config);
        serve_session(stream, session, mode, &self.tls, idle_timeout, admitted).await
    }
}

impl<P: ServedSession> Clone for LineServer<P> {
    fn clone(&self) -> Self {
        LineServer {
            config: self.config.clone(),
            store: self.store.clone(),
            tls: self.tls.clone(),
            connections: self.connections.clone(),
        }
    }
}

impl<P: ServedSession> std::fmt::Debug for LineServer<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineServer")
            .field("config", &self.config)
            .field("tls", &self.tls)
            .field("connections", &self.connections)
            .finish_non_exhaustive()
    }
}

impl<P: ServedSession> MailServer for LineServer<P> {
    fn serve<S: AsyncStream + 'static>(
        &self,
        stream: S,
        mode: TlsMode,
    ) -> impl std::future::Future<Output = io::Result<()>> + Send {
        LineServer::serve(self, stream, mode)
    }
}

/// Counts a server's open connections against a cap, shared by its clones.
#[derive(Debug, Clone)]
pub struct ConnectionLimit {
    active: Arc<AtomicUsize>,
    max: usize,
}

/// One admitted connection; the slot is freed when it is dropped.
#[derive(Debug)]
pub struct Admitted(Arc<AtomicUsize>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl ConnectionLimit {
    /// A limit of `max` connections at once.
    pub fn new(max: usize) -> Self {
        ConnectionLimit {
            active: Arc::default(),
            max,
        }
    }

    /// A slot for one more connection, or `None` when all are taken.
    pub fn try_admit(&self) -> Option<Admitted> {
        let taken = self
            .active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            });
        taken.ok().map(|_| Admitted(self.active.clone()))
    }

    /// Connections being served now.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }
}

/// TLS alert descriptions (RFC 8446 section 6): no version in common.
const PROTOCOL_VERSION: u8 = 70;
/// No cipher suite (or key exchange) in common.
const HANDSHAKE_FAILURE: u8 = 40;

/// What a server can do when a client starts TLS.
#[derive(Debug, Clone, Default)]
pub enum ServerTls {
    /// No TLS: STARTTLS/STLS is not offered and implicit-TLS ports fail.
    #[default]
    None,
    /// A certificate and a rustls configuration (TLS 1.2 and 1.3).
    Modern(Arc<rustls::ServerConfig>),
    /// Only TLS 1.0: every modern client gets a `protocol_version` alert.
    LegacyOnly,
    /// Only cipher suites current clients refuse (export, RC4, 3DES, weak
    /// Diffie-Hellman): every modern client gets a `handshake_failure` alert.
    WeakCiphersOnly,
}

impl ServerTls {
    /// Whether STARTTLS/STLS can be offered.
    pub fn is_available(&self) -> bool {
        !matches!(self, ServerTls::None)
    }

    /// Runs the handshake; false if the connection ended instead.
    async fn accept<S: AsyncStream>(&self, connection: &mut Connection<S>) -> io::Result<bool> {
        match self {
            ServerTls::None => Err(io::Error::other(
                "TLS requested but the server has no certificate",
            )),
            ServerTls::Modern(config) => connection.accept_tls(config.clone()).await.map(|()| true),
            ServerTls::LegacyOnly => connection
                .refuse_tls_as_legacy_server(PROTOCOL_VERSION)
                .await
                .map(|()| false),
            ServerTls::WeakCiphersOnly => connection
                .refuse_tls_as_legacy_server(HANDSHAKE_FAILURE)
                .await
                .map(|()| false),
        }
    }
}

/// What a protocol state machine offers the I/O loop.
pub trait LineSession {
    /// Bytes sent when the connection opens (after the handshake on implicit
    /// TLS), and whether to go on or close after them.
    fn greeting(&mut self) -> (Vec<u8>, Next);
    /// How long to wait before greeting.
    fn greeting_delay(&self) -> Duration;
    /// The longest line accepted now, CRLF included.
    fn max_line(&self) -> usize;
    /// Answers one framed line: appends the bytes to send to `out` and
    /// says what comes next.
    fn handle(&mut self, line: LineRef<'_>, out: &mut Vec<u8>) -> Next;
    /// Bytes sent to an idle client before closing, if any.
    fn idle_goodbye(&self) -> Vec<u8>;
    /// Bytes sent instead of the greeting when the server is at its
    /// connection limit, before closing.
    fn busy(&self) -> Vec<u8>;
    /// Called when a STARTTLS/STLS handshake completed.
    fn tls_established(&mut self);
}

/// Serves one connection with `session` until it ends. Without a slot
/// (`admitted` is `None`: the server is at its connection limit) the client
/// gets the session's busy reply and the connection is closed.
pub async fn serve_session<S: AsyncStream, L: LineSession>(
    stream: S,
    mut session: L,
    mode: TlsMode,
    tls: &ServerTls,
    idle_timeout: Duration,
    admitted: Option<Admitted>,
) -> io::Result<()> {
    let mut connection = Connection::new(stream, session.max_line(), idle_timeout);
    if mode == TlsMode::Implicit && !tls.accept(&mut connection).await? {
        return Ok(());
    }
    let Some(_slot) = admitted else {
        connection.write(&session.busy()).await?;
        connection.shutdown().await;
        return Ok(());
    };
    let delay = session.greeting_delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let (greeting, next) = session.greeting();
    connection.write(&greeting).await?;
    if next == Next::Close {
        connection.shutdown().await;
        return Ok(());
    }
    // Replies to every line of a pipelined batch go out in one write.
    let mut out = Vec::with_capacity(1024);
    loop {
        connection.lines_mut().set_max_line(session.max_line());
        match connection.fill().await {
            Ok(()) => {}
            Err(ReadError::Closed) => return Ok(()),
            Err(ReadError::Idle(_)) => {
                connection.write(&session.idle_goodbye()).await?;
                connection.shutdown().await;
                return Ok(());
            }
            Err(ReadError::Io(error)) => return Err(error),
        }
        let mut next = Next::Continue;
        while next == Next::Continue {
            // A line may change the limit for the next (SMTP DATA).
            connection.lines_mut().set_max_line(session.max_line());
            let Some(line) = connection.lines_mut().next_line_ref() else {
                break;
            };
            next = session.handle(line, &mut out);
        }
        if !out.is_empty() {
            connection.write(&out).await?;
            out.clear();
        }
        match next {
            Next::Continue => {}
            Next::StartTls => {
                if !tls.accept(&mut connection).await? {
                    return Ok(());
                }
                session.tls_established();
            }
            Next::Close => {
                connection.shutdown().await;
                return Ok(());
            }
        }
    }
}
