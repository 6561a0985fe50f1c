//! The scenario file format, as serde types. Unknown keys are errors.
//!
//! ```yaml
//! name: OP25B behind a local mail scanner
//! clock: 2007-01-08T07:15:42+09:00
//! world:
//!   hosts:
//!     smtp.other.example:
//!       smtp: { ports: { 25: plain, 587: starttls }, auth: [PLAIN, LOGIN] }
//!   users:
//!     - { user: taro, password: hunter2, address: taro@other.example }
//!   network:
//!     local: [ { port: [25, 110], intercept: mail-scanner } ]
//!     isp:   [ { port: 25, action: drop } ]
//! client:
//!   smtp: { host: smtp.other.example, port: 25, security: none, user: taro, password: hunter2 }
//! expect:
//!   smtp: { outcome: fail, client_error: "0x800CCC0F", diagnosis: outbound-port-25-blocked }
//!   suggest: { port: 587, security: starttls }
//! ```

#[cfg(feature = "schema")]
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use indexmap::IndexMap;
#[cfg(feature = "schema")]
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer, IntoDeserializer, SeqAccess, Visitor};
use serde::Deserialize;
#[cfg(feature = "schema")]
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A one-line title.
    pub name: String,
    /// What happened, for people.
    #[serde(default)]
    pub story: String,
    /// The world's wall clock at the start (RFC 3339); certificates are
    /// checked against it.
    #[serde(default)]
    pub clock: Option<Clock>,
    /// Skip this scenario, with the reason.
    #[serde(default)]
    pub ignore: Option<String>,
    /// The simulated world.
    pub world: World,
    /// The client of a single-probe scenario.
    #[serde(default)]
    pub client: Option<ClientSpec>,
    /// The expectations of a single-probe scenario.
    #[serde(default)]
    pub expect: Option<Expectations>,
    /// Several probes against the same world, in order.
    #[serde(default)]
    pub probes: Vec<ProbeSpec>,
    /// A transcript file (relative to the scenario file) the replay must
    /// reproduce byte for byte; `mailprobe run --bless` writes it.
    #[serde(default)]
    pub snapshot: Option<String>,
}

/// One probe of a multi-probe scenario.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ProbeSpec {
    /// Its name, e.g. "as configured" or "after the fix".
    pub name: String,
    /// The client's settings.
    pub client: ClientSpec,
    /// What the probe must conclude.
    #[serde(default)]
    pub expect: Expectations,
}

/// A port number, 1 to 65535. A number out of range is an error in the
/// file's words: "expected a port number (1-65535)".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port(pub u16);

impl Port {
    /// The number.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl std::fmt::Display for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl PartialEq<u16> for Port {
    fn eq(&self, other: &u16) -> bool {
        self.0 == *other
    }
}

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PortVisitor;

        impl Visitor<'_> for PortVisitor {
            type Value = Port;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a port number (1-65535)")
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Port, E> {
                match u16::try_from(value) {
                    Ok(port) if port > 0 => Ok(Port(port)),
                    _ => Err(E::custom(format!(
                        "expected a port number (1-65535), not {value}"
                    ))),
                }
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Port, E> {
                match u64::try_from(value) {
                    Ok(value) => self.visit_u64(value),
                    Err(_) => Err(E::custom(format!(
                        "expected a port number (1-65535), not {value}"
                    ))),
                }
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Port, E> {
                match value.trim().parse::<u64>() {
                    Ok(number) => self.visit_u64(number),
                    Err(_) => Err(E::custom(format!(
                        "expected a port number (1-65535), not {value:?}"
                    ))),
                }
            }
        }

        deserializer.deserialize_any(PortVisitor)
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for Port {
    fn schema_name() -> Cow<'static, str> {
        "Port".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A port number (1-65535)",
            "type": "integer",
            "minimum": 1,
            "maximum": 65535
        })
    }
}

/// An RFC 3339 instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock(pub OffsetDateTime);

impl Clock {
    /// The years a clock may name: certificates valid around it must be
    /// expressible (after 1970, before the end of X.509's GeneralizedTime
    /// with margin).
    pub const YEARS: std::ops::RangeInclusive<i32> = 1971..=9000;
}

impl<'de> Deserialize<'de> for Clock {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let clock = OffsetDateTime::parse(&text, &Rfc3339).map_err(|_| {
            de::Error::custom(format!(
                "invalid clock {text:?}: expected an RFC 3339 time such as 2007-01-08T07:15:42+09:00"
            ))
        })?;
        if !Clock::YEARS.contains(&clock.year()) {
            return Err(de::Error::custom(format!(
                "clock {text:?} is out of range: use a time from {} to {} (certificates are made valid around it)",
                Clock::YEARS.start(),
                Clock::YEARS.end()
            )));
        }
        Ok(Clock(clock))
    }
}

