//! The staff console: HTML pages under `/`, served by the box itself (the API stays under
//! `/api/v1`). Pages are rendered on the server from templates checked at compile time
//! (askama, `runtime/templates/`), charts are SVG drawn here ([`svg`]), the one stylesheet
//! is embedded in the binary, and nothing is fetched from elsewhere: a page works with
//! scripts off.
//!
//! Signing in opens the same session as `POST /api/v1/session` (HttpOnly, SameSite=Strict
//! cookie); every form carries the session's CSRF token. Each page names the roles that may
//! see it ([`PAGES`]); the navigation shows a user the pages of their roles only, and any
//! other page answers 403. Labels are Chinese unless the user chose English (`?lang=en`,
//! kept in a cookie).

mod admin;
mod finance;
mod labels;
mod reports;
mod svg;
mod ticketing;
mod today;
mod visitor;

use askama::Template;
use hyper::header::{HeaderValue, LOCATION};
use hyper::{HeaderMap, Method, StatusCode};

use super::router::{Call, check_roles, cookie};
use super::{Api, Reply, bytes_reply, read_body, session, status_of};
use crate::auth::{Caller, SESSION_COOKIE};
use labels::{Lang, T};
use venue_domain::error::DomainError;

/// The templates' sources, for the test that checks their label keys.
#[cfg(test)]
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../../templates/base.html")),
    (
        "signin.html",
        include_str!("../../../templates/signin.html"),
    ),
    (
        "message.html",
        include_str!("../../../templates/message.html"),
    ),
    ("today.html", include_str!("../../../templates/today.html")),
    (
        "visitor.html",
        include_str!("../../../templates/visitor.html"),
    ),
    (
        "ticketing.html",
        include_str!("../../../templates/ticketing.html"),
    ),
];

const STYLESHEET: &str = include_str!("../../../templates/console.css");

/// A sign-in form's body at most.
const FORM_BYTES_MAX: usize = 16 * 1024;

/// The cookie that keeps the chosen language.
const LANG_COOKIE: &str = "ve_lang";

/// The pages, in the navigation's order: (path, label key, roles that see it). A manager
/// lands on the first page their roles allow.
pub const PAGES: &[(&str, &str, &[&str])] = &[
    ("today", "nav.today", &["manager"]),
    (
        "reports",
        "nav.reports",
        &["manager", "finance-reviewer", "finance-payer", "auditor"],
    ),
    ("visitor", "nav.visitor", &["manager", "auditor"]),
    ("ticketing", "nav.ticketing", &["ticketing"]),
    (
        "finance",
        "nav.finance",
        &["finance-reviewer", "finance-payer"],
    ),
    ("bills", "nav.bills", &["operator"]),
    ("admin", "nav.admin", &["admin"]),
];

/// What every page's frame shows: the user, the navigation, the language switch.
pub struct Frame {
    pub t: T,
    pub lang: &'static str,
    pub other_lang: &'static str,
    pub user: String,
    pub csrf: String,
    pub nav: Vec<NavItem>,
}

pub struct NavItem {
    pub href: String,
    pub label: &'static str,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    t: T,
    lang: &'static str,
    other_lang: &'static str,
    failed: Option<String>,
    next: String,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    frame: Frame,
    title: String,
    message: String,
}

