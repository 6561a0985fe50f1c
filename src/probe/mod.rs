//! The probe engine: talks to an account's server the way a mail client does,
//! step by step, and records what it saw.
//!
//! [`Prober::probe`] makes the configured [`Attempt`]; when it fails in
//! reaching or securing the server, it follows up with the other standard
//! ports and security modes on the same host ([`followup`]) and, where the
//! client knows one, a control host on the configured port. The result is a
//! [`ProbeReport`] of observations only; [`crate::diagnose`] judges it.
//!
//! The probe never sends DATA and never deletes mail.

pub mod conversation;
pub mod dialog;
pub mod followup;
pub mod imap;
pub mod join;
pub mod legacy;
pub mod observation;
pub mod pacing;
pub mod pop3;
pub mod smtp;
pub mod tls;
pub mod wire;
pub mod x509;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::net::Network;
use conversation::{Conversation, Recorder};
pub use observation::{
    Attempt, Event, EventKind, Failure, Outcome, ProbeReport, Purpose, Step, TlsFailure,
};
use wire::Wire;

/// A mail protocol the probe speaks.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Sending: SMTP submission or relay.
    Smtp,
    /// Receiving: POP3.
    Pop3,
    /// Receiving: IMAP.
    Imap,
}

impl Protocol {
    /// `smtp`, `pop3` or `imap`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Smtp => "smtp",
            Protocol::Pop3 => "pop3",
            Protocol::Imap => "imap",
        }
    }

    /// The usual port for a security mode (RFC 8314, 6409, 1939, 2595).
    pub fn default_port(self, security: Security) -> u16 {
        match (self, security) {
            (Protocol::Smtp, Security::None) => 25,
            (Protocol::Smtp, Security::StartTls) => 587,
            (Protocol::Smtp, Security::Tls) => 465,
            (Protocol::Pop3, Security::None | Security::StartTls) => 110,
            (Protocol::Pop3, Security::Tls) => 995,
            (Protocol::Imap, Security::None | Security::StartTls) => 143,
            (Protocol::Imap, Security::Tls) => 993,
        }
    }
}

/// How the client protects the connection.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plaintext throughout.
    None,
    /// Plaintext, upgraded with STARTTLS (SMTP) or STLS (POP3).
    #[serde(rename = "starttls")]
    StartTls,
    /// TLS from the first byte ("SSL" in older clients).
    Tls,
}

impl Security {
    /// Whether this mode protects the connection at least as well as
    /// `other` (STARTTLS and implicit TLS both encrypt; plaintext does not).
    pub fn at_least_as_secure_as(self, other: Security) -> bool {
        self != Security::None || other == Security::None
    }
    /// `none`, `starttls` or `tls`, as in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Security::None => "none",
            Security::StartTls => "starttls",
            Security::Tls => "tls",
        }
    }
}

/// Where a client connects, and how.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Endpoint {
    /// The protocol spoken.
    pub protocol: Protocol,
    /// The server's host name.
    pub host: String,
    /// The TCP port.
    pub port: u16,
    /// The security mode.
    pub security: Security,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}:{} security={}",
            self.protocol.name(),
            self.host,
            self.port,
            self.security.name()
        )
    }
}

/// A user name and password. The password never appears in Debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The login name.
    pub user: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A mail account as a client has it configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The server and how to reach it.
    pub endpoint: Endpoint,
    /// Login, if the server requires one.
    pub credentials: Option<Credentials>,
    /// The sender address for the SMTP envelope check.
    pub from: String,
    /// A recipient outside the server's domains, to check relaying.
    pub rcpt: String,
    /// The size of the message to send, declared with SIZE.
    pub message_size: Option<u64>,
}

/// An account value that cannot go on the wire: it would end the command
/// line early and let the rest be read as another command (`DATA`, `DELE`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} contains {what} at character {position}; a value sent to the server cannot contain {forbidden}")]
pub struct UnsafeValue {
    /// The account field, as the user knows it (`user`, `password`, `from`).
    pub field: &'static str,
    /// The offending character, named (never the value itself: it may be a password).
    pub what: &'static str,
    /// 1-based position of the character in the value.
    pub position: usize,
    /// What the field may not contain.
    pub forbidden: String,
}

