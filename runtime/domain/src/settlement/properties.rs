//! Property tests over the whole money path: random sales, refunds and voids journaled
//! through the same checks the POS path uses, settled under random contract terms, then
//! approved. Whatever the mix, every sale's answer matches a plain model of the rules, the
//! books balance, the revenue accounts of the settled merchants are emptied exactly, and
//! each party's ledger balance is its bill.

use proptest::prelude::*;

use super::bill::plain::raw;
use super::contracts::{self, Contract, Cycle};
use super::money::{Fen, Rounding};
use super::{PluginLines, review, settle_day};
use crate::ledger;
use crate::sales::{self, Sale, SaleKind, SaleLine};
use crate::venue::Venue;
use crate::venue::demo_venue;
use venue_model::BusinessDate;
use venue_store::{Store, StoreError};

/// Daily-settled merchants of the demo venue and their parties.
const MERCHANTS: [(&str, &str); 3] = [
    ("m-tea-house", "p-tea-house"),
    ("m-gift-shop", "p-gift-shop"),
    ("m-coaster-photo", "p-coaster-co"),
];
const CATEGORIES: [&str; 4] = ["food", "drink", "souvenir", "photo"];

#[derive(Debug, Clone)]
enum Op {
    Sale {
        merchant: usize,
        lines: Vec<(usize, u32, i64)>,
    },
    /// Refunds `permille` of what is left of an earlier sale (over 1000: more than is left).
    Refund {
        target: usize,
        permille: u32,
    },
    Void {
        target: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..MERCHANTS.len(), prop::collection::vec((0..CATEGORIES.len(), 1u32..5, 0i64..200_000), 1..4))
            .prop_map(|(merchant, lines)| Op::Sale { merchant, lines }),
        2 => (any::<usize>(), 1u32..1300).prop_map(|(target, permille)| Op::Refund { target, permille }),
        1 => any::<usize>().prop_map(|target| Op::Void { target }),
    ]
}

fn rounding() -> impl Strategy<Value = Rounding> {
    prop_oneof![Just(Rounding::HalfUp), Just(Rounding::HalfEven)]
}

/// Random terms for the tea house (commission) and the coaster operator (revenue share).
#[derive(Debug, Clone)]
struct Terms {
    food_bp: u32,
    drink_bp: u32,
    default_bp: u32,
    tea_rounding: Rounding,
    cost_bp: u32,
    cost_fixed_fen: i64,
    share_bp: u32,
    coaster_rounding: Rounding,
}

fn terms() -> impl Strategy<Value = Terms> {
    (
        (0u32..=10_000, 0u32..=10_000, 0u32..=10_000, rounding()),
        (0u32..=10_000, 0i64..50_000, 0u32..=10_000, rounding()),
    )
        .prop_map(
            |(
                (food_bp, drink_bp, default_bp, tea_rounding),
                (cost_bp, cost_fixed_fen, share_bp, coaster_rounding),
            )| Terms {
                food_bp,
                drink_bp,
                default_bp,
                tea_rounding,
                cost_bp,
                cost_fixed_fen,
                share_bp,
                coaster_rounding,
            },
        )
}

/// What the model expects of one journaled sale.
struct Model {
    merchant: usize,
    total: i64,
    refunded: i64,
    voided: bool,
}

#[derive(Debug)]
struct Failed(String);

impl From<StoreError> for Failed {
    fn from(e: StoreError) -> Failed {
        Failed(e.to_string())
    }
}

