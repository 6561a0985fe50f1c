//! `mailprobe explain`: what a cause id, a client error code or a client's
//! error message means, and how mailprobe tells its causes apart.

use std::fmt::Write;

use crate::diagnose::{Cause, CauseInfo, ClientKind};

/// Phrases of each client's error messages and the code they belong to, so
/// a pasted message can be explained. Outlook Express first, then Thunderbird.
const PHRASES: &[(ClientKind, &str, &str)] = &[
    (ClientKind::OutlookExpress6, "was interrupted", "0x800CCC0F"),
    (
        ClientKind::OutlookExpress6,
        "connection to the server has failed",
        "0x800CCC0E",
    ),
    (
        ClientKind::OutlookExpress6,
        "response from the sending (smtp) server",
        "0x8004210B",
    ),
    (
        ClientKind::OutlookExpress6,
        "response from the receiving (pop) server",
        "0x8004210A",
    ),
    (
        ClientKind::OutlookExpress6,
        "connection encryption type",
        "0x800CCC1A",
    ),
    (
        ClientKind::OutlookExpress6,
        "does not match its name",
        "0x800CCC01",
    ),
    (
        ClientKind::OutlookExpress6,
        "has expired or is not yet valid",
        "0x800CCC02",
    ),
    (
        ClientKind::OutlookExpress6,
        "verify that you have entered the server name",
        "0x800CCC0D",
    ),
    (
        ClientKind::OutlookExpress6,
        "rejected your login",
        "0x800CCC92",
    ),
    (
        ClientKind::OutlookExpress6,
        "one of the recipients was rejected",
        "0x800CCC79",
    ),
    (
        ClientKind::OutlookExpress6,
        "verify the e-mail address in your account",
        "0x800CCC78",
    ),
    (ClientKind::Thunderbird, "timed out", "connection-timed-out"),
    (ClientKind::Thunderbird, "was reset", "connection-reset"),
    (ClientKind::Thunderbird, "was lost", "connection-lost"),
    (
        ClientKind::Thunderbird,
        "connection was refused",
        "connection-refused",
    ),
    (
        ClientKind::Thunderbird,
        "could not be found",
        "smtp-server-not-found",
    ),
    (
        ClientKind::Thunderbird,
        "failed to connect to server",
        "server-not-found",
    ),
    (
        ClientKind::Thunderbird,
        "doesn't advertise that feature",
        "starttls-not-advertised",
    ),
    (
        ClientKind::Thunderbird,
        "security exception",
        "certificate-exception",
    ),
    (
        ClientKind::Thunderbird,
        "unable to establish a secure connection",
        "secure-connection-failed",
    ),
    (
        ClientKind::Thunderbird,
        "login to server",
        "authentication-failed",
    ),
    (
        ClientKind::Thunderbird,
        "check the message recipient",
        "recipient-rejected",
    ),
    (
        ClientKind::Thunderbird,
        "verify that your email address",
        "sender-rejected",
    ),
];

/// The explanation of `topic`, or an error message that says what is known.
pub fn explain(topic: &str) -> Result<String, String> {
    let topic = topic.trim();
    if let Some(cause) = Cause::from_id(&topic.to_ascii_lowercase()) {
        return Ok(describe_cause(cause));
    }
    let (client, code) = identify(topic).ok_or_else(|| {
        let ids: Vec<&str> = Cause::ALL.iter().map(|c| c.id()).collect();
        match crate::scenario::load::nearest(topic, &ids) {
            Some(best) => format!(
                "`{topic}` is not a cause id, a client error code or a known client message; did you mean `{best}`?"
            ),
            None => format!(
                "`{topic}` is not a cause id, a client error code or a known client message. Cause ids: {}",
                ids.join(", ")
            ),
        }
    })?;
    let causes: Vec<CauseInfo> = Cause::ALL
        .iter()
        .map(|c| c.info())
        .filter(|info| {
            info.codes(client)
                .iter()
                .any(|c| c.eq_ignore_ascii_case(&code))
        })
        .collect();
    if causes.is_empty() {
        let ids: Vec<&str> = Cause::ALL.iter().map(|c| c.id()).collect();
        return Err(format!(
            "no cause in the catalogue shows {code}. Cause ids: {}",
            ids.join(", ")
        ));
    }
    let client_name = match client {
        // The same transport codes: one answer for both.
        ClientKind::OutlookExpress6 | ClientKind::Outlook => {
            "Outlook Express (and classic Outlook)"
        }
        ClientKind::Thunderbird => "Thunderbird",
    };
    let mut out = format!(
        "{client_name} shows {code} for {} different causes. mailprobe tells them apart like this:\n",
        causes.len()
    );
    for info in causes {
        let _ = write!(
            out,
            "\n{} — {}\n  how to tell: {}\n  remedy: {}\n",
            info.id, info.title, info.evidence, info.remedy
        );
        let Some(cause) = Cause::from_id(info.id) else {
            continue;
        };
        for (other, when) in cause.look_alikes() {
            let _ = writeln!(out, "  cannot always be told from {other}: {when}");
        }
    }
    Ok(out)
}

