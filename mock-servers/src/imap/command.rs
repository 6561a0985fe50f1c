//! IMAP4rev1 command lines (RFC 3501 section 6): a tag, a command name and
//! its arguments as atoms, quoted strings and parenthesized lists. Literals
//! (`{5}`) are folded into the line by the session before it gets here.

/// One argument token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// An atom (`INBOX`, `1:*`, `BODY.PEEK[]`) or a quoted string, unquoted.
    Text(String),
    /// A parenthesized list, as written between the parentheses.
    List(String),
}

impl Token {
    /// The token as text (a list without its parentheses).
    pub fn text(&self) -> &str {
        match self {
            Token::Text(text) | Token::List(text) => text,
        }
    }
}

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// CAPABILITY.
    Capability,
    /// NOOP (and CHECK, which a read-only mock treats alike).
    Noop,
    /// LOGOUT.
    Logout,
    /// STARTTLS (RFC 3501 section 6.2.1).
    StartTls,
    /// LOGIN user password.
    Login(String, String),
    /// AUTHENTICATE mechanism [initial-response] (SASL-IR, RFC 4959).
    Authenticate(String, Option<String>),
    /// SELECT mailbox.
    Select(String),
    /// EXAMINE mailbox (read-only SELECT).
    Examine(String),
    /// LIST reference pattern (LSUB alike).
    List(String, String),
    /// STATUS mailbox (items).
    Status(String, String),
    /// FETCH set items, or UID FETCH when the flag is set.
    Fetch {
        /// Whether the set names UIDs.
        uid: bool,
        /// The sequence set (`1`, `1:*`, `2,4`).
        set: String,
        /// The items (`BODY[]`, `(UID FLAGS)`), lists without parentheses.
        items: String,
    },
    /// CLOSE or UNSELECT: leave the selected mailbox.
    Close,
    /// ID (RFC 2971), which clients such as Thunderbird send.
    Id,
    /// ENABLE (RFC 5161).
    Enable,
    /// NAMESPACE (RFC 2342).
    Namespace,
    /// A command that would change mail (STORE, EXPUNGE, COPY, MOVE, APPEND,
    /// CREATE, DELETE, RENAME): refused by a read-only mock.
    Changing(String),
}

/// A command with its tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagged {
    /// The client's tag, echoed in the completion.
    pub tag: String,
    /// The command.
    pub command: Command,
}

/// Why a line is not a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// No tag (or no command after it): answered with an untagged BAD.
    NoTag,
    /// A known tag, but the command is unknown or malformed.
    Bad {
        /// The tag.
        tag: String,
        /// Why.
        why: String,
    },
}

impl Tagged {
    /// Parses one command line (without CRLF).
    pub fn parse(line: &[u8]) -> Result<Tagged, CommandError> {
        let text = String::from_utf8_lossy(line);
        let mut tokens = tokens(&text).map_err(|_| CommandError::NoTag)?;
        if tokens.is_empty() {
            return Err(CommandError::NoTag);
        }
        let tag = tokens.remove(0).text().to_string();
        let valid_tag = !tag.is_empty()
            && tag
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\+".contains(&b));
        if !valid_tag || tokens.is_empty() {
            return Err(CommandError::NoTag);
        }
        let bad = |why: &str| CommandError::Bad {
            tag: tag.clone(),
            why: why.to_string(),
        };
        let name = tokens.remove(0).text().to_ascii_uppercase();
        let mut args = tokens.into_iter();
        let mut next = |what: &str| {
            args.next()
                .map(|t| t.text().to_string())
                .ok_or_else(|| bad(&format!("{name} needs {what}")))
        };
        let command = match name.as_str() {
            "CAPABILITY" => Command::Capability,
            "NOOP" | "CHECK" => Command::Noop,
            "LOGOUT" => Command::Logout,
            "STARTTLS" => Command::StartTls,
            "LOGIN" => Command::Login(next("a user name")?, next("a password")?),
            "AUTHENTICATE" => {
                let mechanism = next("a mechanism")?;
                Command::Authenticate(mechanism, next("").ok())
            }
            "SELECT" => Command::Select(next("a mailbox")?),
            "EXAMINE" => Command::Examine(next("a mailbox")?),
            "LIST" | "LSUB" => Command::List(next("a reference")?, next("a pattern")?),
            "STATUS" => Command::Status(next("a mailbox")?, next("status items")?),
            "FETCH" => Command::Fetch {
                uid: false,
                set: next("a sequence set")?,
                items: next("fetch items")?,
            },
            "UID" => {
                let sub = next("a command")?.to_ascii_uppercase();
                match sub.as_str() {
                    "FETCH" => Command::Fetch {
                        uid: true,
                        set: next("a sequence set")?,
                        items: next("fetch items")?,
                    },
                    "STORE" | "COPY" | "MOVE" | "EXPUNGE" => {
                        Command::Changing(format!("UID {sub}"))
                    }
                    _ => return Err(bad(&format!("unknown UID command {sub}"))),
                }
            }
            "CLOSE" | "UNSELECT" => Command::Close,
            "ID" => Command::Id,
            "ENABLE" => Command::Enable,
            "NAMESPACE" => Command::Namespace,
            "STORE" | "EXPUNGE" | "COPY" | "MOVE" | "APPEND" | "CREATE" | "DELETE" | "RENAME"
            | "SUBSCRIBE" | "UNSUBSCRIBE" => Command::Changing(name.clone()),
            _ => return Err(bad(&format!("unknown command {name}"))),
        };
        Ok(Tagged { tag, command })
    }
}

