//! The catalogue of causes: stable ids, what happens, how to tell, what to do.

use std::fmt;

/// A root cause the diagnosis can name. Ids are stable: scenario files and
/// scripts match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cause {
    /// Everything worked.
    Ok,
    /// The ISP blocks outbound port 25 (OP25B).
    OutboundPort25Blocked,
    /// A local antivirus mail scanner breaks TLS on the ports it scans.
    TlsBrokenByLocalScanner,
    /// A plaintext client on a port that speaks TLS from the first byte.
    ImplicitTlsExpected,
    /// A TLS client on a port that speaks plaintext first.
    PlaintextExpected,
    /// The server refused the user name or password.
    AuthFailed,
    /// The server offers no login the client can use.
    AuthUnavailable,
    /// The server refused to relay to an outside recipient.
    RelayDenied,
    /// Nothing listens on the port.
    ConnectionRefused,
    /// The host name does not resolve.
    HostNotFound,
    /// The connection attempt was never answered, on every port tried.
    ConnectTimedOut,
    /// The connection opened, then closed before the server spoke.
    ConnectionClosed,
    /// The server did not answer in time.
    ReplyTimedOut,
    /// The client asked for STARTTLS/STLS and the server does not offer it.
    StartTlsUnavailable,
    /// The TLS handshake failed for another reason.
    TlsFailed,
    /// The server refused the session or a command.
    ServerRejected,
    /// An antivirus program intercepts TLS and re-signs it with its own root.
    TlsInterceptedByAntivirus,
    /// A Cisco PIX/ASA firewall inspects SMTP.
    EsmtpInspection,
    /// Something on the path strips STARTTLS.
    StartTlsStripped,
    /// A captive portal holds the network.
    CaptivePortal,
    /// IPv6 is broken while IPv4 works.
    Ipv6Broken,
    /// The server name resolves to the wrong host.
    DnsWrongHost,
    /// The network path is very slow to answer.
    HighLatency,
    /// The network path is too slow to carry the replies in time.
    LowBandwidth,
    /// The connection is reset.
    ConnectionReset,
    /// The session stalls mid-way.
    MidSessionStall,
    /// The server allows login only over TLS.
    AuthRequiresTls,
    /// The mailbox is in use by another client.
    MailboxLocked,
    /// The server refuses the sender address.
    SenderRejected,
    /// The server is busy.
    ServerBusy,
    /// The server greets too slowly.
    SlowGreeting,
    /// The server refuses the session.
    SessionRefused,
    /// The server's certificate has expired.
    CertificateExpired,
    /// The server's certificate is for another name.
    CertificateNameMismatch,
    /// The server's certificate is not from a trusted authority.
    CertificateUntrusted,
    /// The server speaks only an old TLS version.
    TlsVersionMismatch,
    /// The recipient address is malformed.
    RecipientAddressInvalid,
    /// The message is larger than the server accepts.
    MessageTooLarge,
    /// No mail server on that host.
    NoMailServer,
    /// The port speaks another mail protocol.
    WrongProtocol,
    /// The server answers without end or out of all bounds.
    ServerMisbehaving,
    /// An ICMP "host unreachable" answered the connection: a firewall that
    /// rejects with ICMP, or a route that ends short of the server.
    HostUnreachable,
    /// The client's machine has no route at all: no network.
    NetworkUnreachable,
    /// The DNS resolver does not answer (times out, or fails with SERVFAIL).
    DnsUnavailable,
    /// The provider refuses the account password for mail clients: an app
    /// password is required (two-step verification is on).
    AppPasswordRequired,
    /// The provider switched off basic (password) authentication.
    BasicAuthDisabled,
    /// The server offers only OAuth (XOAUTH2, OAUTHBEARER) to log in.
    OAuthRequired,
    /// The client speaks only TLS older than the server accepts.
    ClientTlsTooOld,
    /// The server sends its certificate without the intermediate that
    /// links it to a trusted root.
    CertificateChainIncomplete,
    /// The server shows its own certificate only to clients that name it
    /// (SNI); the client names none and gets the server's default.
    SniRequired,
    /// Unauthenticated mail refused: the client's address is on a block list.
    ClientAddressBlocklisted,
    /// A POP3 login came sooner after the last than the server allows.
    LoginTooSoon,
    /// The server greets and closes the session before the first command.
    ClosedAfterGreeting,
    /// The name has an IPv6 address where nothing listens.
    Ipv6ServiceMissing,
    /// The server offers only cipher suites current clients refuse.
    TlsNoCommonCipher,
    /// A path-MTU blackhole: packets over a size are dropped without an
    /// ICMP "fragmentation needed"; the first large flight never arrives.
    PathMtuBlackhole,
    /// The server allows the account (or the address) no more connections:
    /// other clients hold the sessions it allows.
    TooManyConnections,
    /// The server relays only for a while after a POP3 login from the same
    /// address (POP-before-SMTP), and the client sends before it checks mail.
    PopBeforeSmtp,
    /// The client's trust store lacks a root current stores hold: the
    /// server's chain leads to a root newer than the client's store.
    TrustStoreOutdated,
    /// The server's certificate chains to a root current trust stores
    /// removed.
    CertificateRootDistrusted,
    /// The server's firewall banned the client's address after failed
    /// logins (fail2ban).
    ClientAddressBanned,
    /// A local antivirus proxy answers the SMTP session in the server's
    /// place and accepts what the server may refuse later.
    AntivirusAnswersForServer,
    /// A local antivirus proxy relays the SMTP session but holds each
    /// message until it has scanned all of it: large mails time out at the
    /// end of DATA.
    AntivirusHoldsMessage,
    /// A router on the path breaks TCP window scaling: one small window
    /// crosses per round trip, and large transfers crawl.
    TcpWindowScalingBroken,
    /// None of the known patterns.
    Unknown,
}

/// What the catalogue says about a cause.
#[derive(Debug, Clone, Copy)]
pub struct CauseInfo {
    /// The stable id.
    pub id: &'static str,
    /// One line.
    pub title: &'static str,
    /// What happens on the wire.
    pub wire: &'static str,
    /// How mailprobe tells it from look-alikes.
    pub evidence: &'static str,
    /// What to do about it.
    pub remedy: &'static str,
    /// Where to read more.
    pub references: &'static [&'static str],
    /// The Outlook Express 6 error codes this cause shows up as.
    pub outlook_express_codes: &'static [&'static str],
    /// The Thunderbird error ids (see `client_error`) it shows up as.
    pub thunderbird_codes: &'static [&'static str],
}

impl CauseInfo {
    /// The codes (or, for Thunderbird, error ids) `client` shows for this cause.
    pub fn codes(&self, client: super::ClientKind) -> &'static [&'static str] {
        match client {
            // Classic Outlook reports the same transport codes.
            super::ClientKind::OutlookExpress6 | super::ClientKind::Outlook => {
                self.outlook_express_codes
            }
            super::ClientKind::Thunderbird => self.thunderbird_codes,
        }
    }
}

impl Cause {
    /// Every cause, in catalogue order.
    pub const ALL: [Cause; 65] = [
        Cause::Ok,
        Cause::OutboundPort25Blocked,
        Cause::TlsBrokenByLocalScanner,
        Cause::ImplicitTlsExpected,
        Cause::PlaintextExpected,
        Cause::AuthFailed,
        Cause::AuthUnavailable,
        Cause::RelayDenied,
        Cause::ConnectionRefused,
        Cause::HostNotFound,
        Cause::ConnectTimedOut,
        Cause::ConnectionClosed,
        Cause::ReplyTimedOut,
        Cause::StartTlsUnavailable,
        Cause::TlsFailed,
        Cause::ServerRejected,
        Cause::TlsInterceptedByAntivirus,
        Cause::EsmtpInspection,
        Cause::StartTlsStripped,
        Cause::CaptivePortal,
        Cause::Ipv6Broken,
        Cause::DnsWrongHost,
        Cause::HighLatency,
        Cause::LowBandwidth,
        Cause::ConnectionReset,
        Cause::MidSessionStall,
        Cause::AuthRequiresTls,
        Cause::MailboxLocked,
        Cause::SenderRejected,
        Cause::ServerBusy,
        Cause::SlowGreeting,
        Cause::SessionRefused,
        Cause::CertificateExpired,
        Cause::CertificateNameMismatch,
        Cause::CertificateUntrusted,
        Cause::TlsVersionMismatch,
        Cause::RecipientAddressInvalid,
        Cause::MessageTooLarge,
        Cause::NoMailServer,
        Cause::WrongProtocol,
        Cause::ServerMisbehaving,
        Cause::HostUnreachable,
        Cause::NetworkUnreachable,
        Cause::DnsUnavailable,
        Cause::AppPasswordRequired,
        Cause::BasicAuthDisabled,
        Cause::OAuthRequired,
        Cause::ClientTlsTooOld,
        Cause::CertificateChainIncomplete,
        Cause::SniRequired,
        Cause::ClientAddressBlocklisted,
        Cause::LoginTooSoon,
        Cause::ClosedAfterGreeting,
        Cause::Ipv6ServiceMissing,
        Cause::TlsNoCommonCipher,
        Cause::PathMtuBlackhole,
        Cause::TooManyConnections,
        Cause::PopBeforeSmtp,
        Cause::TrustStoreOutdated,
        Cause::CertificateRootDistrusted,
        Cause::ClientAddressBanned,
        Cause::AntivirusAnswersForServer,
        Cause::AntivirusHoldsMessage,
        Cause::TcpWindowScalingBroken,
        Cause::Unknown,
    ];

