//! Settings of `triage serve`: command-line flags (each also an environment variable
//! `TRIAGE_*`), an optional TOML file, and embedded defaults, in that order of precedence.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono::TimeDelta;
use serde::Deserialize;

use crate::auth::AuthConfig;
use crate::error::{Error, Result};
use crate::overload::OverloadConfig;
use crate::signals::dedup::DedupParams;
use crate::signals::repeats::HistoryParams;
use crate::tls::TlsConfig;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
pub const DEFAULT_DATA_DIR: &str = "./triage-data";

/// Flags of `triage serve`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:50051].
    #[arg(long, env = "TRIAGE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory holding the database (created if missing) [default: ./triage-data].
    #[arg(long, env = "TRIAGE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML configuration file (limits, auth tokens); flags and env override it.
    #[arg(long, env = "TRIAGE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Allow serving a non-loopback address without any auth token configured.
    #[arg(long, env = "TRIAGE_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
    /// Longest accepted feedback text, in characters [default: 20000].
    #[arg(long, env = "TRIAGE_MAX_TEXT_CHARS")]
    pub max_text_chars: Option<usize>,
    /// Serve Prometheus metrics at http://ADDRESS/metrics (keep it on loopback) [default: off].
    #[arg(long, env = "TRIAGE_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Serve TLS with this PEM certificate chain (needs --tls-key).
    #[arg(long, env = "TRIAGE_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "TRIAGE_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Accept client certificates signed by these PEM CA certificates (mTLS).
    #[arg(long, env = "TRIAGE_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,
}

/// Size limits on what clients may send. Every limit is counted in Unicode characters.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    pub max_text_chars: usize,
    /// external_id and customer_id.
    pub max_id_chars: usize,
    pub max_channel_chars: usize,
    pub max_attributes: usize,
    pub max_attribute_key_chars: usize,
    pub max_attribute_value_chars: usize,
    pub max_resolution_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_text_chars: 20_000,
            max_id_chars: 128,
            max_channel_chars: 64,
            max_attributes: 64,
            max_attribute_key_chars: 64,
            max_attribute_value_chars: 1024,
            max_resolution_chars: 20_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignalsConfig {
    /// A directory whose `ru.toml`, `uk.toml` or `sl.toml` replace the embedded lexicons.
    pub lexicon_dir: Option<PathBuf>,
    /// An earlier complaint of the same customer counts as the same problem for this long.
    pub repeat_window_days: u32,
    /// Weighted stem similarity (0..1) at which two complaints are the same problem.
    pub repeat_similarity: f64,
    /// Estimated shingle Jaccard similarity (0..1) at which texts are near-duplicates.
    pub duplicate_similarity: f64,
    /// Texts with fewer words are never flagged as duplicates.
    pub duplicate_min_words: usize,
    /// More items than this from one customer within `burst_window_minutes` is a burst.
    pub burst_items: usize,
    pub burst_window_minutes: u32,
}

impl Default for SignalsConfig {
    fn default() -> Self {
        let dedup = DedupParams::default();
        let history = HistoryParams::default();
        SignalsConfig {
            lexicon_dir: None,
            repeat_window_days: history.repeat_window.num_days() as u32,
            repeat_similarity: history.repeat_similarity,
            duplicate_similarity: dedup.threshold,
            duplicate_min_words: dedup.min_words,
            burst_items: history.burst_items,
            burst_window_minutes: history.burst_window.num_minutes() as u32,
        }
    }
}

impl SignalsConfig {
    pub fn dedup_params(&self) -> DedupParams {
        DedupParams {
            threshold: self.duplicate_similarity,
            min_words: self.duplicate_min_words,
            ..DedupParams::default()
        }
    }

    pub fn history_params(&self) -> HistoryParams {
        HistoryParams {
            repeat_window: TimeDelta::days(i64::from(self.repeat_window_days)),
            repeat_similarity: self.repeat_similarity,
            burst_items: self.burst_items,
            burst_window: TimeDelta::minutes(i64::from(self.burst_window_minutes)),
        }
    }