/// Serves a console path (anything outside `/api/v1`, `/healthz` and `/metrics`).
pub async fn route(api: &Api, call: Call, headers: &HeaderMap) -> Reply {
    let lang = chosen_lang(&call, headers);
    let t = T(lang);
    let chosen = call.query("lang").and_then(Lang::parse);
    let segments = call.segments.clone();
    let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (&call.method, seg.as_slice()) {
        (&Method::GET, ["assets", "console.css"]) => {
            return bytes_reply(
                StatusCode::OK,
                STYLESHEET.as_bytes().to_vec(),
                "text/css; charset=utf-8",
            );
        }
        (&Method::GET, ["signin"]) => {
            let next = call.query("next").unwrap_or("").to_owned();
            return with_lang(sign_in_page(t, None, &next, StatusCode::OK), chosen);
        }
        (&Method::POST, ["signin"]) => return sign_in(api, call, t).await,
        _ => {}
    }
    let caller = match session_caller(api, headers) {
        Some(c) => c,
        None => {
            let here = format!("/{}", call.segments.join("/"));
            let to = if call.method == Method::GET && here != "/" {
                format!("/signin?next={}", encode(&here))
            } else {
                "/signin".into()
            };
            return redirect(&to);
        }
    };
    let page = seg.first().copied().unwrap_or("");
    let frame = frame(t, &caller, page);
    // A page of the table answers 403 to a role it is not for, before anything runs.
    if PAGES.iter().any(|(p, _, _)| *p == page)
        && let Err(e) = may_see(&caller, page)
    {
        return with_lang(error_page(t, &caller, &e), chosen);
    }
    let reply = match (&call.method, seg.as_slice()) {
        (&Method::GET, []) => match landing(&caller) {
            Some(page) => Ok(redirect(&format!("/{page}"))),
            None => Err(DomainError::forbidden("no console page for these roles")),
        },
        (&Method::POST, ["signout"]) => sign_out(api, call, &caller).await,
        (&Method::GET, ["today"]) => today::page(api, frame).await,
        (&Method::GET, ["ticketing"]) => ticketing::page(api, &call, frame).await,
        (&Method::POST, ["ticketing", action]) => match read_form(call.body).await {
            Err(e) => Err(e),
            Ok(form) => match *action {
                "sell" => ticketing::sell(api, &caller, form, frame).await,
                "refund" => ticketing::refund(api, &caller, form).await,
                "rebook" => ticketing::rebook(api, &caller, form).await,
                _ => Err(DomainError::not_found("no_page", "no such page")),
            },
        },
        (&Method::GET, ["admin"]) => admin::page(api, frame).await,
        (&Method::GET, ["visitor"]) => visitor::page(api, &call, frame).await,
        (&Method::GET, ["reports"]) => reports::page(api, &call, &caller, frame).await,
        (&Method::GET, ["finance"]) => finance::page(api, &call, &caller, frame, "finance").await,
        (&Method::GET, ["bills"]) => finance::page(api, &call, &caller, frame, "bills").await,
        (&Method::POST, ["finance", action]) => match read_form(call.body).await {
            Err(e) => Err(e),
            Ok(form) => finance::act(api, &caller, action, form, frame).await,
        },
        _ => Err(DomainError::not_found("no_page", "no such page")),
    };
    match reply {
        Ok(reply) => with_lang(reply, chosen),
        Err(e) => with_lang(error_page(t, &caller, &e), chosen),
    }
}

/// The language: `?lang=` first, then the cookie, then Chinese.
fn chosen_lang(call: &Call, headers: &HeaderMap) -> Lang {
    call.query("lang")
        .and_then(Lang::parse)
        .or_else(|| cookie(headers, LANG_COOKIE).and_then(|v| Lang::parse(&v)))
        .unwrap_or(Lang::Zh)
}

/// Keeps a language chosen with `?lang=` in its cookie.
fn with_lang(mut reply: Reply, chosen: Option<Lang>) -> Reply {
    if let Some(lang) = chosen {
        session::set_cookie(
            &mut reply,
            &format!(
                "{LANG_COOKIE}={}; Path=/; SameSite=Strict; Max-Age=31536000",
                lang.code()
            ),
        );
    }
    reply
}

fn session_caller(api: &Api, headers: &HeaderMap) -> Option<Caller> {
    let value = cookie(headers, SESSION_COOKIE)?;
    api.auth.session(&value, chrono::Utc::now()).ok()
}

/// The pages a caller's roles allow, in the navigation's order.
fn pages_of(
    caller: &Caller,
) -> impl Iterator<Item = &'static (&'static str, &'static str, &'static [&'static str])> + '_ {
    PAGES
        .iter()
        .filter(|(_, _, roles)| check_roles(caller, roles).is_ok())
}

fn landing(caller: &Caller) -> Option<&'static str> {
    pages_of(caller).next().map(|(path, _, _)| *path)
}

