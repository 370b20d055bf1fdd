//! TLS for the server (rustls through tonic) and for the client commands: certificates and keys
//! from PEM files, and optional client certificates (mTLS) whose SHA-256 fingerprints the auth
//! layer maps to callers (`[[auth.clients]]`).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::error::{Error, Result};

/// `[tls]`: serve gRPC over TLS. Off unless `cert` and `key` are given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain of the server, leaf first.
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert` (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
    /// PEM certificates of the CAs that sign client certificates; turns on mTLS.
    pub client_ca: Option<PathBuf>,
    /// Refuse connections without a client certificate (otherwise a bearer token also works).
    pub require_client_cert: bool,
}

fn read_pem(path: &Path, key: &str) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::Config(format!("[tls] {key} {}: {e}", path.display())))?;
    if !String::from_utf8_lossy(&bytes).contains("-----BEGIN ") {
        return Err(Error::Config(format!(
            "[tls] {key} {}: not a PEM file",
            path.display()
        )));
    }
    Ok(bytes)
}

impl TlsConfig {
    /// The server's TLS settings, `None` when TLS is off; checks the files can be read.
    pub fn server_config(&self) -> Result<Option<ServerTlsConfig>> {
        let (cert, key) = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => (cert, key),
            (None, None) => {
                if self.client_ca.is_some() || self.require_client_cert {
                    return Err(Error::Config(
                        "[tls] client_ca and require_client_cert need cert and key".into(),
                    ));
                }
                return Ok(None);
            }
            _ => {
                return Err(Error::Config(
                    "[tls] give both cert and key, or neither".into(),
                ));
            }
        };
        let identity = Identity::from_pem(read_pem(cert, "cert")?, read_pem(key, "key")?);
        let mut config = ServerTlsConfig::new().identity(identity);
        match &self.client_ca {
            Some(ca) => {
                config = config
                    .client_ca_root(Certificate::from_pem(read_pem(ca, "client_ca")?))
                    .client_auth_optional(!self.require_client_cert);
            }
            None if self.require_client_cert => {
                return Err(Error::Config(
                    "[tls] require_client_cert needs client_ca to check the certificates".into(),
                ));
            }
            None => {}
        }
        Ok(Some(config))
    }

    /// Whether every connection must present a client certificate signed by `client_ca`.
    pub fn requires_client_certificates(&self) -> bool {
        self.client_ca.is_some() && self.require_client_cert
    }
}

/// The lowercase hex SHA-256 of a DER certificate, as `openssl x509 -fingerprint -sha256` prints
/// it without the colons.
pub fn certificate_fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// Parses a configured fingerprint: 64 hex digits, colons and case ignored.
pub fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let digits: String = text.chars().filter(|c| *c != ':').collect();
    let bytes = hex::decode(digits.trim()).ok()?;
    <[u8; 32]>::try_from(bytes.as_slice()).ok()
}

/// Client-side TLS for `https://` servers: trust `ca` (or the system's roots) and present
/// `cert`/`key` when given.
pub fn client_config(
    ca: Option<&Path>,
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<ClientTlsConfig> {
    let mut config = ClientTlsConfig::new();
    config = match ca {
        Some(ca) => config.ca_certificate(Certificate::from_pem(read_pem(ca, "--ca-cert")?)),
        None => config.with_native_roots(),
    };
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(config.identity(Identity::from_pem(
            read_pem(cert, "--client-cert")?,
            read_pem(key, "--client-key")?,
        ))),
        (None, None) => Ok(config),
        _ => Err(Error::Config(
            "give both --client-cert and --client-key, or neither".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_with_or_without_colons() {
        let hex = "AB".repeat(32);
        let colons = vec!["ab"; 32].join(":");
        assert_eq!(parse_fingerprint(&hex), Some([0xab; 32]));
        assert_eq!(parse_fingerprint(&colons), Some([0xab; 32]));
        assert_eq!(parse_fingerprint("abcd"), None);
        assert_eq!(parse_fingerprint(&"zz".repeat(32)), None);
    }

    #[test]
    fn half_configured_tls_is_refused() {
        let only_cert = TlsConfig {
            cert: Some("server.pem".into()),
            ..TlsConfig::default()
        };
        assert!(
            only_cert
                .server_config()
                .unwrap_err()
                .to_string()
                .contains("both cert and key")
        );
        let ca_without_cert = TlsConfig {
            client_ca: Some("ca.pem".into()),
            ..TlsConfig::default()
        };
        assert!(ca_without_cert.server_config().is_err());
        assert!(TlsConfig::default().server_config().unwrap().is_none());
    }

    #[test]
    fn unreadable_files_name_the_setting() {
        let config = TlsConfig {
            cert: Some("/nonexistent/server.pem".into()),
            key: Some("/nonexistent/server.key".into()),
            ..TlsConfig::default()
        };
        let error = config.server_config().unwrap_err().to_string();
        assert!(
            error.contains("[tls] cert /nonexistent/server.pem"),
            "{error}"
        );
    }
}
