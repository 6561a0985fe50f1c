//! A conversation in progress: the wire plus the record of what crossed it.

use tokio::time::Instant;

use super::tls::TlsClient;

use super::observation::{Attempt, Event, EventKind, Failure, Outcome, Purpose, Step};
use super::wire::Wire;
use super::Endpoint;

/// The most lines one reply may have (an EHLO answer, a CAPA list).
pub const MAX_REPLY_LINES: usize = 512;
/// The most bytes one reply may have.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;

/// Where steps are told as they happen (a live probe's progress lines).
pub type Progress = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// Every attempt of a probe as it stands, kept as it happens, so a probe
/// cut short (Ctrl-C) can still report what it saw.
#[derive(Debug, Clone, Default)]
pub struct Journal(std::sync::Arc<std::sync::Mutex<Vec<Attempt>>>);

impl Journal {
    /// Opens an attempt; its index.
    fn open(&self, purpose: Purpose, endpoint: &Endpoint) -> usize {
        let mut attempts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        attempts.push(Attempt {
            purpose,
            endpoint: endpoint.clone(),
            events: Vec::new(),
            outcome: Outcome::Failed {
                step: Step::Resolve,
                failure: Failure::Interrupted,
            },
        });
        attempts.len() - 1
    }

    fn update(&self, index: usize, change: impl FnOnce(&mut Attempt)) {
        let mut attempts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(attempt) = attempts.get_mut(index) {
            change(attempt);
        }
    }

    /// The attempts so far, in the order they started; those still under
    /// way end `Interrupted` at the step they were in.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Collects an attempt's events with their virtual times, and the step in
/// progress (what a deadline interrupts).
pub struct Recorder {
    origin: Instant,
    events: Vec<Event>,
    step: Step,
    /// Told each event as it is recorded: the attempt's label and host.
    progress: Option<(Progress, String, String)>,
    /// Where the attempt is kept as it happens, and its place there.
    journal: Option<(Journal, usize)>,
}

impl Recorder {
    /// Times count from `origin`.
    pub fn new(origin: Instant) -> Self {
        Recorder {
            origin,
            events: Vec::new(),
            step: Step::Resolve,
            progress: None,
            journal: None,
        }
    }

    /// Keeps the attempt in `journal` as it happens.
    pub fn keeping(
        mut self,
        journal: Option<&Journal>,
        purpose: Purpose,
        endpoint: &Endpoint,
    ) -> Self {
        self.journal = journal.map(|j| (j.clone(), j.open(purpose, endpoint)));
        self
    }

    /// Tells every event to `progress` as it happens, as a line naming the
    /// attempt (`purpose` and `endpoint`).
    pub fn telling(
        mut self,
        progress: Option<Progress>,
        purpose: Purpose,
        endpoint: &Endpoint,
    ) -> Self {
        self.progress = progress.map(|p| {
            let label = format!(
                "{} {}:{} {}",
                purpose.label(),
                endpoint.host,
                endpoint.port,
                endpoint.security.name()
            );
            (p, label, endpoint.host.clone())
        });
        self
    }

    /// Notes the step now in progress.
    pub fn enter(&mut self, step: Step) {
        self.step = step;
        if let Some((journal, index)) = &self.journal {
            journal.update(*index, |attempt| {
                attempt.outcome = Outcome::Failed {
                    step,
                    failure: Failure::Interrupted,
                };
            });
        }
    }

    /// The step in progress.
    pub fn step(&self) -> Step {
        self.step
    }

    /// Appends an event stamped with the current virtual time.
    pub fn record(&mut self, what: EventKind) {
        let at = self.origin.elapsed();
        if let Some((progress, label, host)) = &self.progress {
            progress(&format!(
                "[{:>8.3}s] {label}: {}",
                at.as_secs_f64(),
                what.describe(host)
            ));
        }
        if let Some((journal, index)) = &self.journal {
            let event = Event {
                at,
                what: what.clone(),
            };
            journal.update(*index, |attempt| attempt.events.push(event));
        }
        self.events.push(Event { at, what });
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
        let attempt = Attempt {
            purpose,
            endpoint,
            events: self.events,
            outcome,
        };
        if let Some((journal, index)) = &self.journal {
            let done = attempt.clone();
            journal.update(*index, |kept| *kept = done);
        }
        attempt
    }
}

/// A step's result: on failure, which step and how.
pub type StepResult<T> = Result<T, (Step, Failure)>;

/// The wire and the recorder together, so every line sent or received is recorded.
pub struct Conversation<'a> {
    wire: Wire,
    recorder: &'a mut Recorder,
    /// Taken before the first login step and held to the end, when
    /// attempts run at once: a POP3 maildrop lets one session in at a time.
    login_turn: Option<std::sync::Arc<tokio::sync::Mutex<()>>>,
    login_held: Option<tokio::sync::OwnedMutexGuard<()>>,
    /// An old client's newest TLS: the connection ends at its hello.
    legacy: Option<super::legacy::LegacyTls>,
}

