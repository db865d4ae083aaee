//! The Administration page (admin): users, tokens, devices with their MQTT credentials and
//! whether they are online, plugins (version, sha256, world, calls, traps and timeouts),
//! contracts with their versions, and the audit log with its chain's state. Accounts are
//! changed with `venue-edge user|token|device` and a plugin replaced with
//! `PUT /api/v1/plugins/{id}`, which the page names; it shows, it does not edit.

use std::sync::atomic::Ordering::Relaxed;

use askama::Template;
use hyper::StatusCode;

use super::{Frame, Reply, html};
use crate::auth::{self, TokenView, UserView};
use crate::device_logins::{self, DeviceLogin};
use crate::http::Api;
use venue_domain::error::DomainError;
use venue_domain::settlement::{Contract, contracts};

/// Audit rows the page shows (the newest).
const AUDIT_ROWS_SHOWN: i64 = 50;

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    frame: Frame,
    users: Vec<UserView>,
    tokens: Vec<TokenView>,
    devices: Vec<DeviceRow>,
    plugins: Vec<PluginRow>,
    contracts: Vec<Contract>,
    chain: String,
    chain_whole: bool,
    audit: Vec<AuditRow>,
}

struct DeviceRow {
    id: String,
    login: &'static str,
    online: bool,
}

struct PluginRow {
    id: String,
    world: String,
    contract: String,
    sha256: String,
    loaded_at: String,
    calls: u64,
    failures: u64,
    traps: u64,
    timeouts: u64,
}

struct AuditRow {
    id: i64,
    at: String,
    actor: String,
    action: String,
    subject: String,
}

pub async fn page(api: &Api, frame: Frame) -> Result<Reply, DomainError> {
    let (users, tokens, logins, contracts, chain, audit) = api
        .store
        .read(|c| -> Result<_, DomainError> {
            let users = auth::list_users(c)?;
            let tokens = auth::list_tokens(c)?;
            let logins = device_logins::list(c)?;
            let contracts = contracts::all(c)?;
            let chain = venue_domain::audit::verify(c)?;
            let mut stmt = c.prepare(
                "SELECT id, at, actor, action, subject FROM audit ORDER BY id DESC LIMIT ?1",
            )?;
            let audit = stmt
                .query_map([AUDIT_ROWS_SHOWN], |r| {
                    Ok(AuditRow {
                        id: r.get(0)?,
                        at: r.get(1)?,
                        actor: r.get(2)?,
                        action: r.get(3)?,
                        subject: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((users, tokens, logins, contracts, chain, audit))
        })
        .await?;
    let login_of = |id: &str| -> &'static str {
        match logins.iter().find(|l: &&DeviceLogin| l.device_id == id) {
            Some(l) if l.revoked_at.is_none() => "admin.login_active",
            Some(_) => "admin.login_revoked",
            None => "admin.login_none",
        }
    };
    let devices = device_logins::configured_devices(&api.venue.config)
        .into_iter()
        .map(|id| DeviceRow {
            login: login_of(&id),
            online: api.metrics.device_online(&id),
            id,
        })
        .collect();
    let plugins = api
        .plugins
        .list_with_stats()
        .into_iter()
        .map(|(p, s)| PluginRow {
            id: p.id().to_owned(),
            world: p.world().as_str().to_owned(),
            contract: p.contract.to_string(),
            sha256: p.sha256.clone(),
            loaded_at: p.loaded_at.clone(),
            calls: s.calls.load(Relaxed),
            failures: s.failures.load(Relaxed),
            traps: s.traps.load(Relaxed),
            timeouts: s.timeouts.load(Relaxed),
        })
        .collect();
    let (chain_whole, chain) = match chain {
        Ok(whole) => (true, format!("{} · {}", whole.rows, whole.head.hash)),
        Err(broken) => (false, format!("{}: {}", broken.row, broken.why)),
    };
    let page = AdminPage {
        frame,
        users,
        tokens,
        devices,
        plugins,
        contracts,
        chain,
        chain_whole,
        audit,
    };
    Ok(html(StatusCode::OK, page.render()))
}
