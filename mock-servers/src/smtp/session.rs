//! The SMTP server state machine: lines in, replies out, no I/O.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use crate::mailstore::{domain_of, serves, Received, SharedStore};
use crate::sasl::{self, Mechanism};
use crate::smtp::command::{Command, CommandError};
use crate::smtp::reply::{self, Reply};
pub use crate::Next;

/// RFC 5321 4.5.3.1.4: a command line is at most 512 octets with CRLF.
pub const MAX_COMMAND_LINE: usize = 512;
/// RFC 5321 4.5.3.1.6: a text line is at most 1000 octets with CRLF.
pub const MAX_TEXT_LINE: usize = 1000;
/// RFC 4954 section 4: an AUTH command line and each SASL response may be
/// up to 12,288 octets (with CRLF), for large initial responses.
pub const MAX_AUTH_LINE: usize = 12_288;
/// The largest message buffer a session keeps for its next message.
const MESSAGE_BUFFER_KEPT: usize = 64 * 1024;

/// Who may send mail to which recipients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RelayPolicy {
    /// Local recipients from anyone; other domains only after AUTH
    /// (`554 5.7.1` otherwise). The usual submission server.
    #[default]
    AuthOnly,
    /// MAIL itself needs AUTH first (`530 5.7.0`).
    AuthRequired,
    /// Anyone may relay anywhere (an open relay).
    Open,
}

/// How an SMTP server behaves, apart from its transport.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// The name in the greeting and EHLO reply.
    pub hostname: String,
    /// SASL mechanism names advertised; empty disables AUTH. PLAIN and LOGIN
    /// work; others (CRAM-MD5, ...) are advertised but answered with 504.
    pub auth: Vec<String>,
    /// What happens to AUTH before TLS is up.
    pub auth_before_tls: AuthBeforeTls,
    /// MAIL FROM must be the authenticated user's own address (553 5.7.1).
    pub sender_must_match_login: bool,
    /// Accept non-ASCII addresses (RFC 6531); without it they get 553.
    pub smtputf8: bool,
    /// A reply sent instead of the usual 220 greeting (421, 554, ...).
    pub greeting: Option<Reply>,
    /// How long the server waits before greeting (a tarpit).
    pub greeting_delay: Duration,
    /// The relay policy.
    pub relay: RelayPolicy,
    /// Domains delivered locally and whose accounts may log in.
    pub domains: Vec<String>,
    /// POP-before-SMTP: a client that logged in over POP3 (to this world's
    /// store) within this long may relay without AUTH.
    pub pop_before_smtp: Option<Duration>,
    /// The SIZE limit advertised and enforced, in octets.
    pub max_message_size: usize,
    /// How long the server waits for a client before `421` and close; each
    /// line must also arrive whole within it (no slow-loris).
    pub idle_timeout: Duration,
    /// Connections served at once; more get `421 4.3.2` and are closed.
    pub max_connections: usize,
    /// Accept mail to any recipient, local or not, known or not, with or
    /// without AUTH (a test fixture's catch-all: nothing is relayed, the
    /// store's journal keeps it).
    pub catch_all: bool,
    /// Accept every AUTH, whatever the password: a proxy that answers for
    /// the real server and would pass the login on only later.
    pub any_login: bool,
    /// A reply to every AUTH with the right password instead of 235, e.g.
    /// `534 5.7.9 Application-specific password required`: what a provider
    /// says when it no longer takes the account password.
    pub refuse_logins: Option<Reply>,
    /// A reply to every RCPT TO of a session that has not logged in, e.g.
    /// `550 5.7.1 Service unavailable; client [192.0.2.10] blocked using
    /// zen.spamhaus.org`: a block-list check that authentication skips.
    pub refuse_unauthenticated: Option<Reply>,
}

impl SmtpConfig {
    /// Defaults for `hostname`: AUTH PLAIN LOGIN, auth-only relay, local
    /// domain the hostname without its first label, 10 MiB, 5 minutes idle.
    pub fn new(hostname: &str) -> Self {
        SmtpConfig {
            hostname: hostname.to_string(),
            auth: vec!["PLAIN".into(), "LOGIN".into()],
            auth_before_tls: AuthBeforeTls::Offered,
            sender_must_match_login: false,
            smtputf8: false,
            greeting: None,
            greeting_delay: Duration::ZERO,
            relay: RelayPolicy::AuthOnly,
            domains: vec![parent_domain(hostname)],
            pop_before_smtp: None,
            max_message_size: 10 * 1024 * 1024,
            idle_timeout: Duration::from_secs(300),
            max_connections: crate::serve::DEFAULT_MAX_CONNECTIONS,
            catch_all: false,
            any_login: false,
            refuse_logins: None,
            refuse_unauthenticated: None,
        }
    }
}

