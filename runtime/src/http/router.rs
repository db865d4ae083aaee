//! Which handler serves which method and path, and who may call it.

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};

use super::{Api, Reply, admin, finance, json_reply, session, ticketing};
use crate::auth::Caller;
use venue_domain::actor::Actor;
use venue_domain::error::{DomainError, ErrorKind};

/// A request, split for handlers.
pub struct Call {
    pub method: Method,
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
    pub caller: Option<Caller>,
    pub content_type: String,
    pub accept: String,
    pub peer: std::net::SocketAddr,
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

    /// The authenticated caller (every `/api/v1` route but signing in has one).
    pub fn caller(&self) -> Result<&Caller, DomainError> {
        self.caller
            .as_ref()
            .ok_or_else(|| DomainError::unauthorized("not signed in"))
    }

    /// Who acts, for the audit and the records that name a person.
    pub fn actor(&self) -> Result<Actor, DomainError> {
        Ok(self.caller()?.actor())
    }
}

pub async fn route(
    api: &Api,
    req: Request<Incoming>,
    peer: std::net::SocketAddr,
) -> Result<Reply, DomainError> {
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
        caller: None,
        peer,
        content_type: header(hyper::header::CONTENT_TYPE),
        accept: header(hyper::header::ACCEPT),
        body,
    };
    let seg: Vec<&str> = call.segments.iter().map(String::as_str).collect();
    match (&call.method, seg.as_slice()) {
        (&Method::GET, ["healthz"]) => return admin::healthz(api).await,
        (&Method::GET, ["metrics"]) => return Ok(admin::metrics(api)),
        (_, ["api", "v1", ..]) => {}
        (_, ["api", ..]) => {
            return Err(DomainError::not_found(
                "no_route",
                format!("no endpoint {} {path}", call.method),
            ));
        }
        // Everything else is the console's.
        _ => return Ok(super::console::route(api, call, &parts.headers).await),
    }
    let seg: Vec<String> = call.segments[2..].to_vec();
    let seg: Vec<&str> = seg.iter().map(String::as_str).collect();
    // Signing in is the one call without credentials.
    if call.method == Method::POST && seg.as_slice() == ["session"] {
        return session::sign_in(api, call).await;
    }
    let now = chrono::Utc::now();
    let caller = match (
        parts.headers.get(hyper::header::AUTHORIZATION),
        session_cookie(&parts.headers),
    ) {
        (None, Some(cookie)) => {
            let caller = api.auth.session(&cookie, now)?;
            // A cookie is sent by the browser on its own: a state change must also carry
            // the session's CSRF token, which only the console's own pages know.
            if !matches!(call.method, Method::GET | Method::HEAD) {
                let sent = parts
                    .headers
                    .get("x-csrf-token")
                    .and_then(|v| v.to_str().ok());
                if sent.is_none() || sent != caller.csrf.as_deref() {
                    return Err(DomainError::new(
                        ErrorKind::Forbidden,
                        "csrf",
                        "a signed-in change needs the session's X-CSRF-Token header",
                    ));
                }
            }
            caller
        }
        (header, _) => api.auth.bearer(header.and_then(|v| v.to_str().ok()), now)?,
    };
    if let Some(allowed) = roles_for(&call.method, &seg) {
        check_roles(&caller, allowed)?;
    }
    call.caller = Some(caller);
    let m = call.method.clone();
    match (&m, seg.as_slice()) {
        (&Method::GET, ["session"]) => session::whoami(&call),
        (&Method::DELETE, ["session"]) => session::sign_out(api, &call).await,
        (&Method::GET, ["products"]) => Ok(json_reply(StatusCode::OK, &ticketing::products(api))),
        (&Method::POST, ["orders"]) => ticketing::create_order(api, call).await,
        (&Method::GET, ["orders", id]) => ticketing::get_order(api, id).await,
        (&Method::POST, ["orders", id, "refunds"]) => ticketing::refund(api, call, id).await,
        (&Method::POST, ["tickets", id, "rebook"]) => ticketing::rebook(api, call, id).await,
        (&Method::POST, ["integrations", plugin, "orders"]) => {
            ticketing::integration_order(api, call, plugin).await
        }
        (&Method::GET, ["capacity"]) => ticketing::capacity(api, &call).await,
        (&Method::GET, ["plugins"]) => admin::list_plugins(api),
        (&Method::PUT, ["plugins", id]) => admin::replace_plugin(api, call, id).await,
        (&Method::GET, ["audit"]) => admin::audit(api, &call).await,
        (&Method::GET, ["sales"]) => finance::sales(api, &call).await,
        (&Method::GET, ["contracts"]) => finance::list_contracts(api).await,
        (&Method::POST, ["contracts"]) => finance::create_contract(api, call).await,
        (&Method::POST, ["settlements"]) => finance::settle(api, &call).await,
        (&Method::GET, ["bills"]) => finance::list_bills(api, &call).await,
        (&Method::GET, ["bills", id]) => finance::get_bill(api, &call, id).await,
        (&Method::POST, ["bills", id, "approve"]) => finance::approve(api, &call, id).await,
        (&Method::POST, ["bills", id, "reject"]) => finance::reject(api, call, id).await,
        (&Method::POST, ["bills", id, "pay"]) => finance::pay(api, &call, id).await,
        (&Method::GET, ["reports", "revenue"]) => finance::revenue_report(api, &call).await,
        (&Method::GET, ["reports", "flow"]) => finance::flow_report(api, &call).await,
        (&Method::GET, ["reports", "consumption"]) => finance::consumption_report(api, &call).await,
        (&Method::GET, ["reports", "presence"]) => finance::presence_report(api, &call).await,
        (&Method::GET, ["reports", "visitor"]) => finance::visitor_report(api, &call).await,
        (&Method::GET, ["ledger", "trial-balance"]) => finance::trial_balance(api, &call).await,
        (&Method::GET, ["ledger", "parties", party]) => {
            finance::party_balance(api, &call, party).await
        }
        _ => match methods_of(&seg).as_slice() {
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

/// Every signed-in user.
const ANY: &[&str] = &["any"];
const FINANCE_AUDIT: &[&str] = &["finance-reviewer", "finance-payer", "auditor"];
/// Bills: finance and auditors see all; `operator:{party}` (here `operator`) its own.
const BILL_READERS: &[&str] = &["finance-reviewer", "finance-payer", "auditor", "operator"];

/// The role table: every endpoint under `/api/v1` (method, path shape with `*` for one
/// segment of the caller's choosing) and the roles that may call it (protocol.md, HTTP
/// API). The router refuses any other role with 403 before a handler runs; a path here
/// with another method is a 405; a path not here is a 404. One row for each arm of the
/// `match` above. Finer rules stay in the handlers and the domain: an operator sees its own
/// party only, and whoever approved a bill cannot pay it.
pub const ROUTES: &[(&str, &[&str], &[&str])] = &[
    ("GET", &["session"], ANY),
    ("DELETE", &["session"], ANY),
    ("GET", &["products"], ANY),
    ("POST", &["orders"], &["ticketing"]),
    ("GET", &["orders", "*"], &["ticketing", "auditor"]),
    ("POST", &["orders", "*", "refunds"], &["ticketing"]),
    ("POST", &["tickets", "*", "rebook"], &["ticketing"]),
    ("POST", &["integrations", "*", "orders"], &["integration"]),
    ("GET", &["capacity"], ANY),
    ("GET", &["plugins"], &["admin"]),
    ("PUT", &["plugins", "*"], &["admin"]),
    ("GET", &["audit"], &["auditor"]),
    ("GET", &["sales"], FINANCE_AUDIT),
    (
        "GET",
        &["contracts"],
        &["finance-reviewer", "finance-payer", "admin", "auditor"],
    ),
    ("POST", &["contracts"], &["admin"]),
    ("POST", &["settlements"], &["finance-reviewer"]),
    ("GET", &["bills"], BILL_READERS),
    ("GET", &["bills", "*"], BILL_READERS),
    ("POST", &["bills", "*", "approve"], &["finance-reviewer"]),
    ("POST", &["bills", "*", "reject"], &["finance-reviewer"]),
    ("POST", &["bills", "*", "pay"], &["finance-payer"]),
    (
        "GET",
        &["reports", "revenue"],
        &["finance-reviewer", "finance-payer", "manager", "auditor"],
    ),
    ("GET", &["reports", "flow"], &["manager", "auditor"]),
    (
        "GET",
        &["reports", "consumption"],
        &["finance-reviewer", "finance-payer", "manager", "auditor"],
    ),
    ("GET", &["reports", "presence"], &["manager", "auditor"]),
    ("GET", &["reports", "visitor"], &["manager", "auditor"]),
    ("GET", &["ledger", "trial-balance"], FINANCE_AUDIT),
    ("GET", &["ledger", "parties", "*"], BILL_READERS),
];

fn shape_matches(shape: &[&str], segments: &[&str]) -> bool {
    shape.len() == segments.len() && shape.iter().zip(segments).all(|(s, g)| *s == "*" || s == g)
}

/// The roles that may call `method` on a path under `/api/v1`; none for an endpoint the
/// API does not have.
pub fn roles_for(method: &Method, segments: &[&str]) -> Option<&'static [&'static str]> {
    ROUTES
        .iter()
        .find(|(m, shape, _)| *m == method.as_str() && shape_matches(shape, segments))
        .map(|(_, _, roles)| *roles)
}

/// Whether a caller holds one of `allowed` (`any`: every signed-in user; `operator`: any
/// `operator:{party}`).
pub fn check_roles(caller: &Caller, allowed: &[&str]) -> Result<(), DomainError> {
    if allowed.contains(&"any") || caller.roles.iter().any(|r| allowed.contains(&r.kind())) {
        return Ok(());
    }
    Err(DomainError::forbidden(format!(
        "this needs one of the roles {}; {} has {}",
        allowed.join(", "),
        caller.user,
        caller.roles_text()
    )))
}

/// The methods a path under `/api/v1` takes; none for a path the API does not have.
fn methods_of(segments: &[&str]) -> Vec<&'static str> {
    ROUTES
        .iter()
        .filter(|(_, shape, _)| shape_matches(shape, segments))
        .map(|(m, _, _)| *m)
        .collect()
}

