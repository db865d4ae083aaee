//! HTTPS for the API and console: the certificate chain and private key the config names
//! (`[edge] tls_cert`, `tls_key`, PEM files), read once at start.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Reads the files and builds the acceptor; a bad file is an error that names it.
pub fn acceptor(cert: &Path, key: &Path) -> Result<tokio_rustls::TlsAcceptor, String> {
    let named = |what: &str, path: &Path, e: &dyn std::fmt::Display| {
        format!("edge.{what} {}: {e}", path.display())
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| named("tls_cert", cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| named("tls_cert", cert, &e))?;
    if certs.is_empty() {
        return Err(named("tls_cert", cert, &"holds no certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| named("tls_key", key, &e))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| format!("edge.tls_cert and edge.tls_key do not make a usable pair: {e}"))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