impl<E: std::fmt::Display> From<(&'static str, E)> for Failed {
    fn from((what, e): (&'static str, E)) -> Failed {
        Failed(format!("{what}: {e}"))
    }
}

fn new_version(base: &Contract, day: BusinessDate) -> Contract {
    Contract {
        version: base.version + 1,
        effective_from: day,
        ..base.clone()
    }
}

/// Journals, settles and approves; returns a description of the first broken property.
fn run_day(
    venue: &Venue,
    conn: &rusqlite::Connection,
    ops: &[Op],
    t: &Terms,
) -> Result<(), Failed> {
    let now = venue.clock.now_rfc3339();
    let today = venue.clock.today();
    contracts::seed(conn, &venue.config.contracts, &now).map_err(|e| ("seed", e))?;
    let all = contracts::all(conn).map_err(|e| ("contracts", e))?;
    let base = |id: &str| {
        all.iter()
            .find(|c| c.id == id)
            .cloned()
            .expect("demo contract")
    };
    let mut tea = new_version(&base("c-tea"), today);
    tea.rates = [
        ("food".to_owned(), t.food_bp),
        ("drink".to_owned(), t.drink_bp),
    ]
    .into();
    tea.default_rate_bp = t.default_bp;
    tea.rounding = t.tea_rounding;
    let mut coaster = new_version(&base("c-coaster"), today);
    (
        coaster.cost_bp,
        coaster.cost_fixed_fen,
        coaster.share_bp,
        coaster.rounding,
    ) = (
        t.cost_bp,
        Fen::new(t.cost_fixed_fen),
        t.share_bp,
        t.coaster_rounding,
    );
    assert_eq!(coaster.cycle, Cycle::Daily);
    for c in [&tea, &coaster] {
        contracts::insert(conn, c, &now, false).map_err(|e| ("contract", e))?;
    }

    let mut model: Vec<(String, Model)> = Vec::new();
    for (n, op) in ops.iter().enumerate() {
        let event_id = format!("ev-{n}");
        let (merchant, sale, expect_ok) = match op {
            Op::Sale { merchant, lines } => {
                let lines: Vec<SaleLine> = lines
                    .iter()
                    .map(|&(c, qty, price)| SaleLine {
                        sku: format!("sku-{c}"),
                        category: CATEGORIES[c].into(),
                        qty,
                        unit_price_fen: Fen::new(price),
                    })
                    .collect();
                let total = lines
                    .iter()
                    .map(|l| l.unit_price_fen.get() * l.qty as i64)
                    .sum();
                let sale = message(
                    &event_id,
                    MERCHANTS[*merchant].0,
                    SaleKind::Sale,
                    None,
                    &now,
                    lines,
                    total,
                );
                (*merchant, sale, true)
            }
            Op::Refund { target, permille } => {
                let Some((original, m)) = pick(&model, *target) else {
                    continue;
                };
                let left = m.total - m.refunded;
                let amount = (left * *permille as i64 / 1000).max(1);
                let line = SaleLine {
                    sku: "back".into(),
                    category: CATEGORIES[m.merchant % CATEGORIES.len()].into(),
                    qty: 1,
                    unit_price_fen: Fen::new(amount),
                };
                let sale = message(
                    &event_id,
                    MERCHANTS[m.merchant].0,
                    SaleKind::Refund,
                    Some(original.clone()),
                    &now,
                    vec![line],
                    amount,
                );
                (m.merchant, sale, !m.voided && amount <= left)
            }
            Op::Void { target } => {
                let Some((original, m)) = pick(&model, *target) else {
                    continue;
                };
                let sale = message(
                    &event_id,
                    MERCHANTS[m.merchant].0,
                    SaleKind::Void,
                    Some(original.clone()),
                    &now,
                    vec![],
                    0,
                );
                (m.merchant, sale, !m.voided && m.refunded == 0)
            }
        };
        let device = format!("pos-{merchant}");
        let recorded = sales::record(
            conn,
            venue,
            &device,
            MERCHANTS[merchant].0,
            &sale,
            venue.clock.now(),
        )
        .map_err(|e| ("record", e))?;
        if recorded.ack.error.is_none() != expect_ok {
            return Err(Failed(format!(
                "{op:?}: the model expects accepted={expect_ok}, the journal answered {:?}",
                recorded.ack.error
            )));
        }
        if !expect_ok {
            continue;
        }
        match sale.kind {
            SaleKind::Sale => model.push((
                event_id,
                Model {
                    merchant,
                    total: sale.total_fen.get(),
                    refunded: 0,
                    voided: false,
                },
            )),
            SaleKind::Refund => {
                let original = sale.refers_to.as_deref().unwrap_or_default();
                if let Some((_, m)) = model.iter_mut().find(|(id, _)| id == original) {
                    m.refunded += sale.total_fen.get();
                }
            }
            SaleKind::Void => {
                let original = sale.refers_to.as_deref().unwrap_or_default();
                if let Some((_, m)) = model.iter_mut().find(|(id, _)| id == original) {
                    m.voided = true;
                }
            }
        }
    }
    let mut net_by_merchant = [0i64; MERCHANTS.len()];
    for (_, m) in model.iter().filter(|(_, m)| !m.voided) {
        net_by_merchant[m.merchant] += m.total - m.refunded;
    }
    // Every sale is money in, every refund money out: the cash accounts hold the net.
    let books = ledger::trial_balance(conn, None).map_err(|e| ("trial balance", e))?;
    let cash: i64 = books
        .accounts
        .iter()
        .filter(|a| a.account.starts_with("cash:"))
        .map(|a| a.balance_fen)
        .sum();
    if cash != net_by_merchant.iter().sum::<i64>() {
        return Err(Failed(format!(
            "cash {cash} != model net {net_by_merchant:?}"
        )));
    }

    let bills = settle_day(
        conn,
        venue,
        today,
        &PluginLines::default(),
        &crate::actor::Actor::system("finance"),
    )
    .map_err(|e| ("settle", e))?;
    for (i, (merchant, party)) in MERCHANTS.iter().enumerate() {
        let bill = bills
            .iter()
            .find(|b| b.party == *party)
            .ok_or_else(|| Failed(format!("no bill for {party}")))?;
        let (a, _) = raw(&bill.amounts);
        if a.gross_fen - a.refunds_fen != net_by_merchant[i] {
            return Err(Failed(format!(
                "{party}: bill counts {} - {}, model {}",
                a.gross_fen, a.refunds_fen, net_by_merchant[i]
            )));
        }
        let approved = review::approve(
            conn,
            venue,
            &bill.bill_id,
            &crate::actor::Actor::system("reviewer"),
        )
        .map_err(|e| ("approve", e))?;
        let (a, _) = raw(&approved.amounts);
        let balances = ledger::party_balance(conn, party).map_err(|e| ("party balance", e))?;
        let keeps = if approved.kind == "revenue_share" {
            a.cost_fen
                + if a.net_fen > 0 {
                    a.net_fen - a.share_fen
                } else {
                    0
                }
        } else {
            a.commission_fen
        };
        // Payable and commission are credits (negative debit-minus-credit balances); a
        // carry out is owed to the venue (a debit).
        let expected = [
            (format!("payable:{party}"), -a.payable_fen),
            (format!("commission:{party}"), -keeps),
            (format!("carry:{party}"), -a.carry_out_fen),
        ];
        for (account, want) in expected {
            if balances.get(&account) != Some(&want) {
                return Err(Failed(format!(
                    "{account}: ledger {:?}, bill says {want} ({a:?})",
                    balances.get(&account)
                )));
            }
        }
        // The party's side and the venue's side sum to what was sold.
        if a.payable_fen + keeps + a.carry_out_fen != net_by_merchant[i] {
            return Err(Failed(format!(
                "{party}: {} + {keeps} + {} != {}",
                a.payable_fen, a.carry_out_fen, net_by_merchant[i]
            )));
        }
        let revenue = format!("revenue:merchant:{merchant}");
        let left = books_balance(conn, &revenue)?;
        if left != 0 {
            return Err(Failed(format!("{revenue} keeps {left} fen after approval")));
        }
    }
    let books = ledger::trial_balance(conn, None).map_err(|e| ("trial balance", e))?;
    if books.debit_fen != books.credit_fen {
        return Err(Failed(format!(
            "debits {} != credits {}",
            books.debit_fen, books.credit_fen
        )));
    }
    // The running totals the balances were read from are the sums of the entries.
    let mismatches = ledger::audit(conn).map_err(|e| ("ledger audit", e))?;
    if !mismatches.is_empty() {
        return Err(Failed(format!(
            "account totals differ from their entries: {mismatches:?}"
        )));
    }
    Ok(())
}

fn books_balance(conn: &rusqlite::Connection, account: &str) -> Result<i64, Failed> {
    let books = ledger::trial_balance(conn, Some(account)).map_err(|e| ("trial balance", e))?;
    Ok(books
        .accounts
        .iter()
        .filter(|a| a.account == account)
        .map(|a| a.balance_fen)
        .sum())
}

fn pick(model: &[(String, Model)], target: usize) -> Option<(&String, &Model)> {
    if model.is_empty() {
        return None;
    }
    let (id, m) = &model[target % model.len()];
    Some((id, m))
}

fn message(
    event_id: &str,
    merchant: &str,
    kind: SaleKind,
    refers_to: Option<String>,
    at: &str,
    lines: Vec<SaleLine>,
    total_fen: i64,
) -> Sale {
    Sale {
        event_id: event_id.into(),
        merchant: merchant.into(),
        kind,
        refers_to,
        at: at.into(),
        payment: if total_fen % 2 == 0 { "cash" } else { "wechat" }.into(),
        lines,
        total_fen: Fen::new(total_fen),
        ticket_code: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn over_random_sales_and_contracts_the_books_balance_and_bills_match_the_ledger(
        ops in prop::collection::vec(op(), 1..60),
        t in terms(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("venue.sqlite3")).unwrap();
        let venue = demo_venue();
        let outcome = store.write_blocking(move |c| -> Result<(), Failed> {
            // Each case's failure is reported, and nothing of it is kept.
            run_day(&venue, c, &ops, &t)
        });
        if let Err(Failed(why)) = outcome {
            prop_assert!(false, "{}", why);
        }
    }
}