/// What a server does with AUTH on a connection that is not yet encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthBeforeTls {
    /// Advertised and accepted, as on a plain submission port.
    #[default]
    Offered,
    /// Not advertised before STARTTLS; AUTH gets `530 5.7.0 Must issue a
    /// STARTTLS command first`.
    Hidden,
    /// Advertised, but PLAIN and LOGIN get `538 5.7.11 Encryption required
    /// for requested authentication mechanism` (RFC 4954 section 6).
    EncryptionRequired,
}

/// `smtp.other.example` → `other.example`; a single label stays as is.
pub fn parent_domain(hostname: &str) -> String {
    match hostname.split_once('.') {
        Some((_, parent)) if parent.contains('.') => parent.to_ascii_lowercase(),
        _ => hostname.to_ascii_lowercase(),
    }
}

/// The result of handling one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The reply to send, if any (message text lines get none).
    pub reply: Option<Answer>,
    /// What comes next.
    pub next: Next,
}

/// A reply as the session gives it: most are one line of fixed text,
/// written without an allocation; the rest a whole [`Reply`] (EHLO's
/// list, a reply the configuration sets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// One line: its code and text.
    Line(u16, Cow<'static, str>),
    /// Any reply.
    Reply(Reply),
}

impl Answer {
    /// The reply code.
    pub fn code(&self) -> u16 {
        match self {
            Answer::Line(code, _) => *code,
            Answer::Reply(reply) => reply.code,
        }
    }

    /// Appends the reply as sent on the wire to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Answer::Line(code, text) => reply::write_line(out, *code, true, text),
            Answer::Reply(reply) => reply.write_to(out),
        }
    }

    /// The reply as it goes on the wire.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }

    /// The reply as a [`Reply`], to read its lines.
    pub fn into_reply(self) -> Reply {
        match self {
            Answer::Line(code, text) => Reply::new(code, text),
            Answer::Reply(reply) => reply,
        }
    }
}

impl Response {
    fn reply(code: u16, text: impl Into<Cow<'static, str>>) -> Self {
        Response {
            reply: Some(Answer::Line(code, text.into())),
            next: Next::Continue,
        }
    }

    fn configured(reply: &Reply) -> Self {
        Response {
            reply: Some(Answer::Reply(reply.clone())),
            next: Next::Continue,
        }
    }

    fn silent() -> Self {
        Response {
            reply: None,
            next: Next::Continue,
        }
    }

    fn then(mut self, next: Next) -> Self {
        self.next = next;
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Greeted; waiting for EHLO or HELO.
    Connected,
    /// EHLO done; no transaction.
    Ready,
    /// MAIL accepted.
    Mail,
    /// At least one RCPT accepted.
    Rcpt,
    /// Receiving message text.
    Data,
    /// AUTH PLAIN without initial response: waiting for it.
    AuthPlain,
    /// AUTH LOGIN: waiting for the user name.
    AuthLoginUser,
    /// AUTH LOGIN: waiting for the password.
    AuthLoginPassword(String),
    /// The greeting refused the session (554): only QUIT is accepted.
    Refused,
}

/// One SMTP session's state.
#[derive(Debug)]
pub struct SmtpSession {
    config: Arc<SmtpConfig>,
    store: SharedStore,
    starttls_available: bool,
    tls_active: bool,
    state: State,
    authenticated: Option<String>,
    from: String,
    recipients: Vec<String>,
    /// The message being received, in a buffer reused from one
    /// transaction to the next (up to [`MESSAGE_BUFFER_KEPT`]).
    message: Vec<u8>,
    message_too_long_line: bool,
    /// The message passed the SIZE limit: the rest is read and discarded.
    message_oversized: bool,
}

impl SmtpSession {
    /// A session on a fresh connection. `starttls_available` says whether the
    /// transport can be upgraded; `tls_active` whether it already is (port 465).
    pub fn new(
        config: Arc<SmtpConfig>,
        store: SharedStore,
        starttls_available: bool,
        tls_active: bool,
    ) -> Self {
        SmtpSession {
            config,
            store,
            starttls_available,
            tls_active,
            state: State::Connected,
            authenticated: None,
            from: String::new(),
            recipients: Vec::new(),
            message: Vec::new(),
            message_too_long_line: false,
            message_oversized: false,
        }
    }

    /// The greeting sent when the connection opens. A configured 220 only
    /// changes the words; a configured 421 closes the connection after it;
    /// any other refusal leaves only QUIT.
    pub fn greeting(&mut self) -> Response {
        match &self.config.greeting {
            None => Response::reply(
                220,
                format!("{} ESMTP mailprobe mock", self.config.hostname),
            ),
            Some(reply) if reply.code == 220 => Response::configured(reply),
            Some(reply) => {
                self.state = State::Refused;
                let next = if reply.code == 421 {
                    Next::Close
                } else {
                    Next::Continue
                };
                Response::configured(reply).then(next)
            }
        }
    }

