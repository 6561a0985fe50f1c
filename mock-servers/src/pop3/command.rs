//! POP3 commands (RFC 1939, 2449, 2595) parsed from one line.

/// A client command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `CAPA` (RFC 2449).
    Capa,
    /// `STLS` (RFC 2595).
    Stls,
    /// `USER name`.
    User(String),
    /// `PASS password` (the rest of the line, spaces included).
    Pass(String),
    /// `STAT`.
    Stat,
    /// `LIST [msg]`.
    List(Option<usize>),
    /// `UIDL [msg]`.
    Uidl(Option<usize>),
    /// `RETR msg`.
    Retr(usize),
    /// `TOP msg lines`.
    Top(usize, usize),
    /// `DELE msg`.
    Dele(usize),
    /// `RSET`.
    Rset,
    /// `NOOP`.
    Noop,
    /// `QUIT`.
    Quit,
}

/// Why a line is not a valid command; the server answers `-ERR` either way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Not a POP3 command.
    #[error("unknown command {0:?}")]
    Unknown(String),
    /// A known command with bad arguments.
    #[error("{0}")]
    Syntax(&'static str),
}

impl Command {
    /// Parses one command line (without CRLF).
    pub fn parse(line: &[u8]) -> Result<Command, CommandError> {
        let text = String::from_utf8_lossy(line);
        let (verb, rest) = match text.split_once(' ') {
            Some((verb, rest)) => (verb.to_string(), rest.to_string()),
            None => (text.trim_end().to_string(), String::new()),
        };
        let args: Vec<&str> = rest.split_whitespace().collect();
        let number = |i: usize| -> Result<usize, CommandError> {
            args.get(i)
                .and_then(|a| a.parse().ok())
                .filter(|&n: &usize| n > 0)
                .ok_or(CommandError::Syntax("expected a message number"))
        };
        let optional_number = || -> Result<Option<usize>, CommandError> {
            if args.is_empty() {
                Ok(None)
            } else {
                number(0).map(Some)
            }
        };
        match verb.to_ascii_uppercase().as_str() {
            "CAPA" => Ok(Command::Capa),
            "STLS" => Ok(Command::Stls),
            "USER" if args.len() == 1 => Ok(Command::User(args[0].to_string())),
            "USER" => Err(CommandError::Syntax("USER needs one name")),
            "PASS" if !rest.is_empty() => Ok(Command::Pass(rest)),
            "PASS" => Err(CommandError::Syntax("PASS needs a password")),
            "STAT" => Ok(Command::Stat),
            "LIST" => optional_number().map(Command::List),
            "UIDL" => optional_number().map(Command::Uidl),
            "RETR" => number(0).map(Command::Retr),
            "TOP" => {
                let lines =
                    args.get(1)
                        .and_then(|a| a.parse().ok())
                        .ok_or(CommandError::Syntax(
                            "TOP needs a message number and a line count",
                        ))?;
                Ok(Command::Top(number(0)?, lines))
            }
            "DELE" => number(0).map(Command::Dele),
            "RSET" => Ok(Command::Rset),
            "NOOP" => Ok(Command::Noop),
            "QUIT" => Ok(Command::Quit),
            _ => Err(CommandError::Unknown(verb)),
        }
    }
}

/// The status line of a server response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// `+OK` (true) or `-ERR` (false).
    pub ok: bool,
    /// The text after the indicator.
    pub text: String,
}

impl Status {
    /// Parses `+OK text` or `-ERR text`; `None` for anything else.
    pub fn parse(line: &[u8]) -> Option<Status> {
        let text = String::from_utf8_lossy(line);
        let (ok, rest) = if let Some(rest) = text.strip_prefix("+OK") {
            (true, rest)
        } else if let Some(rest) = text.strip_prefix("-ERR") {
            (false, rest)
        } else {
            return None;
        };
        if !(rest.is_empty() || rest.starts_with(' ')) {
            return None;
        }
        Some(Status {
            ok,
            text: rest.trim_start().to_string(),
        })
    }

    /// The RFC 2449 response code in brackets, such as `IN-USE` or `AUTH`.
    pub fn response_code(&self) -> Option<&str> {
        let inner = self.text.strip_prefix('[')?;
        inner.split_once(']').map(|(code, _)| code)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let indicator = if self.ok { "+OK" } else { "-ERR" };
        if self.text.is_empty() {
            f.write_str(indicator)
        } else {
            write!(f, "{indicator} {}", self.text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        let cases: Vec<(&[u8], Command)> = vec![
            (b"CAPA", Command::Capa),
            (b"stls", Command::Stls),
            (b"USER taro", Command::User("taro".into())),
            (b"PASS two words", Command::Pass("two words".into())),
            (b"STAT", Command::Stat),
            (b"LIST", Command::List(None)),
            (b"LIST 2", Command::List(Some(2))),
            (b"UIDL 1", Command::Uidl(Some(1))),
            (b"RETR 1", Command::Retr(1)),
            (b"TOP 1 10", Command::Top(1, 10)),
            (b"DELE 3", Command::Dele(3)),
            (b"RSET", Command::Rset),
            (b"NOOP", Command::Noop),
            (b"QUIT", Command::Quit),
        ];
        for (line, expected) in cases {
            assert_eq!(Command::parse(line), Ok(expected));
        }
    }

    #[test]
    fn rejects_bad_commands() {
        assert!(matches!(
            Command::parse(b"EHLO x"),
            Err(CommandError::Unknown(_))
        ));
        for line in [
            &b"USER"[..],
            b"PASS",
            b"RETR",
            b"RETR 0",
            b"RETR x",
            b"TOP 1",
            b"USER a b",
        ] {
            assert!(
                matches!(Command::parse(line), Err(CommandError::Syntax(_))),
                "{line:?}"
            );
        }
    }

    #[test]
    fn parses_status_lines() {
        assert_eq!(
            Status::parse(b"+OK POP3 ready"),
            Some(Status {
                ok: true,
                text: "POP3 ready".into()
            })
        );
        let locked = Status::parse(b"-ERR [IN-USE] locked").unwrap();
        assert!(!locked.ok);
        assert_eq!(locked.response_code(), Some("IN-USE"));
        assert_eq!(Status::parse(b"+OK").unwrap().to_string(), "+OK");
        assert_eq!(Status::parse(b"220 smtp ready"), None);
        assert_eq!(Status::parse(b"+OKAY"), None);
    }
}
