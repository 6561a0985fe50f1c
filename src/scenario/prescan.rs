//! A first pass over a scenario's YAML before it is read into the model:
//! refuses what the typed pass would silently accept or pay dearly for.
//!
//! - **Duplicate keys, at any depth.** A map read into `IndexMap` keeps the
//!   last of two equal keys: a host defined twice would flip the diagnosis
//!   without a word. Each duplicate is an error at its own line and column.
//! - **Alias amplification.** YAML aliases repeat a node; a 1 MB scalar
//!   aliased a thousand times is a gigabyte once expanded. The pass walks the
//!   expanded document without copying it (scalars are borrowed from the
//!   parser's events) and stops past [`MAX_EXPANDED_BYTES`] or
//!   [`MAX_EXPANDED_NODES`].

use std::cell::Cell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The most scalar bytes a scenario may hold once its aliases are expanded.
pub const MAX_EXPANDED_BYTES: usize = 4 * 1024 * 1024;
/// The most nodes (scalars, sequences, maps) once aliases are expanded.
pub const MAX_EXPANDED_NODES: usize = 200_000;

/// What is left of the budget while walking the document.
struct Budget {
    bytes: Cell<usize>,
    nodes: Cell<usize>,
}

impl Budget {
    fn charge<E: de::Error>(&self, bytes: usize) -> Result<(), E> {
        let nodes = self.nodes.get().checked_sub(1);
        let left = self.bytes.get().checked_sub(bytes);
        match (nodes, left) {
            (Some(nodes), Some(left)) => {
                self.nodes.set(nodes);
                self.bytes.set(left);
                Ok(())
            }
            _ => Err(E::custom(format!(
                "the document is too large once its aliases are expanded (more than {} bytes or {} nodes); repeat less, or split the scenario",
                MAX_EXPANDED_BYTES, MAX_EXPANDED_NODES
            ))),
        }
    }
}

/// Walks the document once: duplicate keys and the expanded size.
pub fn prescan(text: &str) -> Result<(), serde_yaml::Error> {
    let budget = Budget {
        bytes: Cell::new(MAX_EXPANDED_BYTES),
        nodes: Cell::new(MAX_EXPANDED_NODES),
    };
    Node(&budget).deserialize(serde_yaml::Deserializer::from_str(text))
}

/// Any node.
#[derive(Clone, Copy)]
struct Node<'b>(&'b Budget);

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.0.charge(1)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.0.charge(8)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.0.charge(8)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.0.charge(8)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        self.0.charge(text.len())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.charge(1)
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.0.charge(1)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        self.0.charge(1)?;
        while items.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<(), A::Error> {
        self.0.charge(1)?;
        let mut seen = HashSet::new();
        while entries
            .next_key_seed(Key {
                budget: self.0,
                seen: &mut seen,
            })?
            .is_some()
        {
            entries.next_value_seed(self)?;
        }
        Ok(())
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        use de::VariantAccess;
        let ((), variant) = data.variant_seed(self)?;
        variant.newtype_variant_seed(self)
    }
}

/// A map key: refused when the same map already had it.
struct Key<'s, 'b> {
    budget: &'b Budget,
    seen: &'s mut HashSet<String>,
}

impl<'de> DeserializeSeed<'de> for Key<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Key<'_, '_> {
    fn note<E: de::Error>(self, key: String) -> Result<(), E> {
        self.budget.charge(key.len())?;
        if self.seen.contains(&key) {
            return Err(E::custom(format!(
                "duplicate key `{key}`: each key may appear once in its map (the second one would silently replace the first)"
            )));
        }
        self.seen.insert(key);
        Ok(())
    }
}

impl<'de> Visitor<'de> for Key<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<(), E> {
        self.note(key.to_string())
    }

    fn visit_bool<E: de::Error>(self, key: bool) -> Result<(), E> {
        self.note(key.to_string())
    }

    fn visit_i64<E: de::Error>(self, key: i64) -> Result<(), E> {
        self.note(key.to_string())
    }

    fn visit_u64<E: de::Error>(self, key: u64) -> Result<(), E> {
        self.note(key.to_string())
    }

    fn visit_f64<E: de::Error>(self, key: f64) -> Result<(), E> {
        self.note(key.to_string())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.note("~".to_string())
    }

    // Keys that are sequences or maps are walked but not compared.
    fn visit_seq<A: SeqAccess<'de>>(self, items: A) -> Result<(), A::Error> {
        Node(self.budget).visit_seq(items)
    }

    fn visit_map<A: MapAccess<'de>>(self, entries: A) -> Result<(), A::Error> {
        Node(self.budget).visit_map(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> (String, Option<(usize, usize)>) {
        let error = prescan(text).expect_err("refused");
        let location = error.location().map(|l| (l.line(), l.column()));
        (error.to_string(), location)
    }

    #[test]
    fn ordinary_documents_pass() {
        prescan("a: 1\nb: [x, y, {c: d}]\ne: &anchor {f: g}\nh: *anchor\n").unwrap();
    }

    #[test]
    fn duplicate_keys_at_any_depth_are_located() {
        let (message, location) = error("world:\n  hosts:\n    a.example: {}\n    a.example: {}\n");
        assert!(message.contains("duplicate key `a.example`"), "{message}");
        assert_eq!(location, Some((4, 5)));
        let (message, location) = error("ports: { 25: plain, 25: tls }\n");
        assert!(message.contains("duplicate key `25`"), "{message}");
        assert_eq!(location.map(|l| l.0), Some(1));
        let (_, location) = error("name: a\nworld: {}\nname: b\n");
        assert_eq!(location, Some((3, 1)));
    }

    #[test]
    fn alias_amplification_is_refused() {
        let big = "x".repeat(100_000);
        let mut text = format!("base: &big \"{big}\"\nlist:\n");
        for _ in 0..100 {
            text.push_str("  - *big\n");
        }
        let (message, _) = error(&text);
        assert!(
            message.contains("too large once its aliases are expanded"),
            "{message}"
        );

        // Billion laughs: nested aliases, a small file.
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..10 {
            let previous = format!("*a{}", level - 1);
            let items = [previous.as_str(); 10].join(", ");
            text.push_str(&format!("a{level}: &a{level} [{items}]\n"));
        }
        assert!(prescan(&text).is_err());
    }
}
