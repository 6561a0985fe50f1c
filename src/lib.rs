//! mailprobe names the cause when mail will not send or receive.
//!
//! - [`net`]: the [`net::Network`] trait, the real network and the simulated
//!   one with its firewall shim and middleboxes.
//! - [`probe`]: walks an account's SMTP or POP3 server step by step and
//!   records [`probe::Attempt`]s; runs follow-up probes when it fails.
//! - [`diagnose`]: a pure function from what the probe saw to a cause, its
//!   evidence and a remedy; and the error a given mail client would show.
//! - [`scenario`]: the YAML model of a simulated world and its expectations.
//! - [`harness`]: builds a world from a scenario, runs the probes in virtual
//!   time and checks their conclusions; [`harness::trials`] makes a folder of
//!   scenarios into tests of another repository.
//! - [`fixture`]: the `mock-mail-servers` fixture on the simulated network,
//!   behind a firewall or a middlebox, in virtual time.

/// The mock servers, for tests that depend on mailprobe alone.
pub use mock_mail_servers;

pub mod diagnose;
pub mod explain;
pub mod fixture;
pub mod fuzz;
pub mod harness;
pub mod live;
pub mod net;
pub mod probe;
pub mod record;
pub mod report;
pub mod scenario;
pub mod serve;
