//! In-process mock SMTP, POP3 and IMAP servers that serve any async stream, and a
//! fixture that starts them for a test in three lines.
//!
//! A test that sends a message with `lettre` over STARTTLS and AUTH and reads
//! it back with its envelope:
//!
//! ```
//! use std::time::Duration;
//! use lettre::transport::smtp::authentication::Credentials;
//! use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
//! use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
//! use mock_mail_servers::{MockMail, TlsMode};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mail = MockMail::builder()
//!     .smtp(TlsMode::StartTls)
//!     .pop3(TlsMode::Implicit)
//!     .user("taro", "pw", "taro@example.test")
//!     .start()
//!     .await?;
//!
//! // The client trusts the fixture's own root and nothing else.
//! let tls = TlsParameters::builder("localhost".into())
//!     .certificate_store(CertificateStore::None)
//!     .add_root_certificate(Certificate::from_der(mail.ca_der().to_vec())?)
//!     .build()?;
//! let port = mail.smtp_addr().ok_or("no SMTP port")?.port();
//! let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
//!     .port(port)
//!     .tls(Tls::Required(tls))
//!     .credentials(Credentials::new("taro".into(), "pw".into()))
//!     .build();
//! let message = Message::builder()
//!     .from("taro@example.test".parse()?)
//!     .to("hanako@elsewhere.test".parse()?)
//!     .subject("Lunch")
//!     .body(String::from("At noon?"))?;
//! mailer.send(message).await?;
//!
//! let received = mail.wait_for_messages(1, Duration::from_secs(5)).await?;
//! assert_eq!(received[0].from, "taro@example.test");
//! assert_eq!(received[0].to, ["hanako@elsewhere.test"]);
//! assert_eq!(received[0].login.as_deref(), Some("taro"));
//! assert_eq!(received[0].header("Subject").as_deref(), Some("Lunch"));
//! # Ok(())
//! # }
//! ```
//!
//! The servers stop when `mail` is dropped. [`MockMailBuilder::build`] makes
//! the same servers without listening, for other transports: mailprobe's
//! simulated network serves them in virtual time, behind a firewall or a
//! middlebox (`mailprobe::fixture`).
//!
//! The servers themselves know nothing of sockets or simulations: hand
//! [`smtp::SmtpServer::serve`] or [`pop3::Pop3Server::serve`] anything that is
//! `AsyncRead + AsyncWrite` (a `tokio::io::duplex` half, a TCP stream) and a
//! [`TlsMode`], and they speak the protocol over it.
//!
//! - [`fixture`]: [`MockMail`], the servers for one test.
//! - [`line`](mod@line): sans-IO line framing with a length cap.
//! - [`smtp`], [`pop3`], [`imap`]: command and reply parsing, the session state machines
//!   (pure, unit-tested without a runtime) and thin I/O loops ([`serve`]).
//! - [`mailstore`]: accounts and mailboxes shared by both servers, and the
//!   journal of accepted messages.
//! - [`sasl`]: AUTH PLAIN and LOGIN encodings.
//! - [`tls`]: a test CA and per-host certificates made with rcgen.
//! - [`key_exchange`]: fresh X25519 shares, or one share for parties of one process.
//! - [`stream`], [`connection`]: a stream that can be upgraded to TLS in place.
//! - [`listen`]: an accept loop that survives running out of descriptors.
//!
//! Serving one stream by hand:
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
pub mod fixture;
pub mod imap;
pub mod key_exchange;
pub mod line;
pub mod listen;
pub mod mailstore;
pub mod pop3;
pub mod sasl;
pub mod serve;
pub mod smtp;
pub mod stream;
pub mod tls;
pub mod web;

pub use fixture::{MockMail, MockMailBuilder, MockMailServices, Protocol};
pub use mailstore::Received;

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
