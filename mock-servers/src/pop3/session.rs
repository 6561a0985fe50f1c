//! The POP3 server state machine (RFC 1939): lines in, responses out, no I/O.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use crate::mailstore::{Message, SharedStore};
use crate::pop3::command::{Command, CommandError, Status};
use crate::Next;

/// RFC 2449: a command line is at most 255 octets with CRLF.
pub const MAX_COMMAND_LINE: usize = 255;

/// How a POP3 server behaves, apart from its transport.
#[derive(Debug, Clone)]
pub struct Pop3Config {
    /// The name in the greeting.
    pub hostname: String,
    /// Domains whose accounts may log in (empty: all).
    pub domains: Vec<String>,
    /// RFC 1939 section 3: an inactivity timer of at least 10 minutes.
    /// Each command line must also arrive whole within it.
    pub idle_timeout: Duration,
    /// Connections served at once; more get `-ERR [SYS/TEMP]` and are closed.
    pub max_connections: usize,
    /// Answer USER for an unknown account with `-ERR` at once, instead of
    /// waiting for PASS (which hides whether the account exists).
    pub reject_unknown_users: bool,
    /// A status line sent instead of the usual `+OK` greeting; a `-ERR`
    /// greeting closes the connection after it.
    pub greeting: Option<Status>,
    /// How long the server waits before greeting.
    pub greeting_delay: Duration,
    /// The `-ERR` text for every PASS with the right password, e.g.
    /// `[AUTH] Application-specific password required`.
    pub refuse_logins: Option<String>,
    /// Whether USER/PASS is offered; a server that signs in with OAuth only
    /// lists neither it nor accepts it.
    pub user_pass: bool,
    /// SASL mechanisms listed in CAPA (`SASL XOAUTH2 OAUTHBEARER`); the mock
    /// refuses the AUTH command.
    pub sasl: Vec<String>,
    /// The least time between two logins to one maildrop (RFC 2449
    /// LOGIN-DELAY, listed in CAPA); a login sooner gets
    /// `-ERR [LOGIN-DELAY]`.
    pub login_delay: Option<Duration>,
    /// Sessions one user may hold at once, other clients' included; one
    /// more gets `-ERR [IN-USE] Maximum number of connections ...`.
    pub max_user_connections: Option<u32>,
}

impl Pop3Config {
    /// Defaults for `hostname`: accounts of its parent domain, 10 minutes idle.
    pub fn new(hostname: &str) -> Self {
        Pop3Config {
            hostname: hostname.to_string(),
            domains: vec![crate::smtp::session::parent_domain(hostname)],
            idle_timeout: Duration::from_secs(600),
            max_connections: crate::serve::DEFAULT_MAX_CONNECTIONS,
            reject_unknown_users: false,
            greeting: None,
            greeting_delay: Duration::ZERO,
            refuse_logins: None,
            user_pass: true,
            sasl: Vec::new(),
            login_delay: None,
            max_user_connections: None,
        }
    }
}

/// A response: status line, optional multi-line body, and what comes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// `+OK` or `-ERR` with text.
    pub status: Status,
    /// The body of a multi-line response, not yet dot-stuffed.
    pub body: Option<Body>,
    /// What the I/O loop does after sending.
    pub next: Next,
}

/// The body of a multi-line response, before dot-stuffing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Short lines, each without its line ending (CAPA, LIST, UIDL).
    Lines(Vec<Vec<u8>>),
    /// Message text (RETR, TOP) in one buffer, without the last line's
    /// ending: its lines are found as it is written, not copied one by one.
    Text(Vec<u8>),
}

impl Body {
    /// The lines, without their endings (CRLF, or a bare LF).
    pub fn lines(&self) -> impl Iterator<Item = &[u8]> {
        let (listed, text): (&[Vec<u8>], Option<&[u8]>) = match self {
            Body::Lines(lines) => (lines, None),
            Body::Text(text) => (&[], Some(text)),
        };
        let text_lines = text
            .into_iter()
            .flat_map(|text| text_lines(text).map(|(_, line)| line));
        listed.iter().map(Vec::as_slice).chain(text_lines)
    }
}

/// The lines of `text` split at LF, each with its CR removed, and the
/// offset where each starts.
fn text_lines(text: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let ends = memchr::memchr_iter(b'\n', text).chain(std::iter::once(text.len()));
    let mut start = 0;
    ends.map(move |end| {
        let line = text.get(start..end).unwrap_or_default();
        let at = start;
        start = end.saturating_add(1);
        (at, line.strip_suffix(b"\r").unwrap_or(line))
    })
}

