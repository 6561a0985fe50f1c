//! In-process mock SMTP and POP3 servers that serve any async stream.
//!
//! The servers know nothing of sockets or simulations: hand
//! [`smtp::SmtpServer::serve`] or [`pop3::Pop3Server::serve`] anything that is
//! `AsyncRead + AsyncWrite` (a `tokio::io::duplex` half, a TCP stream) and a
//! [`TlsMode`], and they speak the protocol over it.
//!
//! - [`line`](mod@line): sans-IO line framing with a length cap.
//! - [`smtp`], [`pop3`]: command and reply parsing, the session state machines
//!   (pure, unit-tested without a runtime) and thin I/O loops ([`serve`]).
//! - [`mailstore`]: accounts and mailboxes shared by both servers.
//! - [`sasl`]: AUTH PLAIN and LOGIN encodings.
//! - [`tls`]: a test CA and per-host certificates made with rcgen.
//! - [`stream`], [`connection`]: a stream that can be upgraded to TLS in place.
//!
//! ```
//! use mock_mail_servers::{mailstore::SharedStore, serve::ServerTls, smtp::{SmtpConfig, SmtpServer}, TlsMode};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let server = SmtpServer::new(SmtpConfig::new("mx.example"), SharedStore::default(), ServerTls::None);
//! let (mut client, served) = tokio::io::duplex(4096);
//! tokio::spawn(async move { server.serve(served, TlsMode::Plain).await });
//! let mut greeting = [0u8; 64];
//! let n = client.read(&mut greeting).await.unwrap();
//! assert!(greeting[..n].starts_with(b"220 mx.example"));
//! client.write_all(b"QUIT\r\n").await.unwrap();
//! # });
//! ```

pub mod connection;
pub mod line;
pub mod mailstore;
pub mod pop3;
pub mod sasl;
pub mod serve;
pub mod smtp;
pub mod stream;
pub mod tls;
pub mod web;

/// How a port's transport is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TlsMode {
    /// Plaintext only.
    Plain,
    /// Plaintext, upgraded by STARTTLS (SMTP) or STLS (POP3).
    StartTls,
    /// TLS from the first byte (RFC 8314), e.g. ports 465 and 995.
    Implicit,
}

/// What a server's I/O loop does after answering a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Read the next line.
    Continue,
    /// Run the TLS handshake, then continue.
    StartTls,
    /// Close the connection.
    Close,
}
