//! TLS policy and certificate loading.
//!
//! TLS 1.3 and 1.2 only; TLS 1.2 limited to ECDHE key exchange with AES-GCM
//! or ChaCha20-Poly1305 (forward secrecy, AEAD). The certificate is read
//! through a resolver that can swap it at runtime (SIGHUP), so renewing a
//! certificate needs no restart and drops no connection.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::SupportedCipherSuite;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the certificate {path}: {reason}")]
    Certificate { path: PathBuf, reason: String },
    #[error("cannot read the private key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("the certificate file {0} holds no certificate")]
    NoCertificate(PathBuf),
    #[error("the key does not fit the certificate: {0}")]
    Mismatch(String),
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// Whether a cipher suite is allowed: every TLS 1.3 suite (all are AEAD
/// with ephemeral key exchange), and TLS 1.2 ECDHE with an AEAD.
pub fn suite_allowed(suite: &SupportedCipherSuite) -> bool {
    match suite {
        SupportedCipherSuite::Tls13(_) => true,
        SupportedCipherSuite::Tls12(_) => {
            let name = format!("{:?}", suite.suite());
            name.contains("_ECDHE_") && (name.contains("_GCM_") || name.contains("CHACHA20_POLY1305"))
        }
    }
}

/// The ring provider, restricted to the allowed suites.
pub fn provider() -> CryptoProvider {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites.retain(suite_allowed);
    provider
}

/// Loads and checks a certificate chain and its key.
pub fn load_certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| TlsError::Certificate { path: cert.into(), reason: e.to_string() })?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Certificate { path: cert.into(), reason: e.to_string() })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(cert.into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| TlsError::Key { path: key.into(), reason: e.to_string() })?;
    CertifiedKey::from_der(certs, key_der, &provider()).map_err(|e| TlsError::Mismatch(e.to_string()))
}

/// Serves the current certificate; `reload` swaps it.
#[derive(Debug)]
pub struct CertificateStore {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertificateStore {
    pub fn open(cert_path: &Path, key_path: &Path) -> Result<Self, TlsError> {
        let key = load_certified_key(cert_path, key_path)?;
        Ok(CertificateStore {
            cert_path: cert_path.into(),
            key_path: key_path.into(),
            current: RwLock::new(Arc::new(key)),
        })
    }

    /// Reads the files again; on failure the old certificate stays in use.
    pub fn reload(&self) -> Result<(), TlsError> {
        let key = load_certified_key(&self.cert_path, &self.key_path)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(key);
        Ok(())
    }
}

impl ResolvesServerCert for CertificateStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

/// The server configuration: the policy above, HTTP/2 and HTTP/1.1 by ALPN.
pub fn server_config(certificates: Arc<CertificateStore>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(certificates);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_forward_secret_aead_suites_remain() {
        let p = provider();
        assert!(!p.cipher_suites.is_empty());
        for s in &p.cipher_suites {
            let name = format!("{:?}", s.suite());
            assert!(name.starts_with("TLS13_") || name.starts_with("TLS_ECDHE_"), "{name}");
            assert!(!name.contains("CBC") && !name.contains("_SHA,") && !name.ends_with("_SHA"), "{name}");
        }
        let names: Vec<String> = p.cipher_suites.iter().map(|s| format!("{:?}", s.suite())).collect();
        assert!(names.iter().any(|n| n.contains("ECDHE_RSA_WITH_AES_128_GCM")), "{names:?}");
    }
}