impl Response {
    fn ok(text: impl Into<String>) -> Self {
        Response {
            status: Status {
                ok: true,
                text: text.into(),
            },
            body: None,
            next: Next::Continue,
        }
    }

    fn err(text: impl Into<String>) -> Self {
        Response {
            status: Status {
                ok: false,
                text: text.into(),
            },
            body: None,
            next: Next::Continue,
        }
    }

    fn with_body(mut self, body: Body) -> Self {
        self.body = Some(body);
        self
    }

    fn then(mut self, next: Next) -> Self {
        self.next = next;
        self
    }

    /// The response as it goes on the wire, with dot-stuffing and the final dot.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }

    /// Appends the response as sent on the wire to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        let _ = write!(out, "{}\r\n", self.status);
        if let Some(body) = &self.body {
            for line in body.lines() {
                if line.starts_with(b".") {
                    out.push(b'.');
                }
                out.extend_from_slice(line);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b".\r\n");
        }
    }
}

#[derive(Debug)]
enum State {
    Authorization {
        user: Option<String>,
    },
    Transaction {
        user: String,
        messages: Vec<Message>,
        deleted: BTreeSet<usize>,
    },
    Done,
}

/// One POP3 session's state.
#[derive(Debug)]
pub struct Pop3Session {
    config: Arc<Pop3Config>,
    store: SharedStore,
    stls_available: bool,
    state: State,
}

impl Pop3Session {
    /// A session on a fresh connection; `stls_available` says whether STLS can
    /// upgrade the transport.
    pub fn new(config: Arc<Pop3Config>, store: SharedStore, stls_available: bool) -> Self {
        Pop3Session {
            config,
            store,
            stls_available,
            state: State::Authorization { user: None },
        }
    }

    /// The greeting, and whether the connection stays open after it.
    pub fn greeting(&mut self) -> Response {
        match &self.config.greeting {
            Some(status) if !status.ok => {
                self.state = State::Done;
                Response::err(status.text.clone()).then(Next::Close)
            }
            Some(status) => Response::ok(status.text.clone()),
            None => Response::ok(format!(
                "{} POP3 mailprobe mock ready",
                self.config.hostname
            )),
        }
    }

    /// How long to wait before greeting.
    pub fn greeting_delay(&self) -> Duration {
        self.config.greeting_delay
    }

    /// Records that the TLS handshake after STLS completed.
    pub fn tls_established(&mut self) {
        self.stls_available = false;
    }

    /// The response to a line over the length limit.
    pub fn line_too_long(&self) -> Response {
        Response::err("line too long")
    }

    /// Handles one received line (without CRLF).
    pub fn handle_line(&mut self, line: &[u8]) -> Response {
        match Command::parse(line) {
            Ok(command) => self.command(command),
            Err(CommandError::Unknown(verb)) => Response::err(format!("unknown command {verb}")),
            Err(CommandError::Syntax(why)) => Response::err(why),
        }
    }

    fn command(&mut self, command: Command) -> Response {
        match command {
            Command::Capa => {
                Response::ok("Capability list follows").with_body(Body::Lines(self.capabilities()))
            }
            Command::Noop => Response::ok(""),
            Command::Quit => self.quit(),
            _ if matches!(self.state, State::Authorization { .. }) => self.authorization(command),
            _ => self.transaction(command),
        }
    }

    fn capabilities(&self) -> Vec<Vec<u8>> {
        let mut capabilities: Vec<String> = ["TOP", "UIDL", "RESP-CODES", "PIPELINING"]
            .map(String::from)
            .to_vec();
        if matches!(self.state, State::Authorization { .. }) {
            if self.config.user_pass {
                capabilities.push("USER".into());
            }
            if !self.config.sasl.is_empty() {
                capabilities.push(format!("SASL {}", self.config.sasl.join(" ")));
            }
            if self.stls_available {
                capabilities.push("STLS".into());
            }
        }
        if let Some(delay) = self.config.login_delay {
            capabilities.push(format!("LOGIN-DELAY {}", delay.as_secs()));
        }
        capabilities.push("IMPLEMENTATION mailprobe-mock".into());
        capabilities.into_iter().map(String::into_bytes).collect()
    }