/// Hosts, users and the network path.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct World {
    /// Hosts by name, in order (addresses are given in this order).
    #[serde(default)]
    pub hosts: IndexMap<String, HostSpec>,
    /// Mail accounts.
    #[serde(default)]
    pub users: Vec<UserSpec>,
    /// Layers from the client outward, each a list of first-match rules.
    #[serde(default)]
    pub network: IndexMap<String, Vec<RuleSpec>>,
    /// Give every host an IPv6 address too (it resolves IPv6 first).
    #[serde(default)]
    pub ipv6: bool,
    /// DNS answers that differ from the hosts' own: `name: host`, or
    /// `"*": host` for a resolver that answers every name (a captive portal).
    #[serde(default)]
    pub dns: IndexMap<String, String>,
    /// The client's resolver: `answers` (the default), `down` (never
    /// answers), or `fails` (SERVFAIL at once).
    #[serde(default)]
    pub resolver: ResolverSpec,
    /// Public roots besides the world's own, by name, for hosts whose
    /// `certificate: { issuer: NAME }` chains to them. Current clients trust
    /// them, unless `distrusted: true` (removed from current trust stores);
    /// a client of another era lists the roots it has in `client.trust`.
    #[serde(default)]
    pub roots: Vec<RootSpec>,
}

/// A public root certificate authority of the world.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RootSpec {
    /// Its name (the certificate's common name), e.g. `ISRG Root X1`.
    pub name: String,
    /// Removed from current trust stores (as Symantec's roots in 2018 and
    /// TrustCor's in 2022 were): only clients that list it in `trust` still
    /// accept certificates it issued.
    #[serde(default)]
    pub distrusted: bool,
}

/// How the client's DNS resolver behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ResolverSpec {
    /// It answers.
    #[default]
    Answers,
    /// It never answers (the client's timeout).
    Down,
    /// It answers SERVFAIL at once.
    Fails,
}

/// fail2ban's jail settings, by its own names.
#[derive(Debug, Clone, Copy, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Fail2banSpec {
    /// Failed logins that ban (fail2ban's default: 5).
    #[serde(default = "default_maxretry")]
    pub maxretry: u32,
    /// The window they must fall within (default 600s).
    #[serde(default = "default_ban_window")]
    pub findtime: Seconds,
    /// How long the ban lasts (default 600s).
    #[serde(default = "default_ban_window")]
    pub bantime: Seconds,
    /// `reject` (default: refused, as iptables REJECT) or `drop` (ignored).
    #[serde(default)]
    pub action: BanAction,
}

fn default_maxretry() -> u32 {
    5
}

fn default_ban_window() -> Seconds {
    Seconds(std::time::Duration::from_secs(600))
}

/// What a ban does to the banned address's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum BanAction {
    /// Refused at once.
    #[default]
    Reject,
    /// Never answered.
    Drop,
}

/// A host and the servers it runs.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    /// Mail domains this host serves; default: its name without the first label.
    #[serde(default)]
    pub domains: Vec<String>,
    /// An SMTP server.
    #[serde(default)]
    pub smtp: Option<SmtpSpec>,
    /// A POP3 server.
    #[serde(default)]
    pub pop3: Option<Pop3Spec>,
    /// An IMAP server.
    #[serde(default)]
    pub imap: Option<ImapSpec>,
    /// A web server (a captive portal's login page): answers anything with a
    /// redirect, over TLS on `tls` ports.
    #[serde(default)]
    pub web: Option<WebSpec>,
    /// The host's certificate, when it is not a valid one from the world's CA.
    #[serde(default)]
    pub certificate: Option<CertificateSpec>,
    /// A ban after failed logins (fail2ban): `maxretry` failures to the
    /// host's servers within `findtime` ban the client's address for
    /// `bantime`; its connections are then refused (`action: reject`,
    /// fail2ban's default) or ignored (`drop`).
    #[serde(default)]
    pub fail2ban: Option<Fail2banSpec>,
    /// The certificate for clients that send no server name (SNI): a shared
    /// server's default, such as `{ names: [server1.hosting.example] }`.
    /// Clients that send the name get the host's own certificate.
    #[serde(default)]
    pub without_sni: Option<CertificateSpec>,
    /// The host speaks only TLS 1.0: modern clients get a protocol_version alert.
    #[serde(default)]
    pub legacy_tls: bool,
    /// The host offers only cipher suites current clients refuse (export,
    /// RC4, 3DES, Diffie-Hellman under 1024 bits after Logjam): modern
    /// clients get a handshake_failure alert.
    #[serde(default)]
    pub weak_tls: bool,
    /// Give this host an IPv6 address too.
    #[serde(default)]
    pub ipv6: bool,
}

