//! Health, metrics, plugins and the audit log.

use hyper::StatusCode;
use serde::Serialize;
use sha2::Digest;

use super::router::Call;
use super::{Api, PLUGIN_BYTES_MAX, Reply, bytes_reply, json_reply, read_body};
use venue_domain::error::DomainError;
use venue_plugin_host::Manifest;
use venue_store::StoreError;

/// Audit entries one request returns at most.
const AUDIT_ROWS_MAX: u32 = 1000;

pub async fn healthz(api: &Api) -> Result<Reply, DomainError> {
    let store_ok = api
        .store
        .write(|c| -> Result<i64, StoreError> { Ok(c.query_row("SELECT 1", [], |r| r.get(0))?) })
        .await
        .is_ok();
    let broker_ok = api.bus.is_connected();
    let plugins: Vec<serde_json::Value> = api
        .plugins
        .list()
        .iter()
        .map(|p| serde_json::json!({ "id": p.id(), "world": p.world().as_str(), "sha256": p.sha256 }))
        .collect();
    let missing: Vec<&str> = api
        .venue
        .config
        .gates
        .iter()
        .map(|g| g.plugin.as_str())
        .filter(|id| api.plugins.get(id).is_err())
        .collect();
    let ok = store_ok && broker_ok && missing.is_empty();
    let body = serde_json::json!({
        "status": if ok { "ok" } else { "degraded" },
        "store": if store_ok { "ok" } else { "failing" },
        "broker": if broker_ok { "connected" } else { "disconnected" },
        "plugins": plugins,
        "missing_plugins": missing,
        "uplink": api.uplink.to_json(api.venue.config.uplink.as_ref().map(|u| u.url.as_str())),
        "uptime_s": api.started.elapsed().as_secs(),
    });
    Ok(json_reply(
        if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        &body,
    ))
}

pub fn metrics(api: &Api) -> Reply {
    bytes_reply(
        StatusCode::OK,
        api.metrics.render(&api.plugins).into_bytes(),
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
    )
}

#[derive(Serialize)]
struct PluginView<'a> {
    id: &'a str,
    world: &'static str,
    /// The contract version the component was built against (`1.0.0`).
    contract: String,
    sha256: &'a str,
    loaded_at: &'a str,
    grants: Vec<&'static str>,
    memory_bytes_max: u64,
    deadline_ms: u32,
    fuel: Option<u64>,
    calls: u64,
    failures: u64,
}

pub fn list_plugins(api: &Api) -> Result<Reply, DomainError> {
    let loaded = api.plugins.list_with_stats();
    let views: Vec<PluginView> = loaded
        .iter()
        .map(|(p, s)| PluginView {
            id: p.id(),
            world: p.world().as_str(),
            contract: p.contract.to_string(),
            sha256: &p.sha256,
            loaded_at: &p.loaded_at,
            grants: p.manifest.grants.iter().map(|g| g.interface()).collect(),
            memory_bytes_max: p.manifest.memory_bytes_max,
            deadline_ms: p.manifest.deadline_ms,
            fuel: p.manifest.fuel,
            calls: s.calls.load(std::sync::atomic::Ordering::Relaxed),
            failures: s.failures.load(std::sync::atomic::Ordering::Relaxed),
        })
        .collect();
    Ok(json_reply(StatusCode::OK, &views))
}

