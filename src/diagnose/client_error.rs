//! What a given mail client would have shown for a failed attempt.
//!
//! The whole Outlook Express table is one function, `outlook_express_6`. Its codes are the
//! `IXP_E_*` HRESULTs of the Internet Mail transport (imnxport.h, shipped in
//! the Windows SDK), as OE 6 showed them in its error dialog ("Error Number:
//! 0x800CCC0F"), with the Winsock error it printed beside them ("Socket Error:
//! 10060"; winerror.h WSAETIMEDOUT 10060, WSAECONNREFUSED 10061,
//! WSAECONNRESET 10054, WSAHOST_NOT_FOUND 11004). The reply-timeout codes
//! 0x8004210A (POP3) and 0x8004210B (SMTP) are the ones Microsoft's mail
//! clients report for "The operation timed out waiting for a response from the
//! receiving (POP) / sending (SMTP) server", as quoted in Microsoft's support
//! articles on Outlook send/receive errors.

use std::fmt;

use crate::probe::tls::reason;
use crate::probe::{Attempt, Endpoint, Failure, Protocol, Step, TlsFailure};

/// A mail client whose error reporting can be emulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientKind {
    /// Outlook Express 6 (Windows XP era).
    #[default]
    OutlookExpress6,
    /// Mozilla Thunderbird.
    Thunderbird,
    /// Classic Outlook (2016 to Microsoft 365), which reports the same
    /// `IXP_E_*` codes in its own words.
    Outlook,
}

impl ClientKind {
    /// The name in scenario files.
    pub fn id(self) -> &'static str {
        match self {
            ClientKind::OutlookExpress6 => "outlook-express-6",
            ClientKind::Thunderbird => "thunderbird",
            ClientKind::Outlook => "outlook",
        }
    }

    /// Every emulated client.
    pub const ALL: [ClientKind; 3] = [
        ClientKind::OutlookExpress6,
        ClientKind::Thunderbird,
        ClientKind::Outlook,
    ];

    /// What this client shows for `attempt`; `None` if it worked.
    pub fn error_for(self, attempt: &Attempt) -> Option<ClientError> {
        let (step, failure) = attempt.failure()?;
        Some(match self {
            ClientKind::OutlookExpress6 => outlook_express_6(&attempt.endpoint, step, failure),
            ClientKind::Thunderbird => thunderbird(&attempt.endpoint, step, failure),
            ClientKind::Outlook => outlook(&attempt.endpoint, step, failure),
        })
    }
}

/// Classic Outlook's error for a failed step: the code Outlook Express's
/// transport gives (Outlook shares it), in Outlook's send/receive progress
/// wording, "Task 'HOST - Sending' reported error (0x800CCC0E): '...'", with
/// the messages Microsoft's support article "Troubleshoot email
/// send/receive errors in Outlook" (KB 813514) quotes for the common codes.
fn outlook(endpoint: &Endpoint, step: Step, failure: &Failure) -> ClientError {
    let express = outlook_express_6(endpoint, step, failure);
    let smtp = endpoint.protocol == Protocol::Smtp;
    let contact = "If you continue to receive this message, contact your server administrator or Internet service provider (ISP).";
    let words = match express.code {
        "0x800CCC0E" if smtp => {
            format!("Outlook cannot connect to your outgoing (SMTP) e-mail server. {contact}")
        }
        "0x800CCC0E" => format!("Outlook cannot connect to your incoming e-mail server. {contact}"),
        "0x800CCC0F" => INTERRUPTED.to_string(),
        "0x8004210B" => format!(
            "The operation timed out waiting for a response from the sending (SMTP) server. {contact}"
        ),
        "0x8004210A" => format!(
            "The operation timed out waiting for a response from the receiving server. {contact}"
        ),
        "0x800CCC92" | "0x800CCCD1" => {
            let said = reply_text(failure);
            format!("Your e-mail server rejected your login. Verify your user name and password for this account in Account Settings. The server responded: {said}")
        }
        _ => express.message.clone(),
    };
    let task = if smtp { "Sending" } else { "Receiving" };
    ClientError {
        message: format!(
            "Task '{} - {task}' reported error ({}): '{words}'",
            endpoint.host, express.code
        ),
        ..express
    }
}

