//! Which handler serves which method and path, and who may call it.

use hyper::body::Incoming;
use hyper::{HeaderMap, Method, Request};

use super::{App, Reply, batches, reports, status};
use crate::auth::Role;
use crate::error::ApiError;

/// A request's parts the handlers need.
pub struct Call {
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub role: Role,
    pub body: Incoming,
}

impl Call {
    /// A header's value as text, if present and readable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn route(app: &App, req: Request<Incoming>) -> Result<Reply, ApiError> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let method = parts.method.clone();
    let wrong_method = |allowed: &str| {
        Err(ApiError::method_not_allowed(format!(
            "{method} is not allowed on {path}; use {allowed}"
        )))
    };
    let endpoint = match (&method, segments.as_slice()) {
        (&Method::GET, ["healthz"]) => return Ok(status::healthz(app).await),
        (&Method::GET, ["metrics"]) => return Ok(status::metrics(app)),
        (_, ["healthz"] | ["metrics"]) => return wrong_method("GET"),
        (&Method::POST, ["api", "v1", "batches"]) => Endpoint::Upload,
        (&Method::GET, ["api", "v1", "reports", "revenue"]) => Endpoint::Revenue,
        (&Method::GET, ["api", "v1", "edges"]) => Endpoint::Edges,
        (_, ["api", "v1", "batches"]) => return wrong_method("POST"),
        (_, ["api", "v1", "reports", "revenue"] | ["api", "v1", "edges"]) => {
            return wrong_method("GET");
        }
        _ => {
            return Err(ApiError::not_found(
                "no_route",
                format!("no endpoint {method} {path}"),
            ));
        }
    };
    let auth = parts
        .headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let role = app.tokens.authenticate(auth, &app.store).await?;
    let query = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let call = Call {
        query,
        headers: parts.headers,
        role,
        body,
    };
    match endpoint {
        Endpoint::Upload => batches::upload(app, call).await,
        Endpoint::Revenue => reports::revenue(app, &call).await,
        Endpoint::Edges => reports::edges(app, &call).await,
    }
}

enum Endpoint {
    Upload,
    Revenue,
    Edges,
}
