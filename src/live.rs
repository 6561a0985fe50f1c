//! Probing real servers: the same probe and diagnosis as in scenarios, over
//! the real network (system resolver, TCP, the system's trusted roots).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::time_provider::DefaultTimeProvider;
use rustls::RootCertStore;

use crate::diagnose::ClientKind;
use crate::harness::ProbeRun;
use crate::net::RealNetwork;
use crate::probe::conversation::Journal;
use crate::probe::tls::TlsClient;
use crate::probe::{
    Account, Attempt, Failure, Outcome, ProbeReport, Prober, Protocol, Purpose, Step, Timeouts,
};
use crate::report::{ProbeOptions, Report};
use crate::scenario::model::AccountSpec;

/// What to probe, as a person gives it on the command line.
#[derive(Debug, Clone)]
pub struct LiveRequest {
    /// SMTP or POP3.
    pub protocol: Protocol,
    /// The account's server settings.
    pub account: AccountSpec,
    /// Servers known to work, for differential probes.
    pub controls: Vec<String>,
    /// Whose error messages to show.
    pub client: ClientKind,
    /// Client timeouts.
    pub timeouts: Timeouts,
    /// PEM files with extra roots to trust besides the system's.
    pub extra_roots: Vec<PathBuf>,
    /// Replace the user name and addresses by placeholders in the report.
    pub anonymize: bool,
    /// Print each step on stderr as it happens.
    pub show_steps: bool,
    /// The name TLS sends and checks the certificate against, when the
    /// host is an address (or another name for the same server).
    pub server_name: Option<String>,
    /// Reach a world served on loopback instead of the real network
    /// (`serve --map`, `--connect-to`); empty for the real network.
    pub connect_map: crate::net::mapped::MappedNetwork,
    /// The newest TLS version of an emulated old client (`--max-tls`).
    pub max_tls: Option<crate::scenario::model::MaxTls>,
    /// Whether the emulated client names the server in TLS (SNI).
    pub sni: bool,
    /// For SMTP: the POP3 account the same client receives with, for a
    /// POP-before-SMTP check when a recipient is refused.
    pub receiving: Option<AccountSpec>,
}

/// Why a live probe could not start.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// A `--ca` file could not be read.
    #[error("{path}: cannot read certificates: {reason}; give a PEM file with one or more CERTIFICATE blocks")]
    Roots {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A value would put a line break (or worse) on the wire.
    #[error("{}: the {source}", flag(source.field))]
    UnsafeValue {
        /// Which value, and what it holds.
        #[from]
        source: crate::probe::UnsafeValue,
    },
    /// The runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// The command-line flag that gives an account field.
fn flag(field: &str) -> String {
    match field {
        "password" => "--password-env".to_string(),
        "host" => "--smtp/--pop3".to_string(),
        other => format!("--{other}"),
    }
}

/// The largest `--ca` file read: a bundle of every public root is ~250 KiB.
const MAX_ROOTS_BYTES: u64 = 4 * 1024 * 1024;

/// The system's trusted roots (with the `native-roots` feature) plus those
/// in `extra`.
fn roots(extra: &[PathBuf]) -> Result<RootCertStore, LiveError> {
    let mut roots = RootCertStore::empty();
    #[cfg(feature = "native-roots")]
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    for path in extra {
        let failed = |reason: String| LiveError::Roots {
            path: path.display().to_string(),
            reason,
        };
        // Read with a bound like every other file: `--ca /dev/zero` is an error.
        let text = crate::scenario::load::read_text(path, MAX_ROOTS_BYTES).map_err(failed)?;
        let certificates: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(text.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| failed(e.to_string()))?;
        if certificates.is_empty() {
            return Err(failed("no certificate in the file".into()));
        }
        let (added, _) = roots.add_parsable_certificates(certificates);
        if added == 0 {
            return Err(failed("no usable certificate in the file".into()));
        }
    }
    Ok(roots)
}

/// Runs `work` with a prober over the real network, on a fresh runtime.
fn with_prober<T>(
    request: &LiveRequest,
    journal: Option<Journal>,
    work: impl AsyncFnOnce(&Prober) -> T,
) -> Result<T, LiveError> {
    let roots = roots(&request.extra_roots)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(async {
        let mut tls = TlsClient::new(roots, Arc::new(DefaultTimeProvider));
        if !request.sni {
            tls = tls.without_sni();
        }
        let network: Arc<dyn crate::net::Network> = if request.connect_map.is_empty() {
            Arc::new(RealNetwork)
        } else {
            Arc::new(request.connect_map.clone())
        };
        let mut prober = Prober::new(network, tls, request.timeouts).at_once();
        if let Some(name) = &request.server_name {
            prober = prober.naming(&request.account.host, name);
        }
        if let Some(max_tls) = request.max_tls {
            prober = prober.speaking_at_most(max_tls.legacy());
        }
        if let Some(pop3) = &request.receiving {
            prober = prober.receiving_with(pop3.account(Protocol::Pop3));
        }
        if request.show_steps {
            // Steps as they happen, on stderr: stdout carries the result.
            let progress: crate::probe::conversation::Progress = Arc::new(|line: &str| {
                eprintln!("{}", crate::harness::transcript::escape_controls(line));
            });
            prober = prober.telling(progress);
        }
        if let Some(journal) = journal {
            prober = prober.keeping(journal);
        }
        work(&prober).await
    }))
}