/// A web server.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct WebSpec {
    /// Listening ports and their modes (`plain` or `tls`).
    #[cfg_attr(feature = "schema", schemars(schema_with = "port_map_schema"))]
    pub ports: BTreeMap<Port, PortMode>,
}

/// How a host's certificate is wrong.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CertificateSpec {
    /// Names in the certificate, instead of the host's own.
    #[serde(default)]
    pub names: Option<Vec<String>>,
    /// Expired a month before the scenario's clock.
    #[serde(default)]
    pub expired: bool,
    /// Issued by a root of this name that clients do not trust.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Signed by its own key (no CA at all).
    #[serde(default)]
    pub self_signed: bool,
    /// Issued by the world's intermediate CA rather than its root: `sent`,
    /// the server sends the intermediate with its own certificate, as it
    /// should; `missing`, it sends its own alone, and clients that do not
    /// already have the intermediate cannot link it to the root.
    #[serde(default)]
    pub intermediate: Option<IntermediateSpec>,
}

/// Whether a server sends the intermediate certificate its own chains through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum IntermediateSpec {
    /// Sent along with the server's certificate.
    Sent,
    /// Left out: the chain the server presents is incomplete.
    Missing,
}

/// How a server port protects its transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum PortMode {
    /// Plaintext only.
    #[serde(alias = "none")]
    Plain,
    /// Plaintext with STARTTLS/STLS offered.
    #[serde(alias = "stls")]
    Starttls,
    /// Implicit TLS.
    #[serde(alias = "ssl")]
    Tls,
}

impl PortMode {
    /// `plain`, `starttls` or `tls`, as in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            PortMode::Plain => "plain",
            PortMode::Starttls => "starttls",
            PortMode::Tls => "tls",
        }
    }
}

/// An SMTP server.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SmtpSpec {
    /// Listening ports and their modes.
    #[cfg_attr(feature = "schema", schemars(schema_with = "port_map_schema"))]
    pub ports: BTreeMap<Port, PortMode>,
    /// SASL mechanisms advertised (PLAIN and LOGIN work; others such as
    /// CRAM-MD5 are advertised only).
    #[serde(default = "default_auth")]
    pub auth: Vec<String>,
    /// The relay policy.
    #[serde(default)]
    pub relay: Relay,
    /// AUTH before STARTTLS: `offered`, `hidden` (530 5.7.0) or
    /// `encryption-required` (538 5.7.11).
    #[serde(default)]
    pub auth_before_tls: AuthBeforeTlsSpec,
    /// MAIL FROM must be the logged-in user's address (553 5.7.1).
    #[serde(default)]
    pub sender_must_match_login: bool,
    /// Accept non-ASCII addresses (SMTPUTF8).
    #[serde(default)]
    pub smtputf8: bool,
    /// The SIZE limit in bytes (default 10 MiB).
    #[serde(default)]
    pub max_size: Option<usize>,
    /// A greeting instead of 220, e.g. "421 4.7.0 Too many connections".
    #[serde(default)]
    pub greeting: Option<String>,
    /// A delay before the greeting (a tarpit).
    #[serde(default)]
    pub greeting_delay: Option<Seconds>,
    /// A reply to every AUTH with the right password instead of 235, e.g.
    /// `"534 5.7.9 Application-specific password required"`.
    #[serde(default)]
    pub refuse_logins: Option<String>,
    /// A reply to every RCPT TO of a session that has not logged in, e.g.
    /// `"550 5.7.1 Service unavailable; client [192.0.2.10] blocked using
    /// zen.spamhaus.org"`: a block list that authenticated clients skip.
    #[serde(default)]
    pub refuse_unauthenticated: Option<String>,
    /// POP-before-SMTP: relaying without AUTH is allowed for this long
    /// after a POP3 login from the client's address (e.g. `600s`); before
    /// it, `554 5.7.1 Relay access denied`. Such servers often offer no
    /// AUTH at all (`auth: []`).
    #[serde(default)]
    pub pop_before_smtp: Option<Seconds>,
}

fn default_auth() -> Vec<String> {
    vec!["PLAIN".into(), "LOGIN".into()]
}

