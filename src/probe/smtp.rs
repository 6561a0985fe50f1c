//! The SMTP client dialog: greeting, EHLO (HELO), STARTTLS, AUTH, MAIL, RCPT,
//! RSET, QUIT. Never DATA.

use mock_mail_servers::sasl::{self, Mechanism};
use mock_mail_servers::smtp::{Reply, ReplyParser};

use super::conversation::{Conversation, StepResult};
use super::dialog::{Action, Dialog, Input, Outgoing, ReadReply};
use super::observation::{Failure, Step};
use super::{Credentials, Security};

/// What the SMTP dialog is to check once the session is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// MAIL FROM.
    pub from: String,
    /// RCPT TO.
    pub rcpt: String,
    /// Declared with SIZE=, if set.
    pub size: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Connected,
    Greeted,
    Ehlo,
    Helo,
    StartTls,
    AwaitingTls,
    Auth,
    LoginUser,
    LoginPassword,
    Mail,
    Rcpt,
    Rset,
    Quit,
}

/// The SMTP client as a state machine over replies.
#[derive(Debug)]
pub struct SmtpDialog {
    client_name: String,
    security: Security,
    credentials: Option<Credentials>,
    envelope: Option<Envelope>,
    state: State,
    tls_done: bool,
    capabilities: Vec<String>,
}

impl SmtpDialog {
    /// A dialog that says EHLO as `client_name`, upgrades with STARTTLS when
    /// `security` asks for it, logs in with `credentials` and checks
    /// `envelope`. Without an envelope it stops after securing the session.
    pub fn new(
        client_name: &str,
        security: Security,
        credentials: Option<Credentials>,
        envelope: Option<Envelope>,
    ) -> Self {
        SmtpDialog {
            client_name: client_name.to_string(),
            security,
            credentials,
            envelope,
            state: State::Connected,
            tls_done: false,
            capabilities: Vec::new(),
        }
    }

    fn exchange(&mut self, state: State, step: Step, line: Outgoing) -> Action {
        self.state = state;
        Action::Exchange {
            step,
            send: Some(line),
            multiline: false,
        }
    }

    fn ehlo(&mut self) -> Action {
        let line = Outgoing::plain(format!("EHLO {}", self.client_name));
        self.exchange(State::Ehlo, Step::Ehlo, line)
    }

    fn after_ehlo(&mut self) -> Action {
        if self.security == Security::StartTls && !self.tls_done {
            if !offers(&self.capabilities, "STARTTLS") {
                let what = "STARTTLS".to_string();
                return Action::Finish(Err((Step::StartTls, Failure::NotOffered { what })));
            }
            return self.exchange(State::StartTls, Step::StartTls, Outgoing::plain("STARTTLS"));
        }
        self.authenticate()
    }

    fn authenticate(&mut self) -> Action {
        let Some(credentials) = self.credentials.clone() else {
            return self.mail();
        };
        let offered = auth_mechanisms(&self.capabilities);
        let common = [Mechanism::Plain, Mechanism::Login]
            .into_iter()
            .find(|m| offered.iter().any(|o| o == m.name()));
        // A client told that the server requires authentication logs in even
        // when EHLO does not list AUTH; the server's answer is the evidence.
        let chosen = if offered.is_empty() {
            Some(Mechanism::Login)
        } else {
            common
        };
        match chosen {
            None => Action::Finish(Err((
                Step::Auth,
                Failure::NotOffered {
                    what: format!(
                        "a common AUTH mechanism (server offers {})",
                        offered.join(" ")
                    ),
                },
            ))),
            Some(Mechanism::Plain) => {
                let line = format!(
                    "AUTH PLAIN {}",
                    sasl::encode_plain(&credentials.user, &credentials.password)
                );
                let line = Outgoing::secret(line, "AUTH PLAIN <credentials redacted>");
                self.exchange(State::Auth, Step::Auth, line)
            }
            Some(Mechanism::Login) => {
                self.exchange(State::LoginUser, Step::Auth, Outgoing::plain("AUTH LOGIN"))
            }
        }
    }

    fn mail(&mut self) -> Action {
        let Some(envelope) = &self.envelope else {
            return self.quit();
        };
        let mut line = format!("MAIL FROM:<{}>", envelope.from);
        if let Some(size) = envelope.size {
            line.push_str(&format!(" SIZE={size}"));
        }
        self.exchange(State::Mail, Step::MailFrom, Outgoing::plain(line))
    }

    fn quit(&mut self) -> Action {
        self.exchange(State::Quit, Step::Leave, Outgoing::plain("QUIT"))
    }
}

/// The step's failure for a reply outside `accepted`.
fn refuse(step: Step, reply: &Reply) -> Action {
    Action::Finish(Err((step, negative(reply))))
}

fn negative(reply: &Reply) -> Failure {
    Failure::Reply {
        code: reply.code,
        text: reply.lines.join(" / "),
    }
}

impl Dialog for SmtpDialog {
    type Reply = Reply;