/// The request's account, with every value that goes on the wire checked
/// before anything connects.
fn checked_account(request: &LiveRequest) -> Result<Account, LiveError> {
    let account = request.account.account(request.protocol);
    account.check_wire_values()?;
    for control in &request.controls {
        crate::probe::check_wire_value("control", control, &[(' ', "a space")])?;
    }
    if let Some(name) = &request.server_name {
        crate::probe::check_wire_value("server-name", name, &[(' ', "a space")])?;
    }
    Ok(account)
}

/// Tries every standard setting of the server (`mailprobe suggest`).
pub fn survey(request: &LiveRequest) -> Result<Vec<Attempt>, LiveError> {
    let account = checked_account(request)?;
    with_prober(request, None, async |prober: &Prober| {
        prober.survey(&account).await
    })
}

/// A live probe's verdict and its report.
#[derive(Debug)]
pub struct LiveProbe {
    /// What was seen and judged.
    pub run: ProbeRun,
    /// The same as a report: no password, anonymized if asked.
    pub report: Report,
    /// Whether Ctrl-C stopped the probe before it ended.
    pub interrupted: bool,
}

/// Probes a real server, with follow-ups, and judges what it saw. Ctrl-C
/// stops the probe and still judges, and reports, what it had seen.
pub fn probe(request: &LiveRequest) -> Result<LiveProbe, LiveError> {
    let account = checked_account(request)?;
    let control = request.controls.as_slice();
    let started = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let journal = Journal::default();
    let (observed, interrupted) =
        with_prober(request, Some(journal.clone()), async |prober: &Prober| {
            tokio::select! {
                biased;
                report = prober.probe(&account, control) => (report, false),
                _ = tokio::signal::ctrl_c() => (cut_short(&journal, &account), true),
            }
        })?;
    let mut options = ProbeOptions::new(&account, control, request.client, request.timeouts);
    options.max_tls = request.max_tls.map(|m| m.name().to_string());
    options.sni = request.sni;
    let run = ProbeRun::judge("live", observed, request.client, options);
    let report = Report::new(&run, run.options.clone(), started)
        .scrub(request.account.password.as_deref(), request.anonymize);
    Ok(LiveProbe {
        run,
        report,
        interrupted,
    })
}

/// What a probe stopped by Ctrl-C had seen, in the plan's order; attempts
/// under way end `interrupted` at the step they were in.
fn cut_short(journal: &Journal, account: &Account) -> ProbeReport {
    let attempts = journal.attempts();
    let of = |purpose: Purpose| {
        attempts
            .iter()
            .filter(move |a| a.purpose == purpose)
            .cloned()
    };
    let configured = of(Purpose::Configured).next().unwrap_or_else(|| Attempt {
        purpose: Purpose::Configured,
        endpoint: account.endpoint.clone(),
        events: Vec::new(),
        outcome: Outcome::Failed {
            step: Step::Resolve,
            failure: Failure::Interrupted,
        },
    });
    // The SNI check comes first in the plan: `position` puts it first.
    let mut follow_ups: Vec<Attempt> = of(Purpose::ServerName)
        .chain(of(Purpose::FollowUp))
        .collect();
    let plan = crate::probe::followup::alternatives(&account.endpoint);
    follow_ups.sort_by_key(|a| plan.iter().position(|e| *e == a.endpoint));
    ProbeReport {
        configured,
        follow_ups,
        control: of(Purpose::Control).next(),
        canary: None,
    }
}
