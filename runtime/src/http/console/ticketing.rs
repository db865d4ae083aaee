//! The Ticketing page (ticketing): sell at the window, find an order by its id, a ticket's
//! or group's code or a visitor's ID number, refund, rebook, and each ticket's code as a
//! QR code to print. Every change goes through the same domain calls as the API, as the
//! signed-in clerk, and answers with the order (post, then redirect to it).

use askama::Template;
use hyper::StatusCode;

use super::{Frame, Reply, check_csrf, html, redirect, yuan};
use crate::auth::Caller;
use crate::http::router::Call;
use crate::http::{Api, ticketing as api_ticketing};
use venue_domain::error::DomainError;
use venue_domain::ticketing::{self, OrderRequest, OrderView, RebookRequest, RefundRequest};

#[derive(Template)]
#[template(path = "ticketing.html")]
struct TicketingPage {
    frame: Frame,
    today: String,
    products: Vec<ProductOption>,
    payments: Vec<(&'static str, bool)>,
    form: SellForm,
    error: Option<String>,
    search: String,
    searched: bool,
    orders: Vec<OrderBox>,
}

struct ProductOption {
    id: String,
    label: String,
    real_name: bool,
    slots: String,
    selected: bool,
}

/// The ways a window sale can be paid.
const PAYMENTS: [&str; 4] = ["cash", "wechat", "alipay", "card"];

/// What the clerk typed, kept when a sale is refused.
#[derive(Default)]
struct SellForm {
    product: String,
    visit_date: String,
    slot: String,
    qty: String,
    visitors: String,
    payment: String,
}

struct OrderBox {
    order_id: String,
    status: String,
    channel: String,
    visit_date: String,
    total: String,
    group_code: String,
    refundable: bool,
    tickets: Vec<TicketBox>,
}

struct TicketBox {
    ticket_id: String,
    code: String,
    product: String,
    visit_date: String,
    slot: String,
    status: String,
    visitor: String,
    qr: String,
    unused: bool,
}

/// `GET /ticketing[?q=SEARCH]`.
pub async fn page(api: &Api, call: &Call, frame: Frame) -> Result<Reply, DomainError> {
    let search = call
        .query("q")
        .or_else(|| call.query("order"))
        .unwrap_or("")
        .to_owned();
    draw(
        api,
        frame,
        search,
        SellForm::default(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn draw(
    api: &Api,
    frame: Frame,
    search: String,
    form: SellForm,
    error: Option<String>,
    status: StatusCode,
) -> Result<Reply, DomainError> {
    let venue = api.venue.clone();
    let s = search.clone();
    let orders = api
        .store
        .read(move |c| -> Result<Vec<OrderView>, DomainError> {
            let mut orders = Vec::new();
            for id in ticketing::find_orders(c, &venue, &s)? {
                if let Some(o) = ticketing::load_order(c, &venue, &id)? {
                    orders.push(o);
                }
            }
            Ok(orders)
        })
        .await?;
    let products = api
        .venue
        .config
        .products
        .iter()
        .map(|p| ProductOption {
            id: p.id.clone(),
            label: format!("{} · ¥{}", p.name, p.price_fen.yuan()),
            real_name: p.real_name,
            selected: p.id == form.product,
            slots: p
                .slots
                .iter()
                .map(|s| s.time.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        })
        .collect();
    let payments = PAYMENTS.iter().map(|m| (*m, *m == form.payment)).collect();
    let page = TicketingPage {
        frame,
        today: api.venue.clock.today().to_string(),
        products,
        payments,
        form,
        error,
        searched: !search.trim().is_empty(),
        search,
        orders: orders.into_iter().map(order_box).collect(),
    };
    Ok(html(status, page.render()))
}

fn order_box(o: OrderView) -> OrderBox {
    let tickets: Vec<TicketBox> = o
        .tickets
        .into_iter()
        .map(|t| {
            let status = serde_json::to_value(t.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            TicketBox {
                unused: status == "valid" && t.entries_used == 0,
                qr: qr_svg(&t.code),
                ticket_id: t.ticket_id,
                code: t.code,
                product: t.product,
                visit_date: t.visit_date.to_string(),
                slot: t.slot.unwrap_or_default(),
                status,
                visitor: t
                    .visitor
                    .map(|v| format!("{} {}", v.name, v.id_number))
                    .unwrap_or_default(),
            }
        })
        .collect();
    OrderBox {
        refundable: tickets.iter().any(|t| t.unused),
        order_id: o.order_id,
        status: serde_json::to_value(o.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        channel: o.channel,
        visit_date: o.visit_date.to_string(),
        total: yuan(o.total_fen.get()),
        group_code: o.group_code.unwrap_or_default(),
        tickets,
    }
}

/// A ticket's code as a QR code, SVG to print.
fn qr_svg(code: &str) -> String {
    match qrcode::QrCode::new(code.as_bytes()) {
        Ok(qr) => {
            let svg = qr
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(120, 120)
                .build();
            // Inline in the page: without the XML declaration.
            match svg.find("<svg") {
                Some(i) => svg[i..].to_owned(),
                None => svg,
            }
        }
        Err(_) => String::new(),
    }
}

fn field(form: &[(String, String)], key: &str) -> String {
    form.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default()
}

/// `POST /ticketing/sell`: a window sale, as `POST /api/v1/orders` with channel `window`.
pub async fn sell(
    api: &Api,
    caller: &Caller,
    form: Vec<(String, String)>,
    frame: Frame,
) -> Result<Reply, DomainError> {
    check_csrf(caller, &form)?;
    let kept = SellForm {
        product: field(&form, "product"),
        visit_date: field(&form, "visit_date"),
        slot: field(&form, "slot"),
        qty: field(&form, "qty"),
        visitors: field(&form, "visitors"),
        payment: field(&form, "payment"),
    };
    match order_request(&kept, &field(&form, "sale_ref")) {
        Ok(req) => match api_ticketing::place(api, req, caller.actor(), None).await {
            Ok((_, order, _)) => Ok(redirect(&format!("/ticketing?order={}", order.order_id))),
            Err(e) => {
                let status = crate::http::status_of(e.kind);
                draw(api, frame, String::new(), kept, Some(e.message), status).await
            }
        },
        Err(e) => {
            draw(
                api,
                frame,
                String::new(),
                kept,
                Some(e.message),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    }
}

/// The form as an order request, parsed by the same types as the API's body. Visitors are
/// one per line: a name and an ID number.
fn order_request(form: &SellForm, sale_ref: &str) -> Result<OrderRequest, DomainError> {
    let qty: u32 = form.qty.parse().map_err(|_| {
        DomainError::bad_request(
            "bad_qty",
            format!("quantity {:?} is not a number", form.qty),
        )
    })?;
    let visitors: Vec<serde_json::Value> = form
        .visitors
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (name, number) = line.rsplit_once(char::is_whitespace).ok_or_else(|| {
                DomainError::bad_request(
                    "bad_visitor",
                    format!("a visitor line is a name and an ID number: {line:?}"),
                )
            })?;
            Ok(serde_json::json!({"name": name.trim(), "id_type": "id_card", "id_number": number}))
        })
        .collect::<Result<_, DomainError>>()?;
    let order_ref = if sale_ref.is_empty() {
        venue_model::ids::new_id("window")
    } else {
        sale_ref.to_owned()
    };
    let body = serde_json::json!({
        "order_ref": order_ref,
        "channel": "window",
        "visit_date": form.visit_date,
        "slot": (!form.slot.is_empty()).then_some(&form.slot),
        "items": [{"product": form.product, "qty": qty, "visitors": visitors}],
        "payment": {"method": form.payment, "ref": format!("{order_ref}-pay")},
    });
    serde_json::from_value(body)
        .map_err(|e| DomainError::bad_request("bad_order", format!("the sale is not valid: {e}")))
}

/// `POST /ticketing/refund`: every unused ticket of an order.
pub async fn refund(
    api: &Api,
    caller: &Caller,
    form: Vec<(String, String)>,
) -> Result<Reply, DomainError> {
    check_csrf(caller, &form)?;
    let order_id = field(&form, "order_id");
    let req = RefundRequest {
        refund_ref: venue_model::ids::new_id("window-refund"),
        tickets: None,
        reason: field(&form, "reason"),
    };
    api_ticketing::refund_order(api, &order_id, req, caller.actor()).await?;
    Ok(redirect(&format!("/ticketing?order={order_id}")))
}

/// `POST /ticketing/rebook`: one unused ticket to another date or slot.
pub async fn rebook(
    api: &Api,
    caller: &Caller,
    form: Vec<(String, String)>,
) -> Result<Reply, DomainError> {
    check_csrf(caller, &form)?;
    let body = serde_json::json!({
        "visit_date": field(&form, "visit_date"),
        "slot": Some(field(&form, "slot")).filter(|s| !s.is_empty()),
    });
    let req: RebookRequest = serde_json::from_value(body).map_err(|e| {
        DomainError::bad_request("bad_rebook", format!("the new date is not valid: {e}"))
    })?;
    let order_id = field(&form, "order_id");
    api_ticketing::rebook_ticket(api, &field(&form, "ticket_id"), req, caller.actor()).await?;
    Ok(redirect(&format!("/ticketing?order={order_id}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(qty: &str, date: &str, visitors: &str) -> SellForm {
        SellForm {
            product: "park-day".into(),
            visit_date: date.into(),
            slot: String::new(),
            qty: qty.into(),
            visitors: visitors.into(),
            payment: "cash".into(),
        }
    }

    #[test]
    fn the_window_form_becomes_the_apis_order_or_a_named_error() {
        let ok = order_request(
            &form(
                "2",
                "2026-12-07",
                "张三 110101199001011234\n\n李 四 110101199202022345",
            ),
            "w-1",
        )
        .unwrap();
        assert_eq!(ok.order_ref, "w-1");
        assert_eq!(ok.items[0].qty, 2);
        let v = serde_json::to_value(&ok.items[0]).unwrap();
        assert_eq!(v["visitors"][1]["name"], "李 四");
        assert_eq!(v["visitors"][1]["id_number"], "110101199202022345");
        // (qty, date, visitors, error code)
        let cases = [
            ("two", "2026-12-07", "", "bad_qty"),
            ("1", "2026-12-7", "", "bad_order"),
            ("1", "", "", "bad_order"),
            ("1", "2026-12-07", "nameonly", "bad_visitor"),
        ];
        for (qty, date, visitors, code) in cases {
            let e = order_request(&form(qty, date, visitors), "").unwrap_err();
            assert_eq!(e.code, code, "{qty} {date} {visitors}: {}", e.message);
        }
    }

    #[test]
    fn a_tickets_code_prints_as_an_inline_svg_qr_code() {
        let svg = qr_svg("TK0123456789ABCDEF");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
    }
}