impl<'a> Conversation<'a> {
    /// Starts recording a conversation over `wire`.
    pub fn new(wire: Wire, recorder: &'a mut Recorder) -> Self {
        Conversation {
            wire,
            recorder,
            login_turn: None,
            login_held: None,
            legacy: None,
        }
    }

    /// Emulates an old client up to its TLS handshake: where the dialog
    /// starts TLS, [`Conversation::start_tls`] sends the old client's hello
    /// and the dialog ends with the server's answer.
    pub fn offering_at_most(mut self, version: super::legacy::LegacyTls) -> Self {
        self.legacy = Some(version);
        self
    }

    /// Whether the dialog ends at the TLS handshake (see
    /// [`Conversation::offering_at_most`]).
    pub fn ends_at_handshake(&self) -> bool {
        self.legacy.is_some()
    }

    /// Logs in only in turn with the other holders of `turn`.
    pub fn logging_in_turn(mut self, turn: Option<std::sync::Arc<tokio::sync::Mutex<()>>>) -> Self {
        self.login_turn = turn;
        self
    }

    /// Sends `line`; the record shows `shown` instead (to keep secrets out).
    pub async fn send_as(&mut self, step: Step, line: &str, shown: &str) -> StepResult<()> {
        self.recorder.enter(step);
        if matches!(step, Step::Auth | Step::User | Step::Pass) && self.login_held.is_none() {
            if let Some(turn) = &self.login_turn {
                self.login_held = Some(turn.clone().lock_owned().await);
            }
        }
        self.recorder.record(EventKind::Sent(shown.to_string()));
        self.wire.send_line(line).await.map_err(|f| (step, f))
    }

    /// Sends `line` and records it as is.
    pub async fn send(&mut self, step: Step, line: &str) -> StepResult<()> {
        self.send_as(step, line, line).await
    }

    /// Reads lines with `parse` until it returns a value, within the reply
    /// timeout and at most [`MAX_REPLY_LINES`] lines and [`MAX_REPLY_BYTES`]
    /// bytes. `parse` returns `Err(failure)` for a line that cannot be part
    /// of a valid response.
    pub async fn receive<T>(
        &mut self,
        step: Step,
        mut parse: impl FnMut(&[u8]) -> Result<Option<T>, Failure>,
    ) -> StepResult<T> {
        self.recorder.enter(step);
        let timeout = self.wire.reply_timeout();
        let (mut lines, mut bytes) = (0usize, 0usize);
        let reading = async {
            loop {
                let line = self.wire.read_line().await?;
                lines += 1;
                bytes = bytes.saturating_add(line.len());
                if lines > MAX_REPLY_LINES {
                    return Err(Failure::TooMuch {
                        what: "lines in one reply".into(),
                        limit: MAX_REPLY_LINES,
                    });
                }
                if bytes > MAX_REPLY_BYTES {
                    return Err(Failure::TooMuch {
                        what: "bytes in one reply".into(),
                        limit: MAX_REPLY_BYTES,
                    });
                }
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
        if let Some(version) = self.legacy {
            return self.wire.old_client_hello(self.recorder, version).await;
        }
        self.recorder.enter(Step::TlsHandshake);
        if !client.sends_sni() {
            self.recorder.record(EventKind::Sent(
                "TLS ClientHello without a server name (SNI), as the emulated client sends it"
                    .into(),
            ));
        }
        let (certificate, result) = self.wire.start_tls(client, host).await;
        if let Some(certificate) = certificate {
            self.recorder.record(EventKind::Certificate(certificate));
        }
        let info = result.map_err(|f| (Step::TlsHandshake, f))?;
        self.recorder.record(EventKind::TlsEstablished {
            version: info.version,
            cipher: info.cipher,
        });
        if let Some(paced) = info.paced {
            self.recorder.record(EventKind::Paced(paced));
        }
        Ok(())
    }

    /// Closes the connection.
    pub async fn close(&mut self) {
        self.wire.close().await;
    }
}
