//! The probe's side of one connection: lines in and out with timeouts, a TLS
//! upgrade, and a tap that remembers what arrived so failures carry evidence.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio_rustls::{TlsConnector, TlsStream};

use mock_mail_servers::line::{Line, LineBuffer};
use mock_mail_servers::stream::MaybeTls;

use super::observation::{Failure, TlsFailure};
use super::pacing::{self, Paced};
use super::tls::{classify, TlsClient};
use super::x509::CertificateInfo;
use crate::net::NetStream;

/// Longest reply line the probe accepts; real servers stay far below.
const MAX_REPLY_LINE: usize = 8192;
/// The most bytes one connection may deliver to the probe.
pub const MAX_ATTEMPT_BYTES: usize = 1024 * 1024;
/// The most bytes all connections of one probe may deliver together.
pub const MAX_PROBE_BYTES: usize = 8 * 1024 * 1024;
/// How many of the first bytes after a mark the tap keeps.
const TAP_KEEP: usize = 64;

#[derive(Debug, Default)]
struct TapState {
    since_mark: usize,
    first_bytes: Vec<u8>,
    /// During a handshake: when each read came (since the mark) and its
    /// bytes, up to [`pacing::MAX_ARRIVALS`].
    arrivals: Option<(tokio::time::Instant, Vec<(Duration, usize)>)>,
}

/// Counts the bytes read from the inner stream since the last mark and keeps
/// the first few, shared so they survive a failed handshake that consumed the stream.
struct Tap {
    inner: NetStream,
    state: Arc<Mutex<TapState>>,
}

impl AsyncRead for Tap {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        let fresh = &buf.filled()[before..];
        if !fresh.is_empty() {
            let mut state = this.state.lock().unwrap_or_else(|p| p.into_inner());
            state.since_mark += fresh.len();
            let room = TAP_KEEP.saturating_sub(state.first_bytes.len());
            state
                .first_bytes
                .extend_from_slice(&fresh[..fresh.len().min(room)]);
            let bytes = fresh.len();
            if let Some((mark, reads)) = state.arrivals.as_mut() {
                if reads.len() < pacing::MAX_ARRIVALS {
                    reads.push((mark.elapsed(), bytes));
                }
            }
        }
        poll
    }
}

mock_mail_servers::delegate_async_write!(Tap, inner);

/// Facts about an established TLS session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// e.g. `TLSv1_3`.
    pub version: String,
    /// e.g. `TLS13_AES_128_GCM_SHA256`.
    pub cipher: String,
    /// How the server's flight arrived, when it came in bursts.
    pub paced: Option<Paced>,
}

/// A client connection to a server.
pub struct Wire {
    stream: MaybeTls<Tap>,
    tap: Arc<Mutex<TapState>>,
    lines: LineBuffer,
    reply_timeout: Duration,
    /// Bytes of the conversation received so far: what the protocol saw,
    /// after decryption, so the count is the same on every run.
    received: usize,
    /// Bytes received by every connection of the probe, this one included.
    probe_received: Arc<std::sync::atomic::AtomicUsize>,
    last_data: Option<tokio::time::Instant>,
}

impl Wire {
    /// Wraps a connected stream; replies are awaited at most `reply_timeout`.
    /// `probe_received` counts the bytes of every connection of one probe,
    /// against [`MAX_PROBE_BYTES`].
    pub fn new(
        stream: NetStream,
        reply_timeout: Duration,
        probe_received: Arc<std::sync::atomic::AtomicUsize>,
    ) -> Self {
        let tap = Arc::new(Mutex::new(TapState::default()));
        Wire {
            stream: MaybeTls::Plain(Tap {
                inner: stream,
                state: tap.clone(),
            }),
            tap,
            lines: LineBuffer::new(MAX_REPLY_LINE),
            reply_timeout,
            received: 0,
            probe_received,
            last_data: None,
        }
    }

    /// How long replies are awaited.
    pub fn reply_timeout(&self) -> Duration {
        self.reply_timeout
    }

    /// Reads one line, no timeout (callers bound whole replies).
    pub async fn read_line(&mut self) -> Result<Vec<u8>, Failure> {
        loop {
            match self.lines.next_line() {
                Some(Line::Complete(line)) => return Ok(line),
                Some(Line::TooLong) => {
                    return Err(Failure::TooMuch {
                        what: "bytes in one line".into(),
                        limit: MAX_REPLY_LINE,
                    })
                }
                None => {}
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk).await {
                Ok(0) => {
                    return Err(Failure::Closed {
                        received: self.received,
                    })
                }
                Ok(n) => {
                    self.received = self.received.saturating_add(n);
                    let before = self
                        .probe_received
                        .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                    if self.received > MAX_ATTEMPT_BYTES {
                        return Err(Failure::TooMuch {
                            what: "bytes on one connection".into(),
                            limit: MAX_ATTEMPT_BYTES,
                        });
                    }
                    if before.saturating_add(n) > MAX_PROBE_BYTES {
                        return Err(Failure::TooMuch {
                            what: "bytes in the whole probe".into(),
                            limit: MAX_PROBE_BYTES,
                        });
                    }
                    self.last_data = Some(tokio::time::Instant::now());
                    self.lines.ingest(&chunk[..n]);
                }
                Err(error) => return Err(self.io_failure(error)),
            }
        }
    }

    /// A timeout failure carrying whatever partial line had arrived.
    pub fn timed_out(&self) -> Failure {
        let silent = self.last_data.map_or(self.reply_timeout, |at| {
            at.elapsed().min(self.reply_timeout)
        });
        Failure::TimedOut {
            silent,
            waited: self.reply_timeout,
            partial: self
                .lines
                .pending()
                .iter()
                .copied()
                .take(TAP_KEEP)
                .collect(),
        }
    }

