//! Replays scenarios: builds the world, runs each probe in virtual time, and
//! checks the conclusions against the scenario's expectations.
//!
//! Every scenario gets a fresh current-thread runtime with paused time and
//! only in-memory I/O, so timeouts cost no wall time and two runs produce
//! byte-identical transcripts. The probe and the diagnosis see only the
//! client's settings and the wire; the world description is used only to
//! build the world and to check the verdict.

pub mod bench;
pub mod expect;
pub mod jobs;
pub mod results;
pub mod transcript;
#[cfg(feature = "trials")]
pub mod trials;
pub mod world;

use std::sync::Arc;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::diagnose::{diagnose, ClientError, ClientKind, Diagnosis};
use crate::net::Network;
use crate::probe::tls::{TlsClient, VirtualClock};
use crate::probe::{ProbeReport, Prober, Protocol, Timeouts};
use crate::scenario::model::{ClientName, ClientSpec, Expectations, Scenario};
use expect::mismatches;

/// The clock of a scenario that does not set one.
pub const DEFAULT_CLOCK: &str = "2026-01-01T00:00:00Z";

/// One protocol probed by one probe of a scenario.
#[derive(Debug)]
pub struct ProbeRun {
    /// The probe's name ("as configured", "after the fix", ...).
    pub probe: String,
    /// SMTP or POP3.
    pub protocol: Protocol,
    /// What the probe saw.
    pub report: ProbeReport,
    /// The verdict.
    pub diagnosis: Diagnosis,
    /// The emulated client.
    pub client: ClientKind,
    /// What that client would have shown.
    pub client_error: Option<ClientError>,
    /// Whether the scenario expects anything of this run.
    pub checked: bool,
    /// The cause id the scenario expects, if it names one.
    pub expected_diagnosis: Option<String>,
    /// Expectations that did not hold.
    pub mismatches: Vec<String>,
    /// What was probed and how, for the report.
    pub options: crate::report::ProbeOptions,
}

impl ProbeRun {
    /// Judges what a probe with `options` saw: the diagnosis and what
    /// `client` would show. Nothing is expected of the run yet.
    pub fn judge(
        probe: &str,
        report: ProbeReport,
        client: ClientKind,
        options: crate::report::ProbeOptions,
    ) -> Self {
        ProbeRun {
            probe: probe.to_string(),
            protocol: options.protocol(),
            options,
            diagnosis: diagnose(&report),
            client,
            client_error: client.error_for(&report.configured),
            report,
            checked: false,
            expected_diagnosis: None,
            mismatches: Vec::new(),
        }
    }

    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// A replayed scenario.
#[derive(Debug)]
pub struct ScenarioRun {
    /// The scenario's name.
    pub name: String,
    /// Every probe run, in order.
    pub probes: Vec<ProbeRun>,
    /// The transcript: every attempt, verdict and the network's log.
    pub transcript: String,
    /// How much virtual time the scenario took.
    pub virtual_time: std::time::Duration,
    /// The world's clock at the start (RFC 3339).
    pub clock: String,
}

impl ScenarioRun {
    /// The report of each probe run, in order.
    pub fn reports(&self) -> Vec<crate::report::Report> {
        self.probes
            .iter()
            .map(|run| crate::report::Report::new(run, run.options.clone(), self.clock.clone()))
            .collect()
    }
}

impl ScenarioRun {
    /// Whether every expectation of every probe held.
    pub fn passed(&self) -> bool {
        self.probes.iter().all(ProbeRun::passed)
    }
}

/// Why a scenario could not be replayed at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(#[from] std::io::Error),
    /// The world could not be built.
    #[error("cannot build the world: {0}")]
    World(#[from] world::BuildError),
}

/// Checks a replay against the scenario's pinned transcript, if it has one.
/// With `bless`, writes the transcript instead and returns where. The
/// snapshot's path is relative to `scenario_file`.
pub fn check_snapshot(
    scenario: &Scenario,
    scenario_file: &std::path::Path,
    run: &ScenarioRun,
    bless: bool,
) -> Result<Option<std::path::PathBuf>, String> {
    let Some(snapshot) = &scenario.snapshot else {
        return Ok(None);
    };
    let path = scenario_file
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join(snapshot);
    if bless {
        std::fs::write(&path, &run.transcript)
            .map_err(|e| format!("cannot write snapshot {}: {e}", path.display()))?;
        return Ok(Some(path));
    }
    let pinned = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read snapshot {}: {e} (run `mailprobe run --bless` to create it)",
            path.display()
        )
    })?;
    if pinned == run.transcript {
        return Ok(None);
    }
    let (line, expected, actual) = pinned
        .lines()
        .chain(std::iter::repeat(""))
        .zip(run.transcript.lines().chain(std::iter::repeat("")))
        .enumerate()
        .find(|(_, (a, b))| a != b)
        .map(|(i, (a, b))| (i + 1, a, b))
        .unwrap_or((0, "", ""));
    Err(format!(
        "transcript differs from snapshot {} at line {line}:\n  pinned: {expected}\n  now:    {actual}\n(run `mailprobe run --bless` if the change is intended)",
        path.display()
    ))
}