    fn authorization(&mut self, command: Command) -> Response {
        let State::Authorization { user } = &mut self.state else {
            unreachable!("checked by the caller");
        };
        match command {
            Command::Stls if self.stls_available && user.is_none() => {
                Response::ok("Begin TLS negotiation").then(Next::StartTls)
            }
            Command::Stls => Response::err("STLS not available"),
            Command::User(_) if !self.config.user_pass => {
                Response::err("[AUTH] USER/PASS is not offered; sign in with SASL")
            }
            Command::User(name) => {
                if self.config.reject_unknown_users && self.store.lock().account(&name).is_none() {
                    return Response::err("[AUTH] no such user");
                }
                *user = Some(name);
                Response::ok("send PASS")
            }
            Command::Pass(password) => {
                let Some(name) = user.take() else {
                    return Response::err("send USER first");
                };
                self.login(name, &password)
            }
            _ => Response::err("not logged in"),
        }
    }

    fn login(&mut self, user: String, password: &str) -> Response {
        let mut store = self.store.lock();
        if !store.log_in(&self.config.hostname, &user, password, &self.config.domains) {
            return Response::err("[AUTH] invalid user name or password");
        }
        if let Some(refusal) = &self.config.refuse_logins {
            return Response::err(refusal.clone());
        }
        if let Some(refusal) = store.over_session_limit(&user, self.config.max_user_connections) {
            return Response::err(format!("[IN-USE] {refusal}"));
        }
        if let Some(delay) = self.config.login_delay {
            let now = tokio::time::Instant::now();
            if let Err(since) = store.note_login(&user, now, delay) {
                return Response::err(format!(
                    "[LOGIN-DELAY] the last login was {} s ago; wait {} s between logins",
                    since.as_secs(),
                    delay.as_secs()
                ));
            }
        }
        if !store.lock_mailbox(&user) {
            return Response::err("[IN-USE] mailbox is locked by another session");
        }
        store.note_pop3_login(tokio::time::Instant::now());
        let messages = store.messages(&user).to_vec();
        drop(store);
        let count = messages.len();
        self.state = State::Transaction {
            user,
            messages,
            deleted: BTreeSet::new(),
        };
        Response::ok(format!("logged in, {count} messages"))
    }

    fn transaction(&mut self, command: Command) -> Response {
        let State::Transaction {
            messages, deleted, ..
        } = &mut self.state
        else {
            return Response::err("session is over");
        };
        let live = |n: usize| -> Option<&Message> {
            (!deleted.contains(&n)).then(|| messages.get(n.wrapping_sub(1)))?
        };
        match command {
            Command::Stat => {
                let (count, size) = (1..=messages.len())
                    .filter_map(live)
                    .fold((0, 0), |(c, s), m| (c + 1, s + m.content.len()));
                Response::ok(format!("{count} {size}"))
            }
            Command::List(Some(n)) => match live(n) {
                Some(message) => Response::ok(format!("{n} {}", message.content.len())),
                None => Response::err("no such message"),
            },
            Command::List(None) => {
                let lines = (1..=messages.len())
                    .filter_map(|n| {
                        live(n).map(|m| format!("{n} {}", m.content.len()).into_bytes())
                    })
                    .collect();
                Response::ok("scan listing follows").with_body(Body::Lines(lines))
            }
            Command::Uidl(Some(n)) => match live(n) {
                Some(message) => Response::ok(format!("{n} {}", message.uid)),
                None => Response::err("no such message"),
            },
            Command::Uidl(None) => {
                let lines = (1..=messages.len())
                    .filter_map(|n| live(n).map(|m| format!("{n} {}", m.uid).into_bytes()))
                    .collect();
                Response::ok("unique-id listing follows").with_body(Body::Lines(lines))
            }
            Command::Retr(n) => match live(n) {
                Some(message) => Response::ok(format!("{} octets", message.content.len()))
                    .with_body(message_text(&message.content, None)),
                None => Response::err("no such message"),
            },
            Command::Top(n, count) => match live(n) {
                Some(message) => Response::ok("top of message follows")
                    .with_body(message_text(&message.content, Some(count))),
                None => Response::err("no such message"),
            },
            Command::Dele(n) => {
                if live(n).is_none() {
                    return Response::err("no such message");
                }
                deleted.insert(n);
                Response::ok(format!("message {n} deleted"))
            }
            Command::Rset => {
                deleted.clear();
                Response::ok("")
            }
            Command::User(_) | Command::Pass(_) | Command::Stls => {
                Response::err("already logged in")
            }
            Command::Capa | Command::Noop | Command::Quit => unreachable!("handled before"),
        }
    }

