//! The IMAP server state machine (RFC 3501, with what RFC 9051 clients meet
//! at login): lines in, bytes out, no I/O.
//!
//! The mock is read-only: it logs in, selects INBOX, lists and fetches
//! messages of the shared store, and refuses what would change mail with
//! `NO [CANNOT]`.

use std::sync::Arc;
use std::time::Duration;

use crate::imap::command::{literal_at_end, quoted, tokens, Command, CommandError, Tagged};
use crate::mailstore::{Message, SharedStore};
use crate::sasl::{self, Mechanism};
use crate::Next;

/// The longest command line accepted, with CRLF (RFC 7162 section 4
/// recommends servers accept at least 8192 octets).
pub const MAX_COMMAND_LINE: usize = 8192;
/// The largest literal accepted: enough for any user name or password.
pub const MAX_LITERAL: usize = 8192;

/// What the server says when a client connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImapGreeting {
    /// `* OK text`: the usual greeting.
    Ok(String),
    /// `* PREAUTH`: the connection is already logged in as this user.
    Preauth(String),
    /// `* BYE text`: the server refuses the connection and closes it.
    Bye(String),
}

/// How an IMAP server behaves, apart from its transport.
#[derive(Debug, Clone)]
pub struct ImapConfig {
    /// The name in the greeting.
    pub hostname: String,
    /// Domains whose accounts may log in (empty: all).
    pub domains: Vec<String>,
    /// SASL mechanisms advertised as `AUTH=`; PLAIN and LOGIN work, others
    /// (XOAUTH2, ...) are advertised and refused.
    pub auth: Vec<String>,
    /// Advertise `LOGINDISABLED` and refuse LOGIN and AUTHENTICATE until TLS
    /// is up (`NO [PRIVACYREQUIRED]`).
    pub login_disabled_before_tls: bool,
    /// A greeting instead of the usual `* OK`.
    pub greeting: Option<ImapGreeting>,
    /// How long the server waits before greeting.
    pub greeting_delay: Duration,
    /// RFC 3501 section 5.4: an autologout timer of at least 30 minutes.
    /// Each command line must also arrive whole within it.
    pub idle_timeout: Duration,
    /// Connections served at once; more get `* BYE [UNAVAILABLE]`.
    pub max_connections: usize,
    /// A refusal for every login with the right password (the text after
    /// `NO`, e.g. `[ALERT] Application-specific password required`): what
    /// a provider says when it no longer takes the account password.
    pub refuse_logins: Option<String>,
    /// Sessions one user may hold at once, other clients' included; one
    /// more gets `NO [LIMIT] Maximum number of connections ...` (RFC 5530).
    pub max_user_connections: Option<u32>,
}

impl ImapConfig {
    /// Defaults for `hostname`: accounts of its parent domain, AUTH=PLAIN
    /// and AUTH=LOGIN, LOGIN allowed before TLS, 30 minutes idle.
    pub fn new(hostname: &str) -> Self {
        ImapConfig {
            hostname: hostname.to_string(),
            domains: vec![crate::smtp::session::parent_domain(hostname)],
            auth: vec!["PLAIN".into(), "LOGIN".into()],
            login_disabled_before_tls: false,
            greeting: None,
            greeting_delay: Duration::ZERO,
            idle_timeout: Duration::from_secs(30 * 60),
            max_connections: crate::serve::DEFAULT_MAX_CONNECTIONS,
            refuse_logins: None,
            max_user_connections: None,
        }
    }
}

/// What to send and what comes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The bytes to send (complete lines, CRLF included).
    pub bytes: Vec<u8>,
    /// What the I/O loop does after sending.
    pub next: Next,
}

impl Response {
    fn send(bytes: Vec<u8>) -> Self {
        Response {
            bytes,
            next: Next::Continue,
        }
    }

    fn then(mut self, next: Next) -> Self {
        self.next = next;
        self
    }
}

#[derive(Debug)]
enum State {
    NotAuthenticated,
    Authenticated {
        user: String,
    },
    /// INBOX selected (or examined: the mock changes nothing either way).
    Selected {
        user: String,
        messages: Vec<Message>,
    },
    Logout,
}

/// Input the session waits for besides a command.
#[derive(Debug)]
enum Pending {
    None,
    /// A literal's bytes: the command so far (the literal to be appended as
    /// a quoted string), the literal so far, and how many bytes are missing.
    Literal {
        command: String,
        literal: Vec<u8>,
        missing: usize,
    },
    /// A SASL exchange after `AUTHENTICATE`: the tag, the mechanism, and
    /// for LOGIN the user name once given.
    Sasl {
        tag: String,
        mechanism: Mechanism,
        user: Option<String>,
    },
}

