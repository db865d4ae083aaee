//! The box's outbound TLS: plain HTTP, or HTTPS trusting only the CA certificates of one
//! PEM file (pinned: the system's roots are never consulted). The uplink to HQ (`[uplink]
//! ca_file`), payment connectors (their manifest's `ca_file`) and the MQTT client of an
//! external broker over TLS (`[mqtt] ca_file`) use it.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

pub type PinnedClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client for `http://` URLs and, when `ca_file` is given, `https://` URLs whose server
/// certificate that CA signed. `what` names the setting in errors (`uplink.ca_file`).
pub fn pinned_client(ca_file: Option<&Path>, what: &str) -> Result<PinnedClient, String> {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.enforce_http(false);
    let tls = client_config(ca_file, what)?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector))
}

/// A TLS client configuration trusting only the CA certificates in `ca_file` (none
/// without it): for HTTPS above and for MQTT over TLS to an external broker.
pub fn client_config(ca_file: Option<&Path>, what: &str) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(path) = ca_file {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let bad = |e: &dyn std::fmt::Display| format!("{what} {}: {e}", path.display());
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(&e))? {
            roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
        }
        if roots.is_empty() {
            return Err(bad(&"holds no certificate"));
        }
    }
    Ok(
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

/// An error and its causes, joined (`client error (Connect): invalid peer certificate:
/// UnknownIssuer`), so what a TLS refusal says is not lost under a connect error.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}