/// Replaces a plugin's wasm while the zone runs: `PUT /api/v1/plugins/{id}?sha256=<hex>`
/// with the component as the body. The manifest's other settings stay; the new file and
/// manifest are written to the plugin folder so a restart keeps the new version.
pub async fn replace_plugin(api: &Api, call: Call, id: &str) -> Result<Reply, DomainError> {
    let actor = call.actor()?;
    let Some(pin) = call.query("sha256").map(str::to_ascii_lowercase) else {
        return Err(DomainError::bad_request(
            "missing_sha256",
            "give the component's sha256 as ?sha256=<64 hex digits>; the upload is checked against it",
        ));
    };
    if api.plugins.requires_signatures() {
        return Err(DomainError::rule(
            "signatures_required",
            "this box loads signed plugin packages only: put the vendor's signed .vpkg in the plugin folder and reload (SIGHUP)",
        ));
    }
    let current = api.plugins.get(id)?;
    if current.manifest.source.as_ref().is_some_and(|s| {
        s.extension()
            .is_some_and(|e| e == venue_plugin_host::package::EXTENSION)
    }) {
        return Err(DomainError::rule(
            "from_package",
            format!(
                "plugin {id} came from a package: replace the package file and reload (SIGHUP)"
            ),
        ));
    }
    let wasm = read_body(call.body, PLUGIN_BYTES_MAX).await?;
    let actual = hex::encode(sha2::Sha256::digest(&wasm));
    if actual != pin {
        return Err(DomainError::bad_request(
            "sha256_mismatch",
            format!("the uploaded file has sha256 {actual}, not {pin}; nothing was changed"),
        ));
    }
    let file_name = format!("{id}-{}.wasm", &actual[..16]);
    let wasm_path = api.plugin_dir.join(&file_name);
    let mut manifest: Manifest = current.manifest.clone();
    manifest.wasm = wasm_path.clone();
    manifest.sha256 = actual.clone();
    let write = |path: &std::path::Path, bytes: &[u8]| -> Result<(), DomainError> {
        std::fs::create_dir_all(&api.plugin_dir)
            .and_then(|_| {
                let tmp = path.with_extension("tmp");
                std::fs::write(&tmp, bytes)?;
                std::fs::rename(&tmp, path)
            })
            .map_err(|e| DomainError::internal(format!("cannot write {}: {e}", path.display())))
    };
    write(&wasm_path, &wasm)?;
    // Load first: a component that does not load leaves the running version in place.
    let installed = {
        let (plugins, manifest) = (api.plugins.clone(), manifest.clone());
        // Compiling is CPU work: off the async threads.
        tokio::task::spawn_blocking(move || plugins.install(manifest))
            .await
            .map_err(|e| DomainError::internal(format!("plugin load task failed: {e}")))?
    };
    let loaded = installed.map_err(|e| {
        let _ = std::fs::remove_file(&wasm_path);
        DomainError::rule("plugin_rejected", e.to_string())
    })?;
    let mut on_disk = manifest.clone();
    on_disk.wasm = std::path::PathBuf::from(&file_name);
    let manifest_path = manifest
        .source
        .clone()
        .unwrap_or_else(|| api.plugin_dir.join(format!("{id}.plugin.toml")));
    write(&manifest_path, on_disk.to_toml().as_bytes())?;
    let now = api.venue.clock.now_rfc3339();
    let (subject, detail) = (id.to_owned(), format!("{} -> {}", current.sha256, actual));
    api.store
        .write(move |c| -> Result<(), DomainError> {
            venue_domain::audit::append(c, &now, &actor, "plugin.replace", &subject, &detail)?;
            Ok(())
        })
        .await?;
    Ok(json_reply(
        StatusCode::OK,
        &serde_json::json!({ "id": id, "sha256": loaded.sha256, "previous_sha256": current.sha256, "loaded_at": loaded.loaded_at }),
    ))
}

#[derive(Serialize)]
struct AuditRow {
    id: i64,
    at: String,
    actor: String,
    via: String,
    action: String,
    subject: String,
    detail: String,
    hash: Option<String>,
}

pub async fn audit(api: &Api, call: &Call) -> Result<Reply, DomainError> {
    let after: i64 = match call.query("after") {
        Some(v) => v
            .parse()
            .map_err(|_| DomainError::bad_request("bad_after", "after must be an audit id"))?,
        None => 0,
    };
    // Read on a connection of its own: walking the chain must not hold up the writer.
    let (rows, chain) = api
        .store
        .read(move |c| -> Result<_, DomainError> {
            let mut stmt = c.prepare(
                "SELECT id, at, actor, via, action, subject, detail, hash FROM audit WHERE id > ?1 ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt.query_map(rusqlite::params![after, AUDIT_ROWS_MAX], |r| {
                Ok(AuditRow { id: r.get(0)?, at: r.get(1)?, actor: r.get(2)?, via: r.get(3)?, action: r.get(4)?, subject: r.get(5)?, detail: r.get(6)?, hash: r.get(7)? })
            })?;
            let rows: Vec<AuditRow> = rows.collect::<Result<_, _>>()?;
            let chain = match venue_domain::audit::verify(c)? {
                Ok(whole) => serde_json::json!({ "whole": true, "rows": whole.rows, "head": whole.head.hash }),
                Err(broken) => serde_json::json!({ "whole": false, "first_bad_row": broken.row, "why": broken.why }),
            };
            Ok((rows, chain))
        })
        .await?;
    Ok(json_reply(
        StatusCode::OK,
        &serde_json::json!({ "chain": chain, "rows": rows }),
    ))
}
