//! The report: everything one probe saw, as a versioned JSON document.
//!
//! `mailprobe probe --report FILE` (or `--format json`) writes one; `mailprobe
//! run --reports DIR` writes one per scenario probe; `mailprobe record`
//! turns one into a scenario. The format is documented in
//! `docs/report-format.md`. A report never holds a password: the probe's
//! record redacts what it sends, and [`Report::scrub`] removes the password
//! (and, with `--anonymize`, the user name and addresses) wherever a server
//! may have echoed it.

use serde::{Deserialize, Serialize};

use crate::diagnose::{ClientKind, Diagnosis};
use crate::harness::ProbeRun;
use crate::probe::{Account, Endpoint, ProbeReport, Protocol, Timeouts};

/// The value of `format` in every report.
pub const FORMAT: &str = "mailprobe-report";
/// The version of the format this build writes and reads.
pub const VERSION: u32 = 1;

/// One probe's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`FORMAT`].
    pub format: String,
    /// The format's version, [`VERSION`].
    pub version: u32,
    /// The tool that wrote it, e.g. `mailprobe 0.1.0`.
    pub tool: String,
    /// When the probe ran (RFC 3339): the wall clock for a live probe, the
    /// world's clock for a scenario. Certificates are judged against it.
    pub clock: String,
    /// What was probed, and how.
    pub options: ProbeOptions,
    /// Every attempt, in plan order, with its events.
    pub observed: ProbeReport,
    /// The verdict.
    pub diagnosis: DiagnosisSummary,
    /// What the emulated client showed, if it failed.
    pub client_error: Option<ClientErrorSummary>,
}

/// The probe's settings: the account (never its password), the control
/// host, the emulated client and the timeouts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeOptions {
    /// The account's server, port and security.
    pub endpoint: Endpoint,
    /// The login name, if the account logs in.
    pub user: Option<String>,
    /// Whether the account has a password (its value is never written).
    pub has_password: bool,
    /// SMTP envelope sender.
    pub from: String,
    /// SMTP recipient of the relay check.
    pub rcpt: String,
    /// SMTP SIZE declared, if any.
    pub message_size: Option<u64>,
    /// The control hosts named, in order (empty: none).
    pub controls: Vec<String>,
    /// The emulated client's id, e.g. `outlook-express-6`.
    pub emulate: String,
    /// The client computer's clock (RFC 3339) when it differs from `clock`.
    pub client_clock: Option<String>,
    /// The newest TLS version of an old client (`tls1.0`), when emulated.
    #[serde(default)]
    pub max_tls: Option<String>,
    /// Whether the client names the server in TLS (SNI).
    #[serde(default = "sends_sni")]
    pub sni: bool,
    /// TCP connect timeout, in milliseconds.
    pub connect_timeout_ms: u64,
    /// Reply timeout, in milliseconds.
    pub reply_timeout_ms: u64,
    /// The whole probe's deadline, in milliseconds.
    pub deadline_ms: u64,
    /// Whether user names and addresses were replaced by placeholders.
    pub anonymized: bool,
}

fn sends_sni() -> bool {
    true
}

impl ProbeOptions {
    /// The options of a probe of `account`.
    pub fn new(
        account: &Account,
        controls: &[String],
        client: ClientKind,
        timeouts: Timeouts,
    ) -> Self {
        let millis = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        ProbeOptions {
            endpoint: account.endpoint.clone(),
            user: account.credentials.as_ref().map(|c| c.user.clone()),
            has_password: account
                .credentials
                .as_ref()
                .is_some_and(|c| !c.password.is_empty()),
            from: account.from.clone(),
            rcpt: account.rcpt.clone(),
            message_size: account.message_size,
            controls: controls.to_vec(),
            emulate: client.id().to_string(),
            client_clock: None,
            max_tls: None,
            sni: true,
            connect_timeout_ms: millis(timeouts.connect),
            reply_timeout_ms: millis(timeouts.reply),
            deadline_ms: millis(timeouts.deadline),
            anonymized: false,
        }
    }

    /// The protocol probed.
    pub fn protocol(&self) -> Protocol {
        self.endpoint.protocol
    }
}

/// The diagnosis, as written in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagnosisSummary {
    /// The cause id, e.g. `outbound-port-25-blocked`.
    pub cause: String,
    /// The rule that decided it.
    pub rule: String,
    /// The observations that decided it.
    pub evidence: Vec<String>,
    /// What to do.
    pub remedy: String,
    /// A setting a follow-up verified to work.
    pub suggestion: Option<Endpoint>,
}