/// One IMAP session's state.
#[derive(Debug)]
pub struct ImapSession {
    config: Arc<ImapConfig>,
    store: SharedStore,
    starttls_available: bool,
    tls: bool,
    state: State,
    pending: Pending,
}

impl ImapSession {
    /// A session on a fresh connection: `starttls_available` says whether
    /// STARTTLS can upgrade it, `tls` whether it is encrypted already.
    pub fn new(
        config: Arc<ImapConfig>,
        store: SharedStore,
        starttls_available: bool,
        tls: bool,
    ) -> Self {
        ImapSession {
            config,
            store,
            starttls_available,
            tls,
            state: State::NotAuthenticated,
            pending: Pending::None,
        }
    }

    /// The greeting, and whether the connection stays open after it.
    pub fn greeting(&mut self) -> Response {
        let capabilities = self.capabilities().join(" ");
        match &self.config.greeting {
            Some(ImapGreeting::Bye(text)) => {
                self.state = State::Logout;
                Response::send(format!("* BYE {text}\r\n").into_bytes()).then(Next::Close)
            }
            Some(ImapGreeting::Preauth(user)) => {
                let user = user.clone();
                let line = format!("* PREAUTH [CAPABILITY {capabilities}] Logged in as {user}\r\n");
                self.state = State::Authenticated { user };
                Response::send(line.into_bytes())
            }
            Some(ImapGreeting::Ok(text)) => {
                Response::send(format!("* OK [CAPABILITY {capabilities}] {text}\r\n").into_bytes())
            }
            None => Response::send(
                format!(
                    "* OK [CAPABILITY {capabilities}] {} IMAP4rev1 mailprobe mock ready\r\n",
                    self.config.hostname
                )
                .into_bytes(),
            ),
        }
    }

    /// How long to wait before greeting.
    pub fn greeting_delay(&self) -> Duration {
        self.config.greeting_delay
    }

    /// Records that the TLS handshake after STARTTLS completed.
    pub fn tls_established(&mut self) {
        self.starttls_available = false;
        self.tls = true;
    }

    /// The response to a line over the length limit.
    pub fn line_too_long(&mut self) -> Response {
        self.pending = Pending::None;
        Response::send(b"* BAD Line too long\r\n".to_vec())
    }

    /// What an idle client gets before the connection closes.
    pub fn idle_goodbye(&self) -> Vec<u8> {
        b"* BYE Autologout; idle for too long\r\n".to_vec()
    }

    /// What a client gets when the server is at its connection limit.
    pub fn busy(&self) -> Vec<u8> {
        b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n".to_vec()
    }

    /// Handles one received line (without CRLF).
    pub fn handle_line(&mut self, line: &[u8]) -> Response {
        match std::mem::replace(&mut self.pending, Pending::None) {
            Pending::None => self.command_line(String::from_utf8_lossy(line).into_owned()),
            Pending::Literal {
                command,
                literal,
                missing,
            } => self.literal_line(command, literal, missing, line),
            Pending::Sasl {
                tag,
                mechanism,
                user,
            } => self.sasl_line(tag, mechanism, user, line),
        }
    }

    /// A command line, or its first part before a literal.
    fn command_line(&mut self, line: String) -> Response {
        if let Some((size, synchronizing)) = literal_at_end(line.as_bytes()) {
            if size > MAX_LITERAL {
                return Response::send(b"* BAD Literal too large\r\n".to_vec());
            }
            let open = line.rfind('{').unwrap_or(line.len());
            self.pending = Pending::Literal {
                command: line[..open].to_string(),
                literal: Vec::new(),
                missing: size,
            };
            let ready = if synchronizing {
                b"+ Ready for literal data\r\n".to_vec()
            } else {
                Vec::new()
            };
            return Response::send(ready);
        }
        match Tagged::parse(line.as_bytes()) {
            Ok(Tagged { tag, command }) => self.command(&tag, command),
            Err(CommandError::NoTag) => {
                Response::send(b"* BAD Missing tag or command\r\n".to_vec())
            }
            Err(CommandError::Bad { tag, why }) => bad(&tag, &why),
        }
    }