    fn next(&mut self, input: Input<Reply>) -> Action {
        let reply = match input {
            Input::Start => {
                self.state = State::Greeted;
                return Action::read_greeting();
            }
            Input::TlsUp => {
                self.tls_done = true;
                return self.ehlo();
            }
            Input::Reply(reply) => reply,
        };
        match (self.state, reply.code) {
            (State::Greeted, 220) => self.ehlo(),
            (State::Greeted, _) => refuse(Step::Greeting, &reply),
            (State::Ehlo, 250) => {
                self.capabilities = reply.lines[1..].to_vec();
                self.after_ehlo()
            }
            (State::Ehlo, 500..=599) => {
                let line = Outgoing::plain(format!("HELO {}", self.client_name));
                self.exchange(State::Helo, Step::Ehlo, line)
            }
            (State::Helo, 250) => {
                self.capabilities.clear();
                self.after_ehlo()
            }
            (State::Ehlo | State::Helo, _) => refuse(Step::Ehlo, &reply),
            (State::StartTls, 220) => {
                self.state = State::AwaitingTls;
                Action::StartTls
            }
            (State::StartTls, _) => refuse(Step::StartTls, &reply),
            (State::LoginUser, 334) => {
                let user = self
                    .credentials
                    .as_ref()
                    .map_or(String::new(), |c| sasl::encode(&c.user));
                self.exchange(
                    State::LoginPassword,
                    Step::Auth,
                    Outgoing::secret(user, "<user name>"),
                )
            }
            (State::LoginPassword, 334) => {
                let password = self
                    .credentials
                    .as_ref()
                    .map_or(String::new(), |c| sasl::encode(&c.password));
                self.exchange(
                    State::Auth,
                    Step::Auth,
                    Outgoing::secret(password, "<password redacted>"),
                )
            }
            (State::Auth, 235) => self.mail(),
            (State::Auth | State::LoginUser | State::LoginPassword, _) => {
                refuse(Step::Auth, &reply)
            }
            (State::Mail, 250) => {
                let rcpt = self
                    .envelope
                    .as_ref()
                    .map_or(String::new(), |e| e.rcpt.clone());
                self.exchange(
                    State::Rcpt,
                    Step::RcptTo,
                    Outgoing::plain(format!("RCPT TO:<{rcpt}>")),
                )
            }
            (State::Mail, _) => refuse(Step::MailFrom, &reply),
            // Nothing was sent; leave the transaction and the session cleanly.
            (State::Rcpt, 250 | 251) => {
                self.exchange(State::Rset, Step::Leave, Outgoing::plain("RSET"))
            }
            (State::Rcpt, _) => refuse(Step::RcptTo, &reply),
            (State::Rset, _) => self.quit(),
            (State::Quit, _) => Action::Finish(Ok(())),
            (State::Connected | State::AwaitingTls, _) => Action::out_of_turn(),
        }
    }
}

impl ReadReply for Reply {
    async fn read(
        conversation: &mut Conversation<'_>,
        step: Step,
        _multiline: bool,
    ) -> StepResult<Reply> {
        let mut parser = ReplyParser::new();
        conversation
            .receive(step, |line| {
                parser.push(line).map_err(|_| Failure::Garbage {
                    bytes: line.iter().copied().take(64).collect(),
                })
            })
            .await
    }
}

/// EHLO keywords that let a client send ahead of the server's replies or
/// in binary chunks. A proxy that holds each message to scan it leaves them
/// out: it must read the whole message, line by line, before passing it on.
pub const STREAMING_EXTENSIONS: &[&str] = &["PIPELINING", "CHUNKING", "BINARYMIME"];

/// Whether the EHLO capabilities include `keyword`.
pub fn offers<S: AsRef<str>>(capabilities: &[S], keyword: &str) -> bool {
    capabilities.iter().any(|line| {
        line.as_ref()
            .split_whitespace()
            .next()
            .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
    })
}

