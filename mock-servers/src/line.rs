//! Sans-IO line framing: bytes in, CRLF-terminated lines out.
//!
//! Both protocols are line based. [`LineBuffer`] accumulates whatever the
//! transport delivered and hands back complete lines. An incomplete line is the
//! normal "need more data" state, not an error. Lines longer than the cap are
//! reported once as [`Line::TooLong`] and their bytes are discarded up to the
//! next line end, so a hostile peer cannot grow the buffer without bound.

/// One framed item taken from a [`LineBuffer`], owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A complete line, without its line ending (CRLF or a bare LF).
    Complete(Vec<u8>),
    /// A line that exceeded the cap; its content was discarded.
    TooLong,
}

/// One framed item, borrowed from the buffer: what servers read on their
/// hot path, without an allocation per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineRef<'a> {
    /// A complete line, without its line ending (CRLF or a bare LF).
    Complete(&'a [u8]),
    /// A line that exceeded the cap; its content was discarded.
    TooLong,
}

impl LineRef<'_> {
    /// The owned line.
    pub fn to_owned_line(self) -> Line {
        match self {
            LineRef::Complete(line) => Line::Complete(line.to_vec()),
            LineRef::TooLong => Line::TooLong,
        }
    }
}

/// Accumulates received bytes and splits them into lines.
#[derive(Debug)]
pub struct LineBuffer {
    buffer: Vec<u8>,
    /// Where the unread bytes start: lines are taken by moving it, and the
    /// bytes before it are dropped once per [`LineBuffer::ingest`].
    start: usize,
    max_line: usize,
    discarding: bool,
}

impl LineBuffer {
    /// A buffer that accepts lines of at most `max_line` bytes including CRLF.
    pub fn new(max_line: usize) -> Self {
        LineBuffer {
            buffer: Vec::new(),
            start: 0,
            max_line,
            discarding: false,
        }
    }

    /// Changes the cap, e.g. from the 512-octet command limit to the
    /// 1000-octet text line limit while an SMTP message is being received.
    pub fn set_max_line(&mut self, max_line: usize) {
        self.max_line = max_line;
    }

    /// Appends bytes read from the transport.
    pub fn ingest(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.buffer.extend_from_slice(bytes);
    }

    /// Whether [`LineBuffer::next_line_ref`] has something to hand out: a
    /// line end, or more bytes than a line may hold.
    pub fn has_line(&self) -> bool {
        let pending = self.pending();
        pending.len() > self.max_line || memchr::memchr(b'\n', pending).is_some()
    }

    /// Takes the next complete line, or `None` when more data is needed.
    pub fn next_line(&mut self) -> Option<Line> {
        self.next_line_ref().map(LineRef::to_owned_line)
    }

    /// [`LineBuffer::next_line`], borrowed from the buffer.
    pub fn next_line_ref(&mut self) -> Option<LineRef<'_>> {
        loop {
            let pending = &self.buffer[self.start..];
            match memchr::memchr(b'\n', pending) {
                Some(end) => {
                    let from = self.start;
                    self.start += end + 1;
                    if self.discarding {
                        self.discarding = false;
                        continue;
                    }
                    if end + 1 > self.max_line {
                        return Some(LineRef::TooLong);
                    }
                    let mut line = &self.buffer[from..from + end];
                    if let Some(without_cr) = line.strip_suffix(b"\r") {
                        line = without_cr;
                    }
                    return Some(LineRef::Complete(line));
                }
                None if pending.len() > self.max_line => {
                    // Report the overlong line now and drop what follows of it.
                    self.buffer.clear();
                    self.start = 0;
                    let first_report = !self.discarding;
                    self.discarding = true;
                    if first_report {
                        return Some(LineRef::TooLong);
                    }
                    return None;
                }
                None => return None,
            }
        }
    }

    /// Drops everything buffered. Used at a TLS upgrade: bytes that arrived
    /// before the handshake must not be trusted afterwards (RFC 3207, 4.2).
    pub fn clear(&mut self) -> usize {
        let dropped = self.pending().len();
        self.buffer.clear();
        self.start = 0;
        self.discarding = false;
        dropped
    }

    /// The bytes received but not yet framed into a line.
    pub fn pending(&self) -> &[u8] {
        &self.buffer[self.start..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(buffer: &mut LineBuffer) -> Vec<Line> {
        std::iter::from_fn(|| buffer.next_line()).collect()
    }

    #[test]
    fn splits_crlf_and_bare_lf_lines() {
        let mut buffer = LineBuffer::new(512);
        buffer.ingest(b"EHLO a\r\nNOOP\nQU");
        assert_eq!(
            lines(&mut buffer),
            vec![
                Line::Complete(b"EHLO a".to_vec()),
                Line::Complete(b"NOOP".to_vec())
            ]
        );
        buffer.ingest(b"IT\r\n");
        assert_eq!(lines(&mut buffer), vec![Line::Complete(b"QUIT".to_vec())]);
    }

    #[test]
    fn incomplete_line_is_not_an_error() {
        let mut buffer = LineBuffer::new(512);
        buffer.ingest(b"MAIL FROM:<a@b>");
        assert_eq!(buffer.next_line(), None);
        assert_eq!(buffer.pending(), b"MAIL FROM:<a@b>");
    }

    #[test]
    fn overlong_line_is_reported_once_and_discarded() {
        let mut buffer = LineBuffer::new(10);
        buffer.ingest(&[b'x'; 25]);
        assert_eq!(buffer.next_line(), Some(Line::TooLong));
        buffer.ingest(&[b'x'; 25]);
        assert_eq!(buffer.next_line(), None);
        buffer.ingest(b"xx\r\nNOOP\r\n");
        assert_eq!(lines(&mut buffer), vec![Line::Complete(b"NOOP".to_vec())]);
    }

    #[test]
    fn overlong_complete_line_is_too_long() {
        let mut buffer = LineBuffer::new(6);
        buffer.ingest(b"1234567\r\nok\r\n");
        assert_eq!(
            lines(&mut buffer),
            vec![Line::TooLong, Line::Complete(b"ok".to_vec())]
        );
    }

    #[test]
    fn borrowed_lines_are_the_owned_ones() {
        let mut buffer = LineBuffer::new(512);
        buffer.ingest(b"EHLO a\r\nNOOP\nQU");
        assert!(buffer.has_line());
        assert_eq!(
            buffer.next_line_ref(),
            Some(LineRef::Complete(&b"EHLO a"[..]))
        );
        assert_eq!(
            buffer.next_line_ref(),
            Some(LineRef::Complete(&b"NOOP"[..]))
        );
        assert!(!buffer.has_line());
        assert_eq!(buffer.pending(), b"QU");
        buffer.ingest(b"IT\r\n");
        assert_eq!(buffer.next_line(), Some(Line::Complete(b"QUIT".to_vec())));
    }

    #[test]
    fn clear_drops_pipelined_bytes() {
        let mut buffer = LineBuffer::new(512);
        buffer.ingest(b"EHLO injected\r\n");
        assert_eq!(buffer.clear(), 15);
        assert_eq!(buffer.next_line(), None);
    }
}
