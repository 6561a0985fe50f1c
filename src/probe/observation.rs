//! What the probe saw: facts with virtual timestamps, no verdicts.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Endpoint;

/// A step of a client's conversation with a mail server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Looking up the host name.
    Resolve,
    /// Opening the TCP connection.
    Connect,
    /// The TLS handshake (implicit, or after STARTTLS/STLS).
    TlsHandshake,
    /// Waiting for the server's first words.
    Greeting,
    /// SMTP EHLO (or HELO).
    Ehlo,
    /// SMTP STARTTLS.
    StartTls,
    /// SMTP AUTH.
    Auth,
    /// SMTP MAIL FROM.
    MailFrom,
    /// SMTP RCPT TO.
    RcptTo,
    /// POP3 CAPA.
    Capa,
    /// POP3 STLS.
    Stls,
    /// POP3 USER.
    User,
    /// POP3 PASS.
    Pass,
    /// POP3 STAT.
    Stat,
    /// IMAP EXAMINE INBOX (read-only).
    Examine,
    /// Leaving: SMTP RSET and QUIT, POP3 QUIT. Failures here are recorded
    /// but do not fail the attempt.
    Leave,
}

impl Step {
    /// A short lowercase name for transcripts.
    pub fn name(self) -> &'static str {
        match self {
            Step::Resolve => "resolve",
            Step::Connect => "connect",
            Step::TlsHandshake => "tls handshake",
            Step::Greeting => "greeting",
            Step::Ehlo => "ehlo",
            Step::StartTls => "starttls",
            Step::Auth => "auth",
            Step::MailFrom => "mail from",
            Step::RcptTo => "rcpt to",
            Step::Capa => "capa",
            Step::Stls => "stls",
            Step::User => "user",
            Step::Pass => "pass",
            Step::Stat => "stat",
            Step::Examine => "examine",
            Step::Leave => "leave",
        }
    }

    /// Whether the step belongs to reaching the server and securing the
    /// connection, as opposed to the account (login, sending).
    pub fn is_transport(self) -> bool {
        matches!(
            self,
            Step::Resolve
                | Step::Connect
                | Step::TlsHandshake
                | Step::Greeting
                | Step::Ehlo
                | Step::StartTls
                | Step::Capa
                | Step::Stls
        )
    }
}

/// How a TLS handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsFailure {
    /// The peer closed the connection during the handshake; `received` counts
    /// the bytes it sent first (0: our ClientHello got no answer at all).
    Closed {
        /// Bytes received during the handshake.
        received: usize,
    },
    /// The peer answered with something that is not TLS, e.g. `220 ...`.
    NotTls {
        /// The first bytes received.
        #[serde(with = "bytes_text")]
        first_bytes: Vec<u8>,
    },
    /// The peer sent a TLS alert.
    Alert(String),
    /// The server's certificate was refused.
    Certificate(String),
    /// Another protocol error.
    Other(String),
    /// The server refused the newest protocol version an old client speaks
    /// (TLS 1.0, SSL 3): the client is too old for the server.
    VersionRefused {
        /// What the client offered at most, e.g. `TLS 1.0`.
        offered: String,
        /// How the server answered, e.g. `protocol_version`.
        answer: String,
    },
}

