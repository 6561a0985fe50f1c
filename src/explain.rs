//! `mailprobe explain`: what a cause id or a client error code means.

use std::fmt::Write;

use crate::diagnose::{Cause, CauseInfo};

/// The explanation of `topic` (a cause id or a client error code), or an
/// error message that says what is known.
pub fn explain(topic: &str) -> Result<String, String> {
    let topic = topic.trim();
    if let Some(cause) = Cause::from_id(&topic.to_ascii_lowercase()) {
        return Ok(describe_cause(cause.info()));
    }
    let code = normalize_code(topic);
    let causes: Vec<CauseInfo> = Cause::ALL
        .iter()
        .map(|c| c.info())
        .filter(|info| {
            info.outlook_express_codes
                .iter()
                .any(|c| c.eq_ignore_ascii_case(&code))
        })
        .collect();
    if causes.is_empty() {
        let ids: Vec<&str> = Cause::ALL.iter().map(|c| c.id()).collect();
        return Err(format!(
            "`{topic}` is neither a cause id nor a known client error code. Cause ids: {}",
            ids.join(", ")
        ));
    }
    let mut out = format!(
        "Outlook Express shows {code} for {} different causes. mailprobe tells them apart like this:\n",
        causes.len()
    );
    for info in causes {
        let _ = write!(
            out,
            "\n{} — {}\n  how to tell: {}\n  remedy: {}\n",
            info.id, info.title, info.evidence, info.remedy
        );
    }
    Ok(out)
}

/// `800ccc0f` or `0x800ccc0f` → `0x800CCC0F`.
fn normalize_code(topic: &str) -> String {
    let hex = topic
        .strip_prefix("0x")
        .or_else(|| topic.strip_prefix("0X"))
        .unwrap_or(topic);
    format!("0x{}", hex.to_ascii_uppercase())
}

fn describe_cause(info: CauseInfo) -> String {
    let mut out = format!("{} — {}\n\n", info.id, info.title);
    let _ = writeln!(out, "On the wire: {}\n", info.wire);
    let _ = writeln!(out, "Evidence: {}\n", info.evidence);
    let _ = writeln!(out, "Remedy: {}", info.remedy);
    if !info.outlook_express_codes.is_empty() {
        let _ = writeln!(
            out,
            "\nOutlook Express 6 shows: {}",
            info.outlook_express_codes.join(", ")
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
        assert!(text.starts_with("Outlook Express shows 0x800CCC0F"));
        for id in [
            "outbound-port-25-blocked",
            "tls-broken-by-local-scanner",
            "connection-closed",
        ] {
            assert!(text.contains(id), "{id} missing from:\n{text}");
        }
        assert!(!text.contains("auth-failed"));
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
        assert!(error.contains("outbound-port-25-blocked"));
    }
}
