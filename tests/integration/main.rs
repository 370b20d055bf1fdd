//! The integration tests, one module per capability, built as a single test binary: every test
//! target links the whole service with its language models, so one binary instead of fourteen
//! keeps `cargo test` fast to link and small on disk.

mod common;

mod bad_input;
mod crash;
mod dedup;
mod feedback;
mod flags;
mod import_cli;
mod operations;
mod properties;
mod report_paths;
mod review;
mod satisfaction;
mod search;
mod service;
mod tls;
