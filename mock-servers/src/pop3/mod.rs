//! A mock POP3 server: RFC 1939 with CAPA (RFC 2449), STLS (RFC 2595) and
//! implicit TLS (RFC 8314).

pub mod command;
pub mod server;
pub mod session;

pub use command::Status;
pub use server::Pop3Server;
pub use session::Pop3Config;