/// Checks one value for characters that split or end a protocol line
/// (CR, LF, NUL), and for `extra` characters the field may not hold.
pub fn check_wire_value(
    field: &'static str,
    value: &str,
    extra: &[(char, &'static str)],
) -> Result<(), UnsafeValue> {
    const LINE_BREAKERS: [(char, &str); 3] = [
        ('\r', "a carriage return (CR)"),
        ('\n', "a line feed (LF)"),
        ('\0', "a NUL byte"),
    ];
    for (index, c) in value.chars().enumerate() {
        let named = LINE_BREAKERS
            .iter()
            .chain(extra)
            .find(|(bad, _)| *bad == c)
            .map(|(_, name)| *name)
            .or_else(|| c.is_control().then_some("a control character"));
        if let Some(what) = named {
            // What the field may not hold, from the same list that found it.
            let mut forbidden = String::from("CR, LF, NUL or another control character");
            for (_, name) in extra {
                forbidden.push_str(", ");
                forbidden.push_str(name);
            }
            return Err(UnsafeValue {
                field,
                what,
                position: index + 1,
                forbidden,
            });
        }
    }
    Ok(())
}

/// Characters a mail address in an SMTP envelope may not hold: they would
/// close the path early or add parameters to MAIL/RCPT.
const ADDRESS_BREAKERS: &[(char, &str)] = &[
    ('<', "'<'"),
    ('>', "'>'"),
    (' ', "a space"),
    ('\t', "a tab"),
];

impl Account {
    /// Checks every value the probe will put on the wire, before connecting.
    pub fn check_wire_values(&self) -> Result<(), UnsafeValue> {
        check_wire_value("host", &self.endpoint.host, ADDRESS_BREAKERS)?;
        if let Some(credentials) = &self.credentials {
            check_wire_value("user", &credentials.user, &[])?;
            check_wire_value("password", &credentials.password, &[])?;
        }
        check_wire_value("from", &self.from, ADDRESS_BREAKERS)?;
        check_wire_value("rcpt", &self.rcpt, ADDRESS_BREAKERS)
    }
}

/// How long the probe waits. The defaults are those of a typical client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// For the TCP connection.
    pub connect: Duration,
    /// For each reply (and each TLS handshake).
    pub reply: Duration,
    /// For the whole probe, follow-ups included: a server that answers each
    /// line just inside the reply timeout cannot keep it going for long.
    pub deadline: Duration,
}

/// The default overall deadline of a probe.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(300);

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(30),
            reply: Duration::from_secs(60),
            deadline: DEFAULT_DEADLINE,
        }
    }
}

/// A name that cannot exist (RFC 6761 reserves `.invalid`). If it resolves,
/// the resolver answers every name: a captive portal or a hijacking ISP.
pub const CANARY_NAME: &str = "mailprobe-canary.invalid";

/// What an attempt does once connected.
#[derive(Debug, Clone, Copy)]
enum Plan<'a> {
    /// Everything a client does: log in, and for SMTP check the envelope.
    Full(&'a Account),
    /// Only reach the server and secure the connection (control probes, and
    /// settings weaker than the account's, where credentials are withheld).
    Reach,
}

impl<'a> Plan<'a> {
    /// The plan for trying `account` on `endpoint`, and why credentials
    /// are withheld when they are. Credentials travel only over a connection
    /// at least as protected as the account's configured security: a
    /// weaker setting learns reachability (greeting, EHLO/CAPA) and stops,
    /// so a box in the middle never sees the password in clear.
    fn for_account(account: &'a Account, endpoint: &Endpoint) -> (Plan<'a>, Option<String>) {
        let wanted = account.endpoint.security;
        if endpoint.security.at_least_as_secure_as(wanted) {
            return (Plan::Full(account), None);
        }
        let what = if account.credentials.is_some() {
            "credentials withheld"
        } else {
            "no login or envelope attempted"
        };
        let reason = format!(
            "{what}: security={} is weaker than the account's security={}; this attempt only checks reachability",
            endpoint.security.name(),
            wanted.name()
        );
        (Plan::Reach, Some(reason))
    }
}

/// Runs probes over a [`Network`].
pub struct Prober {
    network: Arc<dyn Network>,
    tls: tls::TlsClient,
    timeouts: Timeouts,
    client_name: String,
    origin: Instant,
    /// Bytes received over all of this prober's connections.
    received: Arc<std::sync::atomic::AtomicUsize>,
    /// Follow-ups start while the configured attempt is still out.
    at_once: bool,
    /// With `at_once`: follow-ups log in one after another, once the
    /// configured attempt has ended.
    login_turn: Option<Arc<tokio::sync::Mutex<()>>>,
    progress: Option<conversation::Progress>,
    /// Where attempts are kept as they happen, for a report of a probe cut short.
    journal: Option<conversation::Journal>,
    /// The name TLS sends and checks certificates against, by host, where
    /// it is not the host itself (`--server-name` for an address).
    server_names: std::collections::BTreeMap<String, String>,
    /// The newest TLS version of an emulated old client, if it predates
    /// TLS 1.2: its ClientHello goes first, on implicit-TLS ports and after
    /// STARTTLS.
    legacy: Option<legacy::LegacyTls>,
    /// The POP3 account of the same client, for an SMTP probe: where relay
    /// is refused, it logs in there and tries again (POP-before-SMTP).
    receiving: Option<Account>,
}