    /// More of a literal: the line (and the CRLF that ended it, if the
    /// literal goes on) belongs to it, the rest continues the command.
    fn literal_line(
        &mut self,
        command: String,
        mut literal: Vec<u8>,
        missing: usize,
        line: &[u8],
    ) -> Response {
        if line.len() < missing {
            literal.extend_from_slice(line);
            literal.extend_from_slice(b"\r\n");
            self.pending = Pending::Literal {
                command,
                literal,
                missing: missing.saturating_sub(line.len() + 2),
            };
            return Response::send(Vec::new());
        }
        let (tail, rest) = line.split_at(missing);
        literal.extend_from_slice(tail);
        let text = String::from_utf8_lossy(&literal);
        let rest = String::from_utf8_lossy(rest);
        self.command_line(format!("{command}{}{rest}", quoted(&text)))
    }

    fn command(&mut self, tag: &str, command: Command) -> Response {
        match command {
            Command::Capability => {
                let line = format!("* CAPABILITY {}\r\n", self.capabilities().join(" "));
                ok(tag, line, "CAPABILITY completed")
            }
            Command::Noop => ok(tag, String::new(), "NOOP completed"),
            Command::Logout => {
                self.state = State::Logout;
                ok(
                    tag,
                    format!(
                        "* BYE {} IMAP4rev1 server logging out\r\n",
                        self.config.hostname
                    ),
                    "LOGOUT completed",
                )
                .then(Next::Close)
            }
            Command::Id => ok(
                tag,
                "* ID (\"name\" \"mailprobe-mock\")\r\n".into(),
                "ID completed",
            ),
            Command::Enable => ok(tag, String::new(), "ENABLE completed"),
            Command::StartTls => self.starttls(tag),
            Command::Login(user, password) => {
                if let Some(refused) = self.may_not_log_in(tag) {
                    return refused;
                }
                self.log_in(tag, user, &password)
            }
            Command::Authenticate(mechanism, initial) => {
                self.authenticate(tag, &mechanism, initial)
            }
            _ if matches!(self.state, State::NotAuthenticated) => bad(tag, "Not authenticated"),
            Command::Select(mailbox) => self.select(tag, &mailbox, false),
            Command::Examine(mailbox) => self.select(tag, &mailbox, true),
            Command::List(_, pattern) => {
                let lines = if pattern.is_empty() {
                    "* LIST (\\Noselect) \"/\" \"\"\r\n".to_string()
                } else if glob_matches(&pattern, "INBOX") {
                    "* LIST (\\HasNoChildren) \"/\" INBOX\r\n".to_string()
                } else {
                    String::new()
                };
                ok(tag, lines, "LIST completed")
            }
            Command::Namespace => ok(
                tag,
                "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n".into(),
                "NAMESPACE completed",
            ),
            Command::Status(mailbox, items) => self.status(tag, &mailbox, &items),
            Command::Changing(name) => {
                no(tag, &format!("[CANNOT] {name}: this mailbox is read-only"))
            }
            Command::Close => match std::mem::replace(&mut self.state, State::Logout) {
                State::Selected { user, .. } => {
                    self.state = State::Authenticated { user };
                    ok(tag, String::new(), "CLOSE completed")
                }
                other => {
                    self.state = other;
                    bad(tag, "No mailbox selected")
                }
            },
            Command::Fetch { uid, set, items } => self.fetch(tag, uid, &set, &items),
        }
    }

    /// Every capability the session offers now.
    fn capabilities(&self) -> Vec<String> {
        let mut capabilities: Vec<String> = [
            "IMAP4rev1",
            "SASL-IR",
            "ID",
            "ENABLE",
            "NAMESPACE",
            "UNSELECT",
        ]
        .map(String::from)
        .to_vec();
        if matches!(self.state, State::NotAuthenticated) {
            if self.starttls_available && !self.tls {
                capabilities.push("STARTTLS".into());
            }
            if self.login_disabled() {
                capabilities.push("LOGINDISABLED".into());
            }
            capabilities.extend(self.config.auth.iter().map(|m| format!("AUTH={m}")));
        }
        capabilities
    }

    fn login_disabled(&self) -> bool {
        self.config.login_disabled_before_tls && !self.tls
    }

    /// A refusal if the client may not log in now.
    fn may_not_log_in(&self, tag: &str) -> Option<Response> {
        if !matches!(self.state, State::NotAuthenticated) {
            return Some(bad(tag, "Already authenticated"));
        }
        self.login_disabled().then(|| {
            no(
                tag,
                "[PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure connections",
            )
        })
    }

    fn starttls(&mut self, tag: &str) -> Response {
        if !self.starttls_available || self.tls || !matches!(self.state, State::NotAuthenticated) {
            return bad(tag, "STARTTLS not available");
        }
        ok(tag, String::new(), "Begin TLS negotiation now").then(Next::StartTls)
    }