    /// How long to wait before greeting.
    pub fn greeting_delay(&self) -> Duration {
        self.config.greeting_delay
    }

    /// The reply for an idle client, sent before closing.
    pub fn idle_timeout_reply(&self) -> Reply {
        Reply::new(
            421,
            format!("4.4.2 {} Error: timeout exceeded", self.config.hostname),
        )
    }

    /// The longest line the framer passes on in the current state: text
    /// lines in DATA, else the AUTH limit (other commands are held to
    /// [`MAX_COMMAND_LINE`] once read, see `handle_line`).
    pub fn max_line(&self) -> usize {
        if self.state == State::Data {
            MAX_TEXT_LINE
        } else {
            MAX_AUTH_LINE
        }
    }

    /// Whether `line` may be as long as [`MAX_AUTH_LINE`]: an AUTH command
    /// or a SASL response.
    fn may_be_long(&self, line: &[u8]) -> bool {
        matches!(
            self.state,
            State::AuthPlain | State::AuthLoginUser | State::AuthLoginPassword(_)
        ) || line
            .get(..5)
            .is_some_and(|verb| verb.eq_ignore_ascii_case(b"AUTH "))
    }

    /// Records that the TLS handshake after STARTTLS completed. The session
    /// starts over as RFC 3207 4.2 requires: the client must EHLO again.
    pub fn tls_established(&mut self) {
        self.tls_active = true;
        self.starttls_available = false;
        self.state = State::Connected;
        self.authenticated = None;
        self.reset_transaction();
    }

    /// Handles a line that exceeded [`SmtpSession::max_line`].
    pub fn line_too_long(&mut self) -> Response {
        if self.state == State::Data {
            self.message_too_long_line = true;
            return Response::silent();
        }
        Response::reply(500, "5.5.6 Line too long")
    }

    /// Handles one received line (without CRLF).
    pub fn handle_line(&mut self, line: &[u8]) -> Response {
        let with_crlf = line.len().saturating_add(2);
        if self.state != State::Data && with_crlf > MAX_COMMAND_LINE && !self.may_be_long(line) {
            return self.line_too_long();
        }
        match self.state.clone() {
            State::Data => self.message_line(line),
            State::Refused => match Command::parse(line) {
                Ok(Command::Quit) => Response::reply(221, "2.0.0 Bye").then(Next::Close),
                _ => Response::reply(503, "5.5.1 Error: no valid session"),
            },
            State::AuthPlain => self.auth_plain_response(line),
            State::AuthLoginUser => match sasl_response(line).and_then(|r| sasl::decode_text(&r)) {
                Some(user) => {
                    self.state = State::AuthLoginPassword(user);
                    Response::reply(334, sasl::encode("Password:"))
                }
                None => self.auth_aborted(line),
            },
            State::AuthLoginPassword(user) => {
                match sasl_response(line).and_then(|r| sasl::decode_text(&r)) {
                    Some(password) => self.finish_auth(&user, &password),
                    None => self.auth_aborted(line),
                }
            }
            _ => match Command::parse(line) {
                Ok(command) => self.command(command),
                Err(CommandError::Unrecognized(_)) => {
                    Response::reply(500, "5.5.2 Error: command not recognized")
                }
                Err(CommandError::Syntax(why)) => {
                    Response::reply(501, format!("5.5.4 Syntax: {why}"))
                }
            },
        }
    }