/// Which client and code a topic names: an Outlook Express code (with or
/// without `0x`), a Thunderbird error id, or a phrase of either's messages.
fn identify(topic: &str) -> Option<(ClientKind, String)> {
    let lower = topic.to_ascii_lowercase();
    let hex = lower.strip_prefix("0x").unwrap_or(&lower);
    if hex.len() == 8 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some((
            ClientKind::OutlookExpress6,
            format!("0x{}", hex.to_ascii_uppercase()),
        ));
    }
    for client in ClientKind::ALL {
        let known = Cause::ALL
            .iter()
            .any(|c| c.info().codes(client).contains(&lower.as_str()));
        if known {
            return Some((client, lower));
        }
    }
    PHRASES
        .iter()
        .find(|(_, phrase, _)| lower.contains(phrase))
        .map(|(client, _, code)| (*client, code.to_string()))
}

fn describe_cause(cause: Cause) -> String {
    let info = cause.info();
    let mut out = format!("{} — {}\n\n", info.id, info.title);
    let _ = writeln!(out, "On the wire: {}\n", info.wire);
    let _ = writeln!(out, "Evidence: {}\n", info.evidence);
    for (other, when) in cause.look_alikes() {
        let _ = writeln!(out, "Cannot always be told from {other}: {when}.\n");
    }
    let _ = writeln!(out, "Remedy: {}", info.remedy);
    if !info.outlook_express_codes.is_empty() {
        let _ = writeln!(
            out,
            "\nOutlook Express 6 and classic Outlook show: {}",
            info.outlook_express_codes.join(", ")
        );
    }
    if !info.thunderbird_codes.is_empty() {
        let _ = writeln!(
            out,
            "Thunderbird shows: {}",
            info.thunderbird_codes.join(", ")
        );
    }
    if !info.references.is_empty() {
        let _ = writeln!(out, "\nReferences:");
        for reference in info.references {
            let _ = writeln!(out, "  - {reference}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_lists_every_cause_behind_it() {
        let text = explain("0x800ccc0f").unwrap();
        assert!(text.starts_with("Outlook Express (and classic Outlook) shows 0x800CCC0F"));
        for id in [
            "outbound-port-25-blocked",
            "tls-broken-by-local-scanner",
            "connection-reset",
            "mid-session-stall",
        ] {
            assert!(text.contains(id), "{id} missing from:\n{text}");
        }
        assert!(!text.contains("auth-failed"));
        assert_eq!(explain("800CCC0F").unwrap(), text);
    }

    #[test]
    fn a_pasted_message_is_recognised() {
        let pasted = "The connection to the server was interrupted. If this problem continues, contact \
                      your server administrator or Internet service provider (ISP). Account: 'mail', \
                      Server: 'smtp.other.example', Protocol: SMTP, Port: 25, Secure(SSL): No, Error Number: 0x800CCC0F";
        assert_eq!(explain(pasted).unwrap(), explain("0x800CCC0F").unwrap());
        let thunderbird = explain("Connection to server smtp.other.example timed out.").unwrap();
        assert!(thunderbird.starts_with("Thunderbird shows connection-timed-out"));
        assert!(thunderbird.contains("outbound-port-25-blocked"));
        assert!(explain("connection-reset")
            .unwrap()
            .starts_with("connection-reset — "));
    }

    #[test]
    fn a_cause_id_gets_its_catalogue_entry() {
        let text = explain("outbound-port-25-blocked").unwrap();
        assert!(text.contains("RFC 6409"));
        assert!(text.contains("Remedy: Send through the submission port 587"));
    }

    #[test]
    fn unknown_topics_list_what_exists() {
        let error = explain("0xDEADBEEF").unwrap_err();
        assert!(error.contains("outbound-port-25-blocked"), "{error}");
        assert!(explain("no idea").is_err());
    }
}
