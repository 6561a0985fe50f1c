//! Scenarios: YAML files that describe a simulated world, a mail client's
//! settings, and what the probe must conclude.
//!
//! [`model`] is the format (serde, unknown keys rejected), [`load`](mod@load) reads a
//! file with errors that name the file, line and column, and [`validate`]
//! checks what the types cannot (references, cause ids).

pub mod account;
pub mod load;
pub mod model;
pub mod prescan;
#[cfg(feature = "schema")]
pub mod schema;
pub mod validate;

pub use load::{load, load_account, parse, ScenarioError};
pub use model::Scenario;

use std::path::{Path, PathBuf};

/// Every `.yaml`/`.yml` file under `paths` (files are taken as given,
/// folders searched recursively), sorted, without duplicates.
pub fn discover(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for path in paths {
        if path.is_dir() {
            collect(path, &mut found)?;
        } else if path.exists() {
            found.push(path.clone());
        } else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{}: no such file or folder", path.display()),
            ));
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

fn collect(folder: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(folder)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, found)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            found.push(path);
        }
    }
    Ok(())
}
