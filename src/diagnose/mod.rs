//! From observations to a verdict: a pure function of a [`ProbeReport`].
//!
//! [`diagnose`] applies ordered rules (`rules.rs`) to what the probe saw and
//! names a [`Cause`] from the catalogue ([`cause`]) with the evidence that
//! decided it, a remedy, and a working configuration when a follow-up found
//! one. [`client_error`] says what a given mail client would have shown.

pub mod cause;
pub mod client_error;
mod rules;

pub use cause::{Cause, CauseInfo, LOOK_ALIKES};
pub use client_error::{ClientError, ClientKind};
pub use rules::{cut_down_window, diagnose};

use crate::probe::{Attempt, ProbeReport, Security};

/// The setting to recommend from a survey of attempts: the first that
/// worked with encryption, implicit TLS first when the account asked for it
/// (RFC 8314, section 3.3). A setting without encryption is never
/// recommended, even when it is the only one that worked: it would hand the
/// password to whoever is on the path.
pub fn recommend(attempts: &[Attempt], wanted: Security) -> Option<&Attempt> {
    let working = || {
        attempts
            .iter()
            .filter(|a| a.is_ok() && a.endpoint.security != Security::None)
    };
    let implicit = working().find(|a| a.endpoint.security == Security::Tls);
    match wanted {
        Security::Tls => implicit.or_else(|| working().next()),
        _ => working().next(),
    }
}

/// The cause of one attempt on its own, without follow-ups.
pub fn cause_of(attempt: &Attempt) -> Cause {
    diagnose(&ProbeReport {
        configured: attempt.clone(),
        follow_ups: Vec::new(),
        control: None,
        canary: None,
    })
    .cause
}

use crate::probe::Endpoint;

/// The verdict on one probe run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// The cause.
    pub cause: Cause,
    /// The name of the rule that decided it.
    pub rule: &'static str,
    /// The observations that decided it, as sentences.
    pub evidence: Vec<String>,
    /// What to do.
    pub remedy: String,
    /// A configuration a follow-up probe verified to work.
    pub suggestion: Option<Endpoint>,
}
