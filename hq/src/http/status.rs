//! `GET /healthz` and `GET /metrics`: no token needed.

use hyper::StatusCode;

use super::{App, Reply, bytes_reply, json_reply};

/// 200 `{"status":"ok","database":...}` while the database answers, 503 otherwise.
pub async fn healthz(app: &App) -> Reply {
    let database = app.store.kind();
    match app.store.ping().await {
        Ok(()) => json_reply(
            StatusCode::OK,
            &serde_json::json!({ "status": "ok", "database": database }),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "healthz: the database does not answer");
            json_reply(
                StatusCode::SERVICE_UNAVAILABLE,
                &serde_json::json!({
                    "status": "unavailable", "database": database,
                    "error": { "code": "database_unavailable", "message": e.to_string() },
                }),
            )
        }
    }
}

pub fn metrics(app: &App) -> Reply {
    bytes_reply(
        StatusCode::OK,
        app.metrics.render().into_bytes(),
        crate::metrics::CONTENT_TYPE,
    )
}
