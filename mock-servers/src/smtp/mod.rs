//! A mock SMTP server: RFC 5321 with STARTTLS (RFC 3207), implicit TLS
//! (RFC 8314) and AUTH PLAIN/LOGIN (RFC 4954).
//!
//! [`command`] and [`reply`] parse the wire format, [`session`] is the state
//! machine over lines, and [`server`] is the I/O loop over any stream.

pub mod command;
pub mod reply;
pub mod server;
pub mod session;

pub use reply::{Reply, ReplyParser};
pub use server::SmtpServer;
pub use session::{AuthBeforeTls, RelayPolicy, SmtpConfig};