    fn command(&mut self, command: Command) -> Response {
        match command {
            Command::Ehlo(domain) => {
                self.state = State::Ready;
                self.reset_transaction();
                Response {
                    reply: Some(Answer::Reply(self.ehlo_reply(&domain))),
                    next: Next::Continue,
                }
            }
            Command::Helo(_) => {
                self.state = State::Ready;
                self.reset_transaction();
                Response::reply(250, self.config.hostname.clone())
            }
            Command::StartTls if self.tls_active => {
                Response::reply(503, "5.5.1 Error: TLS already active")
            }
            Command::StartTls if !self.starttls_available => {
                Response::reply(502, "5.5.1 Error: command not implemented")
            }
            Command::StartTls => {
                Response::reply(220, "2.0.0 Ready to start TLS").then(Next::StartTls)
            }
            Command::Auth { .. } if self.state == State::Connected => {
                Response::reply(503, "5.5.1 Error: send EHLO first")
            }
            Command::Auth { .. } if self.config.auth.is_empty() => {
                Response::reply(502, "5.5.1 Error: authentication not enabled")
            }
            Command::Auth { .. }
                if !self.tls_active && self.config.auth_before_tls == AuthBeforeTls::Hidden =>
            {
                Response::reply(530, "5.7.0 Must issue a STARTTLS command first")
            }
            Command::Auth { .. } if self.authenticated.is_some() => {
                Response::reply(503, "5.5.1 Error: already authenticated")
            }
            Command::Auth { .. } if self.state != State::Ready => {
                Response::reply(503, "5.5.1 Error: MAIL transaction in progress")
            }
            Command::Auth {
                mechanism,
                initial_response,
            } => self.auth(&mechanism, initial_response),
            Command::Mail { .. } if self.state == State::Connected => {
                Response::reply(503, "5.5.1 Error: send HELO/EHLO first")
            }
            Command::Mail { .. } if self.state != State::Ready => {
                Response::reply(503, "5.5.1 Error: nested MAIL command")
            }
            Command::Mail { .. }
                if self.config.relay == RelayPolicy::AuthRequired
                    && self.authenticated.is_none() =>
            {
                Response::reply(530, "5.7.0 Authentication required")
            }
            Command::Mail { from, params } => self.mail(from, &params),
            Command::Rcpt { .. } if !matches!(self.state, State::Mail | State::Rcpt) => {
                Response::reply(503, "5.5.1 Error: need MAIL command")
            }
            Command::Rcpt { to, .. } => self.rcpt(to),
            Command::Data if self.state != State::Rcpt => {
                Response::reply(503, "5.5.1 Error: need RCPT command")
            }
            Command::Data => {
                self.state = State::Data;
                Response::reply(354, "End data with <CR><LF>.<CR><LF>")
            }
            Command::Rset => {
                self.reset_transaction();
                if self.state != State::Connected {
                    self.state = State::Ready;
                }
                Response::reply(250, "2.0.0 Ok")
            }
            Command::Noop => Response::reply(250, "2.0.0 Ok"),
            Command::Quit => Response::reply(221, "2.0.0 Bye").then(Next::Close),
            Command::Vrfy(_) => Response::reply(252, "2.0.0 Cannot VRFY user"),
            Command::Help => Response::reply(214, "2.0.0 See RFC 5321"),
        }
    }

    fn ehlo_reply(&self, domain: &str) -> Reply {
        let mut lines = vec![
            format!("{} Hello {}", self.config.hostname, domain),
            "PIPELINING".to_string(),
            format!("SIZE {}", self.config.max_message_size),
            "8BITMIME".to_string(),
            "ENHANCEDSTATUSCODES".to_string(),
        ];
        if self.starttls_available && !self.tls_active {
            lines.push("STARTTLS".to_string());
        }
        let hidden = !self.tls_active && self.config.auth_before_tls == AuthBeforeTls::Hidden;
        if !self.config.auth.is_empty() && !hidden {
            lines.push(format!("AUTH {}", self.config.auth.join(" ")));
        }
        if self.config.smtputf8 {
            lines.push("SMTPUTF8".to_string());
        }
        Reply::multi(250, lines)
    }

    fn auth(&mut self, mechanism: &str, initial_response: Option<String>) -> Response {
        let offered = Mechanism::from_name(mechanism).filter(|m| {
            self.config
                .auth
                .iter()
                .any(|name| name.eq_ignore_ascii_case(m.name()))
        });
        if offered.is_some()
            && !self.tls_active
            && self.config.auth_before_tls == AuthBeforeTls::EncryptionRequired
        {
            return Response::reply(
                538,
                "5.7.11 Encryption required for requested authentication mechanism",
            );
        }
        match (offered, initial_response) {
            (None, _) => Response::reply(504, "5.5.4 Unrecognized authentication type"),
            (Some(Mechanism::Plain), None) => {
                self.state = State::AuthPlain;
                Response::reply(334, "")
            }
            (Some(Mechanism::Plain), Some(response)) => self.plain_credentials(&response),
            (Some(Mechanism::Login), None) => {
                self.state = State::AuthLoginUser;
                Response::reply(334, sasl::encode("Username:"))
            }
            (Some(Mechanism::Login), Some(response)) => match sasl::decode_text(&response) {
                Some(user) => {
                    self.state = State::AuthLoginPassword(user);
                    Response::reply(334, sasl::encode("Password:"))
                }
                None => Response::reply(501, "5.5.2 Cannot decode response"),
            },
        }
    }

    fn auth_plain_response(&mut self, line: &[u8]) -> Response {
        match sasl_response(line) {
            Some(response) => self.plain_credentials(&response),
            None => self.auth_aborted(line),
        }
    }

    fn plain_credentials(&mut self, response: &str) -> Response {
        match sasl::decode_plain(response) {
            Some((user, password)) => self.finish_auth(&user, &password),
            None => {
                self.state = State::Ready;
                Response::reply(501, "5.5.2 Cannot decode response")
            }
        }
    }

    fn auth_aborted(&mut self, line: &[u8]) -> Response {
        self.state = State::Ready;
        if line == b"*" {
            Response::reply(501, "5.7.0 Authentication aborted")
        } else {
            Response::reply(501, "5.5.2 Cannot decode response")
        }
    }