    /// The stable id, e.g. `outbound-port-25-blocked`.
    pub fn id(self) -> &'static str {
        self.info().id
    }

    /// The cause with this id.
    pub fn from_id(id: &str) -> Option<Cause> {
        Cause::ALL.into_iter().find(|c| c.id() == id)
    }

    /// The catalogue entry.
    pub fn info(self) -> CauseInfo {
        match self {
            Cause::Ok => CauseInfo {
                id: "ok",
                title: "Everything worked",
                wire: "Every step the client takes succeeded.",
                evidence: "No step failed.",
                remedy: "Nothing to do.",
                references: &[],
                outlook_express_codes: &[],
                thunderbird_codes: &[],
            },
            Cause::OutboundPort25Blocked => CauseInfo {
                id: "outbound-port-25-blocked",
                title: "The ISP blocks outbound port 25 (OP25B)",
                wire: "Connections to port 25 of any server but the ISP's own are dropped, refused \
                       or reset by the ISP. Behind a local mail scanner the client instead sees the \
                       connection accepted and then closed with no greeting.",
                evidence: "Port 25 fails before any greeting, while the same server answers on \
                           another port, or the ISP's own server answers on port 25.",
                remedy: "Send through the submission port 587 with STARTTLS and authentication \
                         (RFC 6409), or port 465 with TLS, or through the ISP's own server.",
                references: &[
                    "RFC 6409 (Message Submission for Mail)",
                    "RFC 5068 (Email Submission Operations: Access and Accountability Requirements)",
                    "RFC 8314 (Cleartext Considered Obsolete)",
                ],
                outlook_express_codes: &["0x800CCC0F", "0x800CCC0E", "0x800CCC79", "0x800CCC1A", "0x800CCC01", "0x800CCC60"],
                thunderbird_codes: &["connection-timed-out", "connection-refused", "connection-lost", "connection-reset", "recipient-rejected", "starttls-not-advertised", "certificate-exception", "authentication-failed"],
            },
            Cause::TlsBrokenByLocalScanner => CauseInfo {
                id: "tls-broken-by-local-scanner",
                title: "A local antivirus mail scanner breaks TLS on the ports it scans",
                wire: "The scanner proxies the mail ports it was told to scan. It cannot read TLS, \
                       so when the client starts a handshake it closes the connection: the \
                       ClientHello gets no answer at all.",
                evidence: "The TCP connection is accepted, and the TLS handshake ends with the \
                           connection closed before a single byte came back: not an alert, not a \
                           plaintext greeting, not a timeout.",
                remedy: "Take the TLS mail ports (465, 995, and 587/110 if STARTTLS is used) out of \
                         the antivirus program's mail scanning, or turn off its SSL mail scanning.",
                references: &["RFC 8314 (Cleartext Considered Obsolete), section 3"],
                outlook_express_codes: &["0x800CCC0F"],
                thunderbird_codes: &["connection-lost"],
            },
            Cause::ImplicitTlsExpected => CauseInfo {
                id: "implicit-tls-expected",
                title: "The port expects TLS from the first byte, the client speaks plaintext",
                wire: "On an implicit-TLS port (465, 995) the server waits for a TLS ClientHello \
                       while the client waits for a greeting: nothing happens until a timeout.",
                evidence: "Connected, then no greeting at all until the timeout; TLS on the same \
                           port works or the port is a standard implicit-TLS port.",
                remedy: "Turn on SSL/TLS for this port (\"This server requires a secure connection\"), \
                         or use the port that matches the security setting.",
                references: &["RFC 8314, section 3.3 and 7"],
                outlook_express_codes: &["0x8004210B", "0x8004210A"],
                thunderbird_codes: &["connection-timed-out"],
            },
            Cause::PlaintextExpected => CauseInfo {
                id: "plaintext-expected",
                title: "The port speaks plaintext first, the client starts TLS",
                wire: "The client sends a TLS ClientHello; the server answers with its plaintext \
                       greeting (`220 ...` or `+OK ...`), which is not TLS.",
                evidence: "The TLS handshake fails on bytes that are not a TLS record, typically \
                           the greeting.",
                remedy: "Use STARTTLS (STLS) on this port instead of SSL/TLS, or use the implicit-TLS \
                         port (465 for SMTP, 995 for POP3).",
                references: &["RFC 3207 (SMTP STARTTLS)", "RFC 2595 (POP3 STLS)", "RFC 8314"],
                outlook_express_codes: &["0x800CCC1A"],
                thunderbird_codes: &["secure-connection-failed"],
            },
            Cause::AuthFailed => CauseInfo {
                id: "auth-failed",
                title: "The server refused the user name or password",
                wire: "SMTP AUTH answered `535 5.7.8`, POP3 USER/PASS answered `-ERR`, or IMAP LOGIN/AUTHENTICATE answered `NO [AUTHENTICATIONFAILED]`.",
                evidence: "The connection and TLS worked; the login step got a negative reply.",
                remedy: "Check the user name (often the full address) and the password; reset the \
                         password with the provider if needed.",
                references: &["RFC 4954 (SMTP AUTH), section 6", "RFC 1939 (POP3), section 7", "RFC 3501 (IMAP), section 6.2.3", "RFC 5530 (IMAP response codes)"],
                outlook_express_codes: &["0x800CCC60", "0x800CCC90", "0x800CCC92", "0x800CCCD1"],
                thunderbird_codes: &["authentication-failed"],
            },
            Cause::AuthUnavailable => CauseInfo {
                id: "auth-unavailable",
                title: "The server offers no login mechanism the client can use",
                wire: "EHLO lists no AUTH, or only mechanisms the client does not support.",
                evidence: "The EHLO reply's AUTH line is missing or has no PLAIN or LOGIN.",
                remedy: "Use the provider's submission port (587 with STARTTLS), where AUTH is offered.",
                references: &["RFC 4954 (SMTP AUTH)"],
                outlook_express_codes: &["0x800CCC60"],
                thunderbird_codes: &["authentication-failed"],
            },
            Cause::RelayDenied => CauseInfo {
                id: "relay-denied",
                title: "The server refuses to relay mail for this client",
                wire: "MAIL answered `530 5.7.0 Authentication required`, or RCPT to an outside \
                       address answered `554 5.7.1` / `550 5.7.1` relay denied.",
                evidence: "The session worked up to the envelope; the server refused the sender or \
                           an outside recipient.",
                remedy: "Turn on \"My server requires authentication\" with the account's user name \
                         and password, or send through the provider that hosts the address.",
                references: &["RFC 5321, section 3.6", "RFC 4954, section 6", "RFC 3463 (X.7.1)"],
                outlook_express_codes: &["0x800CCC78", "0x800CCC79"],
                thunderbird_codes: &["sender-rejected", "recipient-rejected"],
            },
            Cause::ConnectionRefused => CauseInfo {
                id: "connection-refused",
                title: "Nothing listens on this port",
                wire: "The server host answers the connection attempt with a reset at once.",
                evidence: "Connect fails immediately with \"refused\" (socket error 10061).",
                remedy: "Check the port number; use the port the provider documents.",
                references: &["RFC 9293 (TCP), section 3.5.2"],
                outlook_express_codes: &["0x800CCC0E"],
                thunderbird_codes: &["connection-refused"],
            },
            Cause::HostNotFound => CauseInfo {
                id: "host-not-found",
                title: "The server name does not resolve",
                wire: "The DNS lookup for the server name fails.",
                evidence: "No address for the name (socket error 11004).",
                remedy: "Check the spelling of the server name, and that DNS works on this network.",
                references: &["RFC 1035"],
                outlook_express_codes: &["0x800CCC0D"],
                thunderbird_codes: &["smtp-server-not-found", "server-not-found"],
            },
            Cause::ConnectTimedOut => CauseInfo {
                id: "connect-timed-out",
                title: "Connection attempts are never answered",
                wire: "SYNs are dropped somewhere on the path; the client gives up after its timeout.",
                evidence: "Connect times out (socket error 10060) and no other port of the server \
                           answers either.",
                remedy: "Check the server name and that the network (firewall, proxy) lets mail \
                         ports out; try again later if the server is down.",
                references: &["RFC 9293 (TCP)"],
                outlook_express_codes: &["0x800CCC0E"],
                thunderbird_codes: &["connection-timed-out"],
            },
            Cause::ConnectionClosed => CauseInfo {
                id: "connection-closed",
                title: "The connection closes before the server speaks",
                wire: "The connection is accepted, then closed with no greeting.",
                evidence: "Connected, then end of stream with nothing received.",
                remedy: "Check for a local proxy or security program on the mail ports; ask the \
                         provider whether the server limits connections.",
                references: &[],
                outlook_express_codes: &["0x800CCC0F"],
                thunderbird_codes: &["connection-lost"],
            },
            Cause::ReplyTimedOut => CauseInfo {
                id: "reply-timed-out",
                title: "The server did not answer in time",
                wire: "The connection is up but an expected reply never arrives.",
                evidence: "A reply timeout at a step other than the greeting of an implicit-TLS port.",
                remedy: "Raise the client's server timeout; check the network path for stalls.",
                references: &[],
                outlook_express_codes: &["0x8004210B", "0x8004210A"],
                thunderbird_codes: &["connection-timed-out"],
            },
            Cause::StartTlsUnavailable => CauseInfo {
                id: "starttls-unavailable",
                title: "The server does not offer STARTTLS (STLS)",
                wire: "The EHLO (CAPA) reply has no STARTTLS (STLS).",
                evidence: "The capability list lacks the upgrade the client requires.",
                remedy: "Use the port where the provider offers TLS (587 with STARTTLS, 465 or 995 \
                         with TLS).",
                references: &["RFC 3207", "RFC 2595"],
                outlook_express_codes: &["0x800CCC1A"],
                thunderbird_codes: &["starttls-not-advertised"],
            },
            Cause::TlsFailed => CauseInfo {
                id: "tls-failed",
                title: "The TLS handshake failed",
                wire: "The handshake ended with an alert or a certificate the client refused.",
                evidence: "A TLS alert or certificate error.",
                remedy: "See the TLS error in the evidence.",
                references: &["RFC 8446 (TLS 1.3)"],
                outlook_express_codes: &["0x800CCC1A", "0x800CCC0F"],
                thunderbird_codes: &["secure-connection-failed", "connection-lost"],
            },
            Cause::ServerRejected => CauseInfo {
                id: "server-rejected",
                title: "The server refused the session or a command",
                wire: "A negative reply to the greeting or a command.",
                evidence: "The reply in the evidence.",
                remedy: "Read the server's reply; contact the provider if it persists.",
                references: &["RFC 5321, section 4.2"],
                outlook_express_codes: &["0x800CCC60", "0x800CCC61", "0x800CCC67", "0x800CCC6F", "0x800CCC78", "0x800CCC79", "0x800CCC90", "0x800CCC93"],
                thunderbird_codes: &["server-error", "recipient-rejected", "sender-rejected", "authentication-failed"],
            },
            Cause::TlsInterceptedByAntivirus => CauseInfo {
                id: "tls-intercepted-by-antivirus",
                title: "An antivirus program intercepts TLS and re-signs it with its own root",
                wire: "The antivirus program completes the TLS handshake itself, with a certificate for the server's name that its own root signed, and talks to the real server separately. A client that does not trust that root refuses the certificate.",
                evidence: "The certificate is refused for an unknown issuer, and the issuer is an antivirus product's root (\"Avast Web/Mail Shield Root\", \"ESET SSL Filter CA\", \"Kaspersky Anti-Virus Personal Root Certificate\", ...).",
                remedy: "Turn off the antivirus program's SSL/TLS mail scanning, or add its root certificate to the mail client's trusted authorities.",
                references: &["Durumeric et al., The Security Impact of HTTPS Interception (NDSS 2017)"],
                outlook_express_codes: &["0x800CCC1A"],
                thunderbird_codes: &["certificate-exception"],
            },
            Cause::EsmtpInspection => CauseInfo {
                id: "esmtp-inspection",
                title: "A Cisco PIX/ASA firewall inspects SMTP and breaks ESMTP",
                wire: "\"fixup protocol smtp\" / \"inspect esmtp\" masks the greeting to 220 **** (only the digits 2 and 0 survive) and turns every command outside RFC 821's minimum (EHLO, STARTTLS, AUTH) into XXXX, which the server rejects as unknown.",
                evidence: "The greeting arrives masked with asterisks; EHLO gets 500 and STARTTLS and AUTH are unavailable.",
                remedy: "Turn off SMTP inspection on the firewall (\"no fixup protocol smtp 25\" or \"no inspect esmtp\"), or submit on port 587, which it does not inspect.",
                references: &["Cisco PIX Firewall Command Reference: fixup protocol smtp", "Cisco ASA: inspect esmtp"],
                outlook_express_codes: &["0x800CCC60", "0x800CCC1A"],
                thunderbird_codes: &["starttls-not-advertised", "authentication-failed"],
            },
            Cause::StartTlsStripped => CauseInfo {
                id: "starttls-stripped",
                title: "Something on the path removes STARTTLS",
                wire: "The server offers STARTTLS, but a box on the path rewrites the capability to XXXXXXXA (and the command to XXXXXXXX), so the client never sees it: a downgrade to plaintext.",
                evidence: "STARTTLS is missing from EHLO (STLS from CAPA) and a capability line of Xs stands where it was.",
                remedy: "Do not send credentials over this path in plaintext. Use implicit TLS on 465/995, which cannot be stripped, and ask the network's operator to stop rewriting SMTP.",
                references: &["RFC 3207, section 6 (STARTTLS security considerations)", "RFC 8314"],
                outlook_express_codes: &["0x800CCC1A"],
                thunderbird_codes: &["starttls-not-advertised"],
            },
            Cause::CaptivePortal => CauseInfo {
                id: "captive-portal",
                title: "A captive portal (hotel, train, café Wi-Fi) holds the network",
                wire: "Until the user logs in on the portal's web page, the resolver answers every name with the portal's address, mail ports are dropped, and TLS is answered with the portal's own certificate.",
                evidence: "A name that cannot exist (mailprobe-canary.invalid) resolves, and the mail server cannot be reached or presents a certificate for another name.",
                remedy: "Open a web browser, log in or accept the terms on the portal page, then try again.",
                references: &["RFC 8952 (Captive Portal Architecture)", "RFC 6761 (.invalid)"],
                outlook_express_codes: &["0x800CCC0E", "0x800CCC01", "0x800CCC0F"],
                thunderbird_codes: &["connection-timed-out", "connection-refused", "certificate-exception", "connection-lost"],
            },
            Cause::Ipv6Broken => CauseInfo {
                id: "ipv6-broken",
                title: "IPv6 is broken while IPv4 works",
                wire: "The server name has an IPv6 address, the client tries it first, and the connection is never answered; only after the timeout does the client fall back to IPv4.",
                evidence: "The IPv6 connect times out (or the network is unreachable), the IPv4 one works: mail goes through, but every connection waits out the timeout first. A refused IPv6 connect is ipv6-service-missing: the path answered.",
                remedy: "Fix IPv6 on the network (or the router), or turn IPv6 off on this computer until it is fixed.",
                references: &["RFC 8305 (Happy Eyeballs Version 2)", "RFC 6724"],
                outlook_express_codes: &[],
                thunderbird_codes: &[],
            },
            Cause::DnsWrongHost => CauseInfo {
                id: "dns-wrong-host",
                title: "The server name resolves to the wrong host",
                wire: "A stale or wrong DNS record (or a hosts-file entry) points the name at another machine, which greets with its own name and presents its own certificate.",
                evidence: "The greeting names another host, and the certificate is for that host, not for the configured name; other ports show the same host.",
                remedy: "Check the DNS record (and the hosts file) for the server name; flush the DNS cache; ask the provider for the right address.",
                references: &["RFC 1034"],
                outlook_express_codes: &["0x800CCC01", "0x800CCC60"],
                thunderbird_codes: &["certificate-exception", "authentication-failed"],
            },
            Cause::HighLatency => CauseInfo {
                id: "high-latency",
                title: "The network path has very high latency",
                wire: "Every packet takes seconds to cross the path (a saturated or satellite link), so even the TCP connection takes long and replies arrive after the client's timeout.",
                evidence: "The TCP connection itself took over a second, and a reply then timed out.",
                remedy: "Raise the client's server timeout, or fix the link (a congested uplink, a misbehaving router).",
                references: &["RFC 6298 (TCP retransmission timer)"],
                outlook_express_codes: &["0x8004210B", "0x8004210A"],
                thunderbird_codes: &["connection-timed-out"],
            },
            Cause::LowBandwidth => CauseInfo {
                id: "low-bandwidth",
                title: "The network path trickles data",
                wire: "Replies arrive a few bytes at a time; a multi-line reply does not complete before the client's timeout.",
                evidence: "At the timeout, part of a reply had arrived: bytes trickle rather than stop.",
                remedy: "Raise the client's server timeout; find what saturates the link.",
                references: &[],
                outlook_express_codes: &["0x8004210B", "0x8004210A"],
                thunderbird_codes: &["connection-timed-out"],
            },
            Cause::ConnectionReset => CauseInfo {
                id: "connection-reset",
                title: "The connection is reset by the network or the server",
                wire: "The session was under way when a reset (RST) ended it: a firewall or NAT dropping state, a crashing server, a box that resets after a number of bytes.",
                evidence: "The server answered, then the connection was reset (socket error 10054).",
                remedy: "Look for a firewall, VPN or NAT device on the path that resets connections; try another network.",
                references: &["RFC 9293 (TCP), section 3.10.7"],
                outlook_express_codes: &["0x800CCC0F"],
                thunderbird_codes: &["connection-reset"],
            },
            Cause::MidSessionStall => CauseInfo {
                id: "mid-session-stall",
                title: "The connection stalls in the middle of the session",
                wire: "The session started normally, then nothing more arrived: a path that silently stops passing data (a broken NAT, a PMTU black hole), until the client gives up or a box closes the connection.",
                evidence: "Replies arrived, then silence for many seconds until a timeout or a close.",
                remedy: "Check for a VPN, NAT or MTU problem on the path (lowering the MTU often helps); try another network.",
                references: &["RFC 2923 (TCP Problems with Path MTU Discovery)"],
                outlook_express_codes: &["0x800CCC0F", "0x8004210B", "0x8004210A"],
                thunderbird_codes: &["connection-lost", "connection-timed-out"],
            },
            Cause::AuthRequiresTls => CauseInfo {
                id: "auth-requires-tls",
                title: "The server allows login only after STARTTLS",
                wire: "AUTH is not offered before STARTTLS (530 5.7.0 Must issue a STARTTLS command first), or the mechanism needs encryption (538 5.7.11); an IMAP server advertises LOGINDISABLED or answers NO [PRIVACYREQUIRED] until TLS is up.",
                evidence: "AUTH on an unencrypted connection got 530 5.7.0 or 538 5.7.11; or the IMAP server listed LOGINDISABLED or answered NO [PRIVACYREQUIRED].",
                remedy: "Turn on encryption for this server: STARTTLS, or TLS on its own port (SMTP 465, IMAP 993).",
                references: &["RFC 4954, section 4 and 6", "RFC 3207", "RFC 3501, sections 6.2.1 and 6.2.3 (LOGINDISABLED)", "RFC 5530 (PRIVACYREQUIRED)"],
                outlook_express_codes: &["0x800CCC60", "0x800CCCDF", "0x800CCCD1"],
                thunderbird_codes: &["authentication-failed", "auth-method-not-supported"],
            },
            Cause::MailboxLocked => CauseInfo {
                id: "mailbox-locked",
                title: "The POP3 mailbox is locked by another session",
                wire: "Another client (a phone, a second PC, a stuck session) holds the maildrop lock; the server answers PASS with -ERR [IN-USE], or IMAP SELECT/EXAMINE with NO [INUSE].",
                evidence: "PASS got -ERR [IN-USE].",
                remedy: "Close the other mail client, or wait for the stuck session to time out (10 minutes or more).",
                references: &["RFC 1939, section 8", "RFC 2449 (IN-USE response code)", "RFC 5530 (INUSE)"],
                outlook_express_codes: &["0x800CCC92", "0x800CCCD2"],
                thunderbird_codes: &["authentication-failed", "server-error"],
            },
            Cause::SenderRejected => CauseInfo {
                id: "sender-rejected",
                title: "The server refuses the sender address",
                wire: "MAIL FROM got 5xx: the address is not the logged-in user's, or its domain is refused.",
                evidence: "MAIL FROM was refused with 553 or 550.",
                remedy: "Set the account's e-mail address to the one that belongs to the login.",
                references: &["RFC 5321, section 3.3", "RFC 6409, section 6.1"],
                outlook_express_codes: &["0x800CCC78"],
                thunderbird_codes: &["sender-rejected"],
            },
            Cause::ServerBusy => CauseInfo {
                id: "server-busy",
                title: "The server is too busy and refuses new connections",
                wire: "The greeting is 421: too many connections (from this address), or the server is shutting down (POP3 -ERR, IMAP * BYE [UNAVAILABLE]).",
                evidence: "The greeting is a 421 reply.",
                remedy: "Try again later; close other clients that keep connections open.",
                references: &["RFC 5321, section 3.1 and 4.2.3"],
                outlook_express_codes: &["0x800CCC67", "0x800CCC90", "0x800CCCD9"],
                thunderbird_codes: &["server-error", "server-disconnected"],
            },
            Cause::SlowGreeting => CauseInfo {
                id: "slow-greeting",
                title: "The server delays its greeting beyond the client's patience",
                wire: "The server (a tarpit, an overloaded server doing DNS checks) waits before sending 220; the client gives up first.",
                evidence: "The connection opened at once; nothing arrived before the timeout; a longer wait gets the greeting.",
                remedy: "Raise the client's server timeout; ask the provider about the delay.",
                references: &["RFC 5321, section 4.5.3.2.1 (5 minutes for the greeting)"],
                outlook_express_codes: &["0x8004210B", "0x8004210A"],
                thunderbird_codes: &["connection-timed-out"],
            },
            Cause::SessionRefused => CauseInfo {
                id: "session-refused",
                title: "The server refuses the session outright",
                wire: "The greeting is 554: the server will not talk to this client (its address is on a block list, for example).",
                evidence: "The greeting is a 554 reply.",
                remedy: "Read the reply: it usually names a block list and how to get off it; send through the provider's submission server.",
                references: &["RFC 5321, section 3.1"],
                outlook_express_codes: &["0x800CCC6F"],
                thunderbird_codes: &["server-error"],
            },
            Cause::CertificateExpired => CauseInfo {
                id: "certificate-expired",
                title: "The server's certificate has expired (or the computer's date is wrong)",
                wire: "The server presents a certificate whose validity ended before the (scenario's) current date, or has not begun: on a computer whose clock is wrong, every certificate looks like this.",
                evidence: "The certificate is refused as expired or not yet valid.",
                remedy: "Ask the provider to renew the certificate; if every server fails this way, set the computer's date and time.",
                references: &["RFC 5280, section 4.1.2.5"],
                outlook_express_codes: &["0x800CCC02"],
                thunderbird_codes: &["certificate-exception"],
            },
            Cause::CertificateNameMismatch => CauseInfo {
                id: "certificate-name-mismatch",
                title: "The server's certificate is for another name",
                wire: "The server greets with the right name but presents a certificate for a different host name.",
                evidence: "The certificate is refused as not valid for the configured name.",
                remedy: "Use the server name the certificate is for (often the provider's main name), or ask the provider to fix the certificate.",
                references: &["RFC 6125", "RFC 9525"],
                outlook_express_codes: &["0x800CCC01"],
                thunderbird_codes: &["certificate-exception"],
            },
            Cause::CertificateUntrusted => CauseInfo {
                id: "certificate-untrusted",
                title: "The server's certificate is not signed by a trusted authority",
                wire: "The certificate is self-signed or from a private CA the client does not trust.",
                evidence: "The certificate is refused for an unknown issuer that is not an antivirus product.",
                remedy: "Ask the provider for a certificate from a public CA, or install their CA after checking it.",
                references: &["RFC 5280"],
                outlook_express_codes: &["0x800CCC1A"],
                thunderbird_codes: &["certificate-exception"],
            },
            Cause::TlsVersionMismatch => CauseInfo {
                id: "tls-version-mismatch",
                title: "The server only speaks a TLS version the client refuses",
                wire: "The server supports only SSL 3.0 / TLS 1.0; a modern client offers TLS 1.2 and 1.3, and the server answers with a protocol_version alert.",
                evidence: "The handshake ends with a protocol_version alert.",
                remedy: "Ask the provider to enable TLS 1.2 or later; do not re-enable old versions in the client.",
                references: &["RFC 8996 (Deprecating TLS 1.0 and 1.1)"],
                outlook_express_codes: &["0x800CCC1A"],
                thunderbird_codes: &["secure-connection-failed"],
            },
            Cause::RecipientAddressInvalid => CauseInfo {
                id: "recipient-address-invalid",
                title: "The server rejects the recipient address as malformed",
                wire: "RCPT TO got 553 5.1.3: the address has characters the server does not accept (for example a name with \"様\" appended, sent to a server without SMTPUTF8).",
                evidence: "RCPT TO was refused with 553 5.1.3 or 501.",
                remedy: "Correct the recipient address: only the address itself, in ASCII unless the server offers SMTPUTF8.",
                references: &["RFC 5321, section 4.1.2", "RFC 6531 (SMTPUTF8)"],
                outlook_express_codes: &["0x800CCC79"],
                thunderbird_codes: &["recipient-rejected"],
            },
            Cause::MessageTooLarge => CauseInfo {
                id: "message-too-large",
                title: "The message exceeds the server's size limit",
                wire: "The server advertises SIZE and refuses the declared size with 552 5.3.4.",
                evidence: "MAIL FROM with SIZE= (or the message) got 552.",
                remedy: "Send a smaller message: share large files by link instead of attaching them.",
                references: &["RFC 1870 (SMTP SIZE)"],
                outlook_express_codes: &["0x800CCC78", "0x800CCC79"],
                thunderbird_codes: &["sender-rejected", "recipient-rejected"],
            },
            Cause::NoMailServer => CauseInfo {
                id: "no-mail-server",
                title: "The host runs no mail server at all",
                wire: "Every standard mail port of the host refuses the connection: the name is a real host, but not the mail server (a web server, say).",
                evidence: "The configured port and every other standard port are refused.",
                remedy: "Check the server name in the account settings; the provider documents it.",
                references: &[],
                outlook_express_codes: &["0x800CCC0E"],
                thunderbird_codes: &["connection-refused"],
            },
            Cause::WrongProtocol => CauseInfo {
                id: "wrong-protocol",
                title: "The port speaks another protocol than the client",
                wire: "The client was set to the port of another service: POP3 on the SMTP port 25, SMTP on the POP3 port 110, or IMAP on 143. The greeting is valid, but for the other protocol (+OK where 220 was expected).",
                evidence: "The greeting belongs to another protocol: +OK or -ERR (POP3), 220 (SMTP), * OK (IMAP), HTTP/ (a web server).",
                remedy: "Set the port of the protocol: SMTP 587 (or 465, 25), POP3 995 (or 110).",
                references: &["RFC 5321", "RFC 1939", "RFC 8314, section 3"],
                outlook_express_codes: &["0x800CCC61", "0x800CCC93"],
                thunderbird_codes: &["server-error"],
            },
            Cause::ServerMisbehaving => CauseInfo {
                id: "server-misbehaving",
                title: "The server answers without end or out of all bounds",
                wire: "The server (or a box in its place) sends a reply that never ends (an endless 250- EHLO list, a 220- greeting or a POP3 CAPA list without its final dot), a line without end, a flood of bytes, or answers each line just inside the timeout so that the session never finishes.",
                evidence: "The probe caps what it reads: lines and bytes per reply, bytes per connection and per probe, and the whole probe's time. The cap that was passed is in the evidence; reading stopped there.",
                remedy: "The server is broken or hostile: report it to its administrator with the transcript. If a security product or proxy sits in the path, try without it.",
                references: &["RFC 5321, section 4.5.3 (size limits)", "RFC 2449 (CAPA)"],
                outlook_express_codes: &["0x800CCC61", "0x800CCC93", "0x8004210B", "0x8004210A"],
                thunderbird_codes: &["server-error", "connection-timed-out"],
            },
            Cause::HostUnreachable => CauseInfo {
                id: "host-unreachable",
                title: "No route to the server: an ICMP unreachable answered",
                wire: "The SYN is answered not by the server but by an ICMP \"destination unreachable\" (host unreachable, or administratively prohibited) from a router or firewall on the way: the connect fails at once with \"No route to host\" (EHOSTUNREACH; WSAEHOSTUNREACH 10065 on Windows).",
                evidence: "The connect failed at once with \"no route to host\", where a dropped SYN would time out and a refusal would come from the server itself. A blocked port 25 that answers this way is told as OP25B when a control works.",
                remedy: "A firewall or router rejects the connection: check the network's firewall (or the ISP's filtering) for this server and port, or try another port or network.",
                references: &["RFC 792 (ICMP destination unreachable)", "RFC 1812, section 5.2.7.1 (administratively prohibited)"],
                outlook_express_codes: &["0x800CCC0E"],
                thunderbird_codes: &["connection-failed"],
            },
            Cause::NetworkUnreachable => CauseInfo {
                id: "network-unreachable",
                title: "No network: the computer has no route at all",
                wire: "The connect fails at once, before anything is sent: \"Network is unreachable\" (ENETUNREACH; WSAENETUNREACH 10051 on Windows). The computer has no default route: no link, no DHCP lease, a VPN that took the route away.",
                evidence: "The connect failed at once with \"network is unreachable\" on every address: nothing left the machine.",
                remedy: "Connect the computer to a network (cable, Wi-Fi, the VPN), then try again; mail settings are not the cause.",
                references: &["POSIX connect(), ENETUNREACH"],
                outlook_express_codes: &["0x800CCC0E", "0x800CCC0D"],
                thunderbird_codes: &["connection-failed", "server-not-found", "smtp-server-not-found"],
            },
            Cause::DnsUnavailable => CauseInfo {
                id: "dns-unavailable",
                title: "The DNS resolver does not answer",
                wire: "The lookup of the server's name gets no answer: the resolver times out, or answers SERVFAIL (getaddrinfo's \"Temporary failure in name resolution\"). The name may well exist; nothing was asked of the mail server. The client shows the same error as for a misspelled name.",
                evidence: "The lookup failed without the resolver saying the name does not exist (no NXDOMAIN), while the machine has a route to the network.",
                remedy: "Check the DNS servers the computer uses (the router's, the ISP's, a VPN's): they do not answer. Try another resolver; the mail settings are not the cause.",
                references: &["RFC 1035, section 4.1.1 (RCODE 2, server failure)", "RFC 2308 (negative answers: NXDOMAIN is an answer)"],
                outlook_express_codes: &["0x800CCC0D"],
                thunderbird_codes: &["server-not-found", "smtp-server-not-found"],
            },
            Cause::AppPasswordRequired => CauseInfo {
                id: "app-password-required",
                title: "The provider requires an app password for mail clients",
                wire: "The login is refused with the provider's own text: SMTP `534-5.7.9 Application-specific password required`, IMAP `NO [ALERT] Application-specific password required`, POP3 `-ERR [AUTH] Application-specific password required`. Since two-step verification was turned on, the account password works only on the provider's web pages.",
                evidence: "The connection, TLS and the login exchange worked; the refusal names an application-specific password (SMTP 534 5.7.9).",
                remedy: "Create an app password in the provider's account security settings and enter it in the mail client instead of the account password (or switch the account to OAuth sign-in, if the client supports it).",
                references: &["RFC 4954, section 6 (534 5.7.9 Authentication mechanism is too weak)", "RFC 5530 (IMAP ALERT)", "Google Account Help: Sign in with app passwords"],
                outlook_express_codes: &["0x800CCC60", "0x800CCCD1", "0x800CCC92"],
                thunderbird_codes: &["authentication-failed"],
            },
            Cause::BasicAuthDisabled => CauseInfo {
                id: "basic-auth-disabled",
                title: "Basic authentication is switched off for the mailbox or tenant",
                wire: "SMTP AUTH is answered `535 5.7.139 Authentication unsuccessful, basic authentication is disabled` or `535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox`: the password may be right, the provider no longer accepts passwords at all. Over IMAP and POP3 Microsoft answers with the text of a wrong password (`NO AUTHENTICATE failed.`, `-ERR Logon failure`), which the probe cannot tell apart from one: it reports auth-failed there. Google's form names itself on every protocol: SMTP `534-5.7.14 ... Please log in via your web browser`, IMAP `NO [WEBALERT https://accounts.google.com/...] Web login required`, POP3 `-ERR [AUTH] Web login required`.",
                evidence: "The login was refused with enhanced status 5.7.139 or 5.7.14, or a text saying basic authentication (SMTP client authentication) is disabled or a web login is required.",
                remedy: "Not a password problem: the provider (Microsoft 365 and Outlook.com; Google) turned off password sign-in for this client. Use a client that signs in with OAuth (Modern Authentication, \"Sign in with Google\"), an app password where the provider still offers them, or ask the administrator to allow SMTP AUTH for this mailbox.",
                references: &["RFC 3463 (enhanced status codes, X.7.x)", "Microsoft Learn: Enable or disable SMTP AUTH in Exchange Online", "Microsoft Learn: Deprecation of Basic authentication in Exchange Online", "Google Workspace Admin Help: Transition from less secure apps to OAuth", "Gmail Help: answer 78754 (Can't sign in to your Google Account)"],
                outlook_express_codes: &["0x800CCC60", "0x800CCCD1", "0x800CCC92"],
                thunderbird_codes: &["authentication-failed"],
            },
            Cause::OAuthRequired => CauseInfo {
                id: "oauth-required",
                title: "The server offers only OAuth sign-in",
                wire: "The server lists only OAuth mechanisms: SMTP `250-AUTH XOAUTH2 OAUTHBEARER`, IMAP `AUTH=XOAUTH2 AUTH=OAUTHBEARER`, POP3 CAPA `SASL XOAUTH2 OAUTHBEARER` without `USER`. There is no mechanism that takes a password, so the probe sends none.",
                evidence: "The mechanisms offered are all OAuth (XOAUTH2, OAUTHBEARER); none is PLAIN or LOGIN.",
                remedy: "The password is not the problem and changing it will not help: sign in with OAuth (in Thunderbird, authentication method \"OAuth2\"; in Outlook, the account's modern sign-in), or use a client that supports it.",
                references: &["RFC 7628 (OAUTHBEARER)", "Google: XOAUTH2 mechanism", "RFC 4954 (SMTP AUTH)", "RFC 3501, section 6.2.2"],
                outlook_express_codes: &["0x800CCC60", "0x800CCCDF", "0x800CCC90"],
                thunderbird_codes: &["authentication-failed", "auth-method-not-supported"],
            },
            Cause::ClientTlsTooOld => CauseInfo {
                id: "client-tls-too-old",
                title: "The mail client is too old for the server's TLS",
                wire: "The client offers at most TLS 1.0 (Outlook Express 6 on Windows XP) or SSL 3, with no SNI; the server requires TLS 1.2 or later and answers the ClientHello with a protocol_version (or handshake_failure) alert, or closes. The mirror of tls-version-mismatch, where the server is the old one.",
                evidence: "The emulated client's own ClientHello was refused at once, while the same server completes a TLS 1.2/1.3 handshake with a current client.",
                remedy: "The server is right: TLS 1.0 and SSL 3 are retired (RFC 8996, RFC 7568). Use a current mail client (and operating system); there is no setting in the old client that helps.",
                references: &["RFC 8996 (Deprecating TLS 1.0 and TLS 1.1)", "RFC 7568 (Deprecating SSL 3.0)", "RFC 8446, section 6.2 (protocol_version alert)"],
                outlook_express_codes: &["0x800CCC1A"],
                thunderbird_codes: &["secure-connection-failed"],
            },
            Cause::CertificateChainIncomplete => CauseInfo {
                id: "certificate-chain-incomplete",
                title: "The server's certificate chain is missing its intermediate certificate",
                wire: "The server's certificate is issued by an intermediate CA, but the server sends its own certificate alone. A client that does not already have the intermediate cannot link the certificate to a trusted root and refuses it as from an unknown issuer. Clients differ: Windows fetches the intermediate from the certificate's Authority Information Access URL when it can reach it, Firefox preloads the intermediates of public CAs, Thunderbird, phones and most libraries do neither, so the same server works in one client and fails in another.",
                evidence: "The certificate was refused for an unknown issuer; the server sent one certificate, and an intermediate the probe knows links it to a trusted root. (A probe of a real server names this only when it has that intermediate; otherwise it reports an untrusted certificate.)",
                remedy: "The fix is on the server: configure it to send the full chain (its certificate followed by the intermediate, e.g. Let's Encrypt's fullchain.pem rather than cert.pem; Postfix smtpd_tls_chain_files, Dovecot ssl_cert with the chain appended). Do not add an exception in the client.",
                references: &["RFC 5246, section 7.4.2 (certificate_list)", "RFC 8446, section 4.4.2", "RFC 5280, section 4.2.2.1 (Authority Information Access)"],
                outlook_express_codes: &["0x800CCC1A"],
                thunderbird_codes: &["certificate-exception"],
            },
            Cause::SniRequired => CauseInfo {
                id: "sni-required",
                title: "The server needs the client to name it (SNI), and the client does not",
                wire: "The server hosts several names and picks the certificate by the name in the client's TLS ClientHello (Server Name Indication). A client that sends no name (Outlook Express 6 and anything else on Windows XP, old Android and Java stacks) gets the server's default certificate, for another name or self-signed, and refuses it.",
                evidence: "Without a server name the certificate was refused; the same setting with the name sent (SNI) got a certificate the client accepts.",
                remedy: "Use a client that sends SNI (every current one does; on Windows XP, none does). Or use the server name the default certificate is for, or ask the provider to make the default certificate cover the mail names.",
                references: &["RFC 6066, section 3 (Server Name Indication)", "RFC 6125"],
                outlook_express_codes: &["0x800CCC01", "0x800CCC1A"],
                thunderbird_codes: &["certificate-exception"],
            },
            Cause::ClientAddressBlocklisted => CauseInfo {
                id: "client-address-blocklisted",
                title: "Mail sent without logging in is refused: the client's address is on a block list",
                wire: "The client sends without authenticating (often to port 25 from a home connection). The server checks the client's IP address against DNS block lists (Spamhaus ZEN, whose PBL lists consumer address ranges that should not send directly) and refuses RCPT TO with `550 5.7.1 ... blocked using zen.spamhaus.org` or `554 5.7.1 ... listed at ...`. The same server accepts the same client once it logs in: block-list checks come after `permit_sasl_authenticated`.",
                evidence: "MAIL FROM or RCPT TO was refused with a reply that names a block list, in a session that had not logged in.",
                remedy: "Log in: turn on \"My server requires authentication\" and send through the submission port 587 with STARTTLS (or 465 with TLS), with the account's user name and password. Nothing needs delisting: a consumer address range belongs on the PBL.",
                references: &["RFC 5782 (DNS Blacklists and Whitelists)", "RFC 6409 (Message Submission for Mail)", "Spamhaus: the Policy Block List (PBL)"],
                outlook_express_codes: &["0x800CCC79", "0x800CCC78"],
                thunderbird_codes: &["recipient-rejected", "sender-rejected"],
            },
            Cause::LoginTooSoon => CauseInfo {
                id: "login-too-soon",
                title: "The POP3 server allows one login every so often, and this one came too soon",
                wire: "The server lists `LOGIN-DELAY 900` in CAPA (RFC 2449): at most one login to a maildrop every 900 seconds. A client that checks more often, or a second device checking the same mailbox (a phone beside the PC), gets `-ERR [LOGIN-DELAY] ...` at PASS although the password is right. Outlook Express shows it as a password error.",
                evidence: "PASS was refused with the [LOGIN-DELAY] response code; CAPA lists LOGIN-DELAY and its seconds.",
                remedy: "Check mail less often: set the client's interval to at least the seconds CAPA lists (900 s is 15 minutes), and let one device poll the mailbox (or use IMAP on the others). The password is right.",
                references: &["RFC 2449, section 6.5 (LOGIN-DELAY capability) and section 8.1.1 (LOGIN-DELAY response code)"],
                outlook_express_codes: &["0x800CCC92", "0x800CCC90"],
                thunderbird_codes: &["authentication-failed", "server-error"],
            },
            Cause::ClosedAfterGreeting => CauseInfo {
                id: "closed-after-greeting",
                title: "The server greets, then closes the connection",
                wire: "The client gets the greeting (220, +OK, * OK) and the connection is closed before its first command (EHLO, CAPA, CAPABILITY) is answered: a server or a box in front of it that throttles clients by address or by rate, or one that has run out of sessions and hangs up instead of saying 421.",
                evidence: "The greeting was the only line received; the connection ended at the next step, at once.",
                remedy: "Something throttles this address: check mail less often and close other clients on the same account; if it lasts, ask the provider whether your address is rate-limited or blocked. Another port of the same server (587 or 465) may not be throttled.",
                references: &["RFC 5321, section 3.8 (Terminating Sessions and Connections)", "RFC 1939, section 3"],
                outlook_express_codes: &["0x800CCC0F"],
                thunderbird_codes: &["connection-lost"],
            },
            Cause::Ipv6ServiceMissing => CauseInfo {
                id: "ipv6-service-missing",
                title: "The name has an IPv6 address, but the mail service does not listen there",
                wire: "The server name has an AAAA record; the client tries IPv6 first and the connection is refused (a reset from the address: the IPv6 path works), then falls back to IPv4, where the server answers. Typically the server was set up for IPv4 only, or its IPv6 address moved, and the DNS still publishes the AAAA record.",
                evidence: "The IPv6 address refused the connection and the IPv4 address took it: an answer on IPv6 rules out a broken IPv6 path (ipv6-broken, where the IPv6 connect is never answered).",
                remedy: "The provider's fix: make the mail service listen on the IPv6 address, or remove the AAAA record. Clients fall back to IPv4 at once, so mail works meanwhile; nothing to change on this computer.",
                references: &["RFC 8305 (Happy Eyeballs Version 2)", "RFC 3596 (DNS Extensions to Support IP Version 6)"],
                outlook_express_codes: &[],
                thunderbird_codes: &[],
            },
            Cause::TlsNoCommonCipher => CauseInfo {
                id: "tls-no-common-cipher",
                title: "The server offers only cipher suites a current client refuses",
                wire: "The server speaks a TLS version the client accepts, but only with suites current clients removed: export-grade and RC4 suites, 3DES, or Diffie-Hellman groups under 1024 bits (after Logjam, 2015). It answers the ClientHello with a handshake_failure alert. An old client that still offers those suites connects; Thunderbird shows SSL_ERROR_NO_CYPHER_OVERLAP. Distinct from tls-version-mismatch (a protocol_version alert) and from a scanner that closes the connection without answering.",
                evidence: "The handshake ended with a handshake_failure alert from the server in answer to the ClientHello.",
                remedy: "Ask the provider to enable current cipher suites (AES-GCM or ChaCha20-Poly1305 with ECDHE) and DH groups of 2048 bits or more; do not re-enable weak suites in the client.",
                references: &["RFC 7465 (Prohibiting RC4 Cipher Suites)", "RFC 8446, section 6.2 (handshake_failure)", "Logjam: Imperfect Forward Secrecy (weakdh.org, 2015)"],
                outlook_express_codes: &["0x800CCC1A"],
                thunderbird_codes: &["secure-connection-failed"],
            },
            Cause::PathMtuBlackhole => CauseInfo {
                id: "path-mtu-blackhole",
                title: "Large packets are lost on the way (a path-MTU blackhole)",
                wire: "A link on the path carries smaller packets than the ends assume (PPPoE, a VPN or tunnel, a mobile network) and a firewall drops the ICMP \"fragmentation needed\" that would tell the sender. The connection opens and small replies pass (a greeting, EHLO, CAPA, STARTTLS's go-ahead); the first full-size packet (the server's TLS certificate flight, 2.5-5 KB with a real chain, or a large message on DATA) is dropped, resent and dropped again, and the connection hangs open until the client times out: Outlook Express shows its timeout codes (0x8004210B sending, 0x8004210A receiving), Thunderbird \"Connection to server ... timed out\". Microsoft KB 314825 and KB 900926 describe it.",
                evidence: "A server on the same host answered in plaintext, so small packets pass; every TLS handshake to it got nothing back after the ClientHello and the connection stayed open (no reset, no close), which a scanner (closes), a refusing server (an alert) and a dropping firewall (no connection at all) do not do. A mid-session stall that begins exactly at the handshake looks the same: explain lists the pair.",
                remedy: "Lower the MTU of the computer's network interface (netsh interface ipv4 set subinterface \"<name>\" mtu=1400 store=persistent; on a router: MSS clamping, e.g. 1452 for PPPoE) or let ICMP \"fragmentation needed\" through the firewall; the provider of a VPN or tunnel can clamp the MSS for its users.",
                references: &["RFC 2923 (TCP Problems with Path MTU Discovery), section 2.1", "RFC 4821 (Packetization Layer Path MTU Discovery)", "Microsoft KB 314825 (How to determine the proper MTU size)", "Microsoft KB 900926 (MTU and PMTU black hole detection)"],
                outlook_express_codes: &["0x8004210B", "0x8004210A"],
                thunderbird_codes: &["connection-timed-out"],
            },
            Cause::TooManyConnections => CauseInfo {
                id: "too-many-connections",
                title: "The server allows no more connections for this account or address",
                wire: "IMAP and POP3 servers limit the sessions one user (or one user from one address) may hold: Dovecot's mail_max_userip_connections (10 by default), Gmail's 15 simultaneous IMAP connections per account, per-address limits on SMTP. A phone, a tablet and a PC with a client that opens several connections per account reach it; the next login gets `NO [LIMIT] Maximum number of connections from user+IP exceeded`, `* NO [ALERT] Too many simultaneous connections`, `-ERR [IN-USE] Maximum number of connections ...`, or a greeting of `421 Too many connections from your address` / `* BYE Too many connections`. The password is right; the error comes and goes as the other clients connect.",
                evidence: "The greeting or the answer to a right password names the number of connections (too many connections, maximum number of connections, [LIMIT]); a locked maildrop ([IN-USE] without that) is mailbox-locked, a busy server without it is server-busy.",
                remedy: "Close the other mail programs or devices that keep sessions open on this account (or stop them polling at the same time), lower the connections a client opens per account (Thunderbird: Server Settings > Advanced > maximum number of server connections to cache, e.g. 2), or wait for idle sessions to time out (30 minutes on IMAP); behind one shared address, the provider can raise the per-address limit.",
                references: &["RFC 5530, section 3 (IMAP response code LIMIT)", "Dovecot documentation: mail_max_userip_connections", "Google Workspace Admin Help: IMAP usage limits (15 simultaneous connections)"],
                outlook_express_codes: &["0x800CCC67", "0x800CCC90", "0x800CCC92", "0x800CCCD1"],
                thunderbird_codes: &["authentication-failed", "server-error"],
            },
            Cause::PopBeforeSmtp => CauseInfo {
                id: "pop-before-smtp",
                title: "The server relays only after the client has checked its mail (POP-before-SMTP)",
                wire: "Before SMTP AUTH was common, providers let an address relay for a while (often 10 to 30 minutes) after a POP3 login from it; many such servers still offer no AUTH. A client that sends before it receives (Outlook Express's Send/Recv sends first) gets `554 5.7.1 Relay access denied` or `553 sorry, that domain isn't in my list of allowed rcpthosts` for outside recipients, and the same message goes out after the next check of mail.",
                evidence: "The recipient was refused; the probe logged in to the client's POP3 account and tried the same SMTP setting again, and it was accepted. Without a POP3 account in the client, or when the retry is refused too, this stays relay-denied.",
                remedy: "Check mail before sending (Outlook Express: Options > Send > uncheck \"Send messages immediately\" and use Send/Recv after a receive, or tick \"My server requires authentication\" where the server offers AUTH); better, ask the provider for SMTP AUTH on port 587, which works from anywhere and at any time.",
                references: &["RFC 4954 (SMTP AUTH), section 1 (why POP-before-SMTP gave way)", "RFC 5068 (Email Submission Operations), section 3", "qmail: relay-ctrl and POP-before-SMTP (cr.yp.to)"],
                outlook_express_codes: &["0x800CCC79"],
                thunderbird_codes: &["recipient-rejected"],
            },
            Cause::TrustStoreOutdated => CauseInfo {
                id: "trust-store-outdated",
                title: "The client's trust store lacks the root the server's certificate chains to",
                wire: "The server's chain is valid and leads to a root that current trust stores hold, but the client's store predates it: Windows XP without root updates, Android before 7.1.1 or an old Java against ISRG Root X1 after DST Root CA X3 expired (30 September 2021), a device that never gets store updates. The client refuses the certificate as from an unknown issuer; the same server works from a current client. Outlook Express shows 0x800CCC1A or a security warning; Thunderbird (its own store) asks for an exception.",
                evidence: "The certificate was refused for an unknown issuer, and checking it against the roots of a current store, one at a time, names the root that accepts it and that the client's store lacks. A live probe has no other store to check against and reports certificate-untrusted: explain lists the pair.",
                remedy: "Update the client's trust store (Windows Update's root certificate updates, a newer OS or Java, or a client that carries its own store such as Thunderbird); a server admin can serve a chain cross-signed by a root old clients still hold while it is valid.",
                references: &["Let's Encrypt: DST Root CA X3 expiration (September 2021)", "Microsoft KB 931125 (Windows root certificate program)", "RFC 5280, section 6 (certification path validation)"],
                outlook_express_codes: &["0x800CCC1A"],
                thunderbird_codes: &["certificate-exception"],
            },
            Cause::CertificateRootDistrusted => CauseInfo {
                id: "certificate-root-distrusted",
                title: "The server's certificate chains to a root current trust stores removed",
                wire: "Browser and OS vendors remove roots whose authority broke the rules (Symantec's in 2018, WoSign's and StartCom's in 2017, TrustCor's in 2022, Entrust's for new certificates in 2024). A server still using a certificate from such a root works for old clients, whose store holds the root, and fails for current ones with an unknown issuer.",
                evidence: "The certificate was refused for an unknown issuer, and it chains to a root the probe knows current stores removed; a client that still holds that root accepts it. A live probe that knows no removed roots reports certificate-untrusted: explain lists the pair.",
                remedy: "The server's admin must replace the certificate with one from a trusted authority; do not add the removed root back to the client.",
                references: &["Mozilla: Distrust of Symantec TLS certificates (2018)", "Mozilla: TrustCor root removal (2022)", "Chrome Root Program: Entrust distrust (2024)"],
                outlook_express_codes: &["0x800CCC1A"],
                thunderbird_codes: &["certificate-exception"],
            },
            Cause::ClientAddressBanned => CauseInfo {
                id: "client-address-banned",
                title: "The server banned the client's address after failed logins (fail2ban)",
                wire: "Servers run fail2ban or the like: after a number of failed logins from one address within a window (fail2ban's maxretry 5 in 10 minutes by default), a firewall rule refuses (REJECT) or ignores (DROP) every connection from it for a while (bantime). A phone or a second computer with an old password reaches the limit, and from that moment every device behind the same address gets 'connection refused' or a timeout on every mail port, the ones with the right password too: it looks like a network fault.",
                evidence: "The login was refused, and a new connection to the same port, right after, was refused or went unanswered where it had just been answered. A probe that starts after the ban sees only refused or dropped connections, as from a firewall or a server that is down: explain lists the pair.",
                remedy: "Find the device or program with the old password (a phone, a tablet, a second mail client) and correct or stop it; then wait for the ban to run out (often 10 minutes to an hour) or ask the provider to lift it. Changing networks (a phone's mobile data) gets around it for that device only.",
                references: &["fail2ban documentation: jail.conf (maxretry, findtime, bantime)", "Dovecot and Postfix filters shipped with fail2ban (dovecot.conf, postfix-sasl.conf)"],
                outlook_express_codes: &["0x800CCC60", "0x800CCC90", "0x800CCC92", "0x800CCCD1"],
                thunderbird_codes: &["authentication-failed"],
            },
            Cause::AntivirusAnswersForServer => CauseInfo {
                id: "antivirus-answers-for-server",
                title: "A local antivirus proxy answers for the mail server and takes the mail itself",
                wire: "Some antivirus mail shields do not relay the SMTP session: they answer it themselves from this machine (`220 localhost ...`), accept the login, every recipient and the message at once, and pass it on to the real server afterwards. What the server refuses then (a wrong password, relaying, the size, the sender) never reaches the client, which shows no error: mail 'was sent' and never arrives, or comes back later as a bounce from the antivirus.",
                evidence: "The session worked, but its greeting came from this machine (localhost or a loopback address, often naming the product); on the server's implicit-TLS port, which the proxy cannot read, the server greets in its own name.",
                remedy: "Turn off the antivirus's outgoing mail scanning (or its 'scan outgoing mail' proxy) or switch the account to port 465 with SSL/TLS, which it does not intercept; then send again to see the server's real answer.",
                references: &["RFC 5321, section 4.2 (a 250 after DATA takes responsibility for delivery)", "Avast Support: Mail Shield settings", "ESET Knowledgebase: email client protection"],
                outlook_express_codes: &[],
                thunderbird_codes: &[],
            },
            Cause::AntivirusHoldsMessage => CauseInfo {
                id: "antivirus-holds-message",
                title: "A local antivirus proxy holds each outgoing message until it has scanned it",
                wire: "The antivirus's outgoing-mail scanner relays the SMTP session to the real server, but from DATA on it keeps the message to itself until the final dot, scans all of it, and only then passes it on. The client has sent everything and waits for the reply to its dot while nothing moves on the wire: a small mail goes through, a large attachment keeps it waiting past its server timeout, and it reports a timeout or a broken connection (the message may still arrive, sometimes twice when the client sends it again). To hold messages the proxy leaves PIPELINING and CHUNKING out of the EHLO reply it relays.",
                evidence: "The server's EHLO before TLS, as relayed on this port, lacks PIPELINING (or CHUNKING) that the server's own EHLO lists where a proxy cannot read: after STARTTLS on the same connection, or on the implicit-TLS port 465. The greeting is the server's own: the session is relayed, not answered.",
                remedy: "Turn off the antivirus's outgoing (SMTP) mail scanning, or turn on encryption (SSL/TLS on port 465, or STARTTLS), which it cannot read; if the product offers it, turn on its protection against timeouts; otherwise raise the client's server timeout (Outlook Express: Account Properties, Advanced, Server Timeouts) for large attachments.",
                references: &["RFC 2920 (SMTP Service Extension for Command Pipelining)", "RFC 3030 (SMTP CHUNKING and BINARYMIME)", "RFC 5321, section 4.5.3.2.6 (the 10-minute wait for the reply to the final dot)", "Norton AntiVirus: outgoing email scanning and its 'Protect against timeouts' option", "Microsoft KB 813514 (Outlook send/receive errors: antivirus email scanning)"],
                outlook_express_codes: &["0x800CCC0F", "0x8004210B"],
                thunderbird_codes: &["connection-timed-out", "connection-lost"],
            },
            Cause::TcpWindowScalingBroken => CauseInfo {
                id: "tcp-window-scaling-broken",
                title: "A router breaks TCP window scaling: large transfers crawl",
                wire: "The computer offers TCP window scaling (RFC 7323), as every system since Windows Vista does with receive-window auto-tuning, and a router or firewall on the path mangles the option or the window field. The sender then sees a window of a few hundred bytes, and sends one such window per round trip, whatever the line's speed. Greetings and short replies fit in one window and pass at once; a TLS certificate flight crawls in bursts, and a large message or download takes minutes: sends time out at the end of DATA and downloads stall in the middle.",
                evidence: "The server's TLS flight came in equal bursts of a few hundred bytes, each a silence of one round trip (the quickest a command was answered) after the last: a window that never grows. A slow line delivers evenly, without such silences.",
                remedy: "Update or replace the router's firmware, or turn off the feature that rewrites TCP (an old firewall's 'SPI', a 'TCP optimiser'); until then, turn off receive-window auto-tuning on the computer (Windows: netsh interface tcp set global autotuninglevel=disabled, then restart).",
                references: &["RFC 7323 (TCP Extensions for High Performance: window scale), section 2", "Microsoft KB 935400 (network connectivity fails or is slow with receive window auto-tuning through a router that does not support window scaling)", "RFC 1323 (the original window scale option)"],
                outlook_express_codes: &["0x800CCC0F", "0x8004210B", "0x8004210A"],
                thunderbird_codes: &["connection-timed-out", "connection-lost"],
            },
            Cause::Unknown => CauseInfo {
                id: "unknown",
                title: "No known pattern matched",
                wire: "See the transcript.",
                evidence: "None of the catalogue's rules matched.",
                remedy: "Read the transcript; file it as a new scenario.",
                references: &[],
                outlook_express_codes: &[],
                thunderbird_codes: &[],
            },
        }
    }
}