/// Why a step failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Failure {
    /// The name does not resolve: the resolver says it does not exist.
    NameNotFound,
    /// The resolver gave no answer (it timed out, or failed: SERVFAIL).
    NoDnsAnswer,
    /// The connection was refused (RST).
    Refused,
    /// An ICMP "host unreachable" (or "administratively prohibited")
    /// answered the connect: "no route to host".
    HostUnreachable,
    /// The client has no route at all: "network is unreachable".
    NetworkUnreachable,
    /// Nothing arrived within the timeout. `partial` holds bytes that arrived
    /// without completing a line or reply.
    TimedOut {
        /// How long the probe waited.
        #[serde(with = "millis")]
        waited: Duration,
        /// Bytes received without completing a line.
        #[serde(with = "bytes_text")]
        partial: Vec<u8>,
        /// How long nothing at all had arrived when the probe gave up: the
        /// whole wait for silence, less when bytes were still trickling in.
        #[serde(with = "millis")]
        silent: Duration,
    },
    /// The connection was reset.
    Reset,
    /// The peer closed the connection; `received` counts the bytes it had
    /// sent on this connection before closing.
    Closed {
        /// Bytes received on the connection before the close.
        received: usize,
    },
    /// Bytes that are not a reply of the protocol.
    Garbage {
        /// The offending line (up to 64 bytes).
        #[serde(with = "bytes_text")]
        bytes: Vec<u8>,
    },
    /// A negative SMTP reply.
    Reply {
        /// The reply code.
        code: u16,
        /// The reply text (lines joined with " / ").
        text: String,
    },
    /// A POP3 `-ERR`.
    PopError {
        /// The text after `-ERR`.
        text: String,
    },
    /// An IMAP `NO`, `BAD` or `BYE`.
    ImapError {
        /// `NO`, `BAD` or `BYE`.
        status: String,
        /// The text after it, response code included (`[AUTHENTICATIONFAILED] ...`).
        text: String,
    },
    /// The server does not offer what the client needs (STARTTLS, STLS, a
    /// common AUTH mechanism).
    NotOffered {
        /// What is missing.
        what: String,
    },
    /// The server sent more than the probe reads: an endless reply, a line
    /// without end, a flood. Reading stopped at the cap.
    TooMuch {
        /// What was counted, e.g. "lines in one reply".
        what: String,
        /// The cap that was passed.
        limit: usize,
    },
    /// The probe's overall deadline passed during this step.
    DeadlineExceeded {
        /// The deadline, counted from the start of the probe.
        #[serde(with = "millis")]
        deadline: Duration,
    },
    /// The TLS handshake failed.
    Tls(TlsFailure),
    /// Any other transport error.
    Io(String),
    /// The person running the probe stopped it (Ctrl-C) during this step.
    Interrupted,
}

impl Failure {
    /// A timeout, wherever it happened.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Failure::TimedOut { .. })
    }

    /// The SMTP reply code, if the failure is a reply.
    pub fn reply_code(&self) -> Option<u16> {
        match self {
            Failure::Reply { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::NameNotFound => write!(f, "name not found"),
            Failure::NoDnsAnswer => write!(f, "the DNS resolver gave no answer"),
            Failure::Refused => write!(f, "connection refused"),
            Failure::HostUnreachable => write!(f, "no route to host (ICMP host unreachable)"),
            Failure::NetworkUnreachable => {
                write!(f, "network is unreachable (no route at all)")
            }
            Failure::TimedOut {
                waited, partial, ..
            } if partial.is_empty() => {
                write!(
                    f,
                    "timed out after {}s with nothing received",
                    waited.as_secs_f64()
                )
            }
            Failure::TimedOut {
                waited,
                partial,
                silent,
            } => write!(
                f,
                "timed out after {}s with an incomplete line: {} (nothing more for the last {}s)",
                waited.as_secs_f64(),
                show_bytes(partial),
                silent.as_secs_f64()
            ),
            Failure::Reset => write!(f, "connection reset by peer"),
            Failure::Closed { received: 0 } => {
                write!(f, "connection closed by peer before it sent anything")
            }
            Failure::Closed { received } => {
                write!(f, "connection closed by peer after {received} bytes")
            }
            Failure::Garbage { bytes } => write!(f, "unexpected bytes: {}", show_bytes(bytes)),
            Failure::Reply { code, text } => write!(f, "server replied {code} {text}"),
            Failure::PopError { text } => write!(f, "server replied -ERR {text}"),
            Failure::ImapError { status, text } => write!(f, "server replied {status} {text}"),
            Failure::NotOffered { what } => write!(f, "server does not offer {what}"),
            Failure::TooMuch { what, limit } => write!(
                f,
                "the server sent more than {limit} {what}; the probe stopped reading"
            ),
            Failure::DeadlineExceeded { deadline } => write!(
                f,
                "the probe's overall deadline of {}s passed; stopped with what it had",
                deadline.as_secs_f64()
            ),
            Failure::Tls(TlsFailure::Closed { received: 0 }) => {
                write!(f, "TLS: connection closed with no answer to ClientHello")
            }
            Failure::Tls(TlsFailure::Closed { .. }) => {
                write!(
                    f,
                    "TLS: connection closed during the handshake, after the server had answered"
                )
            }
            Failure::Tls(TlsFailure::NotTls { first_bytes }) => {
                write!(
                    f,
                    "TLS: peer answered in plaintext: {}",
                    show_bytes(first_bytes)
                )
            }
            Failure::Tls(TlsFailure::Alert(alert)) => write!(f, "TLS: peer sent alert {alert}"),
            Failure::Tls(TlsFailure::Certificate(why)) => {
                write!(f, "TLS: certificate refused: {why}")
            }
            Failure::Tls(TlsFailure::Other(why)) => write!(f, "TLS: {why}"),
            Failure::Tls(TlsFailure::VersionRefused { offered, answer }) => write!(
                f,
                "TLS: the server refuses {offered}, the newest version the client speaks ({answer})"
            ),
            Failure::Io(why) => write!(f, "transport error: {why}"),
            Failure::Interrupted => write!(f, "interrupted before it ended (Ctrl-C)"),
        }
    }
}

