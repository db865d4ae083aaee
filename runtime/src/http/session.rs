//! Signing in to the console and out again: `POST /api/v1/session` with a user name and
//! password answers a session cookie (HttpOnly, SameSite=Strict) and the CSRF token the
//! console repeats on every change; `GET` says who is signed in; `DELETE` signs out.
//! Failed sign-ins are limited per user name and per address.

use std::sync::Arc;
use std::time::Instant;

use hyper::StatusCode;
use hyper::header::{HeaderValue, SET_COOKIE};
use serde::Deserialize;

use super::router::Call;
use super::{Api, Reply, json_reply, parse_json, read_body};
use crate::auth::{self, SESSION_COOKIE, SESSION_TTL};
use venue_domain::error::DomainError;

/// A sign-in body at most (a user name and a password).
const SIGN_IN_BYTES_MAX: usize = 4 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    username: String,
    password: String,
}

pub async fn sign_in(api: &Api, call: Call) -> Result<Reply, DomainError> {
    let body = read_body(call.body, SIGN_IN_BYTES_MAX).await?;
    let req: SignIn = parse_json(&body)?;
    let opened = open(api, &req.username, req.password, call.peer).await?;
    let session = &opened.session;
    let mut reply = json_reply(
        StatusCode::OK,
        &serde_json::json!({
            "username": session.username,
            "display_name": session.display_name,
            "roles": session.roles.split_whitespace().collect::<Vec<_>>(),
            "csrf": session.csrf,
            "expires_at": session.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }),
    );
    set_cookie(&mut reply, &opened.cookie);
    Ok(reply)
}

/// A session just opened, and the `Set-Cookie` value that hands it to the browser.
pub struct Opened {
    pub session: auth::NewSession,
    pub cookie: String,
}

/// Checks a user name and password (within the sign-in limit), opens a session and
/// audits it: the API's `POST /api/v1/session` and the console's sign-in form.
pub async fn open(
    api: &Api,
    username: &str,
    password: String,
    peer: std::net::SocketAddr,
) -> Result<Opened, DomainError> {
    let address = peer.ip().to_string();
    if let Err(wait) = api.sign_ins.check(username, &address, Instant::now()) {
        return Err(auth::too_many_attempts(wait));
    }
    let record = api.auth.sign_in_record(username)?;
    let name = username.to_owned();
    let checked =
        tokio::task::spawn_blocking(move || auth::check_sign_in(&name, record.as_ref(), &password))
            .await
            .map_err(|e| DomainError::internal(format!("the password check failed: {e}")))?;
    if let Err(e) = checked {
        api.sign_ins.failed(username, &address, Instant::now());
        tracing::info!(user = %username, %address, "sign-in refused");
        return Err(e);
    }
    api.sign_ins.succeeded(username);
    let name = username.to_owned();
    let session = api
        .store
        .write(move |c| auth::open_session(c, &name, chrono::Utc::now()))
        .await?;
    let actor = venue_domain::actor::Actor::user(&session.username, &session.session_id);
    let now = api.venue.clock.now_rfc3339();
    api.store
        .write(move |c| -> Result<(), DomainError> {
            venue_domain::audit::append(c, &now, &actor, "session.sign_in", &actor.user, "")?;
            Ok(())
        })
        .await?;
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        session.cookie,
        SESSION_TTL.as_secs(),
        if api.tls { "; Secure" } else { "" }
    );
    Ok(Opened { session, cookie })
}

/// Who is signed in (or whose token this is), with their roles.
pub fn whoami(call: &Call) -> Result<Reply, DomainError> {
    let c = call.caller()?;
    Ok(json_reply(
        StatusCode::OK,
        &serde_json::json!({
            "username": c.user,
            "roles": c.roles.iter().map(auth::Role::as_string).collect::<Vec<_>>(),
            "via": c.via,
            "csrf": c.csrf,
        }),
    ))
}

pub async fn sign_out(api: &Api, call: &Call) -> Result<Reply, DomainError> {
    close(api, call.caller()?).await?;
    let mut reply = json_reply(StatusCode::OK, &serde_json::json!({ "signed_out": true }));
    set_cookie(&mut reply, CLEAR_COOKIE);
    Ok(reply)
}

/// The `Set-Cookie` value that removes the session cookie.
pub const CLEAR_COOKIE: &str = "ve_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0";

/// Ends a caller's session and audits it (a token is refused: it is revoked instead).
pub async fn close(api: &Api, caller: &crate::auth::Caller) -> Result<(), DomainError> {
    if !caller.via.starts_with("ses_") {
        return Err(DomainError::bad_request(
            "not_a_session",
            "a token is not signed in; revoke it with `venue-edge token revoke`",
        ));
    }
    let store = Arc::new(api.store.clone());
    let now = api.venue.clock.now_rfc3339();
    let actor = caller.actor();
    store
        .write(move |c| -> Result<(), DomainError> {
            auth::sign_out(c, &actor.via, chrono::Utc::now())?;
            venue_domain::audit::append(c, &now, &actor, "session.sign_out", &actor.user, "")?;
            Ok(())
        })
        .await
}

pub fn set_cookie(reply: &mut Reply, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        reply.headers_mut().append(SET_COOKIE, v);
    }
}
