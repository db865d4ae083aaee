//! Users, tokens, sessions and the sign-in limit, as tables over a migrated store.

use super::*;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// An `Auth` over an in-memory store holding the users of these tests.
fn auth() -> Auth {
    let conn = venue_store::migrated_in_memory();
    let now = at("2026-12-07T08:00:00Z");
    for (name, roles, password) in [
        ("li.na", vec![Role::Ticketing], Some("window-pass-1")),
        (
            "wang.fang",
            vec![Role::FinanceReviewer, Role::FinancePayer],
            Some("finance-pass-1"),
        ),
        ("ota-bot", vec![Role::Integration], None),
        ("zhao.lei", vec![Role::Manager], Some("manager-pass-1")),
    ] {
        add_user(
            &conn,
            &NewUser {
                username: name,
                display_name: name,
                roles: &roles,
                password,
            },
            now,
        )
        .unwrap();
    }
    Auth::new(conn)
}

fn code_of<T: std::fmt::Debug>(r: Result<T, DomainError>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => format!("{:?}: {}", e.kind, e.message),
    }
}

#[test]
fn roles_parse_and_print_alike() {
    for r in Role::FIXED {
        assert_eq!(Role::parse(r).unwrap().as_string(), r);
    }
    assert_eq!(
        Role::parse("operator:p-coaster-co"),
        Some(Role::Operator("p-coaster-co".into()))
    );
    for bad in ["operator:", "operator:a b", "root", "", "Admin"] {
        assert_eq!(Role::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn user_names_are_short_lowercase_words() {
    // (name, accepted)
    let cases = [
        ("li.na", true),
        ("ops-2", true),
        ("a1", true),
        ("a", false),
        ("Li.Na", false),
        (".hidden", false),
        ("li na", false),
        ("李娜", false),
        (&"x".repeat(65), false),
        (&"x".repeat(64), true),
    ];
    for (name, ok) in cases {
        assert_eq!(check_username(name).is_ok(), ok, "{name:?}");
    }
}

#[test]
fn a_user_needs_a_free_name_a_role_and_a_long_enough_password() {
    let a = auth();
    let conn = a.reader.lock().unwrap();
    let now = at("2026-12-07T09:00:00Z");
    let add = |name: &str, roles: &[Role], password: Option<&str>| {
        add_user(
            &conn,
            &NewUser {
                username: name,
                display_name: "someone",
                roles,
                password,
            },
            now,
        )
    };
    assert_eq!(
        add("li.na", &[Role::Auditor], None).unwrap_err(),
        "user li.na exists"
    );
    assert!(
        add("chen.jie", &[], None)
            .unwrap_err()
            .contains("at least one role")
    );
    assert!(
        add("chen.jie", &[Role::Auditor], Some("short"))
            .unwrap_err()
            .contains("at least 10")
    );
    add("chen.jie", &[Role::Auditor], Some("a long enough one")).unwrap();
    // The password is kept only as an Argon2id hash.
    let stored: String = conn
        .query_row(
            "SELECT password_hash FROM users WHERE username = 'chen.jie'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert!(!stored.contains("a long enough one"));
}

#[test]
fn a_token_works_until_it_is_revoked_expires_or_its_user_is_disabled() {
    let a = auth();
    let now = at("2026-12-07T09:00:00Z");
    let (forever, expiring, scoped) = {
        let c = a.reader.lock().unwrap();
        (
            create_token(&c, "wang.fang", None, "desk", None, now).unwrap(),
            create_token(&c, "li.na", None, "", Some(at("2026-12-07T10:00:00Z")), now).unwrap(),
            create_token(
                &c,
                "wang.fang",
                Some(&Role::FinancePayer),
                "pay only",
                None,
                now,
            )
            .unwrap(),
        )
    };
    let bearer =
        |t: &IssuedToken, when: &str| a.bearer(Some(&format!("Bearer {}", t.token)), at(when));
    let c = bearer(&forever, "2027-06-01T00:00:00Z").unwrap();
    assert_eq!(
        (c.user.as_str(), c.roles.clone(), c.via.as_str()),
        (
            "wang.fang",
            vec![Role::FinanceReviewer, Role::FinancePayer],
            forever.token_id.as_str()
        )
    );
    assert_eq!(
        bearer(&scoped, "2026-12-07T09:00:00Z").unwrap().roles,
        vec![Role::FinancePayer]
    );
    assert_eq!(
        bearer(&expiring, "2026-12-07T09:59:59Z").unwrap().user,
        "li.na"
    );
    assert!(code_of(bearer(&expiring, "2026-12-07T10:00:00Z")).contains("expired"));

    {
        let c = a.reader.lock().unwrap();
        revoke_token(&c, &forever.token_id, now).unwrap();
        assert!(
            revoke_token(&c, &forever.token_id, now).is_err(),
            "revoked twice"
        );
        set_disabled(&c, "wang.fang", true, now).unwrap();
    }
    assert!(code_of(bearer(&forever, "2026-12-07T09:00:01Z")).contains("revoked"));
    assert!(code_of(bearer(&scoped, "2026-12-07T09:00:01Z")).contains("disabled"));

    // (header, answer)
    let cases = [
        (None, "Unauthorized: missing Authorization"),
        (Some("Bearer ve_nothing"), "Unauthorized: unknown token"),
        (Some("Basic abc"), "Unauthorized: the Authorization header"),
        (Some("Bearer "), "Unauthorized: the Authorization header"),
    ];
    for (header, want) in cases {
        assert!(
            code_of(a.bearer(header, now)).starts_with(want),
            "{header:?}"
        );
    }
}

#[test]
fn a_token_is_issued_only_to_a_user_for_roles_they_hold() {
    let a = auth();
    let c = a.reader.lock().unwrap();
    let now = at("2026-12-07T09:00:00Z");
    assert!(
        create_token(&c, "nobody", None, "", None, now)
            .unwrap_err()
            .contains("no user")
    );
    assert!(
        create_token(&c, "li.na", Some(&Role::Admin), "", None, now)
            .unwrap_err()
            .contains("does not hold")
    );
    let t = create_token(&c, "li.na", None, "", None, now).unwrap();
    // Only the digest is stored.
    let clear: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM tokens WHERE token_sha256 = ?1 OR label = ?1",
            [&t.token],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(clear, 0);
}

#[test]
fn signing_in_needs_the_right_password_of_an_enabled_user_who_has_one() {
    let a = auth();
    let c = a.reader.lock().unwrap();
    let now = at("2026-12-07T09:00:00Z");
    // (user, password, answer)
    let cases = [
        ("li.na", "window-pass-1", "ok"),
        (
            "li.na",
            "window-pass-2",
            "Unauthorized: wrong user name or password",
        ),
        (
            "nobody",
            "window-pass-1",
            "Unauthorized: wrong user name or password",
        ),
        (
            "ota-bot",
            "anything-at-all",
            "Unauthorized: wrong user name or password",
        ),
    ];
    for (user, password, want) in cases {
        assert_eq!(code_of(sign_in(&c, user, password, now)), want, "{user}");
    }
    set_disabled(&c, "zhao.lei", true, now).unwrap();
    assert!(code_of(sign_in(&c, "zhao.lei", "manager-pass-1", now)).contains("disabled"));
}

#[test]
fn a_session_lasts_until_it_expires_or_is_ended_or_the_password_changes() {
    let a = auth();
    let now = at("2026-12-07T09:00:00Z");
    let (s1, s2) = {
        let c = a.reader.lock().unwrap();
        (
            sign_in(&c, "li.na", "window-pass-1", now).unwrap(),
            sign_in(&c, "li.na", "window-pass-1", now).unwrap(),
        )
    };
    let caller = a.session(&s1.cookie, now).unwrap();
    assert_eq!(
        (
            caller.user.as_str(),
            caller.roles.clone(),
            caller.csrf.as_deref()
        ),
        ("li.na", vec![Role::Ticketing], Some(s1.csrf.as_str()))
    );
    assert!(caller.via.starts_with("ses_"));
    let later = now + chrono::Duration::from_std(SESSION_TTL).unwrap();
    assert!(code_of(a.session(&s1.cookie, later)).contains("expired"));
    {
        let c = a.reader.lock().unwrap();
        sign_out(&c, &s1.session_id, now).unwrap();
    }
    assert!(code_of(a.session(&s1.cookie, now)).contains("signed out"));
    assert_eq!(a.session(&s2.cookie, now).unwrap().user, "li.na");
    {
        let c = a.reader.lock().unwrap();
        set_password(&c, "li.na", "a brand new one", now).unwrap();
    }
    assert!(code_of(a.session(&s2.cookie, now)).contains("signed out"));
    assert!(code_of(a.session("not-a-session", now)).contains("not signed in"));
}

#[test]
fn sign_ins_are_limited_per_user_name_and_per_address() {
    let limiter = SignInLimiter::default();
    let t0 = Instant::now();
    let s = |n: u64| t0 + Duration::from_secs(n);
    for i in 0..SIGN_IN_FAILURES_PER_USER as u64 {
        assert!(
            limiter.check("li.na", "10.0.0.1", s(i)).is_ok(),
            "attempt {i}"
        );
        limiter.failed("li.na", "10.0.0.1", s(i));
    }
    // (user, address, seconds after the first failure, allowed)
    let cases = [
        ("li.na", "10.0.0.1", 10, false),
        ("li.na", "10.0.0.2", 10, false),
        ("zhao.lei", "10.0.0.1", 10, true),
        ("li.na", "10.0.0.9", 60, false),
        ("li.na", "10.0.0.1", SIGN_IN_WINDOW.as_secs() + 1, true),
    ];
    // The first failure leaves the window last, so the wait runs from it.
    let wait = limiter.check("li.na", "10.0.0.9", s(60)).unwrap_err();
    assert_eq!(wait, SIGN_IN_WINDOW - Duration::from_secs(60));
    for (user, addr, secs, ok) in cases {
        assert_eq!(
            limiter.check(user, addr, s(secs)).is_ok(),
            ok,
            "{user} {addr} +{secs}s"
        );
    }

    // One address trying many names is stopped too.
    let limiter = SignInLimiter::default();
    for i in 0..SIGN_IN_FAILURES_PER_ADDRESS {
        limiter.failed(&format!("user{i}"), "10.0.0.7", s(0));
    }
    assert!(limiter.check("someone-new", "10.0.0.7", s(1)).is_err());
    assert!(limiter.check("someone-new", "10.0.0.8", s(1)).is_ok());

    // A good sign-in clears its user name's count.
    let limiter = SignInLimiter::default();
    for _ in 0..SIGN_IN_FAILURES_PER_USER {
        limiter.failed("li.na", "10.0.0.1", s(0));
    }
    limiter.succeeded("li.na");
    assert!(limiter.check("li.na", "10.0.0.3", s(1)).is_ok());
}
