//! A stream that first replays bytes already read from it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use crate::net::NetStream;

/// `prefix`, then whatever `inner` delivers. Lets a middlebox hand a
/// ClientHello it already read to its own TLS acceptor.
pub struct Prefixed {
    prefix: Vec<u8>,
    offset: usize,
    inner: NetStream,
}

impl Prefixed {
    /// Replays `prefix` before reading `inner`.
    pub fn new(prefix: Vec<u8>, inner: NetStream) -> Self {
        Prefixed {
            prefix,
            offset: 0,
            inner,
        }
    }
}

impl AsyncRead for Prefixed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.offset < this.prefix.len() {
            let rest = &this.prefix[this.offset..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.offset += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

mock_mail_servers::delegate_async_write!(Prefixed, inner);