/// How long a live probe waits on a silent configured attempt before it
/// starts the follow-ups beside it, as Happy Eyeballs does for addresses.
pub const FOLLOW_UP_GRACE: Duration = Duration::from_secs(2);

impl Prober {
    /// A prober; event times, and its deadline, count from its creation.
    pub fn new(network: Arc<dyn Network>, tls: tls::TlsClient, timeouts: Timeouts) -> Self {
        let timeouts = Timeouts {
            connect: timeouts.connect.min(timeouts.deadline),
            reply: timeouts.reply.min(timeouts.deadline),
            deadline: timeouts.deadline,
        };
        Prober {
            network,
            tls,
            timeouts,
            client_name: "mailprobe.local".to_string(),
            origin: Instant::now(),
            received: Arc::default(),
            at_once: false,
            login_turn: None,
            progress: None,
            server_names: std::collections::BTreeMap::new(),
            legacy: None,
            journal: None,
            receiving: None,
        }
    }

    /// The client also receives mail over POP3 with `account`: an SMTP
    /// probe whose recipient is refused logs in there and tries again, as
    /// a client that checks mail before sending does (POP-before-SMTP).
    pub fn receiving_with(mut self, account: Account) -> Self {
        self.receiving = (account.endpoint.protocol == Protocol::Pop3).then_some(account);
        self
    }

    /// Starts follow-ups and the control as soon as the configured attempt
    /// fails or has been silent for [`FOLLOW_UP_GRACE`], and runs them at
    /// once, so a live probe takes about one timeout rather than one per
    /// setting. The report keeps the plan's order and its conclusions;
    /// scenario replays stay sequential, and their transcripts unchanged.
    pub fn at_once(mut self) -> Self {
        self.at_once = true;
        self.login_turn = Some(Arc::default());
        self
    }

    /// Emulates a client whose newest TLS version is `version` (older than
    /// TLS 1.2): its own ClientHello goes first, on a connection of its own
    /// (after STARTTLS on STARTTLS ports), and a server that refuses it fails
    /// the attempt as it fails that client. A server that accepts it is then
    /// probed over today's TLS, which the probe speaks, on a new connection.
    pub fn speaking_at_most(mut self, version: legacy::LegacyTls) -> Self {
        self.legacy = Some(version);
        self
    }

    /// Sends `name` in TLS (SNI) to `host`, and checks its certificate
    /// against `name`: an account given by address (or a world served on
    /// 127.0.0.1) is checked against the server's real name.
    pub fn naming(mut self, host: &str, name: &str) -> Self {
        self.server_names
            .insert(host.to_ascii_lowercase(), name.to_string());
        self
    }

    /// The name TLS uses for `endpoint`.
    fn tls_name<'e>(&'e self, endpoint: &'e Endpoint) -> &'e str {
        self.server_names
            .get(&endpoint.host.to_ascii_lowercase())
            .map_or(endpoint.host.as_str(), String::as_str)
    }

    /// Keeps every attempt in `journal` as it happens.
    pub fn keeping(mut self, journal: conversation::Journal) -> Self {
        self.journal = Some(journal);
        self
    }