/// Bytes for people: printable ASCII as text, the rest as hex, e.g.
/// `"220 mx" 0d 0a` or `16 03 01 00 2f`.
pub fn show_bytes(bytes: &[u8]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut text = String::new();
    for &b in bytes {
        if (0x20..0x7f).contains(&b) {
            text.push(b as char);
        } else {
            if !text.is_empty() {
                parts.push(format!("{:?}", std::mem::take(&mut text)));
            }
            parts.push(format!("{b:02x}"));
        }
    }
    if !text.is_empty() {
        parts.push(format!("{text:?}"));
    }
    parts.join(" ")
}

/// One thing that happened, at a virtual time since the probe began.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Time since the start of the probe run.
    #[serde(rename = "at_ms", with = "millis")]
    pub at: Duration,
    /// What happened.
    pub what: EventKind,
}

/// The kinds of events in an attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// The host resolved to these addresses.
    Resolved(Vec<String>),
    /// TCP connected to this address.
    Connected(String),
    /// Connecting to one of several addresses failed; the next is tried.
    ConnectFailed {
        /// The address.
        address: String,
        /// How it failed.
        failure: Failure,
    },
    /// The certificate the server presented (whether accepted or not).
    Certificate(super::x509::CertificateInfo),
    /// TLS is up.
    TlsEstablished {
        /// Protocol version, e.g. `TLSv1_3`.
        version: String,
        /// Cipher suite.
        cipher: String,
    },
    /// The server's TLS handshake flight came in bursts with silences
    /// between them (recorded only then).
    Paced(super::pacing::Paced),
    /// The attempt stops short of logging in: the setting is weaker than
    /// the account's security, so credentials are withheld (the reason).
    Withheld(String),
    /// A line the probe sent (credentials redacted).
    Sent(String),
    /// A line the probe received.
    Received(String),
    /// A step failed.
    Failed(Step, Failure),
}

impl EventKind {
    /// One line for people, as transcripts show it; `host` is the name
    /// that was resolved.
    pub fn describe(&self, host: &str) -> String {
        match self {
            EventKind::Resolved(addresses) => {
                format!("resolved {host} -> {}", addresses.join(", "))
            }
            EventKind::Connected(address) => format!("connected to {address}"),
            EventKind::ConnectFailed { address, failure } => {
                format!("connect to {address} failed: {failure}; trying the next address")
            }
            EventKind::Certificate(certificate) => {
                let mut line = format!(
                    "certificate: subject \"{}\", issuer \"{}\", names [{}], valid until {}",
                    certificate.subject,
                    certificate.issuer,
                    certificate.names.join(", "),
                    certificate.not_after
                );
                if let Some(intermediate) = &certificate.missing_intermediate {
                    line.push_str(&format!(
                        "; sent alone, without the intermediate \"{intermediate}\" that links it to a trusted root"
                    ));
                }
                line
            }
            EventKind::TlsEstablished { version, cipher } => {
                format!("TLS established: {version} {cipher}")
            }
            EventKind::Paced(paced) => {
                let sizes = match paced.window {
                    Some(window) => format!("bursts of {window} bytes"),
                    None => "bursts of unequal size".to_string(),
                };
                format!(
                    "the server's TLS flight ({} bytes) came in {} {sizes}, at least {} ms apart",
                    paced.bytes,
                    paced.bursts,
                    paced.gap.as_millis()
                )
            }
            EventKind::Withheld(reason) => format!("note: {reason}"),
            EventKind::Sent(line) => format!("C: {line}"),
            EventKind::Received(line) => format!("S: {line}"),
            EventKind::Failed(step, failure) => format!("FAILED at {}: {failure}", step.name()),
        }
    }
}

