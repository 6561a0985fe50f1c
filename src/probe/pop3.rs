//! The POP3 client dialog: greeting, CAPA, STLS, USER/PASS, STAT, QUIT.
//! Never DELE.

use mock_mail_servers::pop3::Status;

use super::conversation::{Conversation, StepResult};
use super::dialog::{Action, Dialog, Input, Outgoing, ReadReply};
use super::observation::{Failure, Step};
use super::{Credentials, Security};

/// A POP3 response: the status line and, for multi-line responses, the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopReply {
    /// `+OK` or `-ERR` and its text.
    pub status: Status,
    /// Body lines (dot-unstuffed), for multi-line responses.
    pub body: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Connected,
    Greeted,
    Capa,
    Stls,
    AwaitingTls,
    User,
    Pass,
    Stat,
    Quit,
}

/// The POP3 client as a state machine over responses.
#[derive(Debug)]
pub struct Pop3Dialog {
    security: Security,
    credentials: Option<Credentials>,
    log_in: bool,
    state: State,
    tls_done: bool,
}

impl Pop3Dialog {
    /// A dialog that upgrades with STLS when `security` asks for it and, if
    /// `log_in`, logs in with `credentials` and runs STAT.
    pub fn new(security: Security, credentials: Option<Credentials>, log_in: bool) -> Self {
        Pop3Dialog {
            security,
            credentials,
            log_in,
            state: State::Connected,
            tls_done: false,
        }
    }

    fn exchange(&mut self, state: State, step: Step, line: Outgoing, multiline: bool) -> Action {
        self.state = state;
        Action::Exchange {
            step,
            send: Some(line),
            multiline,
        }
    }

    fn capa(&mut self) -> Action {
        self.exchange(State::Capa, Step::Capa, Outgoing::plain("CAPA"), true)
    }

    fn after_capa(&mut self, capabilities: &[String]) -> Action {
        if self.security == Security::StartTls && !self.tls_done {
            if !capabilities.iter().any(|c| c.eq_ignore_ascii_case("STLS")) {
                let what = "STLS".to_string();
                return Action::Finish(Err((Step::Stls, Failure::NotOffered { what })));
            }
            return self.exchange(State::Stls, Step::Stls, Outgoing::plain("STLS"), false);
        }
        let has = |word: &str| capabilities.iter().any(|c| c.eq_ignore_ascii_case(word));
        let sasl: Vec<String> = capabilities
            .iter()
            .flat_map(|c| sasl_mechanisms(c))
            .collect();
        let password_sasl = sasl.iter().any(|m| m == "PLAIN" || m == "LOGIN");
        if self.log_in && !sasl.is_empty() && !has("USER") && !password_sasl {
            // Only OAuth (RFC 2449 CAPA lists SASL XOAUTH2 and no USER):
            // USER/PASS would only be refused, and the password stays here.
            let what = format!(
                "USER/PASS or a password mechanism (the server lists SASL {})",
                sasl.join(" ")
            );
            return Action::Finish(Err((Step::Auth, Failure::NotOffered { what })));
        }
        match self.credentials.clone().filter(|_| self.log_in) {
            Some(credentials) => {
                let line = Outgoing::plain(format!("USER {}", credentials.user));
                self.exchange(State::User, Step::User, line, false)
            }
            None => self.quit(),
        }
    }

    fn quit(&mut self) -> Action {
        self.exchange(State::Quit, Step::Leave, Outgoing::plain("QUIT"), false)
    }
}

/// The SASL mechanisms a CAPA line lists (`SASL XOAUTH2 OAUTHBEARER`, RFC
/// 2449 section 6.3), uppercased; none for any other line.
pub fn sasl_mechanisms(line: &str) -> impl Iterator<Item = String> + '_ {
    let mut words = line.split_whitespace();
    let listed = words.next().is_some_and(|w| w.eq_ignore_ascii_case("SASL"));
    words.filter(move |_| listed).map(str::to_ascii_uppercase)
}

/// The seconds a `LOGIN-DELAY` CAPA line lists (RFC 2449 section 6.5).
pub fn login_delay(line: &str) -> Option<u32> {
    let (word, seconds) = line.split_once(' ')?;
    word.eq_ignore_ascii_case("LOGIN-DELAY")
        .then(|| seconds.trim().parse().ok())
        .flatten()
}

impl Dialog for Pop3Dialog {
    type Reply = PopReply;

    fn next(&mut self, input: Input<PopReply>) -> Action {
        let reply = match input {
            Input::Start => {
                self.state = State::Greeted;
                return Action::read_greeting();
            }
            Input::TlsUp => {
                self.tls_done = true;
                return self.capa();
            }
            Input::Reply(reply) => reply,
        };
        let refused = |step: Step| {
            Action::Finish(Err((
                step,
                Failure::PopError {
                    text: reply.status.text.clone(),
                },
            )))
        };
        match (self.state, reply.status.ok) {
            (State::Greeted, true) => self.capa(),
            (State::Greeted, false) => refused(Step::Greeting),
            // A server without CAPA (-ERR) has no capabilities to report.
            (State::Capa, ok) => {
                let capabilities = if ok { reply.body.clone() } else { Vec::new() };
                self.after_capa(&capabilities)
            }
            (State::Stls, true) => {
                self.state = State::AwaitingTls;
                Action::StartTls
            }
            (State::Stls, false) => refused(Step::Stls),
            (State::User, true) => {
                let password = self
                    .credentials
                    .as_ref()
                    .map_or(String::new(), |c| c.password.clone());
                let line = Outgoing::secret(format!("PASS {password}"), "PASS <password redacted>");
                self.exchange(State::Pass, Step::Pass, line, false)
            }
            (State::User, false) => refused(Step::User),
            (State::Pass, true) => {
                self.exchange(State::Stat, Step::Stat, Outgoing::plain("STAT"), false)
            }
            (State::Pass, false) => refused(Step::Pass),
            (State::Stat, true) => self.quit(),
            (State::Stat, false) => refused(Step::Stat),
            (State::Quit, _) => Action::Finish(Ok(())),
            (State::Connected | State::AwaitingTls, _) => Action::out_of_turn(),
        }
    }
}