    /// Sends one line with CRLF. A line holding CR, LF or NUL is refused
    /// unsent: accounts are checked before connecting, and this is the last
    /// guard that one line on the record is one command on the wire.
    pub async fn send_line(&mut self, line: &str) -> Result<(), Failure> {
        if line.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
            return Err(Failure::Io(
                "refused to send a line containing CR, LF or NUL".into(),
            ));
        }
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        let written = async {
            self.stream.write_all(&bytes).await?;
            self.stream.flush().await
        };
        match written.await {
            Ok(()) => Ok(()),
            Err(error) => Err(self.io_failure(error)),
        }
    }

    fn io_failure(&self, error: io::Error) -> Failure {
        match error.kind() {
            io::ErrorKind::ConnectionReset => Failure::Reset,
            io::ErrorKind::BrokenPipe | io::ErrorKind::UnexpectedEof => Failure::Closed {
                received: self.received,
            },
            _ => Failure::Io(error.to_string()),
        }
    }

    /// Runs the client side of a TLS handshake for `host`. Also returns the
    /// certificate the server presented, whether or not it was accepted.
    pub async fn start_tls(
        &mut self,
        client: &TlsClient,
        host: &str,
    ) -> (Option<CertificateInfo>, Result<TlsInfo, Failure>) {
        let (config, slot) = client.config();
        let result = self.handshake(config, host).await;
        let seen = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        (seen, result)
    }

    async fn handshake(
        &mut self,
        config: Arc<rustls::ClientConfig>,
        host: &str,
    ) -> Result<TlsInfo, Failure> {
        // Nothing sent before the handshake may be taken as protected.
        self.lines.clear();
        {
            let mut tap = self.tap.lock().unwrap_or_else(|p| p.into_inner());
            tap.since_mark = 0;
            tap.first_bytes.clear();
            tap.arrivals = Some((tokio::time::Instant::now(), Vec::new()));
        }
        let MaybeTls::Plain(plain) = self.stream.detach() else {
            return Err(Failure::Tls(TlsFailure::Other(
                "TLS is already active".into(),
            )));
        };
        let name = ServerName::try_from(host.to_string()).map_err(|_| {
            Failure::Tls(TlsFailure::Other(format!(
                "{host:?} is not a valid TLS server name"
            )))
        })?;
        let handshake = TlsConnector::from(config).connect(name, plain);
        let result = tokio::time::timeout(self.reply_timeout, handshake).await;
        let arrivals = {
            let mut tap = self.tap.lock().unwrap_or_else(|p| p.into_inner());
            tap.arrivals.take()
        };
        let tls = match result {
            Err(_) => return Err(self.timed_out_in_handshake()),
            Ok(Err(error)) => return Err(self.handshake_failure(error)),
            Ok(Ok(tls)) => tls,
        };
        let (_, connection) = tls.get_ref();
        let info = TlsInfo {
            version: connection
                .protocol_version()
                .map_or_else(|| "unknown".into(), |v| format!("{v:?}")),
            cipher: connection
                .negotiated_cipher_suite()
                .map_or_else(|| "unknown".into(), |c| format!("{:?}", c.suite())),
            paced: arrivals.and_then(|(_, reads)| pacing::shape(&reads)),
        };
        self.stream = MaybeTls::Tls(Box::new(TlsStream::Client(tls)));
        Ok(info)
    }

    fn timed_out_in_handshake(&self) -> Failure {
        let tap = self.tap.lock().unwrap_or_else(|p| p.into_inner());
        Failure::TimedOut {
            waited: self.reply_timeout,
            partial: stable_prefix(&tap.first_bytes),
            silent: self.reply_timeout,
        }
    }

    fn handshake_failure(&self, error: io::Error) -> Failure {
        let tap = self.tap.lock().unwrap_or_else(|p| p.into_inner());
        // A TLS record starts with content type 20..=23; anything else means
        // the peer is not speaking TLS (typically a plaintext greeting).
        if let Some(&first) = tap.first_bytes.first() {
            if !(20..=23).contains(&first) {
                return Failure::Tls(TlsFailure::NotTls {
                    first_bytes: stable_prefix(&tap.first_bytes),
                });
            }
        }
        if let Some(rustls_error) = error
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
        {
            return Failure::Tls(classify(rustls_error));
        }
        match error.kind() {
            io::ErrorKind::UnexpectedEof | io::ErrorKind::BrokenPipe => {
                Failure::Tls(TlsFailure::Closed {
                    received: tap.since_mark,
                })
            }
            io::ErrorKind::ConnectionReset => Failure::Reset,
            _ => Failure::Tls(TlsFailure::Other(error.to_string())),
        }
    }

    /// An old client's hello in place of a TLS handshake (see
    /// [`super::legacy::say_hello`]); the connection is of no use after it.
    pub(crate) async fn old_client_hello(
        &mut self,
        recorder: &mut super::conversation::Recorder,
        version: super::legacy::LegacyTls,
    ) -> super::conversation::StepResult<()> {
        self.lines.clear();
        super::legacy::say_hello(&mut self.stream, recorder, version, self.reply_timeout).await
    }

    /// Closes the connection politely.
    pub async fn close(&mut self) {
        let _ = self.stream.shutdown().await;
    }
}

/// The part of what a peer sent during a handshake that is the same on every
/// run: a TLS record's type and version (the rest is random), or a
/// plaintext peer's first line (what follows may answer our random bytes).
fn stable_prefix(bytes: &[u8]) -> Vec<u8> {
    match bytes.first() {
        Some(20..=23) => bytes.iter().copied().take(3).collect(),
        _ => match bytes.iter().position(|&b| b == b'\n') {
            Some(end) => bytes[..=end].to_vec(),
            None => bytes.to_vec(),
        },
    }
}