/// Replays `scenario` in virtual time.
pub fn run(scenario: &Scenario) -> Result<ScenarioRun, RunError> {
    run_with(scenario, false)
}

/// Replays `scenario` with follow-ups run at once, as a live probe runs them
/// ([`Prober::at_once`]): the same conclusions in less (virtual) time.
pub fn run_at_once(scenario: &Scenario) -> Result<ScenarioRun, RunError> {
    run_with(scenario, true)
}

fn run_with(scenario: &Scenario, at_once: bool) -> Result<ScenarioRun, RunError> {
    scenario_runtime()?.block_on(run_in_runtime(scenario, at_once))
}

/// The runtime a scenario runs in: one thread, time paused (it moves only
/// when every task waits), no real I/O.
pub fn scenario_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
}

/// The scenario's clock, or [`DEFAULT_CLOCK`].
pub fn scenario_clock(scenario: &Scenario) -> OffsetDateTime {
    scenario.clock.map_or_else(
        || OffsetDateTime::parse(DEFAULT_CLOCK, &Rfc3339).expect("valid constant"),
        |c| c.0,
    )
}

/// `prober` set up as `client` behaves: an old client's newest TLS
/// version, and the POP3 account it also receives with.
pub fn as_the_client(mut prober: Prober, client: &ClientSpec) -> Prober {
    if let Some(max_tls) = client.max_tls {
        prober = prober.speaking_at_most(max_tls.legacy());
    }
    if let Some(pop3) = &client.pop3 {
        prober = prober.receiving_with(pop3.account(Protocol::Pop3));
    }
    prober
}

