//! Evaluation commands (`triage eval …`): measure the text components on labelled data and print
//! tables. They take paths to data (such as `../shared/data/`) and never run in the server.

pub mod dedup;
pub mod flags;
pub mod langid;
pub mod stemmer;

use std::path::Path;

use crate::error::{Error, Result};

/// Non-empty lines of a UTF-8 file.
pub(crate) fn read_lines(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}
