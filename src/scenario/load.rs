//! Reading scenario files, with errors that name the file, line and column
//! and show the offending line with a caret under the place.
//!
//! Where a value is comes from structured sources: the parser's position,
//! and the path to the value (serde_path_to_error), which also places
//! errors the parser reports at the document's start (a bad clock).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::model::Scenario;
use super::validate::validate;

/// A scenario file that cannot be used, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong and what to do.
    pub message: String,
    /// The offending line with a caret under the place, when known.
    pub snippet: Option<String>,
}

impl ScenarioError {
    /// An error about `text` (the file's contents) at a place, if known.
    pub fn at(
        file: &Path,
        text: &str,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    ) -> Self {
        ScenarioError {
            file: file.to_path_buf(),
            snippet: line.and_then(|line| snippet(text, line, column.unwrap_or(1))),
            line,
            column,
            message,
        }
    }

    /// The first line: `file:line:column: message`.
    pub fn headline(&self) -> String {
        let mut text = self.file.display().to_string();
        if let Some(line) = self.line {
            text.push_str(&format!(":{line}"));
            if let Some(column) = self.column {
                text.push_str(&format!(":{column}"));
            }
        }
        format!("{text}: {}", self.message)
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.headline())?;
        if let Some(snippet) = &self.snippet {
            write!(f, "\n{}", snippet.trim_end())?;
        }
        Ok(())
    }
}

/// Line `line` of `text` with a caret under `column` and the word there, as
/// annotate-snippets draws it. Control characters are shown as `?` (a tab
/// as a space) so the columns stay put and nothing reaches the terminal.
fn snippet(text: &str, line: usize, column: usize) -> Option<String> {
    use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
    let source: String = text
        .lines()
        .nth(line.checked_sub(1)?)?
        .chars()
        .map(|c| match c {
            '\t' => ' ',
            c if c.is_control() => '?',
            c => c,
        })
        .collect();
    let source = mask_passwords(&source);
    let start = source
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(source.len(), |(offset, _)| offset);
    // The word ends at a blank, a flow delimiter, or the colon after a key
    // (`70000:`), but not at a colon inside a value (a clock's time).
    let rest = source.get(start..).unwrap_or("");
    let word = rest
        .char_indices()
        .find(|&(offset, c)| {
            c.is_whitespace()
                || ",{}[]#".contains(c)
                || (c == ':'
                    && rest[offset + 1..]
                        .chars()
                        .next()
                        .is_none_or(char::is_whitespace))
        })
        .map_or(rest.len(), |(offset, _)| offset)
        .max(1);
    let end = start.saturating_add(word).min(source.len()).max(start);
    let report = [Group::with_level(Level::ERROR).element(
        Snippet::source(source.as_str())
            .line_start(line)
            .annotation(AnnotationKind::Primary.span(start..end)),
    )];
    Some(Renderer::plain().render(&report).to_string())
}

impl std::error::Error for ScenarioError {}

/// The largest scenario file read.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Reads and checks a scenario file. Only regular files are read, and at
/// most [`MAX_FILE_BYTES`] of them (`/dev/zero` is an error, not a hang).
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    parse(&read(path)?, path)
}

/// Reads an account file for `mailprobe probe --account`: the shape of a
/// scenario's `client:` block, without passwords (they come from
/// `--password-env`, never from a file others may read).
pub fn load_account(path: &Path) -> Result<super::model::ClientSpec, ScenarioError> {
    let text = read(path)?;
    let client: super::model::ClientSpec = from_yaml(&text, path)?;
    let at = |needle: &str, message: String| {
        let (line, column) = text
            .lines()
            .enumerate()
            .find_map(|(i, l)| l.find(needle).map(|c| (i + 1, c + 1)))
            .unzip();
        ScenarioError::at(path, &text, line, column, message)
    };
    let accounts = client.accounts();
    if accounts.iter().all(|(_, spec)| spec.is_none()) {
        return Err(at(
            "",
            "the account needs `smtp`, `pop3`, `imap` or several".into(),
        ));
    }
    for (protocol, spec) in accounts {
        let Some(spec) = spec else { continue };
        if spec.password.is_some() {
            return Err(at(
                "password",
                "keep the password out of the file; give it with --password-env VAR".into(),
            ));
        }
        if let Err(unsafe_value) = spec.account(protocol).check_wire_values() {
            return Err(at(
                &format!("{}:", unsafe_value.field),
                format!("{}: {unsafe_value}", protocol.name()),
            ));
        }
    }
    Ok(client)
}

/// A scenario or account file's text, read with the same limits.
fn read(path: &Path) -> Result<String, ScenarioError> {
    read_text(path, MAX_FILE_BYTES)
        .map_err(|message| ScenarioError::at(path, "", None, None, message))
}

