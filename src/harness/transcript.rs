//! Plain-text transcripts: stable across runs, readable in a diff.

use std::fmt::Write;

use crate::probe::Attempt;

use super::ProbeRun;

/// `text` safe to print on a terminal and to read in a diff: every control
/// character but the line feed (ESC, bare CR, NUL, C1 controls such as CSI)
/// and every bidirectional override is written as an escape (`\x1b`,
/// `\r`, `\u{202e}`), so a server's bytes can neither drive the terminal
/// nor hide text.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    // Most transcripts are printable ASCII: a byte scan settles them.
    let plain_ascii = text
        .bytes()
        .all(|b| b == b'\n' || (b' '..=b'~').contains(&b));
    if plain_ascii || !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            c if unsafe_char(c) && (c as u32) < 0x80 => {
                let _ = write!(escaped, "\\x{:02x}", c as u32);
            }
            c if unsafe_char(c) => {
                let _ = write!(escaped, "\\u{{{:x}}}", c as u32);
            }
            c => escaped.push(c),
        }
    }
    std::borrow::Cow::Owned(escaped)
}

/// Appends one probe run: every attempt's events, the verdict, the client's
/// error, with control characters escaped ([`escape_controls`]).
pub fn write_probe(out: &mut String, run: &ProbeRun) {
    let mut text = String::new();
    write_probe_raw(&mut text, run);
    out.push_str(&escape_controls(&text));
}

fn write_probe_raw(out: &mut String, run: &ProbeRun) {
    let _ = writeln!(out, "== probe: {} / {} ==", run.probe, run.protocol.name());
    for attempt in run.report.attempts() {
        write_attempt(out, attempt);
    }
    let diagnosis = &run.diagnosis;
    let _ = writeln!(
        out,
        "diagnosis: {} (rule: {})",
        diagnosis.cause.id(),
        diagnosis.rule
    );
    let _ = writeln!(out, "evidence:");
    for line in &diagnosis.evidence {
        let _ = writeln!(out, "  - {line}");
    }
    let _ = writeln!(out, "remedy: {}", diagnosis.remedy);
    if let Some(endpoint) = &diagnosis.suggestion {
        let _ = writeln!(
            out,
            "suggestion: port {} security={}",
            endpoint.port,
            endpoint.security.name()
        );
    }
    match &run.client_error {
        Some(error) => {
            let _ = writeln!(out, "{}: {error}", run.client.id());
            if run.client == crate::diagnose::ClientKind::OutlookExpress6 {
                let _ = writeln!(
                    out,
                    "  {}",
                    error.dialog_details(&run.report.configured.endpoint)
                );
            }
        }
        None => {
            let _ = writeln!(out, "{}: no error", run.client.id());
        }
    }
    if !run.checked {
        // Nothing was expected of this run (a live probe, or a demonstration).
    } else if run.mismatches.is_empty() {
        let _ = writeln!(out, "expectations: met");
    } else {
        for mismatch in &run.mismatches {
            let _ = writeln!(out, "MISMATCH {mismatch}");
        }
    }
    out.push('\n');
}

fn write_attempt(out: &mut String, attempt: &Attempt) {
    let role = attempt.purpose.label();
    let _ = writeln!(out, "-- {role}: {}", attempt.endpoint);
    for event in &attempt.events {
        let text = event.what.describe(&attempt.endpoint.host);
        let _ = writeln!(out, "[{:>8.3}s] {text}", event.at.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::escape_controls;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_controls("220 mx ready\n"), "220 mx ready\n");
        assert_eq!(
            escape_controls("220 \x1b]0;owned\x07 \x1b[2J\r\0"),
            "220 \\x1b]0;owned\\x07 \\x1b[2J\\r\\x00"
        );
        assert_eq!(escape_controls("a\u{9b}b\u{202e}c"), "a\\u{9b}b\\u{202e}c");
        assert_eq!(escape_controls("caf\u{e9}\tx"), "caf\u{e9}\\tx");
    }
}