/// Splits a line into tokens: atoms, quoted strings (with `\"` and `\\`)
/// and parenthesized lists (kept as written, nesting allowed).
pub fn tokens(text: &str) -> Result<Vec<Token>, &'static str> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            ' ' => {
                chars.next();
            }
            '"' => {
                chars.next();
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, escaped)) => value.push(escaped),
                            None => return Err("unterminated quoted string"),
                        },
                        Some((_, c)) => value.push(c),
                        None => return Err("unterminated quoted string"),
                    }
                }
                tokens.push(Token::Text(value));
            }
            '(' => {
                let mut depth = 0usize;
                let mut end = None;
                for (index, c) in chars.by_ref() {
                    match c {
                        '(' => depth += 1,
                        ')' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                end = Some(index);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let end = end.ok_or("unbalanced parentheses")?;
                tokens.push(Token::List(text[start + 1..end].to_string()));
            }
            _ => {
                // An atom runs to a space; brackets may hold spaces
                // (`BODY[HEADER.FIELDS (FROM)]`).
                let mut end = text.len();
                let mut brackets = 0usize;
                for (index, c) in chars.by_ref() {
                    match c {
                        '[' => brackets += 1,
                        ']' => brackets = brackets.saturating_sub(1),
                        ' ' if brackets == 0 => {
                            end = index;
                            break;
                        }
                        _ => {}
                    }
                }
                tokens.push(Token::Text(text[start..end].to_string()));
            }
        }
    }
    Ok(tokens)
}

/// The size of the literal announced at the end of `line` (`{12}` or the
/// non-synchronizing `{12+}`), and whether it is synchronizing.
pub fn literal_at_end(line: &[u8]) -> Option<(usize, bool)> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = &inner[open + 1..];
    let (digits, synchronizing) = match digits.strip_suffix(b"+") {
        Some(digits) => (digits, false),
        None => (digits, true),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let size = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((size, synchronizing))
}

/// `text` as an IMAP quoted string.
pub fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Tagged, CommandError> {
        Tagged::parse(line.as_bytes())
    }

    #[test]
    fn commands_with_atoms_quotes_and_lists() {
        assert_eq!(
            parse("a1 LOGIN taro \"hun ter\\\"2\"").unwrap().command,
            Command::Login("taro".into(), "hun ter\"2".into())
        );
        assert_eq!(
            parse("a2 uid fetch 1:* (UID BODY.PEEK[HEADER.FIELDS (FROM)])")
                .unwrap()
                .command,
            Command::Fetch {
                uid: true,
                set: "1:*".into(),
                items: "UID BODY.PEEK[HEADER.FIELDS (FROM)]".into()
            }
        );
        assert_eq!(
            parse("a3 AUTHENTICATE PLAIN AHRhcm8AcHc=").unwrap().command,
            Command::Authenticate("PLAIN".into(), Some("AHRhcm8AcHc=".into()))
        );
        assert_eq!(
            parse("a4 LIST \"\" \"*\"").unwrap().command,
            Command::List(String::new(), "*".into())
        );
        assert_eq!(
            parse("a5 STORE 1 +FLAGS (\\Deleted)").unwrap().command,
            Command::Changing("STORE".into())
        );
    }

    #[test]
    fn missing_tags_and_unknown_commands() {
        assert_eq!(parse(""), Err(CommandError::NoTag));
        assert_eq!(parse("a1"), Err(CommandError::NoTag));
        assert_eq!(parse("* LOGIN a b"), Err(CommandError::NoTag));
        assert!(matches!(parse("a1 FROB"), Err(CommandError::Bad { tag, .. }) if tag == "a1"));
        assert!(matches!(
            parse("a1 LOGIN onlyuser"),
            Err(CommandError::Bad { .. })
        ));
        assert!(matches!(parse("a1 LOGIN \"open"), Err(CommandError::NoTag)));
    }

    #[test]
    fn literals_are_found_at_the_end() {
        assert_eq!(literal_at_end(b"a1 LOGIN {4}"), Some((4, true)));
        assert_eq!(literal_at_end(b"a1 LOGIN taro {12+}"), Some((12, false)));
        assert_eq!(literal_at_end(b"a1 LOGIN {x}"), None);
        assert_eq!(literal_at_end(b"a1 NOOP"), None);
        assert_eq!(quoted("a\"b\\"), "\"a\\\"b\\\\\"");
    }
}