/// 403 unless the caller's roles allow `page`.
fn may_see(caller: &Caller, page: &str) -> Result<(), DomainError> {
    let roles = PAGES
        .iter()
        .find(|(p, _, _)| *p == page)
        .map(|(_, _, roles)| *roles)
        .unwrap_or(&[]);
    check_roles(caller, roles)
}

fn frame(t: T, caller: &Caller, page: &str) -> Frame {
    Frame {
        t,
        lang: t.0.code(),
        other_lang: t.0.other().code(),
        user: caller.user.clone(),
        csrf: caller.csrf.clone().unwrap_or_default(),
        nav: pages_of(caller)
            .map(|(path, label, _)| NavItem {
                href: format!("/{path}"),
                label: t.get(label),
                active: *path == page,
            })
            .collect(),
    }
}

fn sign_in_page(t: T, failed: Option<String>, next: &str, status: StatusCode) -> Reply {
    let page = SignInPage {
        t,
        lang: t.0.code(),
        other_lang: t.0.other().code(),
        failed,
        next: safe_next(next).to_owned(),
    };
    html(status, page.render())
}

/// `next` only ever names a page of this console (a path), never another site.
fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        ""
    }
}

async fn sign_in(api: &Api, call: Call, t: T) -> Reply {
    let peer = call.peer;
    let form = match read_form(call.body).await {
        Ok(form) => form,
        Err(e) => return sign_in_page(t, Some(e.message), "", status_of(e.kind)),
    };
    let field = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let next = field("next");
    match session::open(api, &field("username"), field("password"), peer).await {
        Ok(opened) => {
            let caller = Caller {
                user: opened.session.username.clone(),
                roles: opened
                    .session
                    .roles
                    .split_whitespace()
                    .filter_map(crate::auth::Role::parse)
                    .collect(),
                via: opened.session.session_id.clone(),
                csrf: Some(opened.session.csrf.clone()),
            };
            let to = match safe_next(&next) {
                "" => format!("/{}", landing(&caller).unwrap_or("")),
                next => next.to_owned(),
            };
            let mut reply = redirect(&to);
            session::set_cookie(&mut reply, &opened.cookie);
            reply
        }
        Err(e) => {
            let message = match e.kind {
                venue_domain::error::ErrorKind::Unauthorized => t.get("signin.failed").to_owned(),
                _ => e.message.clone(),
            };
            sign_in_page(t, Some(message), &next, status_of(e.kind))
        }
    }
}

async fn sign_out(api: &Api, call: Call, caller: &Caller) -> Result<Reply, DomainError> {
    let form = read_form(call.body).await?;
    check_csrf(caller, &form)?;
    session::close(api, caller).await?;
    let mut reply = redirect("/signin");
    session::set_cookie(&mut reply, session::CLEAR_COOKIE);
    Ok(reply)
}

/// A form's fields (`application/x-www-form-urlencoded`).
pub async fn read_form(body: hyper::body::Incoming) -> Result<Vec<(String, String)>, DomainError> {
    let bytes = read_body(body, FORM_BYTES_MAX).await?;
    Ok(form_urlencoded::parse(&bytes).into_owned().collect())
}

/// A form that changes something must carry the session's CSRF token.
pub fn check_csrf(caller: &Caller, form: &[(String, String)]) -> Result<(), DomainError> {
    let sent = form
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str());
    match (sent, caller.csrf.as_deref()) {
        (Some(sent), Some(want)) if sent == want => Ok(()),
        _ => Err(DomainError::new(
            venue_domain::error::ErrorKind::Forbidden,
            "csrf",
            "the form is stale or not from this console; reload the page and try again",
        )),
    }
}