/// AUTH before STARTTLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum AuthBeforeTlsSpec {
    /// Advertised and accepted.
    #[default]
    Offered,
    /// Not advertised; 530 5.7.0.
    Hidden,
    /// Advertised; 538 5.7.11.
    EncryptionRequired,
}

/// Who may relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Relay {
    /// Outside recipients only after AUTH.
    #[default]
    AuthOnly,
    /// MAIL needs AUTH.
    AuthRequired,
    /// Anyone, anywhere.
    Open,
}

/// A POP3 server.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Pop3Spec {
    /// Listening ports and their modes.
    #[cfg_attr(feature = "schema", schemars(schema_with = "port_map_schema"))]
    pub ports: BTreeMap<Port, PortMode>,
    /// Refuse USER for unknown accounts at once.
    #[serde(default)]
    pub reject_unknown_users: bool,
    /// A greeting instead of +OK, e.g. "-ERR [SYS/TEMP] too many connections".
    #[serde(default)]
    pub greeting: Option<String>,
    /// A delay before the greeting.
    #[serde(default)]
    pub greeting_delay: Option<Seconds>,
    /// The `-ERR` text for every PASS with the right password, e.g.
    /// `"[AUTH] Application-specific password required"`.
    #[serde(default)]
    pub refuse_logins: Option<String>,
    /// How the server lets clients log in, as CAPA lists it: `USER` for
    /// USER/PASS, and SASL mechanisms (`XOAUTH2`, `OAUTHBEARER`: listed,
    /// then refused). Default `[USER]`; `[XOAUTH2, OAUTHBEARER]` is a server
    /// that signs in with OAuth only.
    #[serde(default = "default_pop3_auth")]
    pub auth: Vec<String>,
    /// The least time between two logins to one maildrop (RFC 2449
    /// LOGIN-DELAY, e.g. `900s`): listed in CAPA, and a login sooner than
    /// that after the last gets `-ERR [LOGIN-DELAY]`.
    #[serde(default)]
    pub login_delay: Option<Seconds>,
    /// Sessions one user may hold at once, other clients' included (Dovecot's
    /// `mail_max_userip_connections`); one more login gets
    /// `-ERR [IN-USE] Maximum number of connections ...`.
    #[serde(default)]
    pub max_user_connections: Option<u32>,
}

fn default_pop3_auth() -> Vec<String> {
    vec!["USER".to_string()]
}

/// An IMAP server (read-only INBOX of the world's mailboxes).
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ImapSpec {
    /// Listening ports and their modes (143: starttls, 993: tls).
    #[cfg_attr(feature = "schema", schemars(schema_with = "port_map_schema"))]
    pub ports: BTreeMap<Port, PortMode>,
    /// SASL mechanisms advertised as AUTH=; PLAIN and LOGIN work, others
    /// (XOAUTH2, OAUTHBEARER) are advertised and refused.
    #[serde(default = "default_auth")]
    pub auth: Vec<String>,
    /// Advertise LOGINDISABLED and refuse logins until STARTTLS
    /// (`NO [PRIVACYREQUIRED]`).
    #[serde(default)]
    pub login_disabled: bool,
    /// A greeting instead of `* OK`: `"BYE [UNAVAILABLE] ..."` refuses the
    /// connection, `"OK text"` changes the text.
    #[serde(default)]
    pub greeting: Option<String>,
    /// A delay before the greeting.
    #[serde(default)]
    pub greeting_delay: Option<Seconds>,
    /// Refuse every login with the right password with this text after
    /// `NO`, e.g. `"[ALERT] Application-specific password required"`.
    #[serde(default)]
    pub refuse_logins: Option<String>,
    /// Sessions one user may hold at once, other clients' included (Gmail
    /// allows 15, Dovecot's `mail_max_userip_connections` is 10 by default);
    /// one more login gets `NO [LIMIT] Maximum number of connections ...`.
    #[serde(default)]
    pub max_user_connections: Option<u32>,
}

/// A mail account.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    /// Login name.
    pub user: String,
    /// Password.
    pub password: String,
    /// Mail address; its domain decides which servers serve the account.
    pub address: String,
    /// Messages already in the mailbox.
    #[serde(default)]
    pub mailbox: Vec<MessageSpec>,
    /// Another client holds the POP3 maildrop lock.
    #[serde(default)]
    pub mailbox_locked: bool,
    /// Sessions this user's other clients (a phone, a tablet, a second PC)
    /// hold open on the world's POP3 and IMAP servers; with the server's
    /// `max_user_connections`, one more is refused.
    #[serde(default)]
    pub open_sessions: u32,
}

