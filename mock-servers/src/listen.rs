//! An accept loop for a TCP listener that never stops listening.

use std::io;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

/// The first and the longest pause after a failed accept (out of file
/// descriptors, out of memory): the port stays open and is retried.
pub const ACCEPT_BACKOFF: (Duration, Duration) =
    (Duration::from_millis(10), Duration::from_secs(1));

/// What [`accept_forever`] tells its caller about failures.
#[derive(Debug)]
pub enum AcceptTrouble<'a> {
    /// Accepting failed (the first failure of a run of them).
    Failing(&'a io::Error),
    /// Accepting works again after failures.
    Recovered,
}

/// Accepts connections for ever and hands each to `accepted`. A failed
/// accept (EMFILE when descriptors run out) is reported once per run of
/// failures and retried after a pause that grows up to a second, so the port
/// never stops listening and never spins.
pub async fn accept_forever(
    listener: &TcpListener,
    mut accepted: impl FnMut(TcpStream),
    mut trouble: impl FnMut(AcceptTrouble<'_>),
) {
    let mut backoff = ACCEPT_BACKOFF.0;
    let mut failing = false;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                if failing {
                    trouble(AcceptTrouble::Recovered);
                }
                failing = false;
                backoff = ACCEPT_BACKOFF.0;
                accepted(stream);
            }
            Err(error) => {
                if !failing {
                    trouble(AcceptTrouble::Failing(&error));
                }
                failing = true;
                tokio::time::sleep(backoff).await;
                backoff = backoff.saturating_mul(2).min(ACCEPT_BACKOFF.1);
            }
        }
    }
}