fn error_page(t: T, caller: &Caller, e: &DomainError) -> Reply {
    let status = status_of(e.kind);
    let message = match status {
        StatusCode::FORBIDDEN if e.code != "csrf" => t.get("error.forbidden").to_owned(),
        StatusCode::NOT_FOUND => t.get("error.not_found").to_owned(),
        _ => e.message.clone(),
    };
    let page = MessagePage {
        frame: frame(t, caller, ""),
        title: t.get("error.title").to_owned(),
        message,
    };
    html(status, page.render())
}

/// A rendered page, or a plain 500 when the template failed.
pub fn html(status: StatusCode, rendered: Result<String, askama::Error>) -> Reply {
    match rendered {
        Ok(body) => {
            let mut reply = bytes_reply(status, body.into_bytes(), "text/html; charset=utf-8");
            let h = reply.headers_mut();
            h.insert(
                hyper::header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            );
            // Everything the console uses is its own: no other origin, no framing.
            h.insert(
                hyper::header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; form-action 'self'",
                ),
            );
            h.insert(
                hyper::header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            reply
        }
        Err(e) => {
            tracing::error!(error = %e, "console: a template failed");
            bytes_reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                b"the page could not be drawn".to_vec(),
                "text/plain; charset=utf-8",
            )
        }
    }
}

pub fn redirect(to: &str) -> Reply {
    let mut reply = bytes_reply(StatusCode::SEE_OTHER, Vec::new(), "text/plain");
    if let Ok(v) = HeaderValue::from_str(to) {
        reply.headers_mut().insert(LOCATION, v);
    }
    reply
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Yuan with two decimals, for a page.
pub fn yuan(fen: i64) -> String {
    venue_model::money::Fen::new(fen).yuan()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    fn caller(roles: &[&str]) -> Caller {
        Caller {
            user: "u".into(),
            roles: roles.iter().map(|r| Role::parse(r).unwrap()).collect(),
            via: "ses_x".into(),
            csrf: Some("c".into()),
        }
    }

    #[test]
    fn each_user_sees_the_pages_of_their_roles_and_lands_on_the_first() {
        // (roles, pages in the navigation)
        let cases: &[(&[&str], &[&str])] = &[
            (&["manager"], &["today", "reports", "visitor"]),
            (&["ticketing"], &["ticketing"]),
            (&["finance-reviewer"], &["reports", "finance"]),
            (&["finance-payer"], &["reports", "finance"]),
            (&["auditor"], &["reports", "visitor"]),
            (&["operator:p-tea"], &["bills"]),
            (&["admin"], &["admin"]),
            (&["integration"], &[]),
            (
                &["admin", "manager"],
                &["today", "reports", "visitor", "admin"],
            ),
        ];
        for (roles, want) in cases {
            let c = caller(roles);
            let got: Vec<&str> = pages_of(&c).map(|(p, _, _)| *p).collect();
            assert_eq!(&got, want, "{roles:?}");
            assert_eq!(landing(&c), want.first().copied(), "{roles:?}");
            for (page, _, _) in PAGES {
                assert_eq!(
                    may_see(&c, page).is_ok(),
                    want.contains(page),
                    "{roles:?} {page}"
                );
            }
        }
    }

    #[test]
    fn next_after_sign_in_stays_on_this_console() {
        let cases = [
            ("/reports?by=area", "/reports?by=area"),
            ("//evil.example/x", ""),
            ("https://evil.example/", ""),
            ("/\\evil.example", ""),
            ("", ""),
        ];
        for (next, want) in cases {
            assert_eq!(safe_next(next), want, "{next}");
        }
    }

    #[test]
    fn a_form_without_the_sessions_csrf_token_is_refused() {
        let c = caller(&["manager"]);
        let form = |v: &str| vec![("csrf".to_owned(), v.to_owned())];
        assert!(check_csrf(&c, &form("c")).is_ok());
        assert!(check_csrf(&c, &form("d")).is_err());
        assert!(check_csrf(&c, &[]).is_err());
        let mut token = c.clone();
        token.csrf = None;
        assert!(check_csrf(&token, &form("")).is_err());
    }
}