/// A message in a mailbox.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MessageSpec {
    /// Sender address.
    #[serde(default)]
    pub from: Option<String>,
    /// Subject.
    pub subject: String,
    /// Body text.
    #[serde(default)]
    pub body: String,
}

/// One firewall rule: match on `to` and `port`, then `action` or `intercept`.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Destination host(s); absent matches any.
    #[serde(default)]
    pub to: Option<OneOrMany<String>>,
    /// Destination port(s); absent matches any.
    #[serde(default)]
    pub port: Option<OneOrMany<Port>>,
    /// Address family (`ipv4` or `ipv6`); absent matches both.
    #[serde(default)]
    pub family: Option<FamilySpec>,
    /// A plain action.
    #[serde(default)]
    pub action: Option<ActionName>,
    /// A transparent proxy: send the connection to this host instead.
    #[serde(default)]
    pub redirect: Option<String>,
    /// A middlebox that takes the connection.
    #[serde(default)]
    pub intercept: Option<MiddleboxName>,
    /// For `intercept`: how long the middlebox waits for its own upstream.
    #[serde(default)]
    pub upstream_timeout: Option<Seconds>,
    /// For `intercept: resigning-scanner`: the name of its root certificate.
    #[serde(default)]
    pub issuer: Option<String>,
    /// For `intercept: answering-scanner` and `holding-scanner`: the
    /// antivirus product, named in the answering proxy's greeting and in
    /// the network log (default `avast! Antivirus`, `Norton AntiVirus`).
    #[serde(default)]
    pub product: Option<String>,
    /// For `intercept: holding-scanner`: how fast it scans a held message,
    /// in bytes per second (default 100000: a 6 MB attachment holds the
    /// end of DATA for a minute).
    #[serde(default)]
    pub scan_rate: Option<u64>,
    /// Link faults on matching connections (which then pass on).
    #[serde(default)]
    pub link: Option<LinkSpec>,
}

/// An address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum FamilySpec {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

/// Link faults, after Toxiproxy's toxics (server-to-client direction).
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// Delay of the connection and of every chunk.
    #[serde(default)]
    pub latency: Option<Seconds>,
    /// Bytes per second.
    #[serde(default)]
    pub bandwidth: Option<u64>,
    /// Reset the connection after this many bytes.
    #[serde(default)]
    pub reset_after: Option<u64>,
    /// Stop delivering after this many bytes.
    #[serde(default)]
    pub stall_after: Option<u64>,
    /// Close the connection this long after it opened (with `stall_after`:
    /// this long after the stall).
    #[serde(default)]
    pub close_after: Option<Seconds>,
    /// Delay the server's close by this long.
    #[serde(default)]
    pub slow_close: Option<Seconds>,
    /// A path-MTU blackhole: a packet (one write) larger than this many
    /// bytes is dropped, both ways, and no "fragmentation needed" comes
    /// back. Small exchanges pass; the first large flight (a TLS
    /// certificate flight, a large message) never arrives.
    #[serde(default)]
    pub max_packet: Option<u64>,
    /// A TCP window the path has cut down (a router that breaks window
    /// scaling): at most this many bytes, 1 to 65535, cross the link per
    /// round trip, both ways, however fast the line. The round trip is the
    /// link's `latency`, which this needs. Small replies pass at once;
    /// anything larger (a TLS certificate flight, a message) crawls.
    #[serde(default)]
    pub window: Option<u64>,
}

/// Plain firewall actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ActionName {
    /// Pass to the next layer.
    Allow,
    /// Never answer (the client times out).
    Drop,
    /// Refuse at once.
    Reject,
    /// Accept, then reset at once.
    Reset,
    /// Answer with ICMP "host unreachable" / "administratively prohibited".
    Unreachable,
    /// No route at all: the client's machine has no network.
    #[serde(rename = "no-route")]
    NoRoute,
}

/// Middleboxes that can intercept connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum MiddleboxName {
    /// A local antivirus mail scanner that cannot read TLS.
    MailScanner,
    /// An antivirus scanner that re-signs TLS with its own root.
    ResigningScanner,
    /// Cisco PIX/ASA SMTP inspection.
    EsmtpInspection,
    /// A path that strips STARTTLS.
    StarttlsStripper,
    /// A throttle that closes the session right after the greeting.
    CloseAfterGreeting,
    /// A local antivirus SMTP proxy that answers the session itself (as
    /// `localhost`) and accepts every message to pass on later.
    AnsweringScanner,
    /// A local antivirus SMTP proxy that relays the session but holds each
    /// message until it has scanned it all; it hides the extensions that
    /// would let the client stream past it (PIPELINING, CHUNKING).
    HoldingScanner,
}

