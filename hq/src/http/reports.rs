//! `GET /api/v1/reports/revenue` (manager, finance, auditor), as JSON or, with
//! `Accept: text/csv`, as CSV; and `GET /api/v1/edges` (manager, auditor).

use hyper::StatusCode;

use super::router::Call;
use super::{App, Reply, bytes_reply, json_reply};
use crate::auth::{Role, require};
use crate::error::ApiError;
use crate::report::{self, GroupBy, RevenueQuery};

pub async fn revenue(app: &App, call: &Call) -> Result<Reply, ApiError> {
    require(&call.role, &[Role::Manager, Role::Finance, Role::Auditor])?;
    let query = RevenueQuery::parse(&call.query, &GroupBy::ALL)?;
    let days = app
        .store
        .revenue_by_day(query.from, query.to, query.by)
        .await?;
    let report = report::build(&query, &days)?;
    let wants_csv = call
        .header("accept")
        .is_some_and(|a| a.to_ascii_lowercase().contains("text/csv"));
    if wants_csv {
        Ok(bytes_reply(
            StatusCode::OK,
            report.to_csv().into_bytes(),
            "text/csv; charset=utf-8",
        ))
    } else {
        Ok(json_reply(StatusCode::OK, &report))
    }
}

pub async fn edges(app: &App, call: &Call) -> Result<Reply, ApiError> {
    require(&call.role, &[Role::Manager, Role::Auditor])?;
    let edges = app.store.edges().await?;
    Ok(json_reply(
        StatusCode::OK,
        &serde_json::json!({ "edges": edges }),
    ))
}
