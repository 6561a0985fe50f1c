//! Reading scenario files, with errors that name the file, line and column.

use std::fmt;
use std::path::{Path, PathBuf};

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
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
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
    let located = |error| located(path, error);
    super::prescan::prescan(&text).map_err(located)?;
    let client: super::model::ClientSpec = serde_yaml::from_str(&text).map_err(located)?;
    let at = |needle: &str, message: String| {
        let (line, column) = text
            .lines()
            .enumerate()
            .find_map(|(i, l)| l.find(needle).map(|c| (i + 1, c + 1)))
            .unzip();
        ScenarioError {
            file: path.to_path_buf(),
            line,
            column,
            message,
        }
    };
    let accounts = [
        (crate::probe::Protocol::Smtp, &client.smtp),
        (crate::probe::Protocol::Pop3, &client.pop3),
    ];
    if accounts.iter().all(|(_, spec)| spec.is_none()) {
        return Err(at("", "the account needs `smtp`, `pop3` or both".into()));
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
    read_text(path, MAX_FILE_BYTES).map_err(|message| ScenarioError {
        file: path.to_path_buf(),
        line: None,
        column: None,
        message,
    })
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

/// A YAML error of the file at `path`, at its line and column.
fn located(path: &Path, error: serde_yaml::Error) -> ScenarioError {
    let location = error.location();
    ScenarioError {
        file: path.to_path_buf(),
        line: location.as_ref().map(|l| l.line()),
        column: location.as_ref().map(|l| l.column()),
        message: explain_serde_message(&error.to_string()),
    }
}

/// Parses and checks scenario text; `path` is used in errors.
pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    let located = |error| located(path, error);
    super::prescan::prescan(text).map_err(located)?;
    let scenario: Scenario = serde_yaml::from_str(text).map_err(located)?;
    validate(&scenario, text).map_err(|problem| ScenarioError {
        file: path.to_path_buf(),
        line: problem.line,
        column: problem.column,
        message: problem.message,
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