    /// QUIT: in the transaction state, enter the update state and remove the
    /// messages marked as deleted (RFC 1939 section 6).
    fn quit(&mut self) -> Response {
        if let State::Transaction {
            user,
            messages,
            deleted,
        } = &self.state
        {
            let uids: Vec<String> = deleted
                .iter()
                .map(|&n| messages[n - 1].uid.clone())
                .collect();
            let mut store = self.store.lock();
            store.remove(user, &uids);
            store.unlock_mailbox(user);
        }
        self.state = State::Done;
        Response::ok("bye").then(Next::Close)
    }
}

impl Drop for Pop3Session {
    /// A dropped connection releases the maildrop lock without deleting anything.
    fn drop(&mut self) {
        if let State::Transaction { user, .. } = &self.state {
            self.store.lock().unlock_mailbox(user);
        }
    }
}

/// A message's text; with `Some(n)`, the headers, the blank line and `n`
/// body lines.
fn message_text(content: &[u8], top: Option<usize>) -> Body {
    let text = content.strip_suffix(b"\r\n").unwrap_or(content);
    let Some(count) = top else {
        return Body::Text(text.to_vec());
    };
    let mut header_end = None;
    // Where the first line past the headers, the blank line and `count`
    // more starts, if there is one.
    let cut = text_lines(text)
        .enumerate()
        .find_map(|(index, (start, line))| {
            if header_end.is_none() && line.is_empty() {
                header_end = Some(index);
            }
            let past = header_end.is_some_and(|end| index > end.saturating_add(count));
            past.then_some(start)
        });
    let kept_text = match cut {
        // Without the kept last line's LF (and CR, removed as it is written).
        Some(start) => text.get(..start.saturating_sub(1)).unwrap_or(text),
        None => text,
    };
    Body::Text(kept_text.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailstore::{Account, MailStore};

    fn store_with_two_messages() -> SharedStore {
        let mut store = MailStore::new();
        store.add_account(Account {
            user: "taro".into(),
            password: "hunter2".into(),
            address: "taro@other.example".into(),
        });
        store
            .deliver("taro", b"Subject: one\r\n\r\nbody\r\n.dot\r\n".to_vec())
            .unwrap();
        store
            .deliver("taro", b"Subject: two\r\n\r\nb\r\n".to_vec())
            .unwrap();
        SharedStore::new(store)
    }

    fn new_session(store: &SharedStore) -> Pop3Session {
        Pop3Session::new(
            Arc::new(Pop3Config::new("pop.other.example")),
            store.clone(),
            true,
        )
    }

    fn run(session: &mut Pop3Session, lines: &[&str]) -> Vec<Response> {
        lines
            .iter()
            .map(|l| session.handle_line(l.as_bytes()))
            .collect()
    }

    fn oks(responses: &[Response]) -> Vec<bool> {
        responses.iter().map(|r| r.status.ok).collect()
    }

    #[test]
    fn login_stat_and_listing() {
        let store = store_with_two_messages();
        let mut session = new_session(&store);
        let responses = run(
            &mut session,
            &[
                "STAT",
                "USER taro",
                "PASS hunter2",
                "STAT",
                "LIST",
                "UIDL 2",
            ],
        );
        assert_eq!(oks(&responses), vec![false, true, true, true, true, true]);
        assert_eq!(responses[3].status.text, "2 47");
        assert_eq!(responses[4].body.as_ref().unwrap().lines().count(), 2);
        assert!(responses[5].status.text.starts_with("2 mp"));
    }

    #[test]
    fn wrong_password_and_locked_mailbox() {
        let store = store_with_two_messages();
        let mut first = new_session(&store);
        let responses = run(&mut first, &["USER taro", "PASS nope", "PASS hunter2"]);
        assert_eq!(oks(&responses), vec![true, false, false]);
        assert_eq!(responses[1].status.response_code(), Some("AUTH"));
        run(&mut first, &["USER taro", "PASS hunter2"]);
        let mut second = new_session(&store);
        let responses = run(&mut second, &["USER taro", "PASS hunter2"]);
        assert_eq!(responses[1].status.response_code(), Some("IN-USE"));
        drop(first);
        assert!(
            run(&mut second, &["USER taro", "PASS hunter2"])[1]
                .status
                .ok
        );
    }

    #[test]
    fn unknown_users_can_be_refused_at_user() {
        let store = store_with_two_messages();
        let mut config = Pop3Config::new("pop.other.example");
        config.reject_unknown_users = true;
        let mut session = Pop3Session::new(Arc::new(config), store, false);
        let responses = run(&mut session, &["USER nobody", "USER taro"]);
        assert_eq!(oks(&responses), vec![false, true]);
    }

    #[test]
    fn deletions_apply_only_at_quit() {
        let store = store_with_two_messages();
        let mut session = new_session(&store);
        let responses = run(
            &mut session,
            &["USER taro", "PASS hunter2", "DELE 1", "RETR 1", "STAT"],
        );
        assert_eq!(oks(&responses), vec![true, true, true, false, true]);
        assert_eq!(store.lock().messages("taro").len(), 2);
        drop(session);
        assert_eq!(
            store.lock().messages("taro").len(),
            2,
            "a dropped session deletes nothing"
        );

        let mut session = new_session(&store);
        run(
            &mut session,
            &["USER taro", "PASS hunter2", "DELE 1", "RSET", "DELE 2"],
        );
        assert_eq!(session.handle_line(b"QUIT").next, Next::Close);
        let store = store.lock();
        assert_eq!(store.messages("taro").len(), 1);
        assert!(store.messages("taro")[0]
            .content
            .starts_with(b"Subject: one"));
    }

    #[test]
    fn retr_and_top_are_dot_stuffed_on_the_wire() {
        let store = store_with_two_messages();
        let mut session = new_session(&store);
        let responses = run(
            &mut session,
            &["USER taro", "PASS hunter2", "RETR 1", "TOP 1 0"],
        );
        assert_eq!(
            responses[2].to_wire(),
            b"+OK 28 octets\r\nSubject: one\r\n\r\nbody\r\n..dot\r\n.\r\n"
        );
        assert_eq!(
            responses[3].to_wire(),
            b"+OK top of message follows\r\nSubject: one\r\n\r\n.\r\n"
        );
    }

    /// RETR and TOP write the lines a split into one allocation per line
    /// wrote: CRLF or bare LF endings, a last line with or without one, no
    /// blank line, TOP past the end.
    #[test]
    fn message_text_has_the_lines_of_a_split_per_line() {
        fn split_per_line(content: &[u8], top: Option<usize>) -> Vec<Vec<u8>> {
            let text = content.strip_suffix(b"\r\n").unwrap_or(content);
            let mut lines: Vec<Vec<u8>> = text
                .split(|&b| b == b'\n')
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
                .collect();
            if let Some(count) = top {
                let end = lines
                    .iter()
                    .position(|l| l.is_empty())
                    .unwrap_or(lines.len());
                lines.truncate((end + 1 + count).min(lines.len()));
            }
            lines
        }
        let contents: [&[u8]; 8] = [
            b"",
            b"\r\n",
            b"Subject: a\r\n\r\none\r\n.two\r\nthree\r\n",
            b"Subject: a\n\none\ntwo\n",
            b"Subject: a\r\n\r\none\r\ntwo",
            b"Subject: a\r\nX: b\r\n",
            b"\r\n\r\n\r\n",
            b"a\r\r\nb\rc\n",
        ];
        for content in contents {
            for top in [None, Some(0), Some(1), Some(2), Some(5)] {
                let body = message_text(content, top);
                let lines: Vec<Vec<u8>> = body.lines().map(<[u8]>::to_vec).collect();
                assert_eq!(lines, split_per_line(content, top), "{content:?} {top:?}");
            }
        }
    }

    #[test]
    fn capa_offers_stls_only_before_login_and_tls() {
        let store = store_with_two_messages();
        let mut session = new_session(&store);
        let capa = session.handle_line(b"CAPA");
        assert!(capa.body.unwrap().lines().any(|line| line == b"STLS"));
        assert_eq!(session.handle_line(b"STLS").next, Next::StartTls);
        session.tls_established();
        let capa = session.handle_line(b"CAPA");
        assert!(!capa.body.unwrap().lines().any(|line| line == b"STLS"));
        assert!(!session.handle_line(b"STLS").status.ok);
    }
}
