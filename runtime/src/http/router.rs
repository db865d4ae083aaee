//! Which handler serves which method and path, and who may call it.

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};

use super::{Api, Reply, admin, finance, json_reply, ticketing};
use crate::auth::Role;
use venue_domain::error::{DomainError, ErrorKind};

/// A request, split for handlers.
pub struct Call {
    pub method: Method,
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
    pub role: Option<Role>,
    pub content_type: String,
    pub accept: String,
    pub body: Incoming,
}

impl Call {
    pub fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A business date in the query (`?{key}=YYYY-MM-DD`), parsed at the door; `None` when
    /// absent, 400 `bad_date` naming the form when written any other way.
    pub fn date(&self, key: &str) -> Result<Option<venue_model::BusinessDate>, DomainError> {
        self.query(key)
            .map(|text| {
                venue_model::BusinessDate::parse(text)
                    .map_err(|e| DomainError::bad_request("bad_date", format!("{key}: {e}")))
            })
            .transpose()
    }

    /// The authenticated role (every `/api/v1` route has one).
    pub fn role(&self) -> Result<&Role, DomainError> {
        self.role
            .as_ref()
            .ok_or_else(|| DomainError::unauthorized("missing token"))
    }
}

pub async fn route(api: &Api, req: Request<Incoming>) -> Result<Reply, DomainError> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let query = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let header = |name: hyper::header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let mut call = Call {
        method: parts.method.clone(),
        segments,
        query,
        role: None,
        content_type: header(hyper::header::CONTENT_TYPE),
        accept: header(hyper::header::ACCEPT),
        body,
    };
    let seg: Vec<&str> = call.segments.iter().map(String::as_str).collect();
    match (&call.method, seg.as_slice()) {
        (&Method::GET, ["healthz"]) => return admin::healthz(api).await,
        (&Method::GET, ["metrics"]) => return Ok(admin::metrics(api)),
        (_, ["api", "v1", ..]) => {}
        _ => {
            return Err(DomainError::not_found(
                "no_route",
                format!("no endpoint {} {path}", call.method),
            ));
        }
    }
    let auth = parts
        .headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    call.role = Some(api.tokens.authenticate(auth)?);
    let seg: Vec<String> = call.segments[2..].to_vec();
    let seg: Vec<&str> = seg.iter().map(String::as_str).collect();
    let m = call.method.clone();
    match (&m, seg.as_slice()) {
        (&Method::GET, ["products"]) => Ok(json_reply(StatusCode::OK, &ticketing::products(api))),
        (&Method::POST, ["orders"]) => ticketing::create_order(api, call).await,
        (&Method::GET, ["orders", id]) => ticketing::get_order(api, &call, id).await,
        (&Method::POST, ["orders", id, "refunds"]) => ticketing::refund(api, call, id).await,
        (&Method::POST, ["tickets", id, "rebook"]) => ticketing::rebook(api, call, id).await,
        (&Method::POST, ["integrations", plugin, "orders"]) => {
            ticketing::integration_order(api, call, plugin).await
        }
        (&Method::GET, ["capacity"]) => ticketing::capacity(api, &call).await,
        (&Method::GET, ["plugins"]) => admin::list_plugins(api, &call),
        (&Method::PUT, ["plugins", id]) => admin::replace_plugin(api, call, id).await,
        (&Method::GET, ["audit"]) => admin::audit(api, &call).await,
        (&Method::GET, ["sales"]) => finance::sales(api, &call).await,
        (&Method::GET, ["contracts"]) => finance::list_contracts(api, &call).await,
        (&Method::POST, ["contracts"]) => finance::create_contract(api, call).await,
        (&Method::POST, ["settlements"]) => finance::settle(api, &call).await,
        (&Method::GET, ["bills"]) => finance::list_bills(api, &call).await,
        (&Method::GET, ["bills", id]) => finance::get_bill(api, &call, id).await,
        (&Method::POST, ["bills", id, "approve"]) => finance::approve(api, &call, id).await,
        (&Method::POST, ["bills", id, "reject"]) => finance::reject(api, call, id).await,
        (&Method::POST, ["bills", id, "pay"]) => finance::pay(api, &call, id).await,
        (&Method::GET, ["reports", "revenue"]) => finance::revenue_report(api, &call).await,
        (&Method::GET, ["reports", "flow"]) => finance::flow_report(api, &call).await,
        (&Method::GET, ["reports", "presence"]) => finance::presence_report(api, &call).await,
        (&Method::GET, ["ledger", "trial-balance"]) => finance::trial_balance(api, &call).await,
        (&Method::GET, ["ledger", "parties", party]) => {
            finance::party_balance(api, &call, party).await
        }
        _ => match methods_of(&seg) {
            [] => Err(DomainError::not_found(
                "no_route",
                format!("no endpoint {} {path}", call.method),
            )),
            methods => Err(DomainError::new(
                ErrorKind::NotAllowed,
                "method_not_allowed",
                format!(
                    "{} is not allowed on {path}; it takes {}",
                    call.method,
                    methods.join(", ")
                ),
            )),
        },
    }
}

/// Every path under `/api/v1` the router serves, and its methods (`*` is one segment of
/// the caller's choosing). A path here with another method is a 405; a path not here is a
/// 404. Keep it beside the `match` above: one row for each path shape there.
const PATHS: &[(&[&str], &[&str])] = &[
    (&["products"], &["GET"]),
    (&["orders"], &["POST"]),
    (&["orders", "*"], &["GET"]),
    (&["orders", "*", "refunds"], &["POST"]),
    (&["tickets", "*", "rebook"], &["POST"]),
    (&["integrations", "*", "orders"], &["POST"]),
    (&["capacity"], &["GET"]),
    (&["plugins"], &["GET"]),
    (&["plugins", "*"], &["PUT"]),
    (&["audit"], &["GET"]),
    (&["sales"], &["GET"]),
    (&["contracts"], &["GET", "POST"]),
    (&["settlements"], &["POST"]),
    (&["bills"], &["GET"]),
    (&["bills", "*"], &["GET"]),
    (&["bills", "*", "approve"], &["POST"]),
    (&["bills", "*", "reject"], &["POST"]),
    (&["bills", "*", "pay"], &["POST"]),
    (&["reports", "revenue"], &["GET"]),
    (&["reports", "flow"], &["GET"]),
    (&["reports", "presence"], &["GET"]),
    (&["ledger", "trial-balance"], &["GET"]),
    (&["ledger", "parties", "*"], &["GET"]),
];

/// The methods a path under `/api/v1` takes; none for a path the API does not have.
fn methods_of(segments: &[&str]) -> &'static [&'static str] {
    PATHS
        .iter()
        .find(|(shape, _)| {
            shape.len() == segments.len()
                && shape.iter().zip(segments).all(|(s, g)| *s == "*" || s == g)
        })
        .map_or(&[], |(_, methods)| *methods)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_the_api_lacks_has_no_methods_and_a_known_one_names_its_own() {
        let table: &[(&[&str], &[&str])] = &[
            (&["reports", "nothing"], &[]),
            (&["reports"], &[]),
            (&["bills", "b-1", "approve", "x"], &[]),
            (&["reports", "revenue"], &["GET"]),
            (&["bills", "b-1", "pay"], &["POST"]),
            (&["contracts"], &["GET", "POST"]),
            (&["orders", "o-1"], &["GET"]),
        ];
        for (path, methods) in table {
            assert_eq!(methods_of(path), *methods, "{path:?}");
        }
    }
}
