//! How the probe reaches the world: one [`Network`] trait, two implementations.
//!
//! [`RealNetwork`] resolves with the system resolver and connects over TCP.
//! [`sim::SimNetwork`] routes in-memory streams to in-process servers through a
//! layered firewall shim. The probe cannot tell them apart, and the same fault
//! gives the same [`std::io::ErrorKind`] on both:
//!
//! | fault                        | error kind                                |
//! |------------------------------|-------------------------------------------|
//! | name does not resolve        | `NotFound`                                |
//! | nobody listening, RST        | `ConnectionRefused`                       |
//! | SYN dropped                  | none: the caller's own timeout, `TimedOut`|
//! | connection reset mid-session | `ConnectionReset`                         |
//! | ICMP host unreachable        | `HostUnreachable` ("no route to host")    |
//! | no route at all              | `NetworkUnreachable`                      |

pub mod mapped;
pub mod real;
pub mod sim;

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;

pub use mock_mail_servers::stream::AsyncStream;
pub use real::RealNetwork;

/// A connected byte stream, whatever network it crosses.
pub type NetStream = Box<dyn AsyncStream>;

/// A boxed future, so that [`Network`] stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Name resolution and connection establishment.
pub trait Network: Send + Sync {
    /// Resolves a host name to its addresses, in preference order.
    /// An unknown name is `io::ErrorKind::NotFound`.
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>>;

    /// Opens a stream to `addr`. A connection that is never answered never
    /// completes: callers apply their own timeout.
    fn connect(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<NetStream>>;
}
