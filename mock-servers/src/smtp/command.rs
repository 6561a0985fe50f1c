//! SMTP commands (RFC 5321, 3207, 4954) parsed from one line.

/// A client command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `EHLO domain`.
    Ehlo(String),
    /// `HELO domain`.
    Helo(String),
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `AUTH mechanism [initial-response]` (RFC 4954).
    Auth {
        /// The SASL mechanism, uppercased.
        mechanism: String,
        /// The base64 initial response, if given.
        initial_response: Option<String>,
    },
    /// `MAIL FROM:<path> [params]`; the empty path `<>` is an empty string.
    Mail {
        /// The reverse path without angle brackets.
        from: String,
        /// ESMTP parameters such as `SIZE=1000`.
        params: Vec<String>,
    },
    /// `RCPT TO:<path> [params]`.
    Rcpt {
        /// The forward path without angle brackets.
        to: String,
        /// ESMTP parameters.
        params: Vec<String>,
    },
    /// `DATA`.
    Data,
    /// `RSET`.
    Rset,
    /// `NOOP`.
    Noop,
    /// `QUIT`.
    Quit,
    /// `VRFY string`.
    Vrfy(String),
    /// `HELP`.
    Help,
}

/// Why a line is not a valid command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The verb is not one this server knows (reply 500 5.5.2).
    #[error("unrecognized command {0:?}")]
    Unrecognized(String),
    /// The verb is known but its arguments are wrong (reply 501 5.5.4).
    #[error("syntax error in arguments: {0}")]
    Syntax(&'static str),
}

impl Command {
    /// Parses one command line (without CRLF).
    pub fn parse(line: &[u8]) -> Result<Command, CommandError> {
        let text = std::str::from_utf8(line).map_err(|_| CommandError::Syntax("not UTF-8"))?;
        let (verb, rest) = match text.split_once(' ') {
            Some((verb, rest)) => (verb, rest.trim()),
            None => (text.trim_end(), ""),
        };
        let no_args = |command: Command| {
            if rest.is_empty() {
                Ok(command)
            } else {
                Err(CommandError::Syntax("this command takes no arguments"))
            }
        };
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" => required(rest, "EHLO needs a domain").map(Command::Ehlo),
            "HELO" => required(rest, "HELO needs a domain").map(Command::Helo),
            "STARTTLS" => no_args(Command::StartTls),
            "AUTH" => {
                let mut words = rest.split_whitespace();
                let mechanism = words
                    .next()
                    .ok_or(CommandError::Syntax("AUTH needs a mechanism"))?
                    .to_ascii_uppercase();
                let initial_response = words.next().map(str::to_string);
                if words.next().is_some() {
                    return Err(CommandError::Syntax("too many AUTH arguments"));
                }
                Ok(Command::Auth {
                    mechanism,
                    initial_response,
                })
            }
            "MAIL" => {
                let (from, params) = path_argument(rest, "FROM:")?;
                Ok(Command::Mail { from, params })
            }
            "RCPT" => {
                let (to, params) = path_argument(rest, "TO:")?;
                if to.is_empty() {
                    return Err(CommandError::Syntax("RCPT needs a non-empty path"));
                }
                Ok(Command::Rcpt { to, params })
            }
            "DATA" => no_args(Command::Data),
            "RSET" => no_args(Command::Rset),
            "NOOP" => Ok(Command::Noop),
            "QUIT" => no_args(Command::Quit),
            "VRFY" => required(rest, "VRFY needs a string").map(Command::Vrfy),
            "HELP" => Ok(Command::Help),
            _ => Err(CommandError::Unrecognized(verb.to_string())),
        }
    }
}

fn required(rest: &str, message: &'static str) -> Result<String, CommandError> {
    if rest.is_empty() {
        Err(CommandError::Syntax(message))
    } else {
        Ok(rest.to_string())
    }
}

/// Parses `FROM:<path> params` (a space after the colon is tolerated, as
/// most servers do).
fn path_argument(rest: &str, keyword: &str) -> Result<(String, Vec<String>), CommandError> {
    let prefix = rest
        .get(..keyword.len())
        .filter(|p| p.eq_ignore_ascii_case(keyword))
        .ok_or(CommandError::Syntax(
            "expected FROM:<address> or TO:<address>",
        ))?;
    let after = rest[prefix.len()..].trim_start();
    let inner = after
        .strip_prefix('<')
        .and_then(|s| s.split_once('>'))
        .ok_or(CommandError::Syntax(
            "the address must be in angle brackets",
        ))?;
    let (path, params) = inner;
    if path.contains(['<', ' ']) {
        return Err(CommandError::Syntax("malformed address"));
    }
    let params = params.split_whitespace().map(str::to_string).collect();
    Ok((path.to_string(), params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_commands_a_client_sends() {
        let cases: Vec<(&[u8], Command)> = vec![
            (
                b"EHLO client.example",
                Command::Ehlo("client.example".into()),
            ),
            (b"helo x", Command::Helo("x".into())),
            (b"STARTTLS", Command::StartTls),
            (
                b"AUTH plain AHRhcm8AaHVudGVyMg==",
                Command::Auth {
                    mechanism: "PLAIN".into(),
                    initial_response: Some("AHRhcm8AaHVudGVyMg==".into()),
                },
            ),
            (
                b"AUTH LOGIN",
                Command::Auth {
                    mechanism: "LOGIN".into(),
                    initial_response: None,
                },
            ),
            (
                b"MAIL FROM:<taro@other.example> SIZE=100",
                Command::Mail {
                    from: "taro@other.example".into(),
                    params: vec!["SIZE=100".into()],
                },
            ),
            (
                b"MAIL FROM:<>",
                Command::Mail {
                    from: String::new(),
                    params: vec![],
                },
            ),
            (
                b"rcpt to: <a@b.example>",
                Command::Rcpt {
                    to: "a@b.example".into(),
                    params: vec![],
                },
            ),
            (b"DATA", Command::Data),
            (b"RSET", Command::Rset),
            (b"NOOP anything", Command::Noop),
            (b"QUIT", Command::Quit),
        ];
        for (line, expected) in cases {
            assert_eq!(
                Command::parse(line),
                Ok(expected),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn reports_unknown_verbs_and_bad_arguments() {
        assert_eq!(
            Command::parse(b"XYZZY"),
            Err(CommandError::Unrecognized("XYZZY".into()))
        );
        for line in [
            &b"EHLO"[..],
            b"MAIL TO:<a@b>",
            b"MAIL FROM:a@b",
            b"RCPT TO:<>",
            b"DATA now",
            b"AUTH",
            b"\xff\xfe",
        ] {
            assert!(
                matches!(Command::parse(line), Err(CommandError::Syntax(_))),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }
}
