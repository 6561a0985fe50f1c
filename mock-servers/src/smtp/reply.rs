//! SMTP replies: building them on the server, parsing them on the client.

use std::fmt;

/// A complete SMTP reply: a three-digit code and one or more text lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The reply code, e.g. 250.
    pub code: u16,
    /// The text of each line, without code and separator.
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply.
    pub fn new(code: u16, text: impl Into<String>) -> Self {
        Reply {
            code,
            lines: vec![text.into()],
        }
    }

    /// A multi-line reply; an empty list gives one empty line.
    pub fn multi(code: u16, lines: Vec<String>) -> Self {
        let lines = if lines.is_empty() {
            vec![String::new()]
        } else {
            lines
        };
        Reply { code, lines }
    }

    /// A one-line reply written as text, e.g. `"421 4.7.0 Too many connections"`,
    /// read as a client reads it; `None` if it is not a complete reply.
    pub fn from_line(text: &str) -> Option<Reply> {
        ReplyParser::new().push(text.as_bytes()).ok().flatten()
    }

    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 3xx: the server waits for more (DATA text, AUTH exchanges).
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    /// 4xx: try again later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// 5xx: do not retry as is.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// The enhanced status code of RFC 3463 at the start of the text, e.g. `5.7.8`.
    pub fn enhanced_status(&self) -> Option<&str> {
        let first = self.lines.first()?;
        let candidate = first.split_whitespace().next()?;
        let parts: Vec<&str> = candidate.split('.').collect();
        let valid = parts.len() == 3
            && matches!(parts[0], "2" | "4" | "5")
            && parts[1..]
                .iter()
                .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()));
        valid.then_some(candidate)
    }

    /// The reply as it goes on the wire.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }

    /// Appends the reply as sent on the wire to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            write_line(out, self.code, i == last, line);
        }
    }
}

/// Appends one reply line as sent on the wire: the code, `-` or (on the
/// `last` line) a space, the text and CRLF.
pub(crate) fn write_line(out: &mut Vec<u8>, code: u16, last: bool, text: &str) {
    match code {
        100..=999 => out.extend_from_slice(&digits(code)),
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
    out.push(if last { b' ' } else { b'-' });
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// A three-digit code's digits, without formatting machinery.
fn digits(code: u16) -> [u8; 3] {
    let digit = |n: u16| b'0' + (n % 10) as u8;
    [digit(code / 100), digit(code / 10), digit(code)]
}

impl fmt::Display for Reply {
    /// One line per reply line, as on the wire but without CRLF.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last = self.lines.len() - 1;
        for (i, line) in self.lines.iter().enumerate() {
            let separator = if i == last { ' ' } else { '-' };
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}{}{}", self.code, separator, line)?;
        }
        Ok(())
    }
}

/// A line that is not part of an SMTP reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an SMTP reply line: {line:?}")]
pub struct NotAReply {
    /// The offending line, lossily decoded.
    pub line: String,
}

/// Assembles replies from received lines (sans-IO).
#[derive(Debug, Default)]
pub struct ReplyParser {
    code: Option<u16>,
    lines: Vec<String>,
}

impl ReplyParser {
    /// A parser waiting for the first line of a reply.
    pub fn new() -> Self {
        ReplyParser::default()
    }

    /// Feeds one line (without CRLF). Returns the reply once its last line
    /// arrived, `Ok(None)` while more lines are expected.
    pub fn push(&mut self, line: &[u8]) -> Result<Option<Reply>, NotAReply> {
        let not_a_reply = || NotAReply {
            line: String::from_utf8_lossy(line).into_owned(),
        };
        if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
            return Err(not_a_reply());
        }
        let code: u16 = std::str::from_utf8(&line[..3])
            .ok()
            .and_then(|digits| digits.parse().ok())
            .ok_or_else(not_a_reply)?;
        if !(200..600).contains(&code) || self.code.is_some_and(|c| c != code) {
            return Err(not_a_reply());
        }
        let (last, text) = match line.get(3) {
            None => (true, &[][..]),
            Some(b' ') => (true, &line[4..]),
            Some(b'-') => (false, &line[4..]),
            Some(_) => return Err(not_a_reply()),
        };
        self.code = Some(code);
        self.lines.push(String::from_utf8_lossy(text).into_owned());
        if !last {
            return Ok(None);
        }
        self.code = None;
        Ok(Some(Reply::multi(code, std::mem::take(&mut self.lines))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_multiline_replies() {
        let reply = Reply::multi(250, vec!["mx Hello".into(), "STARTTLS".into()]);
        assert_eq!(reply.to_wire(), b"250-mx Hello\r\n250 STARTTLS\r\n");
        assert_eq!(reply.to_string(), "250-mx Hello\n250 STARTTLS");
    }

    #[test]
    fn parses_single_and_multiline_replies() {
        let mut parser = ReplyParser::new();
        assert_eq!(
            parser.push(b"220 mx ESMTP").unwrap(),
            Some(Reply::new(220, "mx ESMTP"))
        );
        assert_eq!(parser.push(b"250-mx").unwrap(), None);
        assert_eq!(parser.push(b"250-PIPELINING").unwrap(), None);
        let reply = parser.push(b"250 AUTH PLAIN LOGIN").unwrap().unwrap();
        assert_eq!(reply.lines, vec!["mx", "PIPELINING", "AUTH PLAIN LOGIN"]);
        assert_eq!(parser.push(b"354").unwrap(), Some(Reply::new(354, "")));
    }

    #[test]
    fn rejects_lines_that_are_not_replies() {
        let mut parser = ReplyParser::new();
        for line in [
            &b"+OK POP3 ready"[..],
            b"\x16\x03\x01\x02",
            b"22",
            b"220x",
            b"999 x",
        ] {
            assert!(parser.push(line).is_err(), "{line:?}");
        }
        assert_eq!(parser.push(b"250-a").unwrap(), None);
        assert!(parser.push(b"354 b").is_err(), "code changed mid-reply");
    }

    #[test]
    fn reads_a_reply_written_as_one_line() {
        assert_eq!(
            Reply::from_line("421 4.7.0 busy"),
            Some(Reply::new(421, "4.7.0 busy"))
        );
        assert_eq!(Reply::from_line("421-more to come"), None);
        assert_eq!(Reply::from_line("busy"), None);
    }

    #[test]
    fn finds_enhanced_status_codes() {
        assert_eq!(
            Reply::new(535, "5.7.8 Bad").enhanced_status(),
            Some("5.7.8")
        );
        assert_eq!(Reply::new(250, "mx.example").enhanced_status(), None);
        assert_eq!(Reply::new(250, "2.1.0 Ok").enhanced_status(), Some("2.1.0"));
        assert!(Reply::new(550, "x").is_permanent());
        assert!(Reply::new(421, "x").is_transient());
        assert!(Reply::new(334, "").is_intermediate());
    }
}
