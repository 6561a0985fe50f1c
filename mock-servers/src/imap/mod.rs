//! A mock IMAP server: IMAP4rev1 (RFC 3501) with STARTTLS, implicit TLS
//! (RFC 8314), LOGIN, AUTHENTICATE PLAIN and LOGIN with SASL-IR (RFC 4959),
//! read-only access to INBOX in the shared mail store.
//!
//! [`command`] parses command lines, [`session`] is the state machine over
//! lines, and [`server`] is the I/O loop over any stream.

pub mod command;
pub mod server;
pub mod session;

pub use server::ImapServer;
pub use session::{ImapConfig, ImapGreeting};