impl From<&Diagnosis> for DiagnosisSummary {
    fn from(diagnosis: &Diagnosis) -> Self {
        DiagnosisSummary {
            cause: diagnosis.cause.id().to_string(),
            rule: diagnosis.rule.to_string(),
            evidence: diagnosis.evidence.clone(),
            remedy: diagnosis.remedy.clone(),
            suggestion: diagnosis.suggestion.clone(),
        }
    }
}

/// The emulated client's error, as written in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientErrorSummary {
    /// The client's id.
    pub client: String,
    /// Its code (or, for Thunderbird, the id of its message).
    pub code: String,
    /// What it says.
    pub message: String,
    /// The socket error shown beside the code, if any.
    pub socket_error: Option<u32>,
}

/// A report that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Not JSON, or not a report's shape.
    #[error("line {line}, column {column}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What serde_json said.
        message: String,
    },
    /// Another format or version.
    #[error("this is {found}; mailprobe reads {FORMAT} version {VERSION}")]
    Version {
        /// The format and version found.
        found: String,
    },
}

impl Report {
    /// The report of a judged probe run.
    pub fn new(run: &ProbeRun, options: ProbeOptions, clock: String) -> Self {
        Report {
            format: FORMAT.to_string(),
            version: VERSION,
            tool: format!("mailprobe {}", env!("CARGO_PKG_VERSION")),
            clock,
            options,
            observed: run.report.clone(),
            diagnosis: DiagnosisSummary::from(&run.diagnosis),
            client_error: run.client_error.as_ref().map(|e| ClientErrorSummary {
                client: run.client.id().to_string(),
                code: e.code.to_string(),
                message: e.message.clone(),
                socket_error: e.socket_error,
            }),
        }
    }

    /// Replaces `password` wherever it appears (a server may echo it) and,
    /// with `anonymize`, the user name and mail addresses by placeholders.
    pub fn scrub(self, password: Option<&str>, anonymize: bool) -> Report {
        let mut replacements: Vec<(String, String)> = Vec::new();
        if let Some(password) = password.filter(|p| !p.is_empty()) {
            replacements.push((password.to_string(), "<password>".to_string()));
        }
        if anonymize {
            let options = &self.options;
            replacements.push((options.from.clone(), "sender@anonymized.example".into()));
            replacements.push((options.rcpt.clone(), "recipient@anonymized.example".into()));
            if let Some(user) = &options.user {
                replacements.push((user.clone(), "anonymized-user".into()));
            }
        }
        // Longest first, so an address is replaced before the user in it.
        replacements.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
        replacements.retain(|(from, _)| from.len() >= 3);
        let Ok(mut value) = serde_json::to_value(&self) else {
            return self;
        };
        replace_strings(&mut value, &replacements);
        let mut scrubbed: Report = serde_json::from_value(value).unwrap_or(self);
        scrubbed.options.anonymized |= anonymize;
        scrubbed
    }

    /// The report as pretty-printed JSON, with a final newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads a report, checking its format and version.
    pub fn from_json(text: &str) -> Result<Report, ReportError> {
        let header: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ReportError::Json {
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })?;
        let format = header.get("format").and_then(|f| f.as_str()).unwrap_or("");
        let version = header.get("version").and_then(|v| v.as_u64());
        if format != FORMAT || version != Some(u64::from(VERSION)) {
            return Err(ReportError::Version {
                found: format!(
                    "{} version {}",
                    if format.is_empty() {
                        "(no format)"
                    } else {
                        format
                    },
                    version.map_or("(none)".to_string(), |v| v.to_string())
                ),
            });
        }
        serde_json::from_str(text).map_err(|e| ReportError::Json {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })
    }
}

/// Replaces every occurrence of each `(from, to)` in every string of `value`.
fn replace_strings(value: &mut serde_json::Value, replacements: &[(String, String)]) {
    match value {
        serde_json::Value::String(text) => {
            for (from, to) in replacements {
                if text.contains(from.as_str()) {
                    *text = text.replace(from.as_str(), to);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                replace_strings(item, replacements);
            }
        }
        serde_json::Value::Object(fields) => {
            for (_, field) in fields.iter_mut() {
                replace_strings(field, replacements);
            }
        }
        _ => {}
    }
}
