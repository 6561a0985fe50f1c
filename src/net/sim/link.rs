//! Degraded links: a pump between the client's end and the rest of the path
//! that delays, throttles, stalls or resets what flows to the client.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};

use super::firewall::LinkFaults;
use super::PIPE_CAPACITY;
use crate::net::NetStream;

/// The client's end of a simulated connection that can be reset: once the
/// flag is set, reads and writes fail with `ConnectionReset`, as after an RST.
pub struct ResettableStream {
    inner: DuplexStream,
    reset: Arc<AtomicBool>,
}

impl ResettableStream {
    fn error() -> io::Error {
        io::Error::from(io::ErrorKind::ConnectionReset)
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // Bytes that arrived before the reset are still read; the reset
        // shows where a clean close would be.
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            // End of stream after a reset is the reset, not a clean close.
            Poll::Ready(Ok(()))
                if buf.filled().len() == before && this.reset.load(Ordering::SeqCst) =>
            {
                Poll::Ready(Err(Self::error()))
            }
            other => other,
        }
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.reset.load(Ordering::SeqCst) {
            return Poll::Ready(Err(Self::error()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A connection that is reset before any data: what a client sees when a
/// box completes the handshake and then sends RST.
pub fn reset_at_once() -> NetStream {
    let (client, _gone) = tokio::io::duplex(1);
    Box::new(ResettableStream {
        inner: client,
        reset: Arc::new(AtomicBool::new(true)),
    })
}

/// Puts `faults` between the client and `server`.
pub fn degrade(server: NetStream, faults: LinkFaults) -> NetStream {
    let (client, pump_end) = tokio::io::duplex(PIPE_CAPACITY);
    let reset = Arc::new(AtomicBool::new(false));
    tokio::spawn(pump(pump_end, server, faults, reset.clone()));
    Box::new(ResettableStream {
        inner: client,
        reset,
    })
}

async fn pump(client: DuplexStream, server: NetStream, faults: LinkFaults, reset: Arc<AtomicBool>) {
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut server_read, mut server_write) = tokio::io::split(server);
    let upstream = async {
        let mut buffer = vec![0u8; read_size(&faults)];
        loop {
            let n = match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            // A packet too large for the path is lost, and so is all that
            // follows it: TCP resends it, unchanged, until the peer gives up.
            if too_large(&faults, n) {
                break std::future::pending::<()>().await;
            }
            if !in_windows(&mut server_write, &buffer[..n], &faults).await {
                break;
            }
        }
        let _ = server_write.shutdown().await;
        std::future::pending::<()>().await
    };
    let downstream = async {
        let mut delivered: u64 = 0;
        let mut buffer = vec![0u8; read_size(&faults)];
        loop {
            let n = match server_read.read(&mut buffer).await {
                Ok(0) | Err(_) => {
                    tokio::time::sleep(faults.slow_close).await;
                    let _ = client_write.shutdown().await;
                    return;
                }
                Ok(n) => n,
            };
            let mut chunk = &buffer[..n];
            // The first byte limit this chunk crosses, reset or stall, ends
            // delivery there; a packet too large for the path stalls it
            // where the packet starts.
            let lost_packet = too_large(&faults, n).then_some(delivered);
            let crossed = [faults.reset_after, faults.stall_after, lost_packet]
                .into_iter()
                .flatten()
                .filter(|limit| delivered + chunk.len() as u64 > *limit)
                .min();
            if let Some(limit) = crossed {
                chunk = &chunk[..limit.saturating_sub(delivered) as usize];
                deliver(&mut client_write, chunk, &faults).await;
                if faults.reset_after == Some(limit) {
                    reset.store(true, Ordering::SeqCst);
                    return;
                }
                match faults.close_after {
                    Some(after) => {
                        tokio::time::sleep(after).await;
                        return;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            delivered += chunk.len() as u64;
            if !deliver(&mut client_write, chunk, &faults).await {
                return;
            }
        }
    };
    // Without a stall, `close_after` closes a live connection after that long.
    let deadline = async {
        match faults.close_after.filter(|_| faults.stall_after.is_none()) {
            Some(after) => tokio::time::sleep(after).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        () = downstream => {}
        () = upstream => {}
        () = deadline => {}
    }
}

/// Whether a write of `n` bytes is a packet larger than the path carries.
fn too_large(faults: &LinkFaults, n: usize) -> bool {
    faults.max_packet.is_some_and(|max| n as u64 > max)
}

/// How much one read of the pump takes: enough that a packet larger than
/// `max_packet` is seen whole.
fn read_size(faults: &LinkFaults) -> usize {
    let beyond_max = faults
        .max_packet
        .and_then(|max| usize::try_from(max).ok())
        .map_or(0, |max| max.saturating_add(1));
    beyond_max.clamp(4096, 65536)
}

/// Writes a chunk after the link's latency, then a window at a time (see
/// [`in_windows`]).
async fn deliver<W: AsyncWrite + Unpin>(client: &mut W, chunk: &[u8], faults: &LinkFaults) -> bool {
    if chunk.is_empty() {
        return true;
    }
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    in_windows(client, chunk, faults).await
}

/// Writes a chunk a window at a time: with a `window`, each further window
/// waits a round trip (the latency) for the peer's acknowledgement, as TCP
/// does; within a window, at the link's bandwidth.
async fn in_windows<W: AsyncWrite + Unpin>(
    peer: &mut W,
    chunk: &[u8],
    faults: &LinkFaults,
) -> bool {
    let window = faults
        .window
        .and_then(|w| usize::try_from(w).ok())
        .unwrap_or(usize::MAX)
        .max(1);
    for (round, part) in chunk.chunks(window).enumerate() {
        if round > 0 {
            tokio::time::sleep(faults.latency).await;
        }
        if !at_bandwidth(peer, part, faults).await {
            return false;
        }
    }
    true
}

/// Writes at the link's bandwidth: in slices of a hundredth of a second's
/// worth, so a slow link trickles evenly rather than in bursts.
async fn at_bandwidth<W: AsyncWrite + Unpin>(
    client: &mut W,
    chunk: &[u8],
    faults: &LinkFaults,
) -> bool {
    let Some(rate) = faults.bandwidth.filter(|r| *r > 0) else {
        return client.write_all(chunk).await.is_ok();
    };
    let slice = usize::try_from(rate / 100).unwrap_or(usize::MAX).max(1);
    for piece in chunk.chunks(slice) {
        tokio::time::sleep(Duration::from_secs_f64(piece.len() as f64 / rate as f64)).await;
        if client.write_all(piece).await.is_err() {
            return false;
        }
    }
    true
}