    fn finish_auth(&mut self, user: &str, password: &str) -> Response {
        self.state = State::Ready;
        let hostname = &self.config.hostname;
        if self.config.any_login
            || self
                .store
                .lock()
                .log_in(hostname, user, password, &self.config.domains)
        {
            if let Some(refusal) = &self.config.refuse_logins {
                return Response::configured(refusal);
            }
            self.authenticated = Some(user.to_string());
            Response::reply(235, "2.7.0 Authentication successful")
        } else {
            Response::reply(535, "5.7.8 Error: authentication failed")
        }
    }

    fn mail(&mut self, from: String, params: &[String]) -> Response {
        if !from.is_ascii() && !self.config.smtputf8 {
            return Response::reply(553, "5.1.7 Bad sender address syntax");
        }
        if self.config.sender_must_match_login {
            let store = self.store.lock();
            let owned = self
                .authenticated
                .as_ref()
                .and_then(|user| store.account(user))
                .is_some_and(|account| account.address.eq_ignore_ascii_case(&from));
            if !owned {
                return Response::reply(553, "5.7.1 Sender address rejected: not owned by user");
            }
        }
        let declared_size = params.iter().find_map(|p| {
            let (key, value) = p.split_once('=')?;
            key.eq_ignore_ascii_case("SIZE")
                .then(|| value.parse::<usize>().ok())?
        });
        if declared_size.is_some_and(|size| size > self.config.max_message_size) {
            return Response::reply(552, "5.3.4 Message size exceeds fixed limit");
        }
        self.from = from;
        self.state = State::Mail;
        Response::reply(250, "2.1.0 Ok")
    }

    /// Whether POP-before-SMTP lets this client relay: it logged in over
    /// POP3 within the server's window.
    fn checked_mail_lately(&self) -> bool {
        self.config.pop_before_smtp.is_some_and(|window| {
            self.store
                .lock()
                .pop3_login_within(window, tokio::time::Instant::now())
        })
    }

    fn rcpt(&mut self, to: String) -> Response {
        if !to.is_ascii() && !self.config.smtputf8 {
            return Response::reply(553, "5.1.3 Bad recipient address syntax");
        }
        if let (None, Some(refusal)) = (&self.authenticated, &self.config.refuse_unauthenticated) {
            return Response::configured(refusal);
        }
        let local =
            serves(&self.config.domains, &domain_of(&to)) && !self.config.domains.is_empty();
        if self.config.catch_all {
            // Kept whoever it is for.
        } else if local {
            if self.store.lock().account_by_address(&to).is_none() {
                return Response::reply(550, "5.1.1 Recipient address rejected: User unknown");
            }
        } else if self.authenticated.is_none()
            && self.config.relay != RelayPolicy::Open
            && !self.checked_mail_lately()
        {
            return Response::reply(554, "5.7.1 Relay access denied");
        }
        self.recipients.push(to);
        self.state = State::Rcpt;
        Response::reply(250, "2.1.5 Ok")
    }

    fn message_line(&mut self, line: &[u8]) -> Response {
        if line == b"." {
            return self.finish_message();
        }
        // RFC 5321 4.5.2: a leading dot was doubled by the sender.
        let line = line.strip_prefix(b".").unwrap_or(line);
        // Past the SIZE limit the text is read to the final dot and dropped,
        // so a huge body costs no memory before its 552.
        let size = self
            .message
            .len()
            .saturating_add(line.len())
            .saturating_add(2);
        if self.message_oversized || size > self.config.max_message_size {
            self.message_oversized = true;
            self.message = Vec::new();
            return Response::silent();
        }
        self.message.extend_from_slice(line);
        self.message.extend_from_slice(b"\r\n");
        Response::silent()
    }

    fn finish_message(&mut self) -> Response {
        self.state = State::Ready;
        let response = if self.message_too_long_line {
            Response::reply(500, "5.5.6 Line too long")
        } else if self.message_oversized {
            Response::reply(552, "5.3.4 Message size exceeds fixed limit")
        } else {
            self.deliver()
        };
        self.reset_transaction();
        response
    }

    /// Delivers the message to every local recipient and to the journal, or
    /// to none when the store has no room for all copies (`452 4.3.1`,
    /// RFC 3463).
    fn deliver(&mut self) -> Response {
        let full = Response::reply(452, "4.3.1 Insufficient system storage");
        {
            let mut store = self.store.lock();
            let users: Vec<String> = self
                .recipients
                .iter()
                .filter_map(|r| store.account_by_address(r).map(|a| a.user.clone()))
                .collect();
            let copies = users.len() + usize::from(store.keeps_journal());
            if !store.has_room_for(self.message.len().saturating_mul(copies)) {
                return full;
            }
            for user in users {
                if store.deliver(&user, self.message.clone()).is_err() {
                    return full;
                }
            }
            if !store.keeps_journal() {
                return Response::reply(250, "2.0.0 Ok: queued");
            }
            if store.reserve(self.message.len()).is_err() {
                return full;
            }
        }
        self.store.journal(Received {
            from: std::mem::take(&mut self.from),
            to: std::mem::take(&mut self.recipients),
            login: self.authenticated.clone(),
            content: std::mem::take(&mut self.message),
        });
        Response::reply(250, "2.0.0 Ok: queued")
    }

