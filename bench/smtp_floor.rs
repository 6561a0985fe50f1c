//! The least an SMTP server can do for `smtp-source`: bench/peers.py runs it
//! beside smtp-sink and the mock to show what the kernel's loopback TCP
//! costs on its own. One thread and blocking sockets (the wait for the next
//! command is inside `recv`, with no readiness poll before it), one
//! connection at a time, a fixed reply per command, the message text
//! skipped, no parsing, no store, no timeouts. Not a server to use: it
//! serves one client at a time and would wait for ever on a silent one
//! (it only drops one that sends a line of more than 64 KiB).
//!
//! Built by bench/peers.sh: `rustc -O --edition 2021 bench/smtp_floor.rs`.
//! Listens on 127.0.0.1 on a free port, which it prints.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};

/// The longest line kept waiting for its end (SMTP's own limit is 1,000).
const MAX_LINE: usize = 64 * 1024;

fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("{}", listener.local_addr()?.port());
    io::stdout().flush()?;
    for stream in listener.incoming() {
        // A client that breaks its connection only ends its own session.
        let _ = stream.and_then(serve);
    }
    Ok(())
}

fn serve(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.write_all(b"220 floor ESMTP\r\n")?;
    let mut chunk = [0u8; 8192];
    let mut pending = Vec::new();
    let mut in_data = false;
    loop {
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return Ok(());
        }
        pending.extend_from_slice(&chunk[..read]);
        let mut replies = Vec::new();
        let mut start = 0;
        while let Some(length) = pending[start..].iter().position(|&b| b == b'\n') {
            let line = &pending[start..start + length + 1];
            start += length + 1;
            if in_data {
                if line == b".\r\n" {
                    in_data = false;
                    replies.extend_from_slice(b"250 2.0.0 Ok\r\n");
                }
                continue;
            }
            match line
                .get(..4)
                .map(|verb| verb.to_ascii_uppercase())
                .as_deref()
            {
                Some(b"EHLO") => replies.extend_from_slice(b"250-floor\r\n250 PIPELINING\r\n"),
                Some(b"DATA") => {
                    in_data = true;
                    replies.extend_from_slice(b"354 End data with <CR><LF>.<CR><LF>\r\n");
                }
                Some(b"QUIT") => {
                    replies.extend_from_slice(b"221 2.0.0 Bye\r\n");
                    return stream.write_all(&replies);
                }
                _ => replies.extend_from_slice(b"250 2.0.0 Ok\r\n"),
            }
        }
        pending.drain(..start);
        if pending.len() > MAX_LINE {
            // A peer that never ends a line is not kept in memory.
            return Ok(());
        }
        if !replies.is_empty() {
            stream.write_all(&replies)?;
        }
    }
}
