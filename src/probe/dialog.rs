//! Sans-IO client dialogs and the one loop that drives them.
//!
//! A [`Dialog`] is the protocol logic of a client as a plain state machine:
//! given what the server last answered, it says what to do next ([`Action`]).
//! It is tested by feeding it replies, without a runtime. `drive` is the
//! thin I/O loop that carries the actions out over a [`Conversation`].

use super::conversation::{Conversation, StepResult};
use super::observation::Step;
use super::tls::TlsClient;

/// A line to send, and how it appears in the record (secrets redacted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The line as sent, without CRLF.
    pub line: String,
    /// The line as recorded.
    pub shown: String,
}

impl Outgoing {
    /// A line that can be recorded as it is.
    pub fn plain(line: impl Into<String>) -> Self {
        let line = line.into();
        Outgoing {
            shown: line.clone(),
            line,
        }
    }

    /// A line recorded as `shown` instead.
    pub fn secret(line: String, shown: &str) -> Self {
        Outgoing {
            line,
            shown: shown.to_string(),
        }
    }
}

/// What a dialog wants done next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send a line (if any), then read the reply for `step`; `multiline`
    /// for POP3 responses that carry a body (CAPA). Failures at
    /// [`Step::Leave`] end the dialog successfully: the work was done.
    Exchange {
        /// The step this exchange belongs to.
        step: Step,
        /// What to send first; `None` to wait for the greeting.
        send: Option<Outgoing>,
        /// Whether the reply has a dot-terminated body.
        multiline: bool,
    },
    /// Run the TLS handshake (after STARTTLS/STLS was accepted).
    StartTls,
    /// The dialog is over.
    Finish(StepResult<()>),
}

impl Action {
    /// Wait for the server's first words.
    pub fn read_greeting() -> Action {
        Action::Exchange {
            step: Step::Greeting,
            send: None,
            multiline: false,
        }
    }

    /// A reply arrived when the dialog expected none (a driver error).
    pub fn out_of_turn() -> Action {
        Action::Finish(Err((
            Step::Greeting,
            super::Failure::Io("reply out of turn".into()),
        )))
    }
}

/// What the driver tells a dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input<R> {
    /// The connection is up (and TLS, on implicit-TLS ports).
    Start,
    /// The reply to the last exchange.
    Reply(R),
    /// The TLS handshake completed.
    TlsUp,
}

/// A protocol reply the driver can read off a conversation.
pub(crate) trait ReadReply: Sized {
    /// Reads one reply for `step`.
    async fn read(
        conversation: &mut Conversation<'_>,
        step: Step,
        multiline: bool,
    ) -> StepResult<Self>;
}

/// A client's protocol logic as a state machine.
pub trait Dialog {
    /// The kind of reply it consumes.
    type Reply;
    /// The next action, given the last input.
    fn next(&mut self, input: Input<Self::Reply>) -> Action;
}

/// Carries out a dialog's actions over a conversation.
pub(crate) async fn drive<D>(
    conversation: &mut Conversation<'_>,
    tls: &TlsClient,
    host: &str,
    mut dialog: D,
) -> StepResult<()>
where
    D: Dialog,
    D::Reply: ReadReply,
{
    let mut input = Input::Start;
    loop {
        match dialog.next(input) {
            Action::Finish(result) => return result,
            Action::StartTls if conversation.ends_at_handshake() => {
                return conversation.start_tls(tls, host).await;
            }
            Action::StartTls => {
                conversation.start_tls(tls, host).await?;
                input = Input::TlsUp;
            }
            Action::Exchange {
                step,
                send,
                multiline,
            } => {
                let exchanged = async {
                    if let Some(outgoing) = &send {
                        conversation
                            .send_as(step, &outgoing.line, &outgoing.shown)
                            .await?;
                    }
                    D::Reply::read(conversation, step, multiline).await
                };
                match exchanged.await {
                    Ok(reply) => input = Input::Reply(reply),
                    Err(_) if step == Step::Leave => return Ok(()),
                    Err(failure) => return Err(failure),
                }
            }
        }
    }
}

/// What the dialogs' tests share.
#[cfg(test)]
pub(crate) mod testing {
    use super::Action;
    use crate::probe::Credentials;

    /// The line an action sends, as recorded.
    pub(crate) fn sent(action: &Action) -> Option<&str> {
        match action {
            Action::Exchange {
                send: Some(out), ..
            } => Some(out.shown.as_str()),
            _ => None,
        }
    }

    /// The test account's credentials.
    pub(crate) fn taro() -> Option<Credentials> {
        Some(Credentials {
            user: "taro".into(),
            password: "hunter2".into(),
        })
    }
}