    fn authenticate(&mut self, tag: &str, name: &str, initial: Option<String>) -> Response {
        if let Some(refused) = self.may_not_log_in(tag) {
            return refused;
        }
        let offered = self
            .config
            .auth
            .iter()
            .any(|m| m.eq_ignore_ascii_case(name));
        let Some(mechanism) = Mechanism::from_name(name).filter(|_| offered) else {
            return no(tag, "[CANNOT] Unsupported authentication mechanism");
        };
        match (mechanism, initial) {
            (Mechanism::Plain, Some(response)) => self.sasl_plain(tag, &response),
            (Mechanism::Plain, None) => {
                self.pending = Pending::Sasl {
                    tag: tag.to_string(),
                    mechanism,
                    user: None,
                };
                Response::send(b"+ \r\n".to_vec())
            }
            (Mechanism::Login, initial) => {
                let user = initial.and_then(|r| sasl::decode_text(&r));
                let prompt = if user.is_some() {
                    "Password:"
                } else {
                    "Username:"
                };
                self.pending = Pending::Sasl {
                    tag: tag.to_string(),
                    mechanism,
                    user,
                };
                Response::send(format!("+ {}\r\n", sasl::encode(prompt)).into_bytes())
            }
        }
    }

    fn sasl_line(
        &mut self,
        tag: String,
        mechanism: Mechanism,
        user: Option<String>,
        line: &[u8],
    ) -> Response {
        let text = String::from_utf8_lossy(line);
        if text == "*" {
            return bad(&tag, "Authentication cancelled");
        }
        match (mechanism, user) {
            (Mechanism::Plain, _) => self.sasl_plain(&tag, &text),
            (Mechanism::Login, None) => match sasl::decode_text(&text) {
                Some(user) => {
                    self.pending = Pending::Sasl {
                        tag,
                        mechanism,
                        user: Some(user),
                    };
                    Response::send(format!("+ {}\r\n", sasl::encode("Password:")).into_bytes())
                }
                None => bad(&tag, "Invalid base64 data"),
            },
            (Mechanism::Login, Some(user)) => match sasl::decode_text(&text) {
                Some(password) => self.log_in(&tag, user, &password),
                None => bad(&tag, "Invalid base64 data"),
            },
        }
    }

    fn sasl_plain(&mut self, tag: &str, response: &str) -> Response {
        // RFC 4959: `=` is an empty initial response.
        let response = if response == "=" { "" } else { response };
        match sasl::decode_plain(response) {
            Some((user, password)) => self.log_in(tag, user, &password),
            None => bad(tag, "Invalid base64 data"),
        }
    }

    fn log_in(&mut self, tag: &str, user: String, password: &str) -> Response {
        let mut store = self.store.lock();
        if !store.log_in(&self.config.hostname, &user, password, &self.config.domains) {
            return no(tag, "[AUTHENTICATIONFAILED] Authentication failed.");
        }
        if let Some(refusal) = &self.config.refuse_logins {
            return no(tag, refusal);
        }
        if let Some(refusal) = store.over_session_limit(&user, self.config.max_user_connections) {
            return no(tag, &format!("[LIMIT] {refusal}"));
        }
        drop(store);
        self.state = State::Authenticated { user };
        let capabilities = self.capabilities().join(" ");
        ok(
            tag,
            String::new(),
            &format!("[CAPABILITY {capabilities}] Logged in"),
        )
    }

    fn user(&self) -> Option<&str> {
        match &self.state {
            State::Authenticated { user } | State::Selected { user, .. } => Some(user),
            State::NotAuthenticated | State::Logout => None,
        }
    }

    fn select(&mut self, tag: &str, mailbox: &str, read_only: bool) -> Response {
        let Some(user) = self.user().map(str::to_string) else {
            return bad(tag, "Not authenticated");
        };
        // A failed SELECT leaves no mailbox selected (RFC 3501 6.3.1).
        self.state = State::Authenticated { user: user.clone() };
        if !mailbox.eq_ignore_ascii_case("INBOX") {
            return no(tag, "[NONEXISTENT] Mailbox doesn't exist");
        }
        let store = self.store.lock();
        if store.is_locked(&user) {
            return no(tag, "[INUSE] Mailbox is locked by another session");
        }
        let messages = store.messages(&user).to_vec();
        drop(store);
        let count = messages.len();
        let next_uid = uid_next(&messages);
        let lines = format!(
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n\
             * OK [PERMANENTFLAGS ()] No permanent flags permitted\r\n\
             * {count} EXISTS\r\n\
             * 0 RECENT\r\n\
             * OK [UIDVALIDITY 1] UIDs valid\r\n\
             * OK [UIDNEXT {next_uid}] Predicted next UID\r\n"
        );
        self.state = State::Selected { user, messages };
        let (code, verb) = if read_only {
            ("[READ-ONLY]", "EXAMINE")
        } else {
            ("[READ-WRITE]", "SELECT")
        };
        ok(tag, lines, &format!("{code} {verb} completed"))
    }

