//! triage: a gRPC service that makes sense of customer feedback in Russian, Ukrainian and
//! Slovenian.
//!
//! How data flows (DESIGN.md §2): a client calls the thin gRPC layer ([`api`]), which converts and
//! validates and hands the item to the ingest pipeline ([`ingest`]): normalize, detect the
//! language ([`text`]), find topics, tone, flags and priority ([`signals`]), then store it through the single writer of the [`store`], which commits
//! concurrent writes together and acknowledges only what is durable.
//!
//! # Layout
//! - [`server`]: assembles services, health, reflection, auth, graceful shutdown.
//! - [`api`]: one module per gRPC service; proto ⇄ domain conversions in `api::convert`.
//! - [`ingest`]: validation and the ingest pipeline.
//! - [`text`]: normalization, language identification, analyzers, lexicon matching.
//! - [`signals`]: topics, polarity, suspicion flags and priority from per-language lexicons.
//! - [`index`]: the tantivy index, its indexer task, search and more-like-this.
//! - [`review`]: the review queues' state machine (claim, lease, decide, reopen, audit).
//! - [`satisfaction`]: NPS / CSAT / CES math, churn risk, report buckets and grouping.
//! - [`store`]: the SQLite system of record, its writer task and migrations.
//! - [`auth`]: bearer tokens, client certificates, roles, the auth layer.
//! - [`tls`]: TLS and mTLS settings of the server and the client commands.
//! - [`scheduling`]: the scheduling class of the threads that wait for SQLite.
//! - [`overload`]: load shedding: concurrent requests, watch streams, per-token rates.
//! - [`telemetry`]: gRPC and domain metrics, the Prometheus endpoint.
//! - [`config`]: flags, `TRIAGE_*` environment variables and the TOML file.
//! - [`model`]: plain domain types.
//! - [`error`]: the crate's error enum and its one mapping to `tonic::Status`.
//! - [`cli`]: client-side commands (`triage import`).
//! - [`eval`]: evaluation commands that measure the text components on labelled data.
//! - [`corpus`]: a seeded synthetic feedback generator for benchmarks and evaluations.

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod corpus;
pub mod error;
pub mod eval;
pub mod index;
pub mod ingest;
pub mod model;
pub mod overload;
pub mod review;
pub mod satisfaction;
pub mod scheduling;
pub mod server;
pub mod signals;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod tls;

/// Code generated from `proto/triage/v1/*.proto`.
pub mod pb {
    tonic::include_proto!("triage.v1");

    /// The encoded file descriptor set of the contract, served by reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("triage_descriptor");
}
