//! A minimal JSON-over-HTTP/1.1 client with keep-alive, for simulated ticket offices and
//! for tests.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("request to {0} failed: {1}")]
    Request(String, String),
}

/// A response: status, content type and body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub content_type: String,
    /// The `Set-Cookie` headers, as sent.
    pub set_cookie: Vec<String>,
    pub body: Bytes,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Clone)]
pub struct HttpClient {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl HttpClient {
    /// A client for `http://addr`.
    pub fn new(addr: impl std::fmt::Display) -> HttpClient {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        HttpClient {
            base: format!("http://{addr}"),
            // The box closes a connection idle past its header timeout (10 s); drop idle
            // ones before that, so no request goes out on a connection being closed.
            client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(std::time::Duration::from_secs(5))
                .build(connector),
        }
    }

    /// Sends a request; `token` adds `Authorization: Bearer`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Response, HttpError> {
        let headers: Vec<(&str, &str)> = content_type
            .map(|ct| ("content-type", ct))
            .into_iter()
            .collect();
        self.send_with(method, path, token, &headers, body).await
    }

    /// Sends a request with these headers besides the token's.
    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Response, HttpError> {
        let url = format!("{}{path}", self.base);
        let mut req = Request::builder().method(method).uri(&url);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| HttpError::Request(url.clone(), e.to_string()))?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| HttpError::Request(url.clone(), e.to_string()))?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let set_cookie = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| HttpError::Request(url, e.to_string()))?
            .to_bytes();
        Ok(Response {
            status,
            content_type,
            set_cookie,
            body,
        })
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Result<Response, HttpError> {
        self.send(Method::GET, path, token, None, Vec::new()).await
    }

    pub async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: &serde_json::Value,
    ) -> Result<Response, HttpError> {
        self.send(
            Method::POST,
            path,
            token,
            Some("application/json"),
            body.to_string().into_bytes(),
        )
        .await
    }
}