    fn status(&mut self, tag: &str, mailbox: &str, items: &str) -> Response {
        let Some(user) = self.user() else {
            return bad(tag, "Not authenticated");
        };
        if !mailbox.eq_ignore_ascii_case("INBOX") {
            return no(tag, "[NONEXISTENT] Mailbox doesn't exist");
        }
        // Counted under the lock: nothing is copied.
        let (count, next_uid) = {
            let store = self.store.lock();
            let messages = store.messages(user);
            (messages.len(), uid_next(messages))
        };
        let mut values = Vec::new();
        for item in items.split_whitespace() {
            let value = match item.to_ascii_uppercase().as_str() {
                "MESSAGES" | "UNSEEN" => count,
                "RECENT" => 0,
                "UIDNEXT" => next_uid as usize,
                "UIDVALIDITY" => 1,
                other => return bad(tag, &format!("Unknown STATUS item {other}")),
            };
            values.push(format!("{} {value}", item.to_ascii_uppercase()));
        }
        let line = format!("* STATUS INBOX ({})\r\n", values.join(" "));
        ok(tag, line, "STATUS completed")
    }

    fn fetch(&mut self, tag: &str, by_uid: bool, set: &str, items: &str) -> Response {
        let State::Selected { messages, .. } = &self.state else {
            return bad(tag, "No mailbox selected");
        };
        let wanted = match fetch_items(items) {
            Ok(mut wanted) => {
                if by_uid && !wanted.contains(&Item::Uid) {
                    wanted.insert(0, Item::Uid);
                }
                wanted
            }
            Err(why) => return bad(tag, &why),
        };
        let count = messages.len();
        let numbers: Vec<usize> = if by_uid {
            let max_uid = messages.last().map_or(0, |m| uid_of(m, count));
            let Some(uids) = sequence_set(set, max_uid) else {
                return bad(tag, "Invalid UID set");
            };
            (1..=count)
                .filter(|&n| uids.contains(uid_of(&messages[n - 1], n)))
                .collect()
        } else {
            match sequence_set(set, count as u32) {
                Some(range) if range.all_within(count as u32) => {
                    (1..=count).filter(|&n| range.contains(n as u32)).collect()
                }
                _ => return bad(tag, "Invalid message sequence number"),
            }
        };
        let mut out = Vec::new();
        for n in numbers {
            let message = &messages[n - 1];
            out.extend_from_slice(format!("* {n} FETCH (").as_bytes());
            for (index, item) in wanted.iter().enumerate() {
                if index > 0 {
                    out.push(b' ');
                }
                item.write(message, n, &mut out);
            }
            out.extend_from_slice(b")\r\n");
        }
        let verb = if by_uid { "UID FETCH" } else { "FETCH" };
        out.extend_from_slice(format!("{tag} OK {verb} completed\r\n").as_bytes());
        Response::send(out)
    }
}