/// Why an attempt was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// The account as configured.
    Configured,
    /// Another port or security mode on the same host.
    FollowUp,
    /// A server known to work (the ISP's own), on the configured port.
    Control,
    /// The configured setting again, naming the server in TLS (SNI), which
    /// the emulated client leaves out.
    ServerName,
    /// A POP3 login of the same client, then the refused SMTP setting
    /// again: POP-before-SMTP servers let a client that checked its mail
    /// relay for a while.
    AfterPop3Login,
    /// The configured setting again, without logging in, right after the
    /// server refused the login: a server that bans an address after failed
    /// logins (fail2ban) no longer takes its connections.
    AfterRefusedLogin,
    /// The server's own greeting and EHLO where a proxy cannot read: on its
    /// implicit-TLS port where a local proxy answered the configured
    /// setting; where its plaintext EHLO lacked PIPELINING (which a proxy
    /// that holds messages hides), after STARTTLS on the same port if it
    /// offers that, then on the implicit-TLS port, then on submission with
    /// STARTTLS, until one answers EHLO over TLS.
    ServerOwnGreeting,
}

impl Purpose {
    /// How transcripts and evidence name it.
    pub fn label(self) -> &'static str {
        match self {
            Purpose::Configured => "as configured",
            Purpose::FollowUp => "follow-up",
            Purpose::Control => "control",
            Purpose::ServerName => "with SNI",
            Purpose::AfterPop3Login => "after a POP3 login",
            Purpose::AfterRefusedLogin => "after the refused login",
            Purpose::ServerOwnGreeting => "the server's own greeting",
        }
    }
}

/// The end of an attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Every step succeeded.
    Ok,
    /// `step` failed with `failure`.
    Failed {
        /// The step that failed.
        step: Step,
        /// How.
        failure: Failure,
    },
}

/// One conversation with one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// Why it was made.
    pub purpose: Purpose,
    /// Where to.
    pub endpoint: Endpoint,
    /// What happened, in order.
    pub events: Vec<Event>,
    /// How it ended.
    pub outcome: Outcome,
}

impl Attempt {
    /// Whether every step succeeded.
    pub fn is_ok(&self) -> bool {
        self.outcome == Outcome::Ok
    }

    /// The failed step and failure, if any.
    pub fn failure(&self) -> Option<(Step, &Failure)> {
        match &self.outcome {
            Outcome::Ok => None,
            Outcome::Failed { step, failure } => Some((*step, failure)),
        }
    }

    /// The first line the server sent, if any.
    pub fn greeting(&self) -> Option<&str> {
        self.events.iter().find_map(|e| match &e.what {
            EventKind::Received(line) => Some(line.as_str()),
            _ => None,
        })
    }

    /// The first word after the greeting's code: the name the server gives
    /// itself (`220 mx.example ESMTP` → `mx.example`).
    pub fn greeting_name(&self) -> Option<&str> {
        self.greeting()?.get(4..)?.split_whitespace().next()
    }

    /// Whether the greeting came from this machine (`220 localhost ...`,
    /// `220 127.0.0.1 ...`) where the server is elsewhere: a local proxy
    /// answered for it. A server on this machine may greet so.
    pub fn greeted_from_this_machine(&self) -> bool {
        let Some(name) = self.greeting_name() else {
            return false;
        };
        let is_local = |name: &str| {
            let name = name.trim_matches(|c| c == '[' || c == ']');
            name.eq_ignore_ascii_case("localhost") || name.starts_with("127.") || name == "::1"
        };
        is_local(name) && !is_local(&self.endpoint.host)
    }

