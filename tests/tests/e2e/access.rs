//! Who may do what, through a real box: the role table at every endpoint for every role
//! and for tokens that must not work, four eyes on bills between people, an operator
//! reading only its own party, and signing in to the console.

use hyper::Method;
use venue_tests::{Edge, EdgeOptions, test_password, test_username};

const ROLES: [&str; 8] = venue_tests::HARNESS_ROLES;

fn allowed(role: &str, roles: &[&str]) -> bool {
    let kind = if role.starts_with("operator:") {
        "operator"
    } else {
        role
    };
    roles.contains(&"any") || roles.contains(&kind)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_gets_what_the_role_table_says_at_every_endpoint() {
    let edge = Edge::start(EdgeOptions::default()).await;
    // Tokens that must never work: revoked, expired, of a disabled user, made up.
    let revoked = edge.user_with_token("ex.admin", &["admin"], "password-of-ex", &[]);
    let listed = edge.cli(&["token", "list"], None);
    let listed = String::from_utf8_lossy(&listed.stdout);
    let revoked_id = listed
        .lines()
        .find(|l| l.contains("ex.admin"))
        .and_then(|l| l.split_whitespace().next())
        .expect("token list names ex.admin's token")
        .to_owned();
    assert!(
        edge.cli(&["token", "revoke", "--id", &revoked_id], None)
            .status
            .success()
    );
    let expired = edge.user_with_token(
        "old.auditor",
        &["auditor"],
        "password-of-old",
        &["--expires-at", "2000-01-01T00:00:00Z"],
    );
    let disabled = edge.user_with_token("gone.clerk", &["ticketing"], "password-of-gone", &[]);
    assert!(
        edge.cli(&["user", "disable", "--username", "gone.clerk"], None)
            .status
            .success()
    );
    // Every account change made on the command line is in the audit chain.
    let (status, audit) = edge.get_as("/api/v1/audit", "auditor").await;
    assert_eq!(status, 200, "{audit}");
    assert_eq!(audit["chain"]["whole"], true, "{audit}");
    let rows = audit["rows"].as_array().unwrap();
    let logged = |action: &str, subject: &str| {
        rows.iter().any(|r| {
            r["action"] == action
                && r["subject"].as_str().unwrap_or_default().contains(subject)
                && r["actor"].as_str().unwrap_or_default().starts_with("cli:")
        })
    };
    for (action, subject) in [
        ("user.add", "ex.admin"),
        ("token.add", "ex.admin"),
        ("token.revoke", revoked_id.as_str()),
        ("user.disable", "gone.clerk"),
        ("device.add", "g-north-1"),
    ] {
        assert!(
            logged(action, subject),
            "no {action} of {subject} in {audit}"
        );
    }
    let refused: [(&str, Option<&str>); 5] = [
        ("no token", None),
        ("made-up token", Some("ve_0123456789abcdef")),
        ("revoked token", Some(&revoked)),
        ("expired token", Some(&expired)),
        ("disabled user's token", Some(&disabled)),
    ];

    let mut wrong = Vec::new();
    let mut checked = 0;
    for (method, shape, roles) in venue_edge::http::ROUTES {
        let path = format!(
            "/api/v1/{}",
            shape
                .iter()
                // One id for every `*`: an unknown order, bill or plugin, and the
                // operator's own party (another party's balance is refused in the handler).
                .map(|s| if *s == "*" { "p-coaster-co" } else { s })
                .collect::<Vec<_>>()
                .join("/")
        );
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        for role in ROLES {
            let r = edge
                .api
                .send(
                    method.clone(),
                    &path,
                    Some(edge.token(role)),
                    Some("application/json"),
                    b"{}".to_vec(),
                )
                .await
                .unwrap();
            let ok = if allowed(role, roles) {
                !matches!(r.status, 401 | 403)
            } else {
                r.status == 403 && r.json()["error"]["code"] == "forbidden"
            };
            if !ok {
                wrong.push(format!(
                    "{method} {path} as {role}: {} {}",
                    r.status,
                    r.text()
                ));
            }
            checked += 1;
        }
        for (what, token) in refused {
            let r = edge
                .api
                .send(
                    method.clone(),
                    &path,
                    token,
                    Some("application/json"),
                    b"{}".to_vec(),
                )
                .await
                .unwrap();
            if r.status != 401 {
                wrong.push(format!(
                    "{method} {path} with a {what}: {} {}",
                    r.status,
                    r.text()
                ));
            }
            checked += 1;
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {checked} answers wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(
        checked,
        venue_edge::http::ROUTES.len() * (ROLES.len() + refused.len())
    );

    // The refusals say why.
    let r = edge
        .api
        .get("/api/v1/capacity", Some(&expired))
        .await
        .unwrap();
    assert!(r.text().contains("expired"), "{}", r.text());
    let r = edge
        .api
        .get("/api/v1/capacity", Some(&revoked))
        .await
        .unwrap();
    assert!(r.text().contains("revoked"), "{}", r.text());
    let r = edge
        .api
        .get("/api/v1/capacity", Some(&disabled))
        .await
        .unwrap();
    assert!(r.text().contains("disabled"), "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoever_approved_a_bill_cannot_pay_it_even_holding_both_roles_and_operators_see_their_own()
{
    let edge = Edge::start(EdgeOptions::default()).await;
    for (device, merchant) in [
        ("pos-tea-1", "m-tea-house"),
        ("pos-photo-1", "m-coaster-photo"),
    ] {
        edge.sell(device, merchant, 10000).await;
    }
    let both = edge.user_with_token(
        "wang.fang",
        &["finance-reviewer", "finance-payer"],
        "password-of-wang",
        &[],
    );
    let r = edge
        .api
        .post_json(
            &format!("/api/v1/settlements?date={}", Edge::today()),
            Some(&both),
            &serde_json::json!({}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let bills = r.json();
    let id_of = |party: &str| {
        venue_tests::bill_of(&bills, party)["bill_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (tea, coaster) = (id_of("p-tea-house"), id_of("p-coaster-co"));
    let r = edge
        .api
        .post_json(
            &format!("/api/v1/bills/{tea}/approve"),
            Some(&both),
            &serde_json::json!({}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["approved_by"],
        "wang.fang",
        "a person approves, not a role"
    );
    let r = edge
        .api
        .post_json(
            &format!("/api/v1/bills/{tea}/pay"),
            Some(&both),
            &serde_json::json!({}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("wang.fang approved bill"), "{}", r.text());
    // Another person holding the payer role pays it.
    let (s, paid) = edge
        .post_as(
            &format!("/api/v1/bills/{tea}/pay"),
            "finance-payer",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(s, 200, "{paid}");

    // The audit names the people and the token each came through.
    let (s, audit) = edge.get_as("/api/v1/audit", "auditor").await;
    assert_eq!(s, 200);
    assert_eq!(audit["chain"]["whole"], true, "{}", audit["chain"]);
    let approve = audit["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "bill.approve" && a["subject"] == tea.as_str())
        .expect("the approval is audited");
    assert_eq!(approve["actor"], "wang.fang");
    assert!(
        approve["via"].as_str().unwrap().starts_with("tok_"),
        "{approve}"
    );

    // An operator reads its own party's bill, and of another party's not even that it exists.
    let (s, own) = edge
        .get_as(&format!("/api/v1/bills/{coaster}"), "operator:p-coaster-co")
        .await;
    assert_eq!((s, own["party"].as_str()), (200, Some("p-coaster-co")));
    let (s, other) = edge
        .get_as(&format!("/api/v1/bills/{tea}"), "operator:p-coaster-co")
        .await;
    assert_eq!(s, 404, "{other}");
    assert!(!other.to_string().contains("p-tea-house"), "{other}");
    let (s, listed) = edge.get_as("/api/v1/bills", "operator:p-coaster-co").await;
    assert_eq!(s, 200);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["party"] == "p-coaster-co"),
        "{listed}"
    );
    let (s, _) = edge
        .get_as("/api/v1/bills?party=p-tea-house", "operator:p-coaster-co")
        .await;
    assert_eq!(s, 403);
}

fn session_cookie(set_cookie: &[String]) -> String {
    let header = set_cookie
        .iter()
        .find(|c| c.starts_with("ve_session="))
        .expect("a session cookie is set");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(header.contains(attribute), "{header} lacks {attribute}");
    }
    header.split(';').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_sign_in_with_a_password_and_changes_need_the_csrf_token() {
    let edge = Edge::start(EdgeOptions::default()).await;
    let sign_in = |user: String, password: String| {
        let api = edge.api.clone();
        async move {
            api.post_json(
                "/api/v1/session",
                None,
                &serde_json::json!({"username": user, "password": password}),
            )
            .await
            .unwrap()
        }
    };
    let clerk = test_username("ticketing");
    let r = sign_in(clerk.clone(), "not the password".into()).await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    assert!(r.set_cookie.is_empty());

    let r = sign_in(clerk.clone(), test_password("ticketing")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let csrf = r.json()["csrf"].as_str().unwrap().to_owned();
    assert_eq!(r.json()["roles"], serde_json::json!(["ticketing"]));
    let cookie = session_cookie(&r.set_cookie);

    let call = |method: Method, path: &str, headers: Vec<(&'static str, String)>| {
        let api = edge.api.clone();
        let path = path.to_owned();
        let cookie = cookie.clone();
        async move {
            let mut all: Vec<(&str, &str)> =
                vec![("cookie", &cookie), ("content-type", "application/json")];
            all.extend(headers.iter().map(|(k, v)| (*k, v.as_str())));
            api.send_with(method, &path, None, &all, b"{}".to_vec())
                .await
                .unwrap()
        }
    };
    let r = call(Method::GET, "/api/v1/session", vec![]).await;
    assert_eq!(
        (r.status, r.json()["username"].as_str()),
        (200, Some(clerk.as_str()))
    );
    let r = call(Method::GET, "/api/v1/products", vec![]).await;
    assert_eq!(r.status, 200);
    // The role table holds for a session as for a token.
    let r = call(Method::GET, "/api/v1/reports/flow", vec![]).await;
    assert_eq!(r.status, 403);
    // A change without the CSRF token, or with another, is refused before it is looked at.
    let order = "/api/v1/orders/x/refunds";
    let r = call(Method::POST, order, vec![]).await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (403, Some("csrf"))
    );
    let r = call(Method::POST, order, vec![("x-csrf-token", "0".repeat(32))]).await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (403, Some("csrf"))
    );
    let r = call(Method::POST, order, vec![("x-csrf-token", csrf.clone())]).await;
    assert_eq!(
        r.status,
        400,
        "past the CSRF check, the body is judged: {}",
        r.text()
    );

    // Signing out ends the session.
    let r = call(
        Method::DELETE,
        "/api/v1/session",
        vec![("x-csrf-token", csrf.clone())],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.set_cookie.iter().any(|c| c.contains("Max-Age=0")));
    let r = call(Method::GET, "/api/v1/products", vec![]).await;
    assert_eq!(r.status, 401);

    // Five failures in a row for one user name, then even the right password waits.
    let manager = test_username("manager");
    for _ in 0..5 {
        assert_eq!(
            sign_in(manager.clone(), "guess-guess-guess".into())
                .await
                .status,
            401
        );
    }
    let r = sign_in(manager.clone(), test_password("manager")).await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (429, Some("too_many_attempts")),
        "{}",
        r.text()
    );
    // Another user is not held up by it.
    let r = sign_in(test_username("auditor"), test_password("auditor")).await;
    assert_eq!(r.status, 200);

    // Sign-ins are audited; no password or cookie is in the store in clear.
    let (_, audit) = edge.get_as("/api/v1/audit", "auditor").await;
    assert!(
        audit["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "session.sign_in" && a["actor"] == clerk.as_str())
    );
    let db = std::fs::read(edge.data_dir().join(venue_edge::runtime::STORE_FILE)).unwrap();
    let wal = std::fs::read(
        edge.data_dir()
            .join(format!("{}-wal", venue_edge::runtime::STORE_FILE)),
    )
    .unwrap_or_default();
    for secret in [
        test_password("ticketing"),
        cookie.trim_start_matches("ve_session=").to_owned(),
    ] {
        let found = |hay: &[u8]| hay.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found(&db) && !found(&wal), "a secret is stored in clear");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_audit_row_is_named_by_audit_verify_and_the_api() {
    let edge = Edge::start(EdgeOptions::default()).await;
    for i in 0..3 {
        let (s, _) = edge
            .post_as(
                "/api/v1/orders",
                "ticketing",
                venue_tests::order(
                    &format!("audit-{i}"),
                    "web",
                    &Edge::today(),
                    "coaster-ride",
                    1,
                    false,
                ),
            )
            .await;
        assert_eq!(s, 201);
    }
    let verify = || edge.cli(&["audit", "verify"], None);
    let out = verify();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("whole"));
    let (_, audit) = edge.get_as("/api/v1/audit", "auditor").await;
    assert_eq!(audit["chain"]["whole"], true);
    let rows = audit["rows"].as_array().unwrap();
    assert!(
        rows.len() >= 3
            && rows
                .iter()
                .all(|r| r["hash"].as_str().is_some_and(|h| h.len() == 64))
    );
    let second = rows[1]["id"].as_i64().unwrap();

    // Someone with the database file rewrites the second row.
    let db =
        rusqlite::Connection::open(edge.data_dir().join(venue_edge::runtime::STORE_FILE)).unwrap();
    db.execute(
        "UPDATE audit SET detail = 'nothing happened' WHERE id = ?1",
        [second],
    )
    .unwrap();
    let out = verify();
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&format!("row {second}")) && said.contains("edited"),
        "{said}"
    );
    let (_, audit) = edge.get_as("/api/v1/audit", "auditor").await;
    assert_eq!(
        (
            &audit["chain"]["whole"],
            audit["chain"]["first_bad_row"].as_i64()
        ),
        (&serde_json::json!(false), Some(second))
    );
}