/// A fetch item the mock answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Uid,
    Flags,
    Size,
    InternalDate,
    /// The whole message, under the name the client asked by.
    Whole(&'static str),
    /// The header, under the name the client asked by.
    Header(&'static str),
    /// The body after the header, under the name the client asked by.
    Text(&'static str),
}

impl Item {
    fn write(self, message: &Message, number: usize, out: &mut Vec<u8>) {
        let content = &message.content;
        let split = content
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(content.len(), |i| i + 4);
        let literal = |name: &str, bytes: &[u8], out: &mut Vec<u8>| {
            out.extend_from_slice(format!("{name} {{{}}}\r\n", bytes.len()).as_bytes());
            out.extend_from_slice(bytes);
        };
        match self {
            Item::Uid => {
                out.extend_from_slice(format!("UID {}", uid_of(message, number)).as_bytes())
            }
            Item::Flags => out.extend_from_slice(b"FLAGS ()"),
            Item::Size => {
                out.extend_from_slice(format!("RFC822.SIZE {}", content.len()).as_bytes())
            }
            Item::InternalDate => {
                out.extend_from_slice(b"INTERNALDATE \"01-Jan-2000 00:00:00 +0000\"")
            }
            Item::Whole(name) => literal(name, content, out),
            Item::Header(name) => literal(name, &content[..split], out),
            Item::Text(name) => literal(name, &content[split..], out),
        }
    }
}

/// The items of a FETCH (a single item, a list without parentheses, or a
/// macro).
fn fetch_items(items: &str) -> Result<Vec<Item>, String> {
    let tokens = tokens(items).map_err(str::to_string)?;
    let mut wanted = Vec::new();
    for token in tokens {
        let name = token.text().to_ascii_uppercase();
        let items: &[Item] = match name.as_str() {
            "UID" => &[Item::Uid],
            "FLAGS" => &[Item::Flags],
            "RFC822.SIZE" => &[Item::Size],
            "INTERNALDATE" => &[Item::InternalDate],
            "FAST" => &[Item::Flags, Item::InternalDate, Item::Size],
            "RFC822" => &[Item::Whole("RFC822")],
            "BODY[]" | "BODY.PEEK[]" => &[Item::Whole("BODY[]")],
            "RFC822.HEADER" => &[Item::Header("RFC822.HEADER")],
            "BODY[HEADER]" | "BODY.PEEK[HEADER]" => &[Item::Header("BODY[HEADER]")],
            "RFC822.TEXT" => &[Item::Text("RFC822.TEXT")],
            "BODY[TEXT]" | "BODY.PEEK[TEXT]" => &[Item::Text("BODY[TEXT]")],
            other => return Err(format!("Unsupported fetch item {other}")),
        };
        wanted.extend_from_slice(items);
    }
    if wanted.is_empty() {
        return Err("No fetch items".into());
    }
    Ok(wanted)
}

/// A sequence set (`1`, `2:4`, `3:*`, `1,5`), `*` standing for `last`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SequenceSet(Vec<(u32, u32)>);

impl SequenceSet {
    fn contains(&self, n: u32) -> bool {
        self.0.iter().any(|&(low, high)| (low..=high).contains(&n))
    }

    /// Whether every number named is at most `count` (`*` always is).
    fn all_within(&self, count: u32) -> bool {
        self.0.iter().all(|&(_, high)| high <= count)
    }
}

fn sequence_set(set: &str, last: u32) -> Option<SequenceSet> {
    let number = |text: &str| -> Option<u32> {
        match text {
            "*" => Some(last),
            digits => digits.parse().ok().filter(|&n: &u32| n > 0),
        }
    };
    let ranges = set
        .split(',')
        .map(|part| match part.split_once(':') {
            Some((a, b)) => {
                let (a, b) = (number(a)?, number(b)?);
                Some((a.min(b), a.max(b)))
            }
            None => number(part).map(|n| (n, n)),
        })
        .collect::<Option<Vec<_>>>()?;
    Some(SequenceSet(ranges))
}

/// The UID the next message will get: one past the last one's.
fn uid_next(messages: &[Message]) -> u32 {
    messages
        .last()
        .map_or(1, |m| uid_of(m, messages.len()).saturating_add(1))
}

/// A message's UID: the number in the store's id (`mp00000007` → 7), or
/// its position.
fn uid_of(message: &Message, position: usize) -> u32 {
    let digits: String = message.uid.chars().filter(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| u32::try_from(position).unwrap_or(u32::MAX))
}

/// Whether a LIST pattern (`*` any, `%` any but the delimiter) matches
/// `name`, case-insensitively.
fn glob_matches(pattern: &str, name: &str) -> bool {
    fn matches(pattern: &[u8], name: &[u8]) -> bool {
        match pattern.split_first() {
            None => name.is_empty(),
            Some((b'*' | b'%', rest)) => (0..=name.len()).any(|i| matches(rest, &name[i..])),
            Some((c, rest)) => name
                .split_first()
                .is_some_and(|(n, tail)| n.eq_ignore_ascii_case(c) && matches(rest, tail)),
        }
    }
    matches(pattern.as_bytes(), name.as_bytes())
}

fn ok(tag: &str, untagged: String, text: &str) -> Response {
    Response::send(format!("{untagged}{tag} OK {text}\r\n").into_bytes())
}

fn no(tag: &str, text: &str) -> Response {
    Response::send(format!("{tag} NO {text}\r\n").into_bytes())
}

fn bad(tag: &str, text: &str) -> Response {
    Response::send(format!("{tag} BAD {text}\r\n").into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailstore::{Account, MailStore};

    fn session(config: ImapConfig, starttls: bool) -> ImapSession {
        let mut store = MailStore::new();
        store.add_account(Account {
            user: "taro".into(),
            password: "hunter2".into(),
            address: "taro@other.example".into(),
        });
        store
            .deliver("taro", b"Subject: one\r\n\r\nHello.\r\n".to_vec())
            .unwrap();
        store
            .deliver("taro", b"Subject: two\r\n\r\nAgain.\r\n".to_vec())
            .unwrap();
        ImapSession::new(Arc::new(config), SharedStore::new(store), starttls, false)
    }

    fn say(session: &mut ImapSession, line: &str) -> String {
        String::from_utf8(session.handle_line(line.as_bytes()).bytes).unwrap()
    }

    fn config() -> ImapConfig {
        ImapConfig::new("imap.other.example")
    }

    #[test]
    fn greeting_and_capabilities_before_and_after_login() {
        let mut s = session(config(), true);
        let greeting = String::from_utf8(s.greeting().bytes).unwrap();
        assert!(
            greeting.starts_with("* OK [CAPABILITY IMAP4rev1 "),
            "{greeting}"
        );
        assert!(greeting.contains("STARTTLS") && greeting.contains("AUTH=PLAIN"));
        let reply = say(&mut s, "a1 LOGIN taro hunter2");
        assert!(reply.starts_with("a1 OK [CAPABILITY "), "{reply}");
        assert!(
            !reply.contains("AUTH=") && !reply.contains("STARTTLS"),
            "{reply}"
        );
        assert_eq!(
            say(&mut s, "a2 LOGIN taro hunter2"),
            "a2 BAD Already authenticated\r\n"
        );
    }

    #[test]
    fn wrong_password_and_unknown_mechanism() {
        let mut s = session(config(), false);
        assert_eq!(
            say(&mut s, "a1 LOGIN taro nope"),
            "a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
        );
        assert!(say(&mut s, "a2 AUTHENTICATE XOAUTH2 abc").starts_with("a2 NO [CANNOT]"));
        assert_eq!(
            say(&mut s, "a3 SELECT INBOX"),
            "a3 BAD Not authenticated\r\n"
        );
    }

    #[test]
    fn logindisabled_until_tls_then_login_works() {
        let mut configured = config();
        configured.login_disabled_before_tls = true;
        let mut s = session(configured, true);
        let capabilities = say(&mut s, "a1 CAPABILITY");
        assert!(capabilities.contains(" LOGINDISABLED"), "{capabilities}");
        assert!(say(&mut s, "a2 LOGIN taro hunter2").starts_with("a2 NO [PRIVACYREQUIRED]"));
        let response = s.handle_line(b"a3 STARTTLS");
        assert_eq!(response.next, Next::StartTls);
        s.tls_established();
        assert!(!say(&mut s, "a4 CAPABILITY").contains("LOGINDISABLED"));
        assert!(say(&mut s, "a5 LOGIN taro hunter2").starts_with("a5 OK"));
        assert_eq!(
            say(&mut s, "a6 STARTTLS"),
            "a6 BAD STARTTLS not available\r\n"
        );
    }

    #[test]
    fn authenticate_plain_with_and_without_initial_response_and_login() {
        let plain = sasl::encode_plain("taro", "hunter2");
        let mut s = session(config(), false);
        assert!(say(&mut s, &format!("a1 AUTHENTICATE PLAIN {plain}")).starts_with("a1 OK"));

        let mut s = session(config(), false);
        assert_eq!(say(&mut s, "a1 AUTHENTICATE PLAIN"), "+ \r\n");
        assert!(say(&mut s, &plain).starts_with("a1 OK"));

        let mut s = session(config(), false);
        assert_eq!(say(&mut s, "a1 AUTHENTICATE LOGIN"), "+ VXNlcm5hbWU6\r\n");
        assert_eq!(say(&mut s, &sasl::encode("taro")), "+ UGFzc3dvcmQ6\r\n");
        assert!(say(&mut s, &sasl::encode("hunter2")).starts_with("a1 OK"));

        let mut s = session(config(), false);
        say(&mut s, "a1 AUTHENTICATE PLAIN");
        assert_eq!(say(&mut s, "*"), "a1 BAD Authentication cancelled\r\n");
    }

    #[test]
    fn a_password_in_a_literal() {
        let mut s = session(config(), false);
        assert_eq!(
            say(&mut s, "a1 LOGIN taro {7}"),
            "+ Ready for literal data\r\n"
        );
        assert!(
            say(&mut s, "hunter2").starts_with("a1 OK"),
            "literal then end of line"
        );
        let mut s = session(config(), false);
        assert_eq!(say(&mut s, "a1 LOGIN {4+}"), "");
        assert!(say(&mut s, "taro hunter2").starts_with("a1 OK"));
    }

    #[test]
    fn examine_list_fetch_and_read_only() {
        let mut s = session(config(), false);
        say(&mut s, "a1 LOGIN taro hunter2");
        let examined = say(&mut s, "a2 EXAMINE inbox");
        assert!(examined.contains("* 2 EXISTS\r\n"), "{examined}");
        assert!(
            examined.ends_with("a2 OK [READ-ONLY] EXAMINE completed\r\n"),
            "{examined}"
        );
        assert_eq!(
            say(&mut s, "a3 LIST \"\" *"),
            "* LIST (\\HasNoChildren) \"/\" INBOX\r\na3 OK LIST completed\r\n"
        );
        let fetched = say(&mut s, "a4 FETCH 2 (UID RFC822.SIZE BODY.PEEK[])");
        assert_eq!(
            fetched,
            "* 2 FETCH (UID 2 RFC822.SIZE 24 BODY[] {24}\r\nSubject: two\r\n\r\nAgain.\r\n)\r\na4 OK FETCH completed\r\n"
        );
        let by_uid = say(&mut s, "a5 UID FETCH 1:* (FLAGS)");
        assert!(
            by_uid.starts_with("* 1 FETCH (UID 1 FLAGS ())\r\n* 2 FETCH (UID 2 FLAGS ())"),
            "{by_uid}"
        );
        assert_eq!(
            say(&mut s, "a6 FETCH 3 BODY[]"),
            "a6 BAD Invalid message sequence number\r\n"
        );
        assert!(say(&mut s, "a7 STORE 1 +FLAGS (\\Deleted)").starts_with("a7 NO [CANNOT]"));
        assert!(say(&mut s, "a8 EXPUNGE").starts_with("a8 NO [CANNOT]"));
        assert!(say(&mut s, "a9 SELECT Archive").starts_with("a9 NO [NONEXISTENT]"));
        assert_eq!(
            say(&mut s, "b1 FETCH 1 BODY[]"),
            "b1 BAD No mailbox selected\r\n"
        );
        let logout = s.handle_line(b"b2 LOGOUT");
        assert_eq!(logout.next, Next::Close);
    }

    #[test]
    fn bye_and_preauth_greetings_and_a_refused_login() {
        let mut configured = config();
        configured.greeting = Some(ImapGreeting::Bye("[UNAVAILABLE] Maintenance".into()));
        let mut s = session(configured, false);
        let greeting = s.greeting();
        assert_eq!(greeting.bytes, b"* BYE [UNAVAILABLE] Maintenance\r\n");
        assert_eq!(greeting.next, Next::Close);

        let mut configured = config();
        configured.greeting = Some(ImapGreeting::Preauth("taro".into()));
        let mut s = session(configured, false);
        assert!(String::from_utf8(s.greeting().bytes)
            .unwrap()
            .starts_with("* PREAUTH"));
        assert!(say(&mut s, "a1 SELECT INBOX").contains("a1 OK [READ-WRITE]"));

        let mut configured = config();
        configured.refuse_logins = Some("[ALERT] Application-specific password required".into());
        let mut s = session(configured, false);
        assert_eq!(
            say(&mut s, "a1 LOGIN taro hunter2"),
            "a1 NO [ALERT] Application-specific password required\r\n"
        );
        assert!(say(&mut s, "a2 LOGIN taro wrong").contains("[AUTHENTICATIONFAILED]"));
    }

    #[test]
    fn a_locked_mailbox_is_in_use() {
        let mut s = session(config(), false);
        say(&mut s, "a1 LOGIN taro hunter2");
        assert!(s.store.lock().lock_mailbox("taro"));
        assert!(say(&mut s, "a2 SELECT INBOX").starts_with("a2 NO [INUSE]"));
    }

    #[test]
    fn garbage_gets_bad_not_a_panic() {
        let mut s = session(config(), false);
        for line in [
            "",
            "*",
            "a1",
            "a1 FETCH",
            "a1 LOGIN \"x",
            "a1 {99999999}",
            "\u{0} \u{1}",
        ] {
            let reply = say(&mut s, line);
            assert!(
                reply.contains("BAD") || reply.starts_with('+') || reply.is_empty(),
                "{line:?}: {reply}"
            );
        }
        assert!(
            glob_matches("in*", "INBOX")
                && glob_matches("%", "INBOX")
                && !glob_matches("x*", "INBOX")
        );
    }
}