/// The mail client's settings.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ClientSpec {
    /// Whose error messages to show.
    #[serde(default)]
    pub emulate: ClientName,
    /// Servers known to work (the ISP's own), for differential probes: one
    /// name or a list.
    #[serde(default)]
    pub control: Option<OneOrMany<String>>,
    /// The outgoing server.
    #[serde(default)]
    pub smtp: Option<AccountSpec>,
    /// The incoming server.
    #[serde(default)]
    pub pop3: Option<AccountSpec>,
    /// The IMAP server.
    #[serde(default)]
    pub imap: Option<AccountSpec>,
    /// Client timeouts.
    #[serde(default)]
    pub timeouts: TimeoutsSpec,
    /// The client computer's clock, when it differs from the world's (a
    /// dead CMOS battery): certificates are checked against it.
    #[serde(default)]
    pub clock: Option<Clock>,
    /// The roots the client's trust store holds, by name, when it is not
    /// today's: an old system's store without newer roots, one that still
    /// holds a root current stores removed, or one an antivirus added its
    /// re-signing root to (its `issuer`). A name no root of the world has
    /// is a root no server here uses (an old store's "DST Root CA X3").
    /// Absent: a current store (the world's root and its `roots` that are
    /// not distrusted).
    #[serde(default)]
    pub trust: Option<Vec<String>>,
    /// The newest TLS version the client speaks, when it predates TLS 1.2:
    /// `tls1.0` (Outlook Express 6 on Windows XP), `tls1.1` or `ssl3`.
    #[serde(default)]
    pub max_tls: Option<MaxTls>,
    /// Whether the client names the server in its TLS ClientHello (SNI,
    /// RFC 6066): `false` for clients on Windows XP (Outlook Express 6) and
    /// other stacks older than SNI. Current clients do.
    #[serde(default = "sends_sni")]
    pub sni: bool,
}

fn sends_sni() -> bool {
    true
}

/// An emulated client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum ClientName {
    /// Outlook Express 6.
    #[default]
    #[serde(rename = "outlook-express-6")]
    OutlookExpress6,
    /// Mozilla Thunderbird.
    Thunderbird,
    /// Classic Outlook (2016 to Microsoft 365).
    Outlook,
}

/// The newest TLS version of an old client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub enum MaxTls {
    /// SSL 3.0.
    #[serde(rename = "ssl3")]
    Ssl3,
    /// TLS 1.0.
    #[serde(rename = "tls1.0")]
    Tls10,
    /// TLS 1.1.
    #[serde(rename = "tls1.1")]
    Tls11,
}

impl MaxTls {
    /// The version the probe emulates.
    pub fn legacy(self) -> crate::probe::legacy::LegacyTls {
        use crate::probe::legacy::LegacyTls;
        match self {
            MaxTls::Ssl3 => LegacyTls::Ssl3,
            MaxTls::Tls10 => LegacyTls::Tls10,
            MaxTls::Tls11 => LegacyTls::Tls11,
        }
    }

    /// The name in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            MaxTls::Ssl3 => "ssl3",
            MaxTls::Tls10 => "tls1.0",
            MaxTls::Tls11 => "tls1.1",
        }
    }
}

/// A server account in the client.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AccountSpec {
    /// Server name.
    pub host: String,
    /// Port; default from the protocol and security.
    #[serde(default)]
    pub port: Option<Port>,
    /// Security mode.
    #[serde(default)]
    pub security: SecuritySpec,
    /// Login name.
    #[serde(default)]
    pub user: Option<String>,
    /// Password.
    #[serde(default)]
    pub password: Option<String>,
    /// SMTP envelope sender.
    #[serde(default)]
    pub from: Option<String>,
    /// SMTP recipient used to test relaying.
    #[serde(default)]
    pub rcpt: Option<String>,
    /// SMTP: the size of the message to send, declared with SIZE.
    #[serde(default)]
    pub message_size: Option<u64>,
}

/// A client security setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum SecuritySpec {
    /// Plaintext.
    #[default]
    #[serde(alias = "plain")]
    None,
    /// STARTTLS / STLS.
    #[serde(alias = "stls")]
    Starttls,
    /// Implicit TLS ("SSL").
    #[serde(alias = "ssl")]
    Tls,
}

/// Client timeouts.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TimeoutsSpec {
    /// TCP connect timeout (default 30 s).
    #[serde(default)]
    pub connect: Option<Seconds>,
    /// Reply timeout (default 60 s).
    #[serde(default)]
    pub reply: Option<Seconds>,
    /// The whole probe's deadline, follow-ups included (default 300 s).
    #[serde(default)]
    pub deadline: Option<Seconds>,
}