    fn reset_transaction(&mut self) {
        self.from.clear();
        self.recipients.clear();
        // The next message grows in the same buffer, unless it grew large:
        // mailboxes get exact copies, and a session does not sit on a big
        // message's memory.
        if self.message.capacity() > MESSAGE_BUFFER_KEPT {
            self.message = Vec::new();
        } else {
            self.message.clear();
        }
        self.message_too_long_line = false;
        self.message_oversized = false;
    }
}

/// A SASL continuation line: `*` cancels (None); anything else is base64.
fn sasl_response(line: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(line).ok()?;
    (text != "*").then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailstore::{Account, MailStore};

    fn new_session(relay: RelayPolicy, starttls: bool) -> (SmtpSession, SharedStore) {
        let mut store = MailStore::new();
        store.add_account(Account {
            user: "taro".into(),
            password: "hunter2".into(),
            address: "taro@other.example".into(),
        });
        let store = SharedStore::new(store);
        let mut config = SmtpConfig::new("smtp.other.example");
        config.relay = relay;
        (
            SmtpSession::new(Arc::new(config), store.clone(), starttls, false),
            store,
        )
    }

    /// Sends lines and returns the reply codes (0 for no reply).
    fn codes(session: &mut SmtpSession, lines: &[&str]) -> Vec<u16> {
        lines
            .iter()
            .map(|line| {
                session
                    .handle_line(line.as_bytes())
                    .reply
                    .map_or(0, |r| r.code())
            })
            .collect()
    }

    #[test]
    fn ehlo_lists_starttls_only_before_tls() {
        let (mut session, _) = new_session(RelayPolicy::AuthOnly, true);
        let reply = session
            .handle_line(b"EHLO client")
            .reply
            .unwrap()
            .into_reply();
        assert!(reply.lines.contains(&"STARTTLS".to_string()));
        assert!(reply.lines.contains(&"AUTH PLAIN LOGIN".to_string()));
        let response = session.handle_line(b"STARTTLS");
        assert_eq!(response.next, Next::StartTls);
        session.tls_established();
        assert_eq!(codes(&mut session, &["MAIL FROM:<a@b>"]), vec![503]);
        let reply = session
            .handle_line(b"EHLO client")
            .reply
            .unwrap()
            .into_reply();
        assert!(!reply.lines.contains(&"STARTTLS".to_string()));
        assert_eq!(session.handle_line(b"STARTTLS").reply.unwrap().code(), 503);
    }

    #[test]
    fn starttls_without_tls_support_is_not_implemented() {
        let (mut session, _) = new_session(RelayPolicy::AuthOnly, false);
        let reply = session
            .handle_line(b"EHLO client")
            .reply
            .unwrap()
            .into_reply();
        assert!(!reply.lines.contains(&"STARTTLS".to_string()));
        assert_eq!(codes(&mut session, &["STARTTLS"]), vec![502]);
    }

    #[test]
    fn auth_plain_and_login_succeed_and_fail() {
        let (mut session, _) = new_session(RelayPolicy::AuthOnly, false);
        let plain = format!("AUTH PLAIN {}", sasl::encode_plain("taro", "hunter2"));
        assert_eq!(
            codes(&mut session, &["EHLO c", &plain, &plain]),
            vec![250, 235, 503]
        );

        let (mut session, _) = new_session(RelayPolicy::AuthOnly, false);
        let user = sasl::encode("taro");
        let wrong = sasl::encode("wrong");
        assert_eq!(
            codes(&mut session, &["EHLO c", "AUTH LOGIN", &user, &wrong]),
            vec![250, 334, 334, 535]
        );
        let right = sasl::encode("hunter2");
        assert_eq!(
            codes(&mut session, &["AUTH LOGIN", &user, &right]),
            vec![334, 334, 235]
        );

        let (mut session, _) = new_session(RelayPolicy::AuthOnly, false);
        assert_eq!(
            codes(
                &mut session,
                &["EHLO c", "AUTH PLAIN", "*", "AUTH CRAM-MD5"]
            ),
            vec![250, 334, 501, 504]
        );
    }

    #[test]
    fn relay_needs_auth_but_local_delivery_does_not() {
        let (mut session, _) = new_session(RelayPolicy::AuthOnly, false);
        assert_eq!(
            codes(
                &mut session,
                &[
                    "EHLO c",
                    "MAIL FROM:<x@y>",
                    "RCPT TO:<someone@elsewhere.example>"
                ]
            ),
            vec![250, 250, 554]
        );
        assert_eq!(
            codes(
                &mut session,
                &[
                    "RCPT TO:<taro@other.example>",
                    "RCPT TO:<nobody@other.example>"
                ]
            ),
            vec![250, 550]
        );
        let (mut session, _) = new_session(RelayPolicy::AuthRequired, false);
        assert_eq!(
            codes(&mut session, &["EHLO c", "MAIL FROM:<x@y>"]),
            vec![250, 530]
        );
    }

    #[test]
    fn data_is_dot_unstuffed_and_delivered() {
        let (mut session, store) = new_session(RelayPolicy::AuthOnly, false);
        let lines = [
            "EHLO c",
            "MAIL FROM:<x@y>",
            "RCPT TO:<taro@other.example>",
            "DATA",
            "Subject: hi",
            "",
            "..leading dot",
            ".",
        ];
        assert_eq!(
            codes(&mut session, &lines),
            vec![250, 250, 250, 354, 0, 0, 0, 250]
        );
        let store = store.lock();
        assert_eq!(
            store.messages("taro")[0].content,
            b"Subject: hi\r\n\r\n.leading dot\r\n"
        );
    }

    #[test]
    fn overlong_lines_get_500_5_5_6() {
        let (mut session, _) = new_session(RelayPolicy::AuthOnly, false);
        assert_eq!(session.max_line(), MAX_AUTH_LINE);
        let reply = session.line_too_long().reply.unwrap().into_reply();
        assert_eq!((reply.code, reply.enhanced_status()), (500, Some("5.5.6")));
        let long_command = format!("NOOP {}", "x".repeat(MAX_COMMAND_LINE));
        assert_eq!(codes(&mut session, &[long_command.as_str()]), vec![500]);
        codes(
            &mut session,
            &[
                "EHLO c",
                "MAIL FROM:<x@y>",
                "RCPT TO:<taro@other.example>",
                "DATA",
            ],
        );
        assert_eq!(session.max_line(), MAX_TEXT_LINE);
        assert_eq!(session.line_too_long().reply, None);
        assert_eq!(codes(&mut session, &["."]), vec![500]);
    }

    #[test]
    fn a_large_auth_plain_initial_response_is_read() {
        let (mut session, _) = new_session(RelayPolicy::AuthOnly, false);
        // RFC 4954: up to 12,288 octets; a long password is not a long line.
        let password = "p".repeat(9000);
        let mut store = session.store.lock();
        store.add_account(Account {
            user: "hanako".into(),
            password: password.clone(),
            address: "hanako@other.example".into(),
        });
        drop(store);
        let line = format!("AUTH PLAIN {}", sasl::encode_plain("hanako", &password));
        assert!(line.len() > MAX_COMMAND_LINE && line.len() + 2 <= MAX_AUTH_LINE);
        assert_eq!(
            codes(&mut session, &["EHLO c", line.as_str()]),
            vec![250, 235]
        );
    }

    #[test]
    fn a_body_past_size_is_discarded_while_read_then_refused() {
        let (mut session, store) = new_session(RelayPolicy::AuthOnly, false);
        let limit = session.config.max_message_size;
        codes(
            &mut session,
            &[
                "EHLO c",
                "MAIL FROM:<x@y>",
                "RCPT TO:<taro@other.example>",
                "DATA",
            ],
        );
        let line = "x".repeat(998);
        for _ in 0..(limit / 1000 + 10) {
            assert_eq!(session.handle_line(line.as_bytes()).reply, None);
        }
        assert!(session.message.capacity() < 4096, "the body was kept");
        assert_eq!(codes(&mut session, &["."]), vec![552]);
        assert!(store.lock().messages("taro").is_empty());
        // The session goes on: a small message still fits.
        assert_eq!(
            codes(
                &mut session,
                &[
                    "MAIL FROM:<x@y>",
                    "RCPT TO:<taro@other.example>",
                    "DATA",
                    "hi",
                    "."
                ]
            ),
            vec![250, 250, 354, 0, 250]
        );
    }

    #[test]
    fn a_full_store_answers_452() {
        let (mut session, store) = new_session(RelayPolicy::AuthOnly, false);
        *store.lock() = {
            let mut small = MailStore::with_limit(8);
            small.add_account(Account {
                user: "taro".into(),
                password: "hunter2".into(),
                address: "taro@other.example".into(),
            });
            small
        };
        let sent = codes(
            &mut session,
            &[
                "EHLO c",
                "MAIL FROM:<x@y>",
                "RCPT TO:<taro@other.example>",
                "DATA",
                "more than eight bytes",
                ".",
            ],
        );
        assert_eq!(sent.last(), Some(&452));
    }

    /// Two messages in one session: each mailbox copy is the message alone,
    /// the buffer is kept for the next message, and a large one's is let go.
    #[test]
    fn the_message_buffer_is_reused_but_a_large_one_is_let_go() {
        let (mut session, store) = new_session(RelayPolicy::AuthOnly, false);
        let send = |session: &mut SmtpSession, body: &str| {
            let envelope = ["MAIL FROM:<x@y>", "RCPT TO:<taro@other.example>", "DATA"];
            codes(session, &envelope);
            let sent = codes(session, &[body, "."]);
            assert_eq!(sent, [0, 250]);
        };
        codes(&mut session, &["EHLO c"]);
        send(&mut session, "first");
        let kept = session.message.capacity();
        assert!(kept >= "first\r\n".len() && session.message.is_empty());
        send(&mut session, "second");
        assert!(session.message.capacity() >= kept, "the buffer was kept");
        let stored: Vec<Vec<u8>> = store
            .lock()
            .messages("taro")
            .iter()
            .map(|m| m.content.clone())
            .collect();
        assert_eq!(stored, [b"first\r\n".to_vec(), b"second\r\n".to_vec()]);
        let large = "x".repeat(990);
        let envelope = ["MAIL FROM:<x@y>", "RCPT TO:<taro@other.example>", "DATA"];
        codes(&mut session, &envelope);
        for _ in 0..(MESSAGE_BUFFER_KEPT / 990 + 1) {
            codes(&mut session, &[large.as_str()]);
        }
        assert_eq!(codes(&mut session, &["."]), [250]);
        assert_eq!(session.message.capacity(), 0, "a large buffer is let go");
    }

    #[test]
    fn sequence_errors_and_unknown_commands() {
        let (mut session, _) = new_session(RelayPolicy::AuthOnly, false);
        assert_eq!(
            codes(
                &mut session,
                &[
                    "MAIL FROM:<a@b>",
                    "FOO",
                    "EHLO",
                    "EHLO c",
                    "DATA",
                    "RSET",
                    "QUIT"
                ]
            ),
            vec![503, 500, 501, 250, 503, 250, 221]
        );
    }

    #[test]
    fn auth_before_tls_can_be_hidden_or_refused() {
        let (mut session, _) = new_session(RelayPolicy::AuthOnly, true);
        let mut config = (*session.config).clone();
        config.auth_before_tls = AuthBeforeTls::Hidden;
        session.config = Arc::new(config.clone());
        let ehlo = session.handle_line(b"EHLO c").reply.unwrap().into_reply();
        assert!(!ehlo.lines.iter().any(|l| l.starts_with("AUTH")));
        assert_eq!(codes(&mut session, &["AUTH LOGIN"]), vec![530]);
        session.tls_established();
        let ehlo = session.handle_line(b"EHLO c").reply.unwrap().into_reply();
        assert!(ehlo.lines.contains(&"AUTH PLAIN LOGIN".to_string()));

        config.auth_before_tls = AuthBeforeTls::EncryptionRequired;
        session.config = Arc::new(config);
        session.tls_active = false;
        let plain = format!("AUTH PLAIN {}", sasl::encode_plain("taro", "hunter2"));
        assert_eq!(codes(&mut session, &["EHLO c", &plain]), vec![250, 538]);
    }

    #[test]
    fn configured_greetings_refuse_the_session() {
        let (mut session, _) = new_session(RelayPolicy::AuthOnly, false);
        let mut config = (*session.config).clone();
        config.greeting = Some(Reply::new(554, "5.7.1 Your IP is listed"));
        session.config = Arc::new(config.clone());
        let greeting = session.greeting();
        assert_eq!(
            (greeting.reply.unwrap().code(), greeting.next),
            (554, Next::Continue)
        );
        assert_eq!(codes(&mut session, &["EHLO c", "QUIT"]), vec![503, 221]);
        config.greeting = Some(Reply::new(421, "4.7.0 Too many connections"));
        session.config = Arc::new(config);
        assert_eq!(session.greeting().next, Next::Close);
    }

    #[test]
    fn addresses_and_senders_are_checked() {
        let (mut session, _) = new_session(RelayPolicy::AuthOnly, false);
        assert_eq!(
            codes(
                &mut session,
                &[
                    "EHLO c",
                    "MAIL FROM:<x@y>",
                    "RCPT TO:<taro様@other.example>"
                ]
            ),
            vec![250, 250, 553]
        );
        let mut config = (*session.config).clone();
        config.sender_must_match_login = true;
        session.config = Arc::new(config);
        let plain = format!("AUTH PLAIN {}", sasl::encode_plain("taro", "hunter2"));
        assert_eq!(
            codes(
                &mut session,
                &[
                    "RSET",
                    &plain,
                    "MAIL FROM:<boss@other.example>",
                    "MAIL FROM:<taro@other.example>"
                ]
            ),
            vec![250, 235, 553, 250]
        );
    }

    #[test]
    fn declared_size_over_limit_is_refused() {
        let (mut session, _) = new_session(RelayPolicy::AuthOnly, false);
        assert_eq!(
            codes(&mut session, &["EHLO c", "MAIL FROM:<a@b> SIZE=999999999"]),
            vec![250, 552]
        );
    }
}
