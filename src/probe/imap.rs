//! The IMAP client dialog: greeting, CAPABILITY, STARTTLS, LOGIN or
//! AUTHENTICATE PLAIN, EXAMINE INBOX (read-only), LOGOUT. Never STORE,
//! EXPUNGE, COPY or MOVE.

use mock_mail_servers::imap::command::quoted;

use super::conversation::{Conversation, StepResult};
use super::dialog::{Action, Dialog, Input, Outgoing, ReadReply};
use super::observation::{Failure, Step};
use super::{Credentials, Security};

/// How an IMAP server ended a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImapKind {
    /// `OK`: done.
    Ok,
    /// `NO`: refused.
    No,
    /// `BAD`: not understood.
    Bad,
    /// `BYE`: the server is closing the connection.
    Bye,
    /// `PREAUTH` (greeting only): already logged in.
    Preauth,
    /// `+`: the server waits for more (a SASL response).
    Continue,
}

impl ImapKind {
    /// The word on the wire.
    pub fn word(self) -> &'static str {
        match self {
            ImapKind::Ok => "OK",
            ImapKind::No => "NO",
            ImapKind::Bad => "BAD",
            ImapKind::Bye => "BYE",
            ImapKind::Preauth => "PREAUTH",
            ImapKind::Continue => "+",
        }
    }
}

/// An IMAP reply: the untagged lines, then how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapReply {
    /// Untagged lines before the end (`CAPABILITY IMAP4rev1 ...`), without `* `.
    pub untagged: Vec<String>,
    /// How the reply ended.
    pub kind: ImapKind,
    /// The text after the status word (response code included).
    pub text: String,
}

impl ImapReply {
    /// Every capability named in the untagged `CAPABILITY` lines or in a
    /// `[CAPABILITY ...]` response code.
    pub fn capabilities(&self) -> Vec<String> {
        let mut capabilities = Vec::new();
        for line in &self.untagged {
            if let Some(rest) = strip_word(line, "CAPABILITY") {
                capabilities.extend(rest.split_whitespace().map(str::to_string));
            }
        }
        if let Some(code) = self.text.strip_prefix("[CAPABILITY ") {
            let list = code.split(']').next().unwrap_or("");
            capabilities.extend(list.split_whitespace().map(str::to_string));
        }
        capabilities
    }
}

/// The SASL mechanisms an IMAP line lists as `AUTH=...` (in a CAPABILITY
/// line or a `[CAPABILITY ...]` code), uppercased.
pub fn auth_mechanisms(line: &str) -> impl Iterator<Item = String> + '_ {
    line.split([' ', '[', ']']).filter_map(|word| {
        let upper = word.to_ascii_uppercase();
        upper.strip_prefix("AUTH=").map(str::to_string)
    })
}

/// `line` without its first word, if that word is `word` (any case).
fn strip_word<'a>(line: &'a str, word: &str) -> Option<&'a str> {
    let (first, rest) = line.split_once(' ').unwrap_or((line, ""));
    first.eq_ignore_ascii_case(word).then_some(rest)
}

