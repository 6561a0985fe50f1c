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
}

impl Cause {
    /// Every cause, in catalogue order.
    pub const ALL: [Cause; 17] = [
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
                outlook_express_codes: &["0x800CCC0F", "0x800CCC0E"],
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
            },
            Cause::AuthFailed => CauseInfo {
                id: "auth-failed",
                title: "The server refused the user name or password",
                wire: "SMTP AUTH answered `535 5.7.8`, or POP3 USER/PASS answered `-ERR`.",
                evidence: "The connection and TLS worked; the login step got a negative reply.",
                remedy: "Check the user name (often the full address) and the password; reset the \
                         password with the provider if needed.",
                references: &["RFC 4954 (SMTP AUTH), section 6", "RFC 1939 (POP3), section 7"],
                outlook_express_codes: &["0x800CCC60", "0x800CCC90", "0x800CCC92"],
            },
            Cause::AuthUnavailable => CauseInfo {
                id: "auth-unavailable",
                title: "The server offers no login mechanism the client can use",
                wire: "EHLO lists no AUTH, or only mechanisms the client does not support.",
                evidence: "The EHLO reply's AUTH line is missing or has no PLAIN or LOGIN.",
                remedy: "Use the provider's submission port (587 with STARTTLS), where AUTH is offered.",
                references: &["RFC 4954 (SMTP AUTH)"],
                outlook_express_codes: &["0x800CCC60"],
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
            },
            Cause::ConnectionRefused => CauseInfo {
                id: "connection-refused",
                title: "Nothing listens on this port",
                wire: "The server host answers the connection attempt with a reset at once.",
                evidence: "Connect fails immediately with \"refused\" (socket error 10061).",
                remedy: "Check the port number; use the port the provider documents.",
                references: &["RFC 9293 (TCP), section 3.5.2"],
                outlook_express_codes: &["0x800CCC0E"],
            },
            Cause::HostNotFound => CauseInfo {
                id: "host-not-found",
                title: "The server name does not resolve",
                wire: "The DNS lookup for the server name fails.",
                evidence: "No address for the name (socket error 11004).",
                remedy: "Check the spelling of the server name, and that DNS works on this network.",
                references: &["RFC 1035"],
                outlook_express_codes: &["0x800CCC0D"],
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
            },
            Cause::ReplyTimedOut => CauseInfo {
                id: "reply-timed-out",
                title: "The server did not answer in time",
                wire: "The connection is up but an expected reply never arrives.",
                evidence: "A reply timeout at a step other than the greeting of an implicit-TLS port.",
                remedy: "Raise the client's server timeout; check the network path for stalls.",
                references: &[],
                outlook_express_codes: &["0x8004210B", "0x8004210A"],
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
            },
            Cause::TlsFailed => CauseInfo {
                id: "tls-failed",
                title: "The TLS handshake failed",
                wire: "The handshake ended with an alert or a certificate the client refused.",
                evidence: "A TLS alert or certificate error.",
                remedy: "See the TLS error in the evidence.",
                references: &["RFC 8446 (TLS 1.3)"],
                outlook_express_codes: &["0x800CCC1A", "0x800CCC0F"],
            },
            Cause::ServerRejected => CauseInfo {
                id: "server-rejected",
                title: "The server refused the session or a command",
                wire: "A negative reply to the greeting or a command.",
                evidence: "The reply in the evidence.",
                remedy: "Read the server's reply; contact the provider if it persists.",
                references: &["RFC 5321, section 4.2"],
                outlook_express_codes: &["0x800CCC60", "0x800CCC61", "0x800CCC67", "0x800CCC6F", "0x800CCC78", "0x800CCC79", "0x800CCC90", "0x800CCC93"],
            },
            Cause::Unknown => CauseInfo {
                id: "unknown",
                title: "No known pattern matched",
                wire: "See the transcript.",
                evidence: "None of the catalogue's rules matched.",
                remedy: "Read the transcript; file it as a new scenario.",
                references: &[],
                outlook_express_codes: &[],
            },
        }
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
