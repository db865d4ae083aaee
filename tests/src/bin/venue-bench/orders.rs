//! Orders over keep-alive HTTP against a read-only request.

use super::*;

/// Runs `clients` loops of `request` for `seconds`; returns successes per second.
pub(crate) async fn closed_loop<F, Fut>(clients: usize, seconds: u64, request: F) -> f64
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let request = Arc::new(request);
    let ok = Arc::new(AtomicU64::new(0));
    let seq = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (request, ok, seq) = (request.clone(), ok.clone(), seq.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                if request(n).await {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    ok.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

pub(crate) async fn orders(seconds: u64, clients: usize) -> anyhow::Result<Vec<Row>> {
    let edge = Edge::start(EdgeOptions::default()).await;
    let token = edge.token("ticketing").to_owned();
    let today = Edge::today();
    let api = edge.api.clone();
    let (t, d) = (token.clone(), today.clone());
    let orders_per_s = closed_loop(clients, seconds, move |n| {
        let (api, t, d) = (api.clone(), t.clone(), d.clone());
        async move {
            let body = order(&format!("ob-{n}"), "web", &d, "shuttle-day", 1, false);
            matches!(api.post_json("/api/v1/orders", Some(&t), &body).await, Ok(r) if r.status == 201)
        }
    })
    .await;
    let api = edge.api.clone();
    let reads_per_s =
        closed_loop(clients, seconds, move |_| {
            let (api, t) = (api.clone(), token.clone());
            async move {
                matches!(api.get("/api/v1/products", Some(&t)).await, Ok(r) if r.status == 200)
            }
        })
        .await;
    Ok(vec![Row {
        bench: format!("orders, {clients} keep-alive clients, {seconds} s"),
        measure: "single-ticket orders/s (201)".into(),
        value: orders_per_s,
        unit: "/s".into(),
        baseline: "GET /api/v1/products".into(),
        baseline_value: reads_per_s,
        ratio: orders_per_s / reads_per_s,
        target: ">= 2000 /s".into(),
    }])
}

/// Sign-ins (an Argon2id check and a session) from `clients` loops, against a token's
/// authenticated read, each over keep-alive HTTP.
pub(crate) async fn signin(seconds: u64, clients: usize) -> anyhow::Result<Vec<Row>> {
    let edge = Edge::start(EdgeOptions::default()).await;
    let api = edge.api.clone();
    let (user, password) = (
        venue_tests::test_username("manager"),
        venue_tests::test_password("manager"),
    );
    let one = Instant::now();
    let r = api
        .post_json(
            "/api/v1/session",
            None,
            &serde_json::json!({"username": user, "password": password}),
        )
        .await?;
    anyhow::ensure!(r.status == 200, "sign-in failed: {}", r.text());
    eprintln!(
        "signin: one sign-in alone {:.1} ms",
        one.elapsed().as_secs_f64() * 1000.0
    );
    let sign_ins_per_s = closed_loop(clients, seconds, move |_| {
        let (api, user, password) = (api.clone(), user.clone(), password.clone());
        async move {
            let body = serde_json::json!({"username": user, "password": password});
            matches!(api.post_json("/api/v1/session", None, &body).await, Ok(r) if r.status == 200)
        }
    })
    .await;
    let api = edge.api.clone();
    let token = edge.token("manager").to_owned();
    let reads_per_s = closed_loop(clients, seconds, move |_| {
        let (api, t) = (api.clone(), token.clone());
        async move { matches!(api.get("/api/v1/session", Some(&t)).await, Ok(r) if r.status == 200) }
    })
    .await;
    Ok(vec![Row {
        bench: format!("sign-in, {clients} keep-alive clients, {seconds} s"),
        measure: "POST /api/v1/session/s (200)".into(),
        value: sign_ins_per_s,
        unit: "/s".into(),
        baseline: "GET /api/v1/session with a token".into(),
        baseline_value: reads_per_s,
        ratio: sign_ins_per_s / reads_per_s,
        target: "none (recorded)".into(),
    }])
}
