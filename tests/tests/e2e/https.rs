//! The API and the console's sign-in over HTTPS with a certificate made for the test.

use std::sync::Arc;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use venue_tests::{Edge, EdgeOptions, test_password, test_username};

/// A CA and a certificate for 127.0.0.1 signed by it: (CA PEM, cert file, key file).
fn certificates(dir: &std::path::Path) -> (String, std::path::PathBuf, std::path::PathBuf) {
    let c = crate::certs::certificates(dir, "edge");
    (c.ca_pem(), c.cert, c.key)
}

/// One HTTP/1.1 request over TLS trusting `ca` alone; the whole answer as text.
async fn https(addr: &str, ca: &str, request: String) -> Result<String, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

use rustls::pki_types::pem::PemObject;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_and_sign_in_are_served_over_https_with_a_secure_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let edge = Edge::start(EdgeOptions {
        tls: Some((cert, key)),
        ..EdgeOptions::default()
    })
    .await;
    let addr = edge.http_addr.clone();
    let answer = https(
        &addr,
        &ca,
        format!(
            "GET /api/v1/products HTTP/1.1\r\nHost: box\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            edge.token("ticketing")
        ),
    )
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let body = serde_json::json!({
        "username": test_username("manager"), "password": test_password("manager")
    })
    .to_string();
    let answer = https(
        &addr,
        &ca,
        format!(
            "POST /api/v1/session HTTP/1.1\r\nHost: box\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let cookie = answer
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie: ve_session=")
        })
        .expect("a session cookie");
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );

    // A client that does not trust the box's CA is refused at the handshake; plain HTTP
    // on the HTTPS port gets no answer.
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let (other_ca, _, _) = certificates(&other);
    assert!(
        https(&addr, &other_ca, "GET /healthz HTTP/1.1\r\n\r\n".into())
            .await
            .is_err()
    );
    let mut plain = TcpStream::connect(&addr).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: box\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(15),
        plain.read_to_end(&mut got),
    )
    .await;
    assert!(!String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
}
