//! One code, one day (manager, auditor): a ticket code's entries, exits and wallet
//! purchases in order of time, with the day's spend, from the API's same report
//! (`GET /api/v1/reports/visitor`). An unknown code or a bad date shows the API's words
//! above the form, which keeps what was typed.

use askama::Template;
use hyper::StatusCode;

use super::{Frame, Reply, html, yuan};
use crate::http::Api;
use crate::http::router::Call;
use venue_domain::error::DomainError;
use venue_domain::reports::visitor::{VisitorDay, VisitorQuery, visitor_day};

#[derive(Template)]
#[template(path = "visitor.html")]
struct VisitorPage {
    frame: Frame,
    code: String,
    date: String,
    error: Option<String>,
    day: Option<VisitorDay>,
    /// The day's spend and each event's amount, in yuan (empty for entries and exits).
    spend: String,
    amounts: Vec<String>,
}

pub async fn page(api: &Api, call: &Call, frame: Frame) -> Result<Reply, DomainError> {
    let code = call.query("code").unwrap_or_default().to_owned();
    let date = call.query("date").unwrap_or_default().to_owned();
    let mut page = VisitorPage {
        frame,
        code: code.clone(),
        date: date.clone(),
        error: None,
        day: None,
        spend: String::new(),
        amounts: Vec::new(),
    };
    if !code.is_empty() {
        let mut pairs = vec![("code".to_owned(), code)];
        if !date.is_empty() {
            pairs.push(("date".to_owned(), date));
        }
        let answer = match VisitorQuery::parse(&pairs) {
            Ok(query) => api.store.read(move |c| visitor_day(c, &query)).await,
            Err(e) => Err(e.into()),
        };
        match answer {
            Ok(day) => {
                page.spend = yuan(day.spend_fen);
                page.amounts = day
                    .events
                    .iter()
                    .map(|e| match e.spend_fen {
                        0 => String::new(),
                        fen => yuan(fen),
                    })
                    .collect();
                page.day = Some(day);
            }
            Err(e)
                if matches!(
                    e.kind,
                    venue_domain::error::ErrorKind::BadRequest
                        | venue_domain::error::ErrorKind::NotFound
                ) =>
            {
                page.error = Some(e.message)
            }
            Err(e) => return Err(e),
        }
    }
    Ok(html(StatusCode::OK, page.render()))
}