    /// Tells every step to `progress` as it happens.
    pub fn telling(mut self, progress: conversation::Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Time left before the overall deadline.
    fn time_left(&self) -> Duration {
        self.timeouts.deadline.saturating_sub(self.origin.elapsed())
    }

    /// Tries the account on every standard setting of its host (and its own
    /// port), for `mailprobe suggest`: one attempt each, in order.
    pub async fn survey(&self, account: &Account) -> Vec<Attempt> {
        let endpoint = &account.endpoint;
        let extra = Some(endpoint.port).filter(|p| {
            !followup::survey(endpoint.protocol, &endpoint.host, None)
                .iter()
                .any(|e| e.port == *p)
        });
        let candidates = followup::survey(endpoint.protocol, &endpoint.host, extra);
        if self.at_once {
            let attempts = candidates.iter().map(|c| self.follow_up(account, c));
            return join::join_all(attempts.collect()).await;
        }
        let mut attempts = Vec::new();
        for candidate in &candidates {
            attempts.push(self.follow_up(account, candidate).await);
        }
        attempts
    }

    /// Probes `account`, following up when it fails in transport (or at all
    /// on port 25, where a transparent proxy may answer). `control`
    /// names a server known to work (typically the ISP's own).
    pub async fn probe(&self, account: &Account, controls: &[String]) -> ProbeReport {
        if self.at_once {
            return self.probe_at_once(account, controls).await;
        }
        let configured = self
            .attempt(Purpose::Configured, &account.endpoint, Plan::Full(account))
            .await;
        let mut report = self
            .with_canary(account, self.without_follow_ups(configured))
            .await;
        let checks = self.after_configured(account, &report.configured).await;
        let mut fixed = checks.iter().any(|a| fixes(account, a));
        report.follow_ups.extend(checks);
        if fixed || !wants_follow_ups(account, &report.configured) {
            return report;
        }
        if let Some(check) = self.server_name_check(account, &report.configured).await {
            fixed = fixes(account, &check);
            report.follow_ups.push(check);
        }
        for endpoint in followup::alternatives(&account.endpoint) {
            if fixed || self.time_left().is_zero() {
                break;
            }
            let attempt = self.follow_up(account, &endpoint).await;
            fixed = fixes(account, &attempt);
            report.follow_ups.push(attempt);
        }
        let mut tried = Vec::new();
        for endpoint in control_endpoints(account, controls) {
            if self.time_left().is_zero() {
                break;
            }
            let attempt = self.attempt(Purpose::Control, &endpoint, Plan::Reach).await;
            let reached = attempt.reached_server();
            tried.push(attempt);
            if reached {
                break;
            }
        }
        report.control = best_control(tried);
        report
    }

    /// [`Prober::probe`] with the follow-ups and the control started beside
    /// the configured attempt once it fails or stays silent for
    /// [`FOLLOW_UP_GRACE`]; the same report as the sequential plan.
    async fn probe_at_once(&self, account: &Account, controls: &[String]) -> ProbeReport {
        // Follow-ups log in only after the configured attempt has ended (a
        // POP3 maildrop admits one session), then one at a time.
        let configured_turn = match &self.login_turn {
            Some(turn) => Some(turn.clone().lock_owned().await),
            None => None,
        };
        let configured = async {
            let attempt = self
                .attempt(Purpose::Configured, &account.endpoint, Plan::Full(account))
                .await;
            drop(configured_turn);
            attempt
        };
        tokio::pin!(configured);
        let early = tokio::select! {
            biased;
            attempt = &mut configured => Some(attempt),
            () = tokio::time::sleep(FOLLOW_UP_GRACE) => None,
        };
        if let Some(attempt) = early {
            let mut checks = self.after_configured(account, &attempt).await;
            if checks.iter().any(|a| fixes(account, a)) || !wants_follow_ups(account, &attempt) {
                let mut report = self.without_follow_ups(attempt);
                report.follow_ups = checks;
                return self.with_canary(account, report).await;
            }
            // The SNI check first: when it fixes the account, the other
            // settings are not tried, as in the sequential plan.
            checks.extend(self.server_name_check(account, &attempt).await);
            let fixed = checks.iter().any(|c| fixes(account, c));
            let (follow_ups, control) = self.the_rest(account, controls, !fixed).await;
            return self
                .finish_at_once(account, attempt, checks, follow_ups, control)
                .await;
        }
        let rest = self.the_rest(account, controls, true);
        tokio::pin!(rest);
        let mut finished_rest = None;
        let attempt = loop {
            tokio::select! {
                biased;
                attempt = &mut configured => break attempt,
                done = &mut rest, if finished_rest.is_none() => finished_rest = Some(done),
            }
        };
        let mut checks = self.after_configured(account, &attempt).await;
        if checks.iter().any(|a| fixes(account, a)) || !wants_follow_ups(account, &attempt) {
            // Worked after all, or failed where other ports tell nothing.
            let mut report = self.without_follow_ups(attempt);
            report.follow_ups = checks;
            return self.with_canary(account, report).await;
        }
        let rest = async {
            match finished_rest {
                Some(done) => done,
                None => rest.await,
            }
        };
        let (check, (follow_ups, control)) =
            tokio::join!(self.server_name_check(account, &attempt), rest);
        checks.extend(check);
        self.finish_at_once(account, attempt, checks, follow_ups, control)
            .await
    }

    /// Every follow-up (unless `follow_ups` is false) and control attempt, at once.
    async fn the_rest(
        &self,
        account: &Account,
        controls: &[String],
        follow_ups: bool,
    ) -> (Vec<Attempt>, Option<Attempt>) {
        let endpoints = match follow_ups {
            true => followup::alternatives(&account.endpoint),
            false => Vec::new(),
        };
        let follow_ups = join::join_all(
            endpoints
                .iter()
                .map(|endpoint| self.follow_up(account, endpoint))
                .collect(),
        );
        let endpoints = control_endpoints(account, controls);
        let control = join::join_all(
            endpoints
                .iter()
                .map(|endpoint| self.attempt(Purpose::Control, endpoint, Plan::Reach))
                .collect(),
        );
        let (follow_ups, controls) = tokio::join!(follow_ups, control);
        (follow_ups, best_control(controls))
    }

    /// The report of a probe run at once, cut like the sequential plan:
    /// follow-ups after the first that fixed the account are left out.
    async fn finish_at_once(
        &self,
        account: &Account,
        configured: Attempt,
        checks: Vec<Attempt>,
        follow_ups: Vec<Attempt>,
        control: Option<Attempt>,
    ) -> ProbeReport {
        let mut report = self.without_follow_ups(configured);
        let mut fixed = false;
        for check in checks {
            fixed |= fixes(account, &check);
            report.follow_ups.push(check);
        }
        for attempt in follow_ups {
            if fixed {
                break;
            }
            fixed = fixes(account, &attempt);
            report.follow_ups.push(attempt);
        }
        report.control = control;
        self.with_canary(account, report).await
    }

    fn without_follow_ups(&self, configured: Attempt) -> ProbeReport {
        ProbeReport {
            configured,
            follow_ups: Vec::new(),
            control: None,
            canary: None,
        }
    }

    /// Asks for the canary name when reaching the server failed.
    async fn with_canary(&self, account: &Account, mut report: ProbeReport) -> ProbeReport {
        let transport = report
            .configured
            .failure()
            .is_some_and(|(step, _)| step.is_transport());
        if transport && may_ask_for_canary(&account.endpoint.host) {
            let lookup = self.network.resolve(CANARY_NAME);
            report.canary = tokio::time::timeout(self.time_left(), lookup)
                .await
                .ok()
                .and_then(Result::ok)
                .map(|addresses| addresses.iter().map(|a| a.to_string()).collect());
        }
        report
    }

    /// The checks the configured attempt's end calls for before any other
    /// setting: a new connection after a refused login (a ban), the
    /// server's own greeting and EHLO where a local proxy answered or a
    /// plaintext EHLO hid PIPELINING, or a
    /// POP-before-SMTP login. Nothing when none applies.
    async fn after_configured(&self, account: &Account, configured: &Attempt) -> Vec<Attempt> {
        let login_refused = matches!(
            configured.failure(),
            Some((
                Step::Auth | Step::User | Step::Pass,
                Failure::Reply { .. } | Failure::PopError { .. } | Failure::ImapError { .. }
            ))
        );
        if login_refused && !self.time_left().is_zero() {
            let again = self
                .attempt(Purpose::AfterRefusedLogin, &account.endpoint, Plan::Reach)
                .await;
            return vec![again];
        }
        // A session answered from this machine: what the server itself says
        // where a local proxy cannot read (its implicit-TLS port).
        // So is a plaintext session whose EHLO hides PIPELINING, which a
        // proxy that holds messages leaves out: after STARTTLS on the same
        // port where it offers that, else on the implicit-TLS port.
        let endpoint = &account.endpoint;
        let plain_ehlo = configured.ehlo_keywords().into_iter().next();
        let without_pipelining = endpoint.security == Security::None
            && plain_ehlo
                .as_ref()
                .is_some_and(|(_, keywords)| !smtp::offers(keywords, "PIPELINING"));
        let local_greeting = configured.greeted_from_this_machine();
        if configured.is_ok()
            && (local_greeting || without_pipelining)
            && endpoint.security != Security::Tls
            && !self.time_left().is_zero()
        {
            let starttls_here =
                plain_ehlo.is_some_and(|(_, keywords)| smtp::offers(&keywords, "STARTTLS"));
            let mut checks = Vec::new();
            for own in unreadable_by_a_proxy(endpoint, local_greeting, starttls_here) {
                let check = self
                    .attempt(Purpose::ServerOwnGreeting, &own, Plan::Reach)
                    .await;
                let answered = check.ehlo_keywords().iter().any(|(tls, _)| *tls);
                checks.push(check);
                if answered || self.time_left().is_zero() {
                    break;
                }
            }
            return checks;
        }
        self.after_pop3_login(account, configured).await
    }

    /// For an SMTP account whose recipient was refused, of a client that
    /// also receives over POP3: a POP3 login, then the configured setting
    /// again. Nothing when it does not apply.
    async fn after_pop3_login(&self, account: &Account, configured: &Attempt) -> Vec<Attempt> {
        let Some(receiving) = &self.receiving else {
            return Vec::new();
        };
        let refused = matches!(
            configured.failure(),
            Some((
                Step::RcptTo,
                Failure::Reply {
                    code: 500..=599,
                    ..
                }
            ))
        );
        if account.endpoint.protocol != Protocol::Smtp || !refused || self.time_left().is_zero() {
            return Vec::new();
        }
        let login = self
            .attempt(
                Purpose::AfterPop3Login,
                &receiving.endpoint,
                Plan::Full(receiving),
            )
            .await;
        if !login.is_ok() {
            return vec![login];
        }
        let again = self
            .attempt(
                Purpose::AfterPop3Login,
                &account.endpoint,
                Plan::Full(account),
            )
            .await;
        vec![login, again]
    }

    /// For an emulated client that names no server in TLS (SNI), and whose
    /// configured attempt had the certificate refused: the same setting
    /// again, naming the server. A shared server shows a site's own
    /// certificate only to clients that name the site.
    async fn server_name_check(&self, account: &Account, configured: &Attempt) -> Option<Attempt> {
        let refused = matches!(
            configured.failure(),
            Some((Step::TlsHandshake, Failure::Tls(TlsFailure::Certificate(_))))
        );
        if self.tls.sends_sni() || !refused || self.time_left().is_zero() {
            return None;
        }
        Some(
            self.attempt(Purpose::ServerName, &account.endpoint, Plan::Full(account))
                .await,
        )
    }

    /// Tries `account` on another setting, withholding credentials where
    /// the setting is weaker than the account's.
    async fn follow_up(&self, account: &Account, endpoint: &Endpoint) -> Attempt {
        let (plan, withheld) = Plan::for_account(account, endpoint);
        self.attempt_noting(Purpose::FollowUp, endpoint, plan, withheld)
            .await
    }

    async fn attempt(&self, purpose: Purpose, endpoint: &Endpoint, plan: Plan<'_>) -> Attempt {
        self.attempt_noting(purpose, endpoint, plan, None).await
    }

    async fn attempt_noting(
        &self,
        purpose: Purpose,
        endpoint: &Endpoint,
        plan: Plan<'_>,
        withheld: Option<String>,
    ) -> Attempt {
        let mut recorder = Recorder::new(self.origin)
            .telling(self.progress.clone(), purpose, endpoint)
            .keeping(self.journal.as_ref(), purpose, endpoint);
        if let Some(reason) = withheld {
            recorder.record(EventKind::Withheld(reason));
        }
        // The configured attempt never waits its turn to log in: it holds
        // the turn until it ends (see `probe_at_once`).
        let turn = self
            .login_turn
            .clone()
            .filter(|_| purpose != Purpose::Configured);
        let named;
        let tls = if purpose == Purpose::ServerName {
            named = self.tls.with_sni();
            &named
        } else {
            &self.tls
        };
        let conversing = self.converse(&mut recorder, tls, endpoint, plan, turn);
        let outcome = tokio::time::timeout(self.time_left(), conversing).await;
        let result = outcome.unwrap_or_else(|_| {
            let deadline = self.timeouts.deadline;
            Err((recorder.step(), Failure::DeadlineExceeded { deadline }))
        });
        recorder.finish(purpose, endpoint.clone(), result)
    }

    async fn converse(
        &self,
        recorder: &mut Recorder,
        tls: &tls::TlsClient,
        endpoint: &Endpoint,
        plan: Plan<'_>,
        login_turn: Option<Arc<tokio::sync::Mutex<()>>>,
    ) -> Result<(), (Step, Failure)> {
        if let (Some(version), Security::Tls | Security::StartTls) =
            (self.legacy, endpoint.security)
        {
            self.legacy_hello(recorder, endpoint, version).await?;
        }
        let stream = self.open(recorder, endpoint).await?;
        let wire = Wire::new(stream, self.timeouts.reply, self.received.clone());
        let mut conversation = Conversation::new(wire, recorder).logging_in_turn(login_turn);
        let result = self.dialog(&mut conversation, tls, endpoint, plan).await;
        conversation.close().await;
        result
    }

    /// Secures an implicit-TLS connection and runs the protocol's dialog.
    async fn dialog(
        &self,
        conversation: &mut Conversation<'_>,
        tls: &tls::TlsClient,
        endpoint: &Endpoint,
        plan: Plan<'_>,
    ) -> Result<(), (Step, Failure)> {
        if endpoint.security == Security::Tls {
            conversation.start_tls(tls, self.tls_name(endpoint)).await?;
        }
        let account = match plan {
            Plan::Full(account) => Some(account),
            Plan::Reach => None,
        };
        let credentials = account.and_then(|a| a.credentials.clone());
        let host = self.tls_name(endpoint);
        match endpoint.protocol {
            Protocol::Smtp => {
                let envelope = account.map(|a| smtp::Envelope {
                    from: a.from.clone(),
                    rcpt: a.rcpt.clone(),
                    size: a.message_size,
                });
                let dialog = smtp::SmtpDialog::new(
                    &self.client_name,
                    endpoint.security,
                    credentials,
                    envelope,
                );
                dialog::drive(conversation, tls, host, dialog).await
            }
            Protocol::Pop3 => {
                let dialog =
                    pop3::Pop3Dialog::new(endpoint.security, credentials, account.is_some());
                dialog::drive(conversation, tls, host, dialog).await
            }
            Protocol::Imap => {
                let dialog =
                    imap::ImapDialog::new(endpoint.security, credentials, account.is_some());
                dialog::drive(conversation, tls, host, dialog).await
            }
        }
    }

    /// An old client's ClientHello on its own connection, and the server's
    /// first answer: a refusal fails the attempt at the handshake. On a
    /// STARTTLS port the connection first says what the client says up to
    /// STARTTLS (no credentials).
    async fn legacy_hello(
        &self,
        recorder: &mut Recorder,
        endpoint: &Endpoint,
        version: legacy::LegacyTls,
    ) -> Result<(), (Step, Failure)> {
        let mut stream = self.open(recorder, endpoint).await?;
        if endpoint.security == Security::Tls {
            return legacy::say_hello(&mut stream, recorder, version, self.timeouts.reply).await;
        }
        let wire = Wire::new(stream, self.timeouts.reply, self.received.clone());
        let mut conversation = Conversation::new(wire, recorder).offering_at_most(version);
        let result = self
            .dialog(&mut conversation, &self.tls, endpoint, Plan::Reach)
            .await;
        conversation.close().await;
        result
    }

    /// Resolves and connects, recording both.
    async fn open(
        &self,
        recorder: &mut Recorder,
        endpoint: &Endpoint,
    ) -> Result<crate::net::NetStream, (Step, Failure)> {
        recorder.enter(Step::Resolve);
        let lookup = self.network.resolve(&endpoint.host);
        let addresses = match tokio::time::timeout(self.timeouts.connect, lookup).await {
            Ok(Ok(addresses)) => addresses,
            Ok(Err(error)) => return Err((Step::Resolve, resolve_failure(&error))),
            Err(_) => return Err((Step::Resolve, Failure::NoDnsAnswer)),
        };
        recorder.record(EventKind::Resolved(
            addresses.iter().map(|a| a.to_string()).collect(),
        ));
        recorder.enter(Step::Connect);
        // Every address in turn, as clients fall back from IPv6 to IPv4.
        let mut last = Failure::Refused;
        for (index, ip) in addresses.iter().enumerate() {
            let address = SocketAddr::new(*ip, endpoint.port);
            let connect = self.network.connect(address);
            let failure = match tokio::time::timeout(self.timeouts.connect, connect).await {
                Err(_) => Failure::TimedOut {
                    waited: self.timeouts.connect,
                    partial: Vec::new(),
                    silent: self.timeouts.connect,
                },
                Ok(Err(error)) => connect_failure(error),
                Ok(Ok(stream)) => {
                    recorder.record(EventKind::Connected(address.to_string()));
                    return Ok(stream);
                }
            };
            if index + 1 < addresses.len() {
                recorder.record(EventKind::ConnectFailed {
                    address: address.to_string(),
                    failure: failure.clone(),
                });
            }
            last = failure;
        }
        Err((Step::Connect, last))
    }
}

/// Whether the configured attempt's outcome calls for follow-ups: it failed
/// in reaching or securing the server (not at resolving it), or at all on
/// SMTP port 25, where a transparent proxy may have answered.
fn wants_follow_ups(account: &Account, configured: &Attempt) -> bool {
    let Some((step, _)) = configured.failure() else {
        return false;
    };
    let redirect_suspected =
        account.endpoint.protocol == Protocol::Smtp && account.endpoint.port == 25;
    step != Step::Resolve && (step.is_transport() || redirect_suspected)
}

/// Where to hear the server's own greeting and EHLO, in order, where a
/// local proxy on the configured port cannot read: its implicit-TLS port
/// (where the proxy answered the session itself, only there); for a proxy
/// that relays, first STARTTLS on the same port when it offers that, then
/// the implicit-TLS port, then submission with STARTTLS.
fn unreadable_by_a_proxy(
    endpoint: &Endpoint,
    local_greeting: bool,
    starttls_here: bool,
) -> Vec<Endpoint> {
    let implicit = Endpoint {
        port: endpoint.protocol.default_port(Security::Tls),
        security: Security::Tls,
        ..endpoint.clone()
    };
    if local_greeting {
        return vec![implicit];
    }
    let submission = Endpoint {
        port: endpoint.protocol.default_port(Security::StartTls),
        security: Security::StartTls,
        ..endpoint.clone()
    };
    let here = Endpoint {
        security: Security::StartTls,
        ..endpoint.clone()
    };
    let mut places = Vec::new();
    if starttls_here {
        places.push(here);
    }
    places.push(implicit);
    if endpoint.port != submission.port {
        places.push(submission);
    }
    places
}

/// Whether a follow-up fixed the account: it worked with security at
/// least as strong. A weaker mode that works is evidence, not a fix, and so
/// is a connection after a refused login, which does not log in.
fn fixes(account: &Account, attempt: &Attempt) -> bool {
    !matches!(
        attempt.purpose,
        Purpose::AfterRefusedLogin | Purpose::ServerOwnGreeting
    ) && attempt.is_ok()
        && attempt
            .endpoint
            .security
            .at_least_as_secure_as(account.endpoint.security)
}

/// The control hosts' endpoints: the account's port and security there.
fn control_endpoints(account: &Account, controls: &[String]) -> Vec<Endpoint> {
    controls
        .iter()
        .filter(|h| !h.eq_ignore_ascii_case(&account.endpoint.host))
        .map(|host| Endpoint {
            host: host.clone(),
            ..account.endpoint.clone()
        })
        .collect()
}

/// The control attempt that tells most: the first, in order, that reached
/// its server; else the last tried.
fn best_control(tried: Vec<Attempt>) -> Option<Attempt> {
    let reached = tried.iter().position(Attempt::reached_server);
    let mut tried = tried;
    match reached {
        Some(index) => Some(tried.swap_remove(index)),
        None => tried.pop(),
    }
}

/// Whether `host` is an IP address (`192.0.2.1`, `::1`, `[::1]`) rather
/// than a name: it has no DNS entry, no mail domain, no portal to find.
pub fn is_address(host: &str) -> bool {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_ok()
}

/// Whether looking up the canary name may tell something: not when the
/// account's host is an address or a loopback name, where no portal sits
/// between the client and the server (and no query should leave the host).
fn may_ask_for_canary(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    !(is_address(&host) || host == "localhost" || host.ends_with(".localhost"))
}

/// How a lookup failed, by the error kind every [`Network`] uses for it.
fn resolve_failure(error: &std::io::Error) -> Failure {
    match error.kind() {
        std::io::ErrorKind::NotFound => Failure::NameNotFound,
        std::io::ErrorKind::NetworkUnreachable => Failure::NetworkUnreachable,
        _ => Failure::NoDnsAnswer,
    }
}

fn connect_failure(error: std::io::Error) -> Failure {
    match error.kind() {
        std::io::ErrorKind::ConnectionRefused => Failure::Refused,
        std::io::ErrorKind::HostUnreachable => Failure::HostUnreachable,
        std::io::ErrorKind::NetworkUnreachable => Failure::NetworkUnreachable,
        std::io::ErrorKind::ConnectionReset => Failure::Reset,
        std::io::ErrorKind::TimedOut => Failure::TimedOut {
            waited: Duration::ZERO,
            partial: Vec::new(),
            silent: Duration::ZERO,
        },
        _ => Failure::Io(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(security: Security, credentials: bool) -> Account {
        Account {
            endpoint: Endpoint {
                protocol: Protocol::Smtp,
                host: "mx.example".into(),
                port: 587,
                security,
            },
            credentials: credentials.then(|| Credentials {
                user: "taro".into(),
                password: "hunter2".into(),
            }),
            from: "taro@example.test".into(),
            rcpt: "x@outside.example".into(),
            message_size: None,
        }
    }

    fn on(security: Security) -> Endpoint {
        Endpoint {
            protocol: Protocol::Smtp,
            host: "mx.example".into(),
            port: 25,
            security,
        }
    }

    #[test]
    fn credentials_only_over_connections_as_protected_as_the_account() {
        use Security::*;
        for (wanted, tried, full) in [
            (StartTls, None, false),
            (Tls, None, false),
            (StartTls, Tls, true),
            (Tls, StartTls, true),
            (None, None, true),
            (None, Tls, true),
        ] {
            let account = account(wanted, true);
            let (plan, withheld) = Plan::for_account(&account, &on(tried));
            assert_eq!(
                matches!(plan, Plan::Full(_)),
                full,
                "{wanted:?} on {tried:?}"
            );
            assert_eq!(withheld.is_none(), full);
        }
        let (_, withheld) = Plan::for_account(&account(Tls, true), &on(None));
        let reason = withheld.unwrap_or_default();
        assert!(reason.starts_with("credentials withheld"), "{reason}");
        assert!(reason.contains("security=tls"), "{reason}");
    }

    #[test]
    fn values_that_would_split_a_command_are_refused() {
        assert!(account(Security::None, true).check_wire_values().is_ok());
        let mut smuggled = account(Security::None, true);
        smuggled.credentials = Some(Credentials {
            user: "taro".into(),
            password: "pw\r\nDELE 1".into(),
        });
        let error = smuggled.check_wire_values().unwrap_err();
        assert_eq!((error.field, error.position), ("password", 3));
        assert!(!error.to_string().contains("DELE"), "{error}");
        let mut smuggled = account(Security::None, false);
        smuggled.from = "a@b.example> BODY=8BITMIME".into();
        assert_eq!(smuggled.check_wire_values().unwrap_err().what, "'>'");
        smuggled.from = "a@b.example".into();
        smuggled.rcpt = "x@y.example\0".into();
        assert_eq!(smuggled.check_wire_values().unwrap_err().field, "rcpt");
    }

    #[test]
    fn no_canary_lookup_for_addresses_and_loopback_names() {
        for host in ["127.0.0.1", "::1", "[::1]", "localhost", "mail.localhost."] {
            assert!(!may_ask_for_canary(host), "{host}");
        }
        assert!(may_ask_for_canary("smtp.example.com"));
    }
}