/// What probes must conclude.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    /// For the SMTP probe.
    #[serde(default)]
    pub smtp: Option<ProtocolExpectation>,
    /// For the POP3 probe.
    #[serde(default)]
    pub pop3: Option<ProtocolExpectation>,
    /// For the IMAP probe.
    #[serde(default)]
    pub imap: Option<ProtocolExpectation>,
    /// The suggested configuration of the (first) probed protocol.
    #[serde(default)]
    pub suggest: Option<SuggestSpec>,
}

/// Expectations for one protocol.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ProtocolExpectation {
    /// Whether the configured account works.
    #[serde(default)]
    pub outcome: Option<OutcomeSpec>,
    /// The emulated client's error code, e.g. `0x800CCC0F`.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "client_code_schema"))]
    pub client_error: Option<String>,
    /// The cause id.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(schema_with = "cause_id_schema"))]
    pub diagnosis: Option<String>,
    /// The suggested working configuration.
    #[serde(default)]
    pub suggest: Option<SuggestSpec>,
}

impl ClientSpec {
    /// Each protocol's account, in probing order: SMTP, POP3, IMAP.
    pub fn accounts(&self) -> [(crate::probe::Protocol, Option<&AccountSpec>); 3] {
        use crate::probe::Protocol;
        [
            (Protocol::Smtp, self.smtp.as_ref()),
            (Protocol::Pop3, self.pop3.as_ref()),
            (Protocol::Imap, self.imap.as_ref()),
        ]
    }
}

impl Expectations {
    /// What is expected of the probe of `protocol`.
    pub fn of(&self, protocol: crate::probe::Protocol) -> Option<&ProtocolExpectation> {
        use crate::probe::Protocol;
        match protocol {
            Protocol::Smtp => self.smtp.as_ref(),
            Protocol::Pop3 => self.pop3.as_ref(),
            Protocol::Imap => self.imap.as_ref(),
        }
    }

    /// Every protocol's expectation that is given.
    pub fn each(&self) -> impl Iterator<Item = &ProtocolExpectation> {
        [&self.smtp, &self.pop3, &self.imap].into_iter().flatten()
    }
}

/// Works or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum OutcomeSpec {
    /// Every step worked.
    Ok,
    /// Some step failed.
    Fail,
}

/// A suggested configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SuggestSpec {
    /// Port.
    pub port: Port,
    /// Security.
    pub security: SecuritySpec,
}

/// A single value or a list, e.g. `port: 25` or `port: [25, 587]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<T> OneOrMany<T> {
    /// The values, as a slice.
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrManyVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrManyVisitor<T> {
            type Value = OneOrMany<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value or a list of values")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut values = Vec::new();
                while let Some(value) = seq.next_element()? {
                    values.push(value);
                }
                Ok(OneOrMany(values))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(|t| OneOrMany(vec![t]))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(|t| OneOrMany(vec![t]))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                T::deserialize(v.into_deserializer()).map(|t| OneOrMany(vec![t]))
            }
        }

        deserializer.deserialize_any(OneOrManyVisitor(PhantomData))
    }
}

/// A duration: a number of seconds (`30`, `0.5`) or a string with a unit
/// (`"30s"`, `"500ms"`, `"2m"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seconds(pub Duration);

impl Seconds {
    /// The longest duration accepted anywhere (a week): longer ones are
    /// typos, and would overflow the clock of a timer set with them.
    pub const MAX: Duration = Duration::from_secs(7 * 24 * 3600);

    /// What a duration must look like, for error messages.
    pub const EXPECTED: &'static str =
        "use 30, \"30s\", \"500ms\" or \"2m\", from 0 up to 604800 s (a week)";

    /// Parses `"30s"`, `"500ms"`, `"2m"` or a plain number of seconds, up
    /// to [`Seconds::MAX`].
    pub fn parse(text: &str) -> Option<Duration> {
        let text = text.trim();
        let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
            (n, 0.001)
        } else if let Some(n) = text.strip_suffix('s') {
            (n, 1.0)
        } else if let Some(n) = text.strip_suffix('m') {
            (n, 60.0)
        } else {
            (text, 1.0)
        };
        let value: f64 = number.trim().parse().ok()?;
        Duration::try_from_secs_f64(value * scale)
            .ok()
            .filter(|d| *d <= Seconds::MAX)
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecondsVisitor;

