//! Sans-IO line framing: bytes in, CRLF-terminated lines out.
//!
//! Both protocols are line based. [`LineBuffer`] accumulates whatever the
//! transport delivered and hands back complete lines. An incomplete line is the
//! normal "need more data" state, not an error. Lines longer than the cap are
//! reported once as [`Line::TooLong`] and their bytes are discarded up to the
//! next line end, so a hostile peer cannot grow the buffer without bound.

/// One framed item taken from a [`LineBuffer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A complete line, without its line ending (CRLF or a bare LF).
    Complete(Vec<u8>),
    /// A line that exceeded the cap; its content was discarded.
    TooLong,
}

/// Accumulates received bytes and splits them into lines.
#[derive(Debug)]
pub struct LineBuffer {
    buffer: Vec<u8>,
    max_line: usize,
    discarding: bool,
}

impl LineBuffer {
    /// A buffer that accepts lines of at most `max_line` bytes including CRLF.
    pub fn new(max_line: usize) -> Self {
        LineBuffer {
            buffer: Vec::new(),
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
        self.buffer.extend_from_slice(bytes);
    }

    /// Takes the next complete line, or `None` when more data is needed.
    pub fn next_line(&mut self) -> Option<Line> {
        loop {
            match self.buffer.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    let mut line: Vec<u8> = self.buffer.drain(..=end).collect();
                    if self.discarding {
                        self.discarding = false;
                        continue;
                    }
                    if line.len() > self.max_line {
                        return Some(Line::TooLong);
                    }
                    line.pop();
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    return Some(Line::Complete(line));
                }
                None if self.buffer.len() > self.max_line => {
                    // Report the overlong line now and drop what follows of it.
                    self.buffer.clear();
                    let first_report = !self.discarding;
                    self.discarding = true;
                    if first_report {
                        return Some(Line::TooLong);
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
        let dropped = self.buffer.len();
        self.buffer.clear();
        self.discarding = false;
        dropped
    }

    /// The bytes received but not yet framed into a line.
    pub fn pending(&self) -> &[u8] {
        &self.buffer
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
    fn clear_drops_pipelined_bytes() {
        let mut buffer = LineBuffer::new(512);
        buffer.ingest(b"EHLO injected\r\n");
        assert_eq!(buffer.clear(), 15);
        assert_eq!(buffer.next_line(), None);
    }
}
