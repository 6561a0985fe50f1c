//! A conversation in progress: the wire plus the record of what crossed it.

use tokio::time::Instant;

use super::tls::TlsClient;

use super::observation::{Attempt, Event, EventKind, Failure, Outcome, Purpose, Step};
use super::wire::Wire;
use super::Endpoint;

/// Collects an attempt's events with their virtual times.
pub struct Recorder {
    origin: Instant,
    events: Vec<Event>,
}

impl Recorder {
    /// Times count from `origin`.
    pub fn new(origin: Instant) -> Self {
        Recorder {
            origin,
            events: Vec::new(),
        }
    }

    /// Appends an event stamped with the current virtual time.
    pub fn record(&mut self, what: EventKind) {
        self.events.push(Event {
            at: self.origin.elapsed(),
            what,
        });
    }

    /// Closes the record into an [`Attempt`].
    pub fn finish(
        mut self,
        purpose: Purpose,
        endpoint: Endpoint,
        result: Result<(), (Step, Failure)>,
    ) -> Attempt {
        let outcome = match result {
            Ok(()) => Outcome::Ok,
            Err((step, failure)) => {
                self.record(EventKind::Failed(step, failure.clone()));
                Outcome::Failed { step, failure }
            }
        };
        Attempt {
            purpose,
            endpoint,
            events: self.events,
            outcome,
        }
    }
}

/// A step's result: on failure, which step and how.
pub type StepResult<T> = Result<T, (Step, Failure)>;

/// The wire and the recorder together, so every line sent or received is recorded.
pub struct Conversation<'a> {
    wire: Wire,
    recorder: &'a mut Recorder,
}

impl<'a> Conversation<'a> {
    /// Starts recording a conversation over `wire`.
    pub fn new(wire: Wire, recorder: &'a mut Recorder) -> Self {
        Conversation { wire, recorder }
    }

    /// Sends `line`; the record shows `shown` instead (to keep secrets out).
    pub async fn send_as(&mut self, step: Step, line: &str, shown: &str) -> StepResult<()> {
        self.recorder.record(EventKind::Sent(shown.to_string()));
        self.wire.send_line(line).await.map_err(|f| (step, f))
    }

    /// Sends `line` and records it as is.
    pub async fn send(&mut self, step: Step, line: &str) -> StepResult<()> {
        self.send_as(step, line, line).await
    }

    /// Reads lines with `parse` until it returns a value, within the reply
    /// timeout. `parse` returns `Err(failure)` for a line that cannot be part
    /// of a valid response.
    pub async fn receive<T>(
        &mut self,
        step: Step,
        mut parse: impl FnMut(&[u8]) -> Result<Option<T>, Failure>,
    ) -> StepResult<T> {
        let timeout = self.wire.reply_timeout();
        let reading = async {
            loop {
                let line = self.wire.read_line().await?;
                let parsed = parse(&line);
                if parsed.is_ok() {
                    self.recorder.record(EventKind::Received(
                        String::from_utf8_lossy(&line).into_owned(),
                    ));
                }
                if let Some(value) = parsed? {
                    return Ok(value);
                }
            }
        };
        match tokio::time::timeout(timeout, reading).await {
            Ok(result) => result.map_err(|f| (step, f)),
            Err(_) => Err((step, self.wire.timed_out())),
        }
    }

    /// Upgrades the connection to TLS for `host`.
    pub async fn start_tls(&mut self, client: &TlsClient, host: &str) -> StepResult<()> {
        let (certificate, result) = self.wire.start_tls(client, host).await;
        if let Some(certificate) = certificate {
            self.recorder.record(EventKind::Certificate(certificate));
        }
        let info = result.map_err(|f| (Step::TlsHandshake, f))?;
        self.recorder.record(EventKind::TlsEstablished {
            version: info.version,
            cipher: info.cipher,
        });
        Ok(())
    }

    /// Closes the connection.
    pub async fn close(&mut self) {
        self.wire.close().await;
    }
}