/// The text of the regular file at `path`, if it holds at most `max_bytes`:
/// every file mailprobe reads (scenarios, accounts, reports, maps) is read
/// this way, so `/dev/zero` or a huge file is an error, not a hang.
pub fn read_text(path: &Path, max_bytes: u64) -> Result<String, String> {
    let file =
        std::fs::File::open(path).map_err(|error| format!("cannot read the file: {error}"))?;
    let metadata = file
        .metadata()
        .map_err(|error| format!("cannot read the file: {error}"))?;
    if !metadata.is_file() {
        return Err("not a regular file; give a file, or a folder of scenario files".into());
    }
    let mut text = String::new();
    use std::io::Read;
    file.take(max_bytes.saturating_add(1))
        .read_to_string(&mut text)
        .map_err(|error| format!("cannot read the file as UTF-8 text: {error}"))?;
    if text.len() as u64 > max_bytes {
        return Err(format!(
            "the file is larger than {max_bytes} bytes, more than such a file holds"
        ));
    }
    Ok(text)
}

/// Reads `T` from the YAML `text` of the file at `path`: a tab in the
/// indentation, duplicate keys and alias bombs first (the prescan), then
/// the typed pass, every error at its place.
fn from_yaml<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, ScenarioError> {
    if let Some((line, column)) = tab_in_indentation(text) {
        return Err(ScenarioError::at(
            path,
            text,
            Some(line),
            Some(column),
            "a tab in the indentation: YAML indents with spaces only".into(),
        ));
    }
    super::prescan::prescan(text).map_err(|error| yaml_error(path, text, &error, ""))?;
    let deserializer = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let at = error.path().to_string();
        let at = if at == "." { String::new() } else { at };
        yaml_error(path, text, error.inner(), &at)
    })
}

/// The first tab in a line's leading whitespace, as 1-based line and column.
fn tab_in_indentation(text: &str) -> Option<(usize, usize)> {
    text.lines().enumerate().find_map(|(index, line)| {
        let indentation = line.len() - line.trim_start_matches([' ', '\t']).len();
        line[..indentation]
            .find('\t')
            .map(|column| (index + 1, column + 1))
    })
}

/// `line` with the value of every `password:` key replaced by `*`s of the
/// same length: an error shows where, never the password.
fn mask_passwords(line: &str) -> String {
    let mut masked = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(found) = rest.find("password:") {
        let value_start = found + "password:".len();
        masked.push_str(&rest[..value_start]);
        let after = &rest[value_start..];
        let value_length = after
            .char_indices()
            .skip_while(|(_, c)| *c == ' ')
            .find(|(_, c)| matches!(c, ',' | '}' | ']' | '#'))
            .map_or(after.len(), |(offset, _)| offset);
        let value = &after[..value_length];
        let blanks = value.len() - value.trim_start().len();
        // A value of blanks alone ends where it starts.
        let end = blanks + value[blanks..].trim_end().len();
        masked.push_str(&value[..blanks]);
        masked.extend(value[blanks..end].chars().map(|_| '*'));
        masked.push_str(&value[end..]);
        rest = &after[value_length..];
    }
    masked.push_str(rest);
    masked
}

/// A YAML error of the file at `path` about the value at `at` (a dotted
/// path, empty for the document).
fn yaml_error(path: &Path, text: &str, error: &serde_yaml::Error, at: &str) -> ScenarioError {
    let reported = error.location().map(|l| (l.line(), l.column()));
    // An error a value raises itself (a clock that does not parse) comes
    // back placed at the document's start: the path knows better.
    let place = match reported {
        Some((1, 1)) | None if !at.is_empty() => locate_path(text, at).or(reported),
        reported => reported,
    };
    let mut message = explain_serde_message(&error.to_string());
    // serde_yaml names the path too, sometimes only up to the map holding
    // the bad key: ours is the whole path.
    if let Some((prefix, rest)) = message.split_once(": ") {
        if !prefix.is_empty() && !prefix.contains(' ') && at.starts_with(prefix) {
            message = rest.to_string();
        }
    }
    // An unknown key is a fault of the map that holds it.
    let at = match at.rsplit_once('.') {
        Some((map, _)) if message.starts_with("unknown field") => map,
        None if message.starts_with("unknown field") => "",
        _ => at,
    };
    if !at.is_empty() {
        message = format!("{at}: {message}");
    }
    let (line, column) = place.unzip();
    ScenarioError::at(path, text, line, column, message)
}