        impl Visitor<'_> for SecondsVisitor {
            type Value = Seconds;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 30, \"30s\", \"500ms\" or \"2m\"")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seconds, E> {
                Some(Duration::from_secs(v))
                    .filter(|d| *d <= Seconds::MAX)
                    .map(Seconds)
                    .ok_or_else(|| {
                        E::custom(format!("invalid duration {v}: {}", Seconds::EXPECTED))
                    })
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seconds, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::custom(format!(
                        "invalid duration {v}: a duration cannot be negative; {}",
                        Seconds::EXPECTED
                    ))),
                }
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Seconds, E> {
                Seconds::parse(&v.to_string()).map(Seconds).ok_or_else(|| {
                    E::custom(format!("invalid duration {v}: {}", Seconds::EXPECTED))
                })
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Seconds, E> {
                Seconds::parse(v).map(Seconds).ok_or_else(|| {
                    E::custom(format!("invalid duration {v:?}: {}", Seconds::EXPECTED))
                })
            }
        }

        deserializer.deserialize_any(SecondsVisitor)
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for Clock {
    fn schema_name() -> Cow<'static, str> {
        "Clock".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": "date-time",
            "description": "An RFC 3339 time, e.g. 2007-01-08T07:15:42+09:00"
        })
    }
}

/// A port number as a map key: 1 to 65535, no leading zero.
#[cfg(feature = "schema")]
const PORT_KEY: &str =
    "^([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$";

/// Ports and their modes: `{ 25: plain, 587: starttls }`.
#[cfg(feature = "schema")]
fn port_map_schema(generator: &mut SchemaGenerator) -> Schema {
    let mode = generator.subschema_for::<PortMode>();
    json_schema!({
        "description": "Listening ports (1-65535) and their modes",
        "type": "object",
        "patternProperties": { PORT_KEY: mode },
        "additionalProperties": false
    })
}

/// A cause id of the catalogue (`mailprobe explain` lists them).
#[cfg(feature = "schema")]
fn cause_id_schema(_: &mut SchemaGenerator) -> Schema {
    let ids: Vec<&str> = crate::diagnose::Cause::ALL.iter().map(|c| c.id()).collect();
    json_schema!({
        "description": "A cause id (`mailprobe explain` lists them)",
        "type": "string",
        "enum": ids
    })
}

/// A code or error id an emulated client shows, `none`, or a part of the
/// message text (with a space).
#[cfg(feature = "schema")]
fn client_code_schema(_: &mut SchemaGenerator) -> Schema {
    use crate::diagnose::client_error::ClientKind;
    let mut codes: Vec<&str> = crate::diagnose::Cause::ALL
        .iter()
        .flat_map(|cause| {
            ClientKind::ALL
                .into_iter()
                .flat_map(move |client| cause.info().codes(client).iter().copied())
        })
        .chain(["none"])
        .collect();
    codes.sort_unstable();
    codes.dedup();
    json_schema!({
        "description": "What the emulated client shows: a code (0x800CCC0F), a Thunderbird error id, `none`, or part of the message text",
        "type": "string",
        "anyOf": [{ "enum": codes }, { "pattern": " " }]
    })
}

#[cfg(feature = "schema")]
impl JsonSchema for Seconds {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Seconds (30, 0.5) or a string with a unit (\"30s\", \"500ms\", \"2m\")",
            "type": ["number", "string"],
            "minimum": 0,
            "pattern": "^[0-9]+(\\.[0-9]+)?(ms|s|m)?$"
        })
    }
}

#[cfg(feature = "schema")]
impl<T: JsonSchema> JsonSchema for OneOrMany<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("OneOrMany_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let one = generator.subschema_for::<T>();
        // A value of a simple type or a list of them, as one schema: type
        // keywords apply only to their own type, so a validator names the
        // broken bound ("70000 is greater than the maximum of 65535").
        if let Some(Value::String(kind)) = one.get("type") {
            let mut both = one.clone();
            both.insert("type".into(), json!([kind, "array"]));
            both.insert("items".into(), one.to_value());
            both.insert("description".into(), "One value or a list of values".into());
            return both;
        }
        json_schema!({
            "description": "One value or a list of values",
            "anyOf": [one.clone(), { "type": "array", "items": one }]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(Seconds::parse("30s"), Some(Duration::from_secs(30)));
        assert_eq!(Seconds::parse("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(Seconds::parse("2m"), Some(Duration::from_secs(120)));
        assert_eq!(Seconds::parse("15"), Some(Duration::from_secs(15)));
        assert_eq!(Seconds::parse("-1s"), None);
        assert_eq!(Seconds::parse("soon"), None);
    }
}