    /// The keywords of each EHLO reply that accepted (`PIPELINING`,
    /// `SIZE 10240000`, ...; not the first line, which names the server),
    /// in order, and whether TLS was up when it came.
    pub fn ehlo_keywords(&self) -> Vec<(bool, Vec<&str>)> {
        let mut replies = Vec::new();
        let mut secure = false;
        // The lines of the EHLO reply being read.
        let mut reading: Option<Vec<&str>> = None;
        for event in &self.events {
            match &event.what {
                EventKind::TlsEstablished { .. } => secure = true,
                EventKind::Sent(line) => {
                    let verb = line.split(' ').next().unwrap_or("");
                    if verb.eq_ignore_ascii_case("EHLO") {
                        reading = Some(Vec::new());
                    }
                }
                EventKind::Received(line) => {
                    let Some(lines) = reading.as_mut() else {
                        continue;
                    };
                    lines.push(line.as_str());
                    if line.as_bytes().get(3) == Some(&b'-') {
                        continue;
                    }
                    let lines = reading.take().unwrap_or_default();
                    if lines.iter().all(|l| l.starts_with("250")) {
                        let keywords = lines.iter().skip(1).filter_map(|l| l.get(4..));
                        replies.push((secure, keywords.collect()));
                    }
                }
                _ => {}
            }
        }
        replies
    }

    /// Whether the server itself answered: any reply line arrived.
    pub fn reached_server(&self) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e.what, EventKind::Received(_)))
    }

    /// When the attempt began and ended, as virtual times.
    pub fn span(&self) -> (Duration, Duration) {
        let start = self.events.first().map_or(Duration::ZERO, |e| e.at);
        let end = self.events.last().map_or(start, |e| e.at);
        (start, end)
    }
}

/// Everything a probe run saw: the configured attempt, follow-ups, control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeReport {
    /// The account as configured.
    pub configured: Attempt,
    /// Other ports and modes on the same host, in the order tried.
    pub follow_ups: Vec<Attempt>,
    /// The control host on the configured port, if one was named and needed.
    pub control: Option<Attempt>,
    /// What a name that cannot exist resolved to, when the probe failed:
    /// any address means the resolver answers every name (a captive portal).
    pub canary: Option<Vec<String>>,
}

impl ProbeReport {
    /// The first follow-up made for `purpose` (a check after the configured
    /// attempt, such as the connection after a refused login).
    pub fn check(&self, purpose: Purpose) -> Option<&Attempt> {
        self.follow_ups.iter().find(|a| a.purpose == purpose)
    }

    /// Every attempt in order.
    pub fn attempts(&self) -> impl Iterator<Item = &Attempt> {
        std::iter::once(&self.configured)
            .chain(self.follow_ups.iter())
            .chain(self.control.iter())
    }
}

/// Durations as whole milliseconds in reports.
pub(super) mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

/// Bytes from a peer in reports: text where they are UTF-8, so a reader
/// sees `220 mx`, else an array of numbers.
mod bytes_text {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Shown {
        Text(String),
        Bytes(Vec<u8>),
    }

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Shown::Text(text.to_string()),
            Err(_) => Shown::Bytes(bytes.to_vec()),
        }
        .serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        Ok(match Shown::deserialize(deserializer)? {
            Shown::Text(text) => text.into_bytes(),
            Shown::Bytes(bytes) => bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_bytes_as_text_and_hex() {
        assert_eq!(show_bytes(b"220 mx\r\n"), "\"220 mx\" 0d 0a");
        assert_eq!(show_bytes(&[0x16, 0x03, 0x01]), "16 03 01");
        assert_eq!(show_bytes(b""), "");
    }

    #[test]
    fn failures_read_like_facts() {
        let timeout = Failure::TimedOut {
            waited: Duration::from_secs(60),
            partial: vec![],
            silent: Duration::from_secs(60),
        };
        assert_eq!(
            timeout.to_string(),
            "timed out after 60s with nothing received"
        );
        assert!(timeout.is_timeout());
        assert_eq!(
            Failure::Tls(TlsFailure::Closed { received: 0 }).to_string(),
            "TLS: connection closed with no answer to ClientHello"
        );
        assert_eq!(
            Failure::Reply {
                code: 535,
                text: "5.7.8 no".into()
            }
            .reply_code(),
            Some(535)
        );
    }
}