/// Where the value at dotted path `at` (`client.smtp.port`) is written: each
/// key found after the one before it; sequence indices are skipped.
fn locate_path(text: &str, at: &str) -> Option<(usize, usize)> {
    let keys: Vec<String> = at
        .split('.')
        .map(|key| key.split('[').next().unwrap_or(key))
        .filter(|key| !key.is_empty())
        .map(|key| format!("{key}:"))
        .collect();
    let (last, anchors) = keys.split_last()?;
    let anchors: Vec<&str> = anchors.iter().map(String::as_str).collect();
    let (line, column) = super::validate::locate_after(text, &anchors, last)?;
    // Point at the value, past the key and the blanks after it.
    let after_key = text
        .lines()
        .nth(line - 1)?
        .chars()
        .skip(column - 1 + last.chars().count());
    let blanks = after_key.take_while(|c| *c == ' ').count();
    Some((line, column + last.chars().count() + blanks))
}

/// Parses and checks scenario text; `path` is used in errors.
pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    let scenario: Scenario = from_yaml(text, path)?;
    validate(&scenario, text).map_err(|problem| {
        ScenarioError::at(path, text, problem.line, problem.column, problem.message)
    })?;
    Ok(scenario)
}

/// Strips the location serde_yaml appends (we print our own) and adds a
/// "did you mean" for unknown keys and values.
fn explain_serde_message(message: &str) -> String {
    let message = match message.find(" at line ") {
        Some(index) => &message[..index],
        None => message,
    };
    let unknown = ["unknown field `", "unknown variant `"]
        .iter()
        .find_map(|prefix| {
            message
                .strip_prefix(prefix)
                .or_else(|| message.find(prefix).map(|i| &message[i + prefix.len()..]))
        });
    let Some(rest) = unknown else {
        return message.to_string();
    };
    let Some((word, tail)) = rest.split_once('`') else {
        return message.to_string();
    };
    let candidates: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
    match nearest(word, &candidates) {
        Some(best) => format!("{message}; did you mean `{best}`?"),
        None => message.to_string(),
    }
}

/// The candidate closest to `word`, if it is close enough to be a typo.
pub fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let letters = |text: &str| {
        let mut sorted: Vec<char> = text.chars().collect();
        sorted.sort_unstable();
        sorted
    };
    let own_letters = letters(&word);
    // Optimal string alignment: a swap of two letters (`tsl`) is one edit.
    // Among equally near words, the same letters in another order (`tls`
    // before `ssl`), then the same first letter, are the likelier slip.
    candidates
        .iter()
        .map(|candidate| {
            let lower = candidate.to_ascii_lowercase();
            let distance = strsim::osa_distance(&word, &lower);
            let rank = (
                distance,
                letters(&lower) != own_letters,
                lower.chars().next() != word.chars().next(),
            );
            (rank, *candidate)
        })
        .filter(|((distance, ..), c)| *distance <= (c.len().max(word.len()) / 3).max(2))
        .min_by_key(|(rank, _)| *rank)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_in_snippets() {
        assert_eq!(
            mask_passwords("{ user: taro, password: hunter2, address: a@b }"),
            "{ user: taro, password: *******, address: a@b }"
        );
        assert_eq!(
            mask_passwords("  password: \"x y\"  # c"),
            "  password: *****  # c"
        );
        assert_eq!(mask_passwords("no secret"), "no secret");
        // A key with blanks alone before a comment (found by fuzzing).
        assert_eq!(
            mask_passwords("password:         # layers"),
            "password:         # layers"
        );
        assert_eq!(mask_passwords("password:   "), "password:   ");
        let error = ScenarioError::at(
            Path::new("a.yaml"),
            "users:\n  - { user: taro, password: hunter2, adress: x }\n",
            Some(2),
            Some(38),
            "unknown field".into(),
        );
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(error.to_string().contains("^^^^^^"), "{error}");
    }

    #[test]
    fn nearest_counts_a_swap_as_one_edit_and_prefers_the_same_start() {
        let modes = ["none", "plain", "starttls", "stls", "ssl", "tls"];
        assert_eq!(nearest("tsl", &modes), Some("tls"));
        assert_eq!(nearest("prot", &["host", "port", "security"]), Some("port"));
        assert_eq!(nearest("STARTTSL", &modes), Some("starttls"));
        assert_eq!(nearest("zzzzzzzz", &modes), None);
    }

    #[test]
    fn suggests_the_nearest_key() {
        let message = "unknown field `prot`, expected one of `host`, `port`, `security`";
        assert_eq!(
            explain_serde_message(message),
            format!("{message}; did you mean `port`?")
        );
        let message = "unknown variant `stattls`, expected one of `none`, `starttls`, `tls`";
        assert!(explain_serde_message(message).ends_with("did you mean `starttls`?"));
        let message = "unknown field `zzzzzzzz`, expected one of `host`, `port`";
        assert_eq!(explain_serde_message(message), message);
    }

    #[test]
    fn strips_serde_yaml_location_suffix() {
        assert_eq!(
            explain_serde_message("missing field `name` at line 1 column 1"),
            "missing field `name`"
        );
    }
}