/// An error as a client shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    /// The error code, e.g. `0x800CCC0F`.
    pub code: &'static str,
    /// The dialog's message.
    pub message: String,
    /// The Winsock error shown beside the code, if any.
    pub socket_error: Option<u32>,
}

impl ClientError {
    /// The details line of Outlook Express's error dialog for `endpoint`.
    pub fn dialog_details(&self, endpoint: &Endpoint) -> String {
        let protocol = match endpoint.protocol {
            Protocol::Smtp => "SMTP",
            Protocol::Pop3 => "POP3",
            Protocol::Imap => "IMAP",
        };
        let secure = if endpoint.security == crate::probe::Security::Tls {
            "Yes"
        } else {
            "No"
        };
        let socket = self
            .socket_error
            .map(|s| format!("Socket Error: {s}, "))
            .unwrap_or_default();
        format!(
            "Server: '{}', Protocol: {protocol}, Port: {}, Secure(SSL): {secure}, {socket}Error Number: {}",
            endpoint.host, endpoint.port, self.code
        )
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.socket_error {
            Some(socket) => write!(f, "{} (socket error {socket}): {}", self.code, self.message),
            None => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

const INTERRUPTED: &str = "The connection to the server was interrupted. If this problem \
    continues, contact your server administrator or Internet service provider (ISP).";
const FAILED_TO_CONNECT: &str = "The connection to the server has failed.";
const SECURE_FAILED: &str = "Your server does not support the connection encryption type you \
    have specified. Try changing the encryption method.";

/// Outlook Express 6's error for a failed step.
fn outlook_express_6(endpoint: &Endpoint, step: Step, failure: &Failure) -> ClientError {
    let smtp = endpoint.protocol == Protocol::Smtp;
    let imap = endpoint.protocol == Protocol::Imap;
    let error = |code: &'static str, message: String, socket_error: Option<u32>| ClientError {
        code,
        message,
        socket_error,
    };
    let server_said = |text: String| format!("The server responded: '{text}'");
    match (step, failure) {
        // IXP_E_CANT_FIND_HOST
        (Step::Resolve, _) => error(
            "0x800CCC0D",
            format!("The host '{}' could not be found. Please verify that you have entered the server name correctly.", endpoint.host),
            Some(11004),
        ),
        // IXP_E_FAILED_TO_CONNECT
        (Step::Connect, Failure::Refused) => error("0x800CCC0E", FAILED_TO_CONNECT.into(), Some(10061)),
        (Step::Connect, Failure::TimedOut { .. }) => error("0x800CCC0E", FAILED_TO_CONNECT.into(), Some(10060)),
        (Step::Connect, Failure::Reset) => error("0x800CCC0E", FAILED_TO_CONNECT.into(), Some(10054)),
        // WSAEHOSTUNREACH, WSAENETUNREACH
        (Step::Connect, Failure::HostUnreachable) => error("0x800CCC0E", FAILED_TO_CONNECT.into(), Some(10065)),
        (Step::Connect, Failure::NetworkUnreachable) => error("0x800CCC0E", FAILED_TO_CONNECT.into(), Some(10051)),
        (Step::Connect, _) => error("0x800CCC0E", FAILED_TO_CONNECT.into(), None),
        // IXP_E_CONNECTION_DROPPED: closed or reset after connecting,
        // including during a TLS handshake the peer abandoned. A handshake
        // cut off without any answer is the local-scanner case, where OE
        // reported WSAECONNABORTED (10053) beside the code.
        (Step::TlsHandshake, Failure::Tls(TlsFailure::Closed { received: 0 })) => {
            error("0x800CCC0F", INTERRUPTED.into(), Some(10053))
        }
        (_, Failure::Closed { .. }) | (Step::TlsHandshake, Failure::Tls(TlsFailure::Closed { .. })) => {
            error("0x800CCC0F", INTERRUPTED.into(), None)
        }
        (_, Failure::Reset) => error("0x800CCC0F", INTERRUPTED.into(), Some(10054)),
        // Reply timeouts: "The operation timed out waiting for a response".
        (_, Failure::TimedOut { .. } | Failure::DeadlineExceeded { .. }) if smtp => error(
            "0x8004210B",
            "The operation timed out waiting for a response from the sending (SMTP) server.".into(),
            Some(10060),
        ),
        (_, Failure::TimedOut { .. } | Failure::DeadlineExceeded { .. }) => error(
            "0x8004210A",
            "The operation timed out waiting for a response from the receiving (POP) server.".into(),
            Some(10060),
        ),
        // IXP_E_INVALID_CERT_CN, IXP_E_INVALID_CERT_DATE
        (Step::TlsHandshake, Failure::Tls(TlsFailure::Certificate(why))) if why == reason::WRONG_NAME => error(
            "0x800CCC01",
            "The server you are connected to is using a security certificate that does not match its name.".into(),
            None,
        ),
        (Step::TlsHandshake, Failure::Tls(TlsFailure::Certificate(why)))
            if why == reason::EXPIRED || why == reason::NOT_YET_VALID =>
        {
            error(
                "0x800CCC02",
                "The server you are connected to is using a security certificate that has expired or is not yet valid.".into(),
                None,
            )
        }
        // IXP_E_SECURE_CONNECT_FAILED
        (Step::TlsHandshake, _) | (Step::StartTls | Step::Stls, Failure::NotOffered { .. }) => {
            error("0x800CCC1A", SECURE_FAILED.into(), None)
        }
        // IXP_E_SMTP_421_NOT_AVAILABLE, IXP_E_SMTP_554_TRANSACT_FAILED
        (Step::Greeting, Failure::Reply { code: 421, text }) => {
            error("0x800CCC67", server_said(format!("421 {text}")), None)
        }
        (Step::Greeting, Failure::Reply { code: 554, text }) => {
            error("0x800CCC6F", server_said(format!("554 {text}")), None)
        }
        // IXP_E_SMTP_REJECTED_SENDER, IXP_E_SMTP_REJECTED_RECIPIENTS
        (Step::MailFrom, Failure::Reply { code, text }) => error(
            "0x800CCC78",
            format!("Unable to send the message. Please verify the e-mail address in your account properties. {}", server_said(format!("{code} {text}"))),
            None,
        ),
        (Step::RcptTo, Failure::Reply { code, text }) => error(
            "0x800CCC79",
            format!("The message could not be sent because one of the recipients was rejected by the server. {}", server_said(format!("{code} {text}"))),
            None,
        ),
        // The IXP_E_IMAP_* codes of imnxport.h (Wine's include/imnxport.h).
        (Step::Greeting, Failure::ImapError { status, text }) if status == "BYE" => error(
            "0x800CCCD9",
            format!("The server refused the connection. {}", server_said(format!("* BYE {text}"))),
            None,
        ),
        (Step::Auth, Failure::ImapError { status, text }) => error(
            "0x800CCCD1",
            format!("Your IMAP server has rejected your login. Please verify that your user name and password are correct. {}", server_said(format!("{status} {text}"))),
            None,
        ),
        (Step::Auth, Failure::NotOffered { what }) if imap => error(
            "0x800CCCDF",
            format!("There is no authentication method in common with the IMAP server ({what})."),
            None,
        ),
        // Outlook Express sends USER anyway and reports the -ERR.
        (Step::Auth, Failure::NotOffered { what }) if !smtp => error(
            "0x800CCC90",
            format!("The POP3 server refused the login: it offers no login the client can use ({what})."),
            None,
        ),
        (_, Failure::ImapError { status, text }) if status == "BAD" => {
            error("0x800CCCD3", server_said(format!("BAD {text}")), None)
        }
        (_, Failure::ImapError { status, text }) if status == "BYE" => {
            error("0x800CCCDD", server_said(format!("* BYE {text}")), None)
        }
        (_, Failure::ImapError { status, text }) => {
            error("0x800CCCD2", server_said(format!("{status} {text}")), None)
        }
        (_, Failure::Garbage { .. }) if imap => {
            error("0x800CCCD5", "The server is not an IMAP server.".into(), None)
        }
        (_, Failure::TooMuch { .. }) if imap => {
            error("0x800CCCD6", "The server's response overflowed the client's buffer.".into(), None)
        }
        // IXP_E_SMTP_UNKNOWN_RESPONSE_CODE, IXP_E_POP3_PARSE_FAILURE
        (_, Failure::Garbage { .. } | Failure::TooMuch { .. }) if smtp => {
            error("0x800CCC61", "The server sent a response the client could not understand.".into(), None)
        }
        (_, Failure::Garbage { .. } | Failure::TooMuch { .. }) => {
            error("0x800CCC93", "The server sent a response the client could not understand.".into(), None)
        }
        // IXP_E_POP3_INVALID_PASSWORD, IXP_E_POP3_RESPONSE_ERROR
        (Step::Pass, Failure::PopError { text }) => error(
            "0x800CCC92",
            format!("Your server has rejected your login. Please verify that your password is correct. {}", server_said(format!("-ERR {text}"))),
            None,
        ),
        (_, Failure::PopError { text }) => error("0x800CCC90", server_said(format!("-ERR {text}")), None),
        // IXP_E_SMTP_RESPONSE_ERROR: any other negative reply (AUTH 535, ...).
        (_, Failure::Reply { code, text }) => error("0x800CCC60", server_said(format!("{code} {text}")), None),
        (_, other) => error("0x800CCC60", format!("An unknown error has occurred: {other}."), None),
    }
}

/// Thunderbird's error for a failed step. Thunderbird shows sentences, not
/// numbers; the code is a short stable id for the sentence, and the
/// sentences follow the wording of its string bundles (messengercompose,
/// localMsgs and pipnss properties).
fn thunderbird(endpoint: &Endpoint, step: Step, failure: &Failure) -> ClientError {
    let host = &endpoint.host;
    let smtp = endpoint.protocol == Protocol::Smtp;
    let error = |code: &'static str, message: String| ClientError {
        code,
        message,
        socket_error: None,
    };
    let server = if smtp {
        "Outgoing server (SMTP)"
    } else {
        "server"
    };
    match (step, failure) {
        (Step::Resolve, _) if smtp => error(
            "smtp-server-not-found",
            format!("The message could not be sent because the Outgoing server (SMTP) {host} could not be found. Please verify the server name and try again."),
        ),
        (Step::Resolve, _) => error("server-not-found", format!("Failed to connect to server {host}.")),
        (Step::Connect, Failure::Refused) => error(
            "connection-refused",
            format!("Could not connect to mail server {host}; the connection was refused."),
        ),
        (Step::Connect, Failure::HostUnreachable | Failure::NetworkUnreachable) => {
            error("connection-failed", format!("Failed to connect to server {host}."))
        }
        (_, Failure::TimedOut { .. } | Failure::DeadlineExceeded { .. }) => error("connection-timed-out", format!("Connection to server {host} timed out.")),
        (_, Failure::Reset) => error("connection-reset", format!("The connection to the server {host} was reset.")),
        (_, Failure::Closed { .. }) | (Step::TlsHandshake, Failure::Tls(TlsFailure::Closed { .. })) if smtp => error(
            "connection-lost",
            format!("The message could not be sent because the connection to {server} {host} was lost in the middle of the transaction. Try again or contact your network administrator."),
        ),
        (_, Failure::Closed { .. }) | (Step::TlsHandshake, Failure::Tls(TlsFailure::Closed { .. })) => {
            error("connection-lost", format!("The connection to the server {host} was lost."))
        }
        (Step::TlsHandshake, Failure::Tls(TlsFailure::Certificate(why))) => error(
            "certificate-exception",
            format!("The certificate of {host} is not trusted ({why}). Add a security exception only if you trust this connection."),
        ),
        (Step::TlsHandshake, _) => error(
            "secure-connection-failed",
            format!("An error occurred during a connection to {host}:{}. Unable to establish a secure connection.", endpoint.port),
        ),
        (Step::StartTls | Step::Stls, Failure::NotOffered { .. }) => error(
            "starttls-not-advertised",
            format!("Unable to establish a secure link with {server} {host} using STARTTLS since it doesn't advertise that feature. Switch off STARTTLS for that server or contact your service provider."),
        ),
        // IMAP, in the words of Thunderbird's imapMsgs.properties.
        (Step::Auth, Failure::NotOffered { .. }) if endpoint.protocol == Protocol::Imap => error(
            "auth-method-not-supported",
            format!("The IMAP server {host} does not support the selected authentication method. Please change the 'Authentication method' in the 'Account Settings | Server settings'."),
        ),
        // localMsgs.properties, pop3AuthMechNotSupported.
        (Step::Auth, Failure::NotOffered { .. }) if endpoint.protocol == Protocol::Pop3 => error(
            "auth-method-not-supported",
            "Server does not support the selected authentication method. Please change the 'Authentication method' in the 'Account Settings | Server settings'.".to_string(),
        ),
        (Step::Greeting, Failure::ImapError { .. }) => error(
            "server-disconnected",
            format!("Server {host} has disconnected. The server may have gone down or there may be a network problem. {}", reply_text(failure)),
        ),
        (Step::Examine, Failure::ImapError { text, .. }) => error(
            "server-error",
            format!("The current operation on 'Inbox' did not succeed. The mail server for account {host} responded: {text}"),
        ),
        (Step::Auth | Step::User | Step::Pass, _) => error(
            "authentication-failed",
            format!("Login to server {host} failed. {}", reply_text(failure)),
        ),
        (Step::MailFrom, _) => error(
            "sender-rejected",
            format!("An error occurred while sending mail. The mail server responded: {}. Please verify that your email address is correct in your account settings and try again.", reply_text(failure)),
        ),
        (Step::RcptTo, _) => error(
            "recipient-rejected",
            format!("An error occurred while sending mail. The mail server responded: {}. Please check the message recipient and try again.", reply_text(failure)),
        ),
        _ => error("server-error", format!("The mail server {host} responded: {}.", reply_text(failure))),
    }
}

fn reply_text(failure: &Failure) -> String {
    match failure {
        Failure::Reply { code, text } => format!("{code} {text}"),
        Failure::PopError { text } => format!("-ERR {text}"),
        Failure::ImapError { status, text } => format!("{status} {text}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{Outcome, Purpose, Security};
    use std::time::Duration;

    fn failed(protocol: Protocol, step: Step, failure: Failure) -> Attempt {
        Attempt {
            purpose: Purpose::Configured,
            endpoint: Endpoint {
                protocol,
                host: "mx.example".into(),
                port: 25,
                security: Security::None,
            },
            events: vec![],
            outcome: Outcome::Failed { step, failure },
        }
    }

    fn code(protocol: Protocol, step: Step, failure: Failure) -> (&'static str, Option<u32>) {
        let error = ClientKind::OutlookExpress6
            .error_for(&failed(protocol, step, failure))
            .unwrap();
        (error.code, error.socket_error)
    }

    #[test]
    fn the_two_famous_cases_share_0x800ccc0f() {
        use Protocol::*;
        assert_eq!(
            code(Smtp, Step::Greeting, Failure::Closed { received: 0 }).0,
            "0x800CCC0F"
        );
        assert_eq!(
            code(
                Smtp,
                Step::TlsHandshake,
                Failure::Tls(TlsFailure::Closed { received: 0 })
            )
            .0,
            "0x800CCC0F"
        );
    }

    #[test]
    fn connect_failures_carry_socket_errors() {
        use Protocol::*;
        let timeout = Failure::TimedOut {
            waited: Duration::from_secs(30),
            partial: vec![],
            silent: Duration::from_secs(30),
        };
        assert_eq!(
            code(Smtp, Step::Connect, timeout.clone()),
            ("0x800CCC0E", Some(10060))
        );
        assert_eq!(
            code(Smtp, Step::Connect, Failure::Refused),
            ("0x800CCC0E", Some(10061))
        );
        assert_eq!(
            code(Pop3, Step::Resolve, Failure::NameNotFound),
            ("0x800CCC0D", Some(11004))
        );
        assert_eq!(code(Smtp, Step::Greeting, timeout.clone()).0, "0x8004210B");
        assert_eq!(code(Pop3, Step::Greeting, timeout).0, "0x8004210A");
    }

    #[test]
    fn server_replies_map_to_their_codes() {
        use Protocol::*;
        let reply = |code: u16| Failure::Reply {
            code,
            text: "x".into(),
        };
        assert_eq!(code(Smtp, Step::RcptTo, reply(554)).0, "0x800CCC79");
        assert_eq!(code(Smtp, Step::MailFrom, reply(530)).0, "0x800CCC78");
        assert_eq!(code(Smtp, Step::Auth, reply(535)).0, "0x800CCC60");
        assert_eq!(
            code(Pop3, Step::Pass, Failure::PopError { text: "no".into() }).0,
            "0x800CCC92"
        );
        assert_eq!(
            code(Pop3, Step::User, Failure::PopError { text: "no".into() }).0,
            "0x800CCC90"
        );
        let not_tls = Failure::Tls(TlsFailure::NotTls {
            first_bytes: b"220".to_vec(),
        });
        assert_eq!(code(Smtp, Step::TlsHandshake, not_tls).0, "0x800CCC1A");
    }

    #[test]
    fn thunderbird_speaks_in_sentences() {
        let timeout = Failure::TimedOut {
            waited: Duration::from_secs(60),
            partial: vec![],
            silent: Duration::from_secs(60),
        };
        let error = ClientKind::Thunderbird
            .error_for(&failed(Protocol::Pop3, Step::Greeting, timeout))
            .unwrap();
        assert_eq!(error.code, "connection-timed-out");
        assert_eq!(error.message, "Connection to server mx.example timed out.");
        let reset = ClientKind::Thunderbird
            .error_for(&failed(Protocol::Smtp, Step::Ehlo, Failure::Reset))
            .unwrap();
        assert!(reset.message.contains("was reset"));
    }

    #[test]
    fn success_shows_no_error() {
        let mut attempt = failed(Protocol::Smtp, Step::Connect, Failure::Refused);
        attempt.outcome = Outcome::Ok;
        assert_eq!(ClientKind::OutlookExpress6.error_for(&attempt), None);
    }

    #[test]
    fn classic_outlook_shares_the_codes_in_its_own_words() {
        let attempt = failed(
            Protocol::Smtp,
            Step::Connect,
            Failure::TimedOut {
                waited: Duration::from_secs(30),
                partial: vec![],
                silent: Duration::from_secs(30),
            },
        );
        let outlook = ClientKind::Outlook.error_for(&attempt).unwrap();
        let express = ClientKind::OutlookExpress6.error_for(&attempt).unwrap();
        assert_eq!(
            (outlook.code, outlook.socket_error),
            (express.code, express.socket_error)
        );
        assert_eq!(
            outlook.message,
            "Task 'mx.example - Sending' reported error (0x800CCC0E): 'Outlook cannot connect to your outgoing (SMTP) e-mail server. If you continue to receive this message, contact your server administrator or Internet service provider (ISP).'"
        );
    }
}
