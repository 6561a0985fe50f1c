//! The scenario format as a JSON Schema (draft-07, what yaml-language-server
//! reads), generated from the serde types so it cannot drift from them.

use schemars::generate::SchemaSettings;

use super::model::Scenario;

/// The schema, pretty-printed, with a trailing newline.
pub fn json_schema() -> String {
    let schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<Scenario>();
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema is plain JSON");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draft_07_with_the_format_s_keys_and_no_others() {
        let schema: serde_json::Value = serde_json::from_str(&json_schema()).unwrap();
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
        assert_eq!(schema["additionalProperties"], false);
        for key in ["name", "world", "client", "expect", "probes", "snapshot"] {
            assert!(schema["properties"].get(key).is_some(), "{key}");
        }
        let text = json_schema();
        for word in [
            "mail-scanner",
            "resigning-scanner",
            "outlook-express-6",
            "auth-only",
            "starttls",
        ] {
            assert!(text.contains(&format!("\"{word}\"")), "{word}");
        }
    }

    /// The committed copy that scenario files can point their editors at is
    /// the generated one.
    #[test]
    fn the_committed_schema_is_current() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/scenario.schema.json");
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == json_schema(),
            "{} is out of date: run `cargo run -- schema > scenarios/scenario.schema.json`",
            path.display()
        );
    }
}