    fn check(&self) -> Result<()> {
        for (name, value) in [
            ("repeat_similarity", self.repeat_similarity),
            ("duplicate_similarity", self.duplicate_similarity),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(Error::Config(format!(
                    "[signals] {name} must be between 0 and 1, not {value}"
                )));
            }
        }
        if self.burst_window_minutes == 0 || self.repeat_window_days == 0 || self.burst_items == 0 {
            return Err(Error::Config(
                "[signals] repeat_window_days, burst_items and burst_window_minutes must be positive"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// `[review]`: the review queues.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReviewConfig {
    /// How long a claim lasts when the reviewer asks for no particular lease.
    pub lease_minutes: u32,
}

impl Default for ReviewConfig {
    fn default() -> Self {
        ReviewConfig {
            lease_minutes: crate::review::DEFAULT_LEASE.num_minutes() as u32,
        }
    }
}

impl ReviewConfig {
    pub fn lease(&self) -> TimeDelta {
        TimeDelta::minutes(i64::from(self.lease_minutes))
    }
}

/// `[index]`: the search index.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IndexConfig {
    /// A server that starts at least this many changes behind the store (a lost, damaged or
    /// outdated index) catches up with tantivy's multi-threaded rebuild writer first.
    pub rebuild_backlog: u64,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            rebuild_backlog: crate::index::indexer::DEFAULT_REBUILD_BACKLOG,
        }
    }
}

/// The TOML file's layout.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub insecure_no_auth: Option<bool>,
    pub limits: Limits,
    pub auth: AuthConfig,
    pub signals: SignalsConfig,
    pub review: ReviewConfig,
    pub index: IndexConfig,
    pub overload: OverloadConfig,
    pub metrics_listen: Option<SocketAddr>,
    pub tls: TlsConfig,
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<FileConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }
}

/// Everything the server needs to start, after merging flags, file and defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub insecure_no_auth: bool,
    pub limits: Limits,
    pub auth: AuthConfig,
    pub signals: SignalsConfig,
    pub review: ReviewConfig,
    pub index: IndexConfig,
    pub overload: OverloadConfig,
    pub metrics_listen: Option<SocketAddr>,
    pub tls: TlsConfig,
}

impl Settings {
    pub fn resolve(args: &ServeArgs) -> Result<Settings> {
        let file = match &args.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        file.signals.check()?;
        if file.review.lease_minutes == 0 || file.review.lease_minutes > 24 * 60 {
            return Err(Error::Config(
                "[review] lease_minutes must be between 1 and 1440".into(),
            ));
        }
        let mut tls = file.tls;
        tls.cert = args.tls_cert.clone().or(tls.cert);
        tls.key = args.tls_key.clone().or(tls.key);
        tls.client_ca = args.tls_client_ca.clone().or(tls.client_ca);
        let mut limits = file.limits;
        if let Some(max) = args.max_text_chars {
            limits.max_text_chars = max;
        }
        Ok(Settings {
            listen: args.listen.or(file.listen).unwrap_or_else(|| {
                DEFAULT_LISTEN
                    .parse()
                    .expect("the default listen address parses")
            }),
            data_dir: args
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            insecure_no_auth: args.insecure_no_auth || file.insecure_no_auth.unwrap_or(false),
            limits,
            auth: file.auth,
            signals: file.signals,
            review: file.review,
            index: file.index,
            overload: file.overload,
            metrics_listen: args.metrics_listen.or(file.metrics_listen),
            tls,
        })
    }

    /// Settings with embedded defaults for a data directory (used by tests and tools).
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Settings {
        Settings {
            data_dir: data_dir.into(),
            ..Settings::resolve(&ServeArgs::default()).expect("defaults need no file")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file_and_file_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("triage.toml");
        std::fs::write(
            &path,
            r#"
listen = "127.0.0.1:6000"
data_dir = "/var/lib/triage"
[limits]
max_text_chars = 500
[index]
rebuild_backlog = 5000
[[auth.tokens]]
name = "bot"
token = "secret"
roles = ["ingest"]
"#,
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(path),
            listen: Some("127.0.0.1:7000".parse().unwrap()),
            ..ServeArgs::default()
        };
        let settings = Settings::resolve(&args).unwrap();
        assert_eq!(settings.listen.port(), 7000);
        assert_eq!(settings.data_dir, PathBuf::from("/var/lib/triage"));
        assert_eq!(settings.limits.max_text_chars, 500);
        assert_eq!(settings.limits.max_id_chars, 128);
        assert_eq!(settings.auth.tokens.len(), 1);
        assert_eq!(settings.index.rebuild_backlog, 5000);
        assert_eq!(
            Settings::with_data_dir("/tmp").index.rebuild_backlog,
            crate::index::indexer::DEFAULT_REBUILD_BACKLOG
        );
    }

    #[test]
    fn unknown_keys_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("triage.toml");
        std::fs::write(&path, "[limits]\nmax_txt_chars = 5\n").unwrap();
        let error = FileConfig::load(&path).unwrap_err().to_string();
        assert!(error.contains("max_txt_chars"), "{error}");
    }
}