/// The session cookie of a request, if it sent one.
fn session_cookie(headers: &hyper::HeaderMap) -> Option<String> {
    cookie(headers, crate::auth::SESSION_COOKIE)
}

/// The value of the cookie `name` a request sent, if any (and not empty).
pub fn cookie(headers: &hyper::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    #[test]
    fn a_caller_passes_the_table_with_any_one_of_its_roles() {
        let caller = |roles: &[&str]| Caller {
            user: "u".into(),
            roles: roles.iter().map(|r| Role::parse(r).unwrap()).collect(),
            via: "tok_x".into(),
            csrf: None,
        };
        // (caller's roles, the route's roles, allowed)
        let cases: &[(&[&str], &[&str], bool)] = &[
            (&["ticketing"], &["ticketing"], true),
            (&["ticketing"], &["ticketing", "auditor"], true),
            (&["manager"], &["ticketing", "auditor"], false),
            (&["manager", "auditor"], &["ticketing", "auditor"], true),
            (&["integration"], ANY, true),
            (&["operator:p-tea"], BILL_READERS, true),
            (&["operator:p-tea"], &["finance-payer"], false),
            (&["admin"], &["finance-payer"], false),
            (&[], ANY, true),
            (&[], &["admin"], false),
        ];
        for (roles, allowed, ok) in cases {
            assert_eq!(
                check_roles(&caller(roles), allowed).is_ok(),
                *ok,
                "{roles:?} at {allowed:?}"
            );
        }
    }

    #[test]
    fn every_endpoint_is_in_the_role_table_once() {
        for (i, (m, shape, roles)) in ROUTES.iter().enumerate() {
            assert!(!roles.is_empty(), "{m} {shape:?} names no role");
            assert!(
                ROUTES[i + 1..]
                    .iter()
                    .all(|(m2, s2, _)| !(m == m2 && shape == s2)),
                "{m} {shape:?} twice"
            );
        }
    }

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
