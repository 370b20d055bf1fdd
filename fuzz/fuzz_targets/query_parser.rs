//! The search query front end on arbitrary input: parsing never fails or panics, and every
//! parsed query builds into a tantivy query.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use triage::index::{query, schema};

static FIELDS: LazyLock<schema::Fields> = LazyLock::new(schema::build);

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let parsed = query::parse(&input);
    let _ = query::build(&parsed, &[FIELDS.text, FIELDS.resolution]);
});