async fn run_in_runtime(scenario: &Scenario, at_once: bool) -> Result<ScenarioRun, RunError> {
    let started = tokio::time::Instant::now();
    let clock = scenario_clock(scenario);
    let built = world::build_for_probe(&scenario.world, clock)?;
    let network: Arc<dyn Network> = Arc::new(built.network.clone());
    let tls_for = |client: &ClientSpec| tls_client(&built, client, clock);

    let mut transcript = format!(
        "scenario: {}\nclock: {}\n\n",
        scenario.name,
        clock.format(&Rfc3339).unwrap_or_default()
    );
    let mut probes = Vec::new();
    for (name, client, expectations) in probe_list(scenario) {
        let timeouts = timeouts(client);
        let protocols = client.accounts();
        let first = protocols
            .iter()
            .find(|(_, spec)| spec.is_some())
            .map(|(p, _)| *p);
        for (protocol, spec) in protocols {
            let Some(spec) = spec else { continue };
            let account = spec.account(protocol);
            let mut prober = Prober::new(network.clone(), tls_for(client), timeouts);
            if at_once {
                prober = prober.at_once();
            }
            prober = as_the_client(prober, client);
            let controls = client.control.as_ref().map_or(&[][..], |c| c.as_slice());
            let report = prober.probe(&account, controls).await;
            let kind = client_kind(client.emulate);
            let mut options = crate::report::ProbeOptions::new(&account, controls, kind, timeouts);
            options.client_clock = client.clock.and_then(|c| c.0.format(&Rfc3339).ok());
            options.max_tls = client.max_tls.map(|m| m.name().to_string());
            options.sni = client.sni;
            let mut run = ProbeRun::judge(name, report, kind, options);
            let expected = expectations.and_then(|e| e.of(protocol));
            let top_suggest = expectations
                .and_then(|e| e.suggest.as_ref())
                .filter(|_| Some(protocol) == first);
            let default_expectation = Default::default();
            run.mismatches =
                mismatches(expected.unwrap_or(&default_expectation), top_suggest, &run);
            run.checked = expected.is_some() || top_suggest.is_some();
            run.expected_diagnosis = expected.and_then(|e| e.diagnosis.clone());
            transcript::write_probe(&mut transcript, &run);
            probes.push(run);
        }
    }
    transcript.push_str("== network (the world's view; the probe never sees it) ==\n");
    for line in built.network.log() {
        transcript.push_str(&transcript::escape_controls(&line));
        transcript.push('\n');
    }
    Ok(ScenarioRun {
        name: scenario.name.clone(),
        probes,
        transcript,
        virtual_time: started.elapsed(),
        clock: clock.format(&Rfc3339).unwrap_or_default(),
    })
}

/// The TLS client of `client` in `world` (whose clock is `clock`): it
/// trusts the world's root, knows its intermediates, checks certificates
/// against the client's own clock (the world's, unless the scenario sets the
/// client's wrong) and sends SNI unless the client does not.
pub fn tls_client(
    world: &world::BuiltWorld,
    client: &ClientSpec,
    clock: OffsetDateTime,
) -> TlsClient {
    let now = client.clock.map_or(clock, |c| c.0);
    let unix_seconds = u64::try_from(now.unix_timestamp()).unwrap_or(0);
    // A store of another era holds the roots it names; a name no root of
    // the world has is one no server here uses.
    let roots = match &client.trust {
        None => world.roots.clone(),
        Some(names) => {
            let mut store = rustls::RootCertStore::empty();
            let listed = world
                .named_roots
                .iter()
                .filter(|(name, _)| names.iter().any(|n| n == name));
            for (_, root) in listed {
                // A root that does not parse is one the store goes without.
                let _ = store.add(root.clone());
            }
            store
        }
    };
    let tls = TlsClient::new(roots, Arc::new(VirtualClock::starting_at(unix_seconds)))
        .agreeing_keys(world.key_exchange())
        .knowing_intermediates(world.intermediates.clone())
        .knowing_other_stores(world.current_roots.clone(), world.distrusted_roots.clone());
    if client.sni {
        tls
    } else {
        tls.without_sni()
    }
}

/// The probes of a scenario: its `probes`, or its single `client`/`expect`.
fn probe_list(scenario: &Scenario) -> Vec<(&str, &ClientSpec, Option<&Expectations>)> {
    match &scenario.client {
        Some(client) => vec![("as configured", client, scenario.expect.as_ref())],
        None => scenario
            .probes
            .iter()
            .map(|p| (p.name.as_str(), &p.client, Some(&p.expect)))
            .collect(),
    }
}

fn client_kind(name: ClientName) -> ClientKind {
    match name {
        ClientName::OutlookExpress6 => ClientKind::OutlookExpress6,
        ClientName::Thunderbird => ClientKind::Thunderbird,
        ClientName::Outlook => ClientKind::Outlook,
    }
}

fn timeouts(client: &ClientSpec) -> Timeouts {
    let defaults = Timeouts::default();
    Timeouts {
        connect: client.timeouts.connect.map_or(defaults.connect, |s| s.0),
        reply: client.timeouts.reply.map_or(defaults.reply, |s| s.0),
        deadline: client.timeouts.deadline.map_or(defaults.deadline, |s| s.0),
    }
}
