//! The scenario format as a JSON Schema (draft-07, what yaml-language-server
//! reads), generated from the serde types so it cannot drift from them.

//!
//! The generated schema is then put in the words of the file format: an
//! optional field is its value's schema (a validator then says what is wrong
//! with the value, not that it is "not valid under any of the given
//! schemas"). Ports are 1-65535 as keys and as values (`model::Port`).

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

use super::model::Scenario;

/// The schema, pretty-printed, with a trailing newline.
pub fn json_schema() -> String {
    let schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<Scenario>();
    let mut value = schema.to_value();
    in_the_format_s_words(&mut value);
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

/// Rewrites every subschema: optional values without their `null`
/// alternative.
fn in_the_format_s_words(value: &mut Value) {
    match value {
        Value::Object(object) => {
            drop_null_alternative(object);
            object.values_mut().for_each(in_the_format_s_words);
        }
        Value::Array(items) => items.iter_mut().for_each(in_the_format_s_words),
        _ => {}
    }
}

/// `anyOf: [X, {type: null}]` becomes X (kept under `allOf` when X is a
/// reference, whose siblings draft-07 ignores); `type: [T, "null"]` becomes T.
fn drop_null_alternative(object: &mut Map<String, Value>) {
    let is_null = |v: &Value| v.get("type").and_then(Value::as_str) == Some("null");
    if let Some(Value::Array(alternatives)) = object.get("anyOf") {
        if alternatives.len() == 2 && alternatives.iter().any(is_null) {
            let kept = alternatives.iter().find(|v| !is_null(v)).cloned();
            object.remove("anyOf");
            match kept {
                Some(Value::Object(kept)) if kept.contains_key("$ref") => {
                    object.insert("allOf".into(), Value::Array(vec![Value::Object(kept)]));
                }
                Some(Value::Object(kept)) => {
                    for (key, value) in kept {
                        object.entry(key).or_insert(value);
                    }
                }
                _ => {}
            }
        }
    }
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t.as_str() != Some("null"));
        if types.len() == 1 {
            let only = types.remove(0);
            object.insert("type".into(), only);
        }
    }
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