/// Pairs of causes the probe cannot always tell apart with what it sees,
/// and when; `explain` says so for both, rather than the diagnosis guess.
/// The library's scenarios stay on the side of each pair the rules name.
pub const LOOK_ALIKES: &[(Cause, Cause, &str)] = &[
    (
        Cause::TcpWindowScalingBroken,
        Cause::Ok,
        "a session without TLS moves too little to show the window: its replies each fit in one, so only a TLS certificate flight (a few KB) shows the bursts; a window larger than the flight (over ~1 KB per burst for a 2.6 KB flight) does not show either",
    ),
    (
        Cause::AntivirusHoldsMessage,
        Cause::Ok,
        "a server configured to list PIPELINING only over TLS (or only on port 465) looks like a proxy that hid it; the probe sends no message, so it cannot time the end of DATA to be sure",
    ),
    (
        Cause::PathMtuBlackhole,
        Cause::MidSessionStall,
        "a stall that begins exactly where the TLS handshake begins, after smaller replies passed, is read as path-mtu-blackhole: a client cannot make the server send a smaller certificate flight to tell the two apart",
    ),
    (
        Cause::Ipv6ServiceMissing,
        Cause::Ipv6Broken,
        "a router that answers IPv6 connections with resets, not with ICMP or silence, is read as ipv6-service-missing",
    ),
    (
        Cause::CertificateChainIncomplete,
        Cause::CertificateUntrusted,
        "a live probe names the missing intermediate only when it knows it (it ships none and does not fetch a certificate's AIA URL); otherwise it reports certificate-untrusted",
    ),
    (
        Cause::TrustStoreOutdated,
        Cause::CertificateUntrusted,
        "a live probe has no current store but the one it runs with, so an old client's store cannot be compared: it reports certificate-untrusted",
    ),
    (
        Cause::CertificateRootDistrusted,
        Cause::CertificateUntrusted,
        "a probe knows a removed root only when the world declares it (`roots: [{ name: ..., distrusted: true }]`); a live probe reports certificate-untrusted",
    ),
    (
        Cause::ClientAddressBanned,
        Cause::ConnectionRefused,
        "a probe that starts after the ban, with no refused login of its own, sees only refused (or, with DROP, unanswered) connections on every mail port, as from a firewall or a stopped server",
    ),
    (
        Cause::BasicAuthDisabled,
        Cause::AuthFailed,
        "Microsoft's IMAP and POP3 servers answer a password login with basic authentication off in the words of a wrong password; that reads as auth-failed",
    ),
];

impl Cause {
    /// The causes this one cannot always be told from, and when.
    pub fn look_alikes(self) -> impl Iterator<Item = (Cause, &'static str)> {
        LOOK_ALIKES.iter().filter_map(move |(a, b, when)| {
            if *a == self {
                Some((*b, *when))
            } else if *b == self {
                Some((*a, *when))
            } else {
                None
            }
        })
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for cause in Cause::ALL {
            let id = cause.id();
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{id}"
            );
            assert!(seen.insert(id), "duplicate id {id}");
            assert_eq!(Cause::from_id(id), Some(cause));
        }
        assert_eq!(Cause::from_id("no-such-cause"), None);
    }
}