impl ReadReply for PopReply {
    async fn read(
        conversation: &mut Conversation<'_>,
        step: Step,
        multiline: bool,
    ) -> StepResult<PopReply> {
        let status = conversation
            .receive(step, |line| match Status::parse(line) {
                Some(status) => Ok(Some(status)),
                None => Err(Failure::Garbage {
                    bytes: line.iter().copied().take(64).collect(),
                }),
            })
            .await?;
        let mut body = Vec::new();
        if multiline && status.ok {
            conversation
                .receive(step, |line| {
                    if line == b"." {
                        return Ok(Some(()));
                    }
                    let line = line.strip_prefix(b".").unwrap_or(line);
                    body.push(String::from_utf8_lossy(line).into_owned());
                    Ok(None)
                })
                .await?;
        }
        Ok(PopReply { status, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::dialog::testing::{sent, taro};

    fn ok(text: &str) -> Input<PopReply> {
        reply(true, text, &[])
    }

    fn reply(ok: bool, text: &str, body: &[&str]) -> Input<PopReply> {
        Input::Reply(PopReply {
            status: Status {
                ok,
                text: text.into(),
            },
            body: body.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[test]
    fn a_full_stls_session() {
        let mut dialog = Pop3Dialog::new(Security::StartTls, taro(), true);
        dialog.next(Input::Start);
        let capa = dialog.next(ok("ready"));
        assert!(matches!(
            capa,
            Action::Exchange {
                multiline: true,
                ..
            }
        ));
        assert_eq!(
            sent(&dialog.next(reply(true, "caps", &["USER", "STLS"]))),
            Some("STLS")
        );
        assert_eq!(dialog.next(ok("go")), Action::StartTls);
        assert_eq!(sent(&dialog.next(Input::TlsUp)), Some("CAPA"));
        assert_eq!(
            sent(&dialog.next(reply(true, "caps", &["USER"]))),
            Some("USER taro")
        );
        let pass = dialog.next(ok("send PASS"));
        assert_eq!(sent(&pass), Some("PASS <password redacted>"));
        assert_eq!(sent(&dialog.next(ok("logged in"))), Some("STAT"));
        assert_eq!(sent(&dialog.next(ok("2 320"))), Some("QUIT"));
        assert_eq!(dialog.next(ok("bye")), Action::Finish(Ok(())));
    }

    #[test]
    fn refusals_and_missing_stls() {
        let mut dialog = Pop3Dialog::new(Security::None, taro(), true);
        dialog.next(Input::Start);
        dialog.next(ok("ready"));
        dialog.next(reply(false, "no CAPA", &[]));
        dialog.next(ok("send PASS"));
        let refused = dialog.next(reply(false, "[IN-USE] locked", &[]));
        assert_eq!(
            refused,
            Action::Finish(Err((
                Step::Pass,
                Failure::PopError {
                    text: "[IN-USE] locked".into()
                }
            )))
        );

        let mut dialog = Pop3Dialog::new(Security::StartTls, None, false);
        dialog.next(Input::Start);
        dialog.next(ok("ready"));
        let missing = dialog.next(reply(true, "caps", &["USER"]));
        assert!(matches!(
            missing,
            Action::Finish(Err((Step::Stls, Failure::NotOffered { .. })))
        ));
    }

    #[test]
    fn a_server_that_lists_only_oauth_gets_no_password() {
        let mut dialog = Pop3Dialog::new(Security::Tls, taro(), true);
        dialog.next(Input::Start);
        dialog.next(ok("ready"));
        let stopped = dialog.next(reply(true, "caps", &["TOP", "SASL XOAUTH2 OAUTHBEARER"]));
        assert!(
            matches!(&stopped, Action::Finish(Err((Step::Auth, Failure::NotOffered { what }))) if what.contains("SASL XOAUTH2 OAUTHBEARER")),
            "{stopped:?}"
        );
        // USER beside it, or a password mechanism: the login goes on.
        for caps in [&["USER", "SASL XOAUTH2"][..], &["sasl PLAIN XOAUTH2"][..]] {
            let mut dialog = Pop3Dialog::new(Security::Tls, taro(), true);
            dialog.next(Input::Start);
            dialog.next(ok("ready"));
            assert_eq!(
                sent(&dialog.next(reply(true, "caps", caps))),
                Some("USER taro")
            );
        }
        assert_eq!(sasl_mechanisms("SASLX PLAIN").count(), 0);
    }
}