/// How a status line starts (`OK`, `NO`, ...), and the rest.
fn status(text: &str) -> Option<(ImapKind, String)> {
    let (word, rest) = text.split_once(' ').unwrap_or((text, ""));
    let kind = match word.to_ascii_uppercase().as_str() {
        "OK" => ImapKind::Ok,
        "NO" => ImapKind::No,
        "BAD" => ImapKind::Bad,
        "BYE" => ImapKind::Bye,
        "PREAUTH" => ImapKind::Preauth,
        _ => return None,
    };
    Some((kind, rest.to_string()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Connected,
    Greeted,
    Capability,
    StartTls,
    AwaitingTls,
    /// AUTHENTICATE PLAIN sent without an initial response: waiting for `+`.
    AuthenticateContinue,
    Login,
    Examine,
    Logout,
}

/// The IMAP client as a state machine over replies.
#[derive(Debug)]
pub struct ImapDialog {
    security: Security,
    credentials: Option<Credentials>,
    log_in: bool,
    state: State,
    tls_done: bool,
    logged_in: bool,
    next_tag: u32,
}

impl ImapDialog {
    /// A dialog that upgrades with STARTTLS when `security` asks for it and,
    /// if `log_in`, logs in with `credentials` and examines INBOX.
    pub fn new(security: Security, credentials: Option<Credentials>, log_in: bool) -> Self {
        ImapDialog {
            security,
            credentials,
            log_in,
            state: State::Connected,
            tls_done: false,
            logged_in: false,
            next_tag: 1,
        }
    }

    /// Sends `command` with the next tag (and records it as `shown`).
    fn command(&mut self, state: State, step: Step, command: &str, shown: Option<&str>) -> Action {
        let tag = format!("a{}", self.next_tag);
        self.next_tag = self.next_tag.saturating_add(1);
        self.state = state;
        let line = format!("{tag} {command}");
        let outgoing = match shown {
            Some(shown) => Outgoing::secret(line, &format!("{tag} {shown}")),
            None => Outgoing::plain(line),
        };
        Action::Exchange {
            step,
            send: Some(outgoing),
            multiline: false,
        }
    }

    fn capability(&mut self) -> Action {
        self.command(State::Capability, Step::Capa, "CAPABILITY", None)
    }

    fn logout(&mut self) -> Action {
        self.command(State::Logout, Step::Leave, "LOGOUT", None)
    }

    fn examine(&mut self) -> Action {
        self.command(State::Examine, Step::Examine, "EXAMINE INBOX", None)
    }

    fn after_capability(&mut self, capabilities: &[String]) -> Action {
        let has = |name: &str| capabilities.iter().any(|c| c.eq_ignore_ascii_case(name));
        if self.security == Security::StartTls && !self.tls_done {
            if !has("STARTTLS") {
                let what = "STARTTLS".to_string();
                return Action::Finish(Err((Step::StartTls, Failure::NotOffered { what })));
            }
            return self.command(State::StartTls, Step::StartTls, "STARTTLS", None);
        }
        if self.logged_in {
            return self.examine();
        }
        let Some(credentials) = self.credentials.clone().filter(|_| self.log_in) else {
            return self.logout();
        };
        if has("LOGINDISABLED") {
            // RFC 3501 6.2.3: the client must not send LOGIN. The
            // password stays here.
            let what = "login before TLS (the server says LOGINDISABLED)".to_string();
            return Action::Finish(Err((Step::Auth, Failure::NotOffered { what })));
        }
        // Server text: any bytes, so no slicing by position.
        let mechanisms: Vec<String> = capabilities
            .iter()
            .flat_map(|c| auth_mechanisms(c))
            .collect();
        let password_mechanism = mechanisms.iter().any(|m| m == "PLAIN" || m == "LOGIN");
        if !mechanisms.is_empty() && !password_mechanism {
            // Only OAuth (XOAUTH2, OAUTHBEARER): no mechanism takes a
            // password, and LOGIN would only be refused.
            let listed: Vec<String> = mechanisms.iter().map(|m| format!("AUTH={m}")).collect();
            let what = format!(
                "a password mechanism (the server lists {})",
                listed.join(" ")
            );
            return Action::Finish(Err((Step::Auth, Failure::NotOffered { what })));
        }
        let plain = mock_mail_servers::sasl::encode_plain(&credentials.user, &credentials.password);
        if has("AUTH=PLAIN") && has("SASL-IR") {
            let command = format!("AUTHENTICATE PLAIN {plain}");
            let shown = "AUTHENTICATE PLAIN <credentials redacted>";
            return self.command(State::Login, Step::Auth, &command, Some(shown));
        }
        if has("AUTH=PLAIN") {
            return self.command(
                State::AuthenticateContinue,
                Step::Auth,
                "AUTHENTICATE PLAIN",
                None,
            );
        }
        let command = format!(
            "LOGIN {} {}",
            quoted(&credentials.user),
            quoted(&credentials.password)
        );
        let shown = format!("LOGIN {} <password redacted>", quoted(&credentials.user));
        self.command(State::Login, Step::Auth, &command, Some(&shown))
    }
}

impl Dialog for ImapDialog {
    type Reply = ImapReply;

    fn next(&mut self, input: Input<ImapReply>) -> Action {
        let reply = match input {
            Input::Start => {
                self.state = State::Greeted;
                return Action::read_greeting();
            }
            Input::TlsUp => {
                self.tls_done = true;
                return self.capability();
            }
            Input::Reply(reply) => reply,
        };
        let refused = |step: Step| {
            Action::Finish(Err((
                step,
                Failure::ImapError {
                    status: reply.kind.word().to_string(),
                    text: reply.text.clone(),
                },
            )))
        };
        match (self.state, reply.kind) {
            (State::Greeted, ImapKind::Ok) => self.capability(),
            (State::Greeted, ImapKind::Preauth) => {
                self.logged_in = true;
                self.capability()
            }
            (State::Greeted, _) => refused(Step::Greeting),
            (State::Capability, ImapKind::Ok) => {
                let capabilities = reply.capabilities();
                self.after_capability(&capabilities)
            }
            (State::Capability, _) => refused(Step::Capa),
            (State::StartTls, ImapKind::Ok) => {
                self.state = State::AwaitingTls;
                Action::StartTls
            }
            (State::StartTls, _) => refused(Step::StartTls),
            (State::AuthenticateContinue, ImapKind::Continue) => {
                let credentials = self.credentials.clone().unwrap_or(Credentials {
                    user: String::new(),
                    password: String::new(),
                });
                let plain =
                    mock_mail_servers::sasl::encode_plain(&credentials.user, &credentials.password);
                self.state = State::Login;
                Action::Exchange {
                    step: Step::Auth,
                    send: Some(Outgoing::secret(plain, "<credentials redacted>")),
                    multiline: false,
                }
            }
            (State::AuthenticateContinue | State::Login, _) if reply.kind != ImapKind::Ok => {
                refused(Step::Auth)
            }
            (State::AuthenticateContinue | State::Login, _) => {
                self.logged_in = true;
                self.examine()
            }
            (State::Examine, ImapKind::Ok) => self.logout(),
            (State::Examine, _) => refused(Step::Examine),
            (State::Logout, _) => Action::Finish(Ok(())),
            (State::Connected | State::AwaitingTls, _) => Action::out_of_turn(),
        }
    }
}

impl ReadReply for ImapReply {
    async fn read(
        conversation: &mut Conversation<'_>,
        step: Step,
        _multiline: bool,
    ) -> StepResult<ImapReply> {
        let greeting = step == Step::Greeting;
        let mut untagged = Vec::new();
        conversation
            .receive(step, |line| {
                let text = String::from_utf8_lossy(line).into_owned();
                let garbage = || Failure::Garbage {
                    bytes: line.iter().copied().take(64).collect(),
                };
                if let Some(rest) = text.strip_prefix("* ") {
                    // The greeting is one untagged status; later, untagged
                    // lines come before the tagged end, unless one says BYE.
                    match status(rest) {
                        Some((kind, text)) if greeting => {
                            return Ok(Some(ImapReply {
                                untagged: Vec::new(),
                                kind,
                                text,
                            }))
                        }
                        Some((ImapKind::Bye, text)) => {
                            return Ok(Some(ImapReply {
                                untagged: std::mem::take(&mut untagged),
                                kind: ImapKind::Bye,
                                text,
                            }))
                        }
                        _ if greeting => return Err(garbage()),
                        _ => {}
                    }
                    untagged.push(rest.to_string());
                    return Ok(None);
                }
                if greeting {
                    return Err(garbage());
                }
                if text == "+" || text.starts_with("+ ") {
                    return Ok(Some(ImapReply {
                        untagged: std::mem::take(&mut untagged),
                        kind: ImapKind::Continue,
                        text: text.trim_start_matches('+').trim_start().to_string(),
                    }));
                }
                let (_tag, rest) = text.split_once(' ').ok_or_else(garbage)?;
                let (kind, text) = status(rest).ok_or_else(garbage)?;
                Ok(Some(ImapReply {
                    untagged: std::mem::take(&mut untagged),
                    kind,
                    text,
                }))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::dialog::testing::{sent, taro};

    fn reply(kind: ImapKind, text: &str, untagged: &[&str]) -> Input<ImapReply> {
        Input::Reply(ImapReply {
            untagged: untagged.iter().map(|s| s.to_string()).collect(),
            kind,
            text: text.into(),
        })
    }

    fn ok(text: &str) -> Input<ImapReply> {
        reply(ImapKind::Ok, text, &[])
    }

    #[test]
    fn a_full_starttls_session_with_sasl_ir() {
        let mut dialog = ImapDialog::new(Security::StartTls, taro(), true);
        dialog.next(Input::Start);
        assert_eq!(sent(&dialog.next(ok("ready"))), Some("a1 CAPABILITY"));
        let caps = reply(
            ImapKind::Ok,
            "done",
            &["CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED"],
        );
        assert_eq!(sent(&dialog.next(caps)), Some("a2 STARTTLS"));
        assert_eq!(dialog.next(ok("go")), Action::StartTls);
        assert_eq!(sent(&dialog.next(Input::TlsUp)), Some("a3 CAPABILITY"));
        let caps = reply(
            ImapKind::Ok,
            "done",
            &["CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR"],
        );
        let auth = dialog.next(caps);
        assert_eq!(
            sent(&auth),
            Some("a4 AUTHENTICATE PLAIN <credentials redacted>")
        );
        let Action::Exchange {
            send: Some(out), ..
        } = &auth
        else {
            panic!("{auth:?}")
        };
        assert!(
            !out.shown.contains("AHRhcm8A"),
            "never record the credentials"
        );
        assert_eq!(
            sent(&dialog.next(ok("logged in"))),
            Some("a5 EXAMINE INBOX")
        );
        assert_eq!(
            sent(&dialog.next(ok("[READ-ONLY] done"))),
            Some("a6 LOGOUT")
        );
        assert_eq!(dialog.next(ok("bye")), Action::Finish(Ok(())));
    }

    #[test]
    fn login_command_and_its_refusal() {
        let mut dialog = ImapDialog::new(Security::Tls, taro(), true);
        dialog.next(Input::Start);
        dialog.next(ok("ready"));
        let login = dialog.next(reply(ImapKind::Ok, "done", &["CAPABILITY IMAP4rev1"]));
        assert_eq!(sent(&login), Some("a2 LOGIN \"taro\" <password redacted>"));
        let refused = dialog.next(reply(ImapKind::No, "[AUTHENTICATIONFAILED] nope", &[]));
        assert_eq!(
            refused,
            Action::Finish(Err((
                Step::Auth,
                Failure::ImapError {
                    status: "NO".into(),
                    text: "[AUTHENTICATIONFAILED] nope".into()
                }
            )))
        );
    }

    #[test]
    fn logindisabled_keeps_the_password_and_missing_starttls_is_named() {
        let mut dialog = ImapDialog::new(Security::None, taro(), true);
        dialog.next(Input::Start);
        dialog.next(ok("ready"));
        let withheld = dialog.next(reply(
            ImapKind::Ok,
            "",
            &["CAPABILITY IMAP4rev1 LOGINDISABLED"],
        ));
        assert!(matches!(
            withheld,
            Action::Finish(Err((Step::Auth, Failure::NotOffered { .. })))
        ));

        let mut dialog = ImapDialog::new(Security::StartTls, None, false);
        dialog.next(Input::Start);
        dialog.next(ok("ready"));
        let missing = dialog.next(reply(ImapKind::Ok, "", &["CAPABILITY IMAP4rev1"]));
        assert!(matches!(
            missing,
            Action::Finish(Err((Step::StartTls, Failure::NotOffered { .. })))
        ));
    }

    #[test]
    fn bye_greeting_preauth_and_a_locked_mailbox() {
        let mut dialog = ImapDialog::new(Security::Tls, taro(), true);
        dialog.next(Input::Start);
        let bye = dialog.next(reply(ImapKind::Bye, "[UNAVAILABLE] later", &[]));
        assert!(matches!(
            bye,
            Action::Finish(Err((Step::Greeting, Failure::ImapError { .. })))
        ));

        let mut dialog = ImapDialog::new(Security::Tls, taro(), true);
        dialog.next(Input::Start);
        dialog.next(reply(ImapKind::Preauth, "welcome", &[]));
        let examine = dialog.next(reply(ImapKind::Ok, "", &["CAPABILITY IMAP4rev1"]));
        assert_eq!(sent(&examine), Some("a2 EXAMINE INBOX"));
        let locked = dialog.next(reply(ImapKind::No, "[INUSE] locked", &[]));
        assert!(matches!(locked, Action::Finish(Err((Step::Examine, _)))));
    }

    #[test]
    fn authenticate_plain_without_sasl_ir_waits_for_the_continuation() {
        let mut dialog = ImapDialog::new(Security::Tls, taro(), true);
        dialog.next(Input::Start);
        dialog.next(ok("ready"));
        let auth = dialog.next(reply(
            ImapKind::Ok,
            "",
            &["CAPABILITY IMAP4rev1 AUTH=PLAIN"],
        ));
        assert_eq!(sent(&auth), Some("a2 AUTHENTICATE PLAIN"));
        let response = dialog.next(reply(ImapKind::Continue, "", &[]));
        assert_eq!(sent(&response), Some("<credentials redacted>"));
        assert_eq!(sent(&dialog.next(ok("in"))), Some("a3 EXAMINE INBOX"));
    }

    #[test]
    fn capabilities_from_lines_and_codes() {
        let reply = ImapReply {
            untagged: vec!["CAPABILITY IMAP4rev1 IDLE".into(), "OK other".into()],
            kind: ImapKind::Ok,
            text: "[CAPABILITY AUTH=PLAIN] in".into(),
        };
        assert_eq!(reply.capabilities(), ["IMAP4rev1", "IDLE", "AUTH=PLAIN"]);
    }
}