/// The SASL mechanisms listed in `AUTH ...` (or the old `AUTH=...`).
pub fn auth_mechanisms(capabilities: &[String]) -> Vec<String> {
    capabilities
        .iter()
        .filter_map(|line| {
            let upper = line.to_ascii_uppercase();
            let rest = upper
                .strip_prefix("AUTH ")
                .or_else(|| upper.strip_prefix("AUTH="))?;
            Some(
                rest.split_whitespace()
                    .map(str::to_string)
                    .collect::<Vec<_>>(),
            )
        })
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::dialog::testing::{sent, taro};

    fn caps(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|s| s.to_string()).collect()
    }

    fn ehlo_reply(extra: &[&str]) -> Input<Reply> {
        let mut lines = vec!["mx.example Hello".to_string()];
        lines.extend(extra.iter().map(|s| s.to_string()));
        Input::Reply(Reply::multi(250, lines))
    }

    fn reply(code: u16, text: &str) -> Input<Reply> {
        Input::Reply(Reply::new(code, text))
    }

    fn envelope() -> Option<Envelope> {
        Some(Envelope {
            from: "taro@other.example".into(),
            rcpt: "x@elsewhere.example".into(),
            size: Some(100),
        })
    }

    #[test]
    fn reads_capabilities() {
        let capabilities = caps(&[
            "PIPELINING",
            "STARTTLS",
            "AUTH PLAIN LOGIN",
            "AUTH=CRAM-MD5",
        ]);
        assert!(offers(&capabilities, "starttls"));
        assert!(!offers(&capabilities, "SMTPUTF8"));
        assert_eq!(
            auth_mechanisms(&capabilities),
            vec!["PLAIN", "LOGIN", "CRAM-MD5"]
        );
        assert!(auth_mechanisms(&caps(&["8BITMIME"])).is_empty());
    }

    #[test]
    fn a_full_starttls_session() {
        let mut dialog = SmtpDialog::new("c.example", Security::StartTls, taro(), envelope());
        assert_eq!(sent(&dialog.next(Input::Start)), None);
        assert_eq!(
            sent(&dialog.next(reply(220, "mx ESMTP"))),
            Some("EHLO c.example")
        );
        assert_eq!(
            sent(&dialog.next(ehlo_reply(&["STARTTLS", "AUTH PLAIN"]))),
            Some("STARTTLS")
        );
        assert_eq!(dialog.next(reply(220, "go ahead")), Action::StartTls);
        assert_eq!(sent(&dialog.next(Input::TlsUp)), Some("EHLO c.example"));
        let auth = dialog.next(ehlo_reply(&["AUTH PLAIN LOGIN"]));
        assert_eq!(sent(&auth), Some("AUTH PLAIN <credentials redacted>"));
        assert_eq!(
            sent(&dialog.next(reply(235, "ok"))),
            Some("MAIL FROM:<taro@other.example> SIZE=100")
        );
        assert_eq!(
            sent(&dialog.next(reply(250, "ok"))),
            Some("RCPT TO:<x@elsewhere.example>")
        );
        assert_eq!(sent(&dialog.next(reply(250, "ok"))), Some("RSET"));
        assert_eq!(sent(&dialog.next(reply(250, "ok"))), Some("QUIT"));
        assert_eq!(dialog.next(reply(221, "bye")), Action::Finish(Ok(())));
    }

    #[test]
    fn login_hides_both_secrets() {
        let mut dialog = SmtpDialog::new("c", Security::None, taro(), None);
        dialog.next(Input::Start);
        dialog.next(reply(220, "mx"));
        assert_eq!(
            sent(&dialog.next(ehlo_reply(&["AUTH LOGIN"]))),
            Some("AUTH LOGIN")
        );
        let user = dialog.next(reply(334, "VXNlcm5hbWU6"));
        assert_eq!(sent(&user), Some("<user name>"));
        let password = dialog.next(reply(334, "UGFzc3dvcmQ6"));
        assert_eq!(sent(&password), Some("<password redacted>"));
        let Action::Exchange {
            send: Some(out), ..
        } = password
        else {
            panic!()
        };
        assert_eq!(out.line, sasl::encode("hunter2"));
        assert_eq!(
            dialog.next(reply(535, "5.7.8 no")),
            Action::Finish(Err((
                Step::Auth,
                Failure::Reply {
                    code: 535,
                    text: "5.7.8 no".into()
                }
            )))
        );
    }

    #[test]
    fn refusals_end_the_dialog_at_their_step() {
        let mut dialog = SmtpDialog::new("c", Security::StartTls, None, envelope());
        dialog.next(Input::Start);
        assert!(matches!(
            dialog.next(reply(421, "busy")),
            Action::Finish(Err((Step::Greeting, _)))
        ));

        let mut dialog = SmtpDialog::new("c", Security::StartTls, None, envelope());
        dialog.next(Input::Start);
        dialog.next(reply(220, "mx"));
        let missing = dialog.next(ehlo_reply(&["AUTH PLAIN"]));
        assert!(matches!(
            missing,
            Action::Finish(Err((Step::StartTls, Failure::NotOffered { .. })))
        ));

        let mut dialog = SmtpDialog::new("c", Security::None, taro(), None);
        dialog.next(Input::Start);
        dialog.next(reply(220, "mx"));
        let none_in_common = dialog.next(ehlo_reply(&["AUTH CRAM-MD5"]));
        assert!(matches!(
            none_in_common,
            Action::Finish(Err((Step::Auth, Failure::NotOffered { .. })))
        ));
    }

    #[test]
    fn helo_when_ehlo_is_unknown() {
        let mut dialog = SmtpDialog::new("c", Security::None, None, envelope());
        dialog.next(Input::Start);
        dialog.next(reply(220, "mx"));
        assert_eq!(sent(&dialog.next(reply(500, "unknown"))), Some("HELO c"));
        assert_eq!(
            sent(&dialog.next(reply(250, "mx"))),
            Some("MAIL FROM:<taro@other.example> SIZE=100")
        );
        assert!(matches!(
            dialog.next(reply(530, "5.7.0 auth")),
            Action::Finish(Err((Step::MailFrom, _)))
        ));
    }
}
