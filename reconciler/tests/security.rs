//! Who may call what, against real PostgreSQL and git: every route of both
//! ports, enumerated from the OpenAPI document, refuses the unauthenticated
//! and wrong, expired, revoked and node keys, and a role too small; logins
//! (cookie, idle end, throttling, cross-site refusal), API keys, users, the
//! setup link, enrollment and node keys, the secret store and the audit log.

mod common;

use common::Repos;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use car_server::trust::access::Role;
use car_server::trust::audit::Actor;
use car_server::trust::enrollment::{self, EnrollRequest};
use common::app::{Answer, App, send};
use serde_json::{Value, json};

/// The routes anyone may call: probes, logging in, and those with secrets of their own.
const PUBLIC: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/install"),
    ("get", "/install/car-runner"),
    ("get", "/readyz"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/setup"),
    ("post", "/api/v1/hooks/{name}"),
    ("post", "/api/v1/nodes/enroll"),
    ("post", "/api/v1/webhooks/git"),
];

fn request(method: &str, path: &str, bearer: Option<&str>, body: Option<Value>) -> Request<Body> {
    let mut req = Request::builder().method(method.to_uppercase().as_str()).uri(path);
    if let Some(t) = bearer {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    match body {
        Some(b) => req.header("content-type", "application/json").body(Body::from(b.to_string())).unwrap(),
        None => req.body(Body::empty()).unwrap(),
    }
}

fn with_cookie(method: &str, path: &str, cookie: &str, headers: &[(&str, &str)], body: Option<Value>) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(path).header("cookie", cookie);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    match body {
        Some(b) => req.header("content-type", "application/json").body(Body::from(b.to_string())).unwrap(),
        None => req.body(Body::empty()).unwrap(),
    }
}

async fn api_key(app: &App, name: &str, role: Role) -> (String, String) {
    let (key, secret) = app.store.user_repo().create_api_key(name, role, None, &Actor::system("test")).await.unwrap();
    (key.id, secret)
}

async fn add_user(app: &App, name: &str, password: &str, role: Role) {
    let hash = car_server::trust::password::hash(password).await;
    assert!(app.store.user_repo().create_user(name, &hash, role, &Actor::system("test")).await.unwrap());
}

async fn login(app: &App, user: &str, password: &str, peer: &str) -> Answer {
    let body = json!({"username": user, "password": password});
    send(&app.app, request("post", "/api/v1/auth/login", None, Some(body)), Some(peer)).await
}

/// `car_session=…` from a response's Set-Cookie.
fn session_of(a: &Answer) -> String {
    let set = a.headers["set-cookie"].to_str().unwrap();
    set.split(';').next().unwrap().to_string()
}

/// An enrolled node's key.
async fn enrolled_node(app: &App, name: &str) -> String {
    let by = Actor::system("test");
    let (_, token) = enrollment::create_token(&app.store, Some(name), chrono::TimeDelta::hours(1), &by).await.unwrap();
    let req = EnrollRequest {
        token,
        name: name.into(),
        address: Some("http://127.0.0.1:9".into()),
        port: None,
        os: None,
        version: None,
    };
    enrollment::enroll(&app.store, &app.state.secrets, &req, None).await.unwrap().1
}

/// A path of the document with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{name}", "tower").replace("{id}", "nope").replace("{username}", "nobody")
}

fn refused(a: &Answer) -> bool {
    a.status == StatusCode::UNAUTHORIZED
        || (a.status == StatusCode::FORBIDDEN && a.body["error"]["code"] == "forbidden")
}

#[tokio::test]
async fn every_route_but_the_public_ones_needs_a_valid_key_and_a_big_enough_role() {
    let app = App::start().await;
    let (_, viewer) = api_key(&app, "viewer", Role::Viewer).await;
    let (_, operator) = api_key(&app, "operator", Role::Operator).await;
    let (old, expired) = api_key(&app, "old", Role::Admin).await;
    sqlx::query("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(&old)
        .execute(app.store.pool())
        .await
        .unwrap();
    let (gone, revoked) = api_key(&app, "gone", Role::Admin).await;
    assert!(app.store.user_repo().revoke_api_key(&gone, &Actor::system("test")).await.unwrap());
    let node = enrolled_node(&app, "probe").await;

    let (status, doc) = app.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let mut public = Vec::new();
    let mut guarded = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let uri = concrete(path);
            let body = (method != "get").then(|| json!({}));
            if op["security"] == json!([{}]) {
                public.push((method, path.as_str()));
                for router in [&app.app, &app.ui] {
                    // It may refuse a request without its own secret (the webhook), but not for want of a login.
                    let a = send(router, request(method, &uri, None, body.clone()), None).await;
                    assert_ne!(a.body["error"]["message"], "this needs you to log in", "public {method} {path}");
                }
                continue;
            }
            guarded += 1;
            let role = op["x-required-role"].as_str().unwrap_or_else(|| panic!("{method} {path} names no role"));
            for router in [&app.app, &app.ui] {
                for (who, token) in [
                    ("no key", None),
                    ("a wrong key", Some("car_wrongkey0000000000")),
                    ("an expired key", Some(expired.as_str())),
                    ("a revoked key", Some(revoked.as_str())),
                    ("an unknown node key", Some("carn_0000_abc")),
                    ("a made-up token", Some("not-a-token-of-ours")),
                ] {
                    let a = send(router, request(method, &uri, token, body.clone()), None).await;
                    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{method} {path} with {who}: {}", a.body);
                    assert!(
                        a.body["error"]["hint"].as_str().is_some_and(|h| !h.is_empty()),
                        "{method} {path}: no hint"
                    );
                }
                let a = send(router, request(method, &uri, Some(&node), body.clone()), None).await;
                assert_eq!(a.status, StatusCode::FORBIDDEN, "{method} {path} with another node's key");
                for (caller, caller_role) in [(&viewer, Role::Viewer), (&operator, Role::Operator)] {
                    let a = send(router, request(method, &uri, Some(caller), body.clone()), None).await;
                    let needed = match role {
                        "node" => Role::Operator,
                        r => r.parse().unwrap(),
                    };
                    if caller_role < needed {
                        assert_eq!(a.status, StatusCode::FORBIDDEN, "{method} {path} let a {caller_role:?} in");
                    } else {
                        assert!(!refused(&a), "{method} {path} refused a {caller_role:?}: {}", a.body);
                    }
                }
            }
        }
    }
    public.sort();
    assert_eq!(public, PUBLIC, "the public routes changed: update PUBLIC only if that is meant");
    assert!(guarded > 40, "only {guarded} guarded operations: is the document complete?");
    // Writes need more than reading; a viewer's own session and profile and a policy question
    // (`can_i`, which changes nothing) are the only writes a viewer makes.
    for op in doc["paths"].as_object().unwrap().values().flat_map(|i| i.as_object().unwrap().iter()) {
        if op.0 != "get" && op.1["x-required-role"] == "viewer" {
            let id = op.1["operationId"].as_str().unwrap_or("?");
            assert!(["logout", "change_password", "profile", "can_i"].contains(&id), "a viewer may {} ({id})", op.0);
        }
    }
}

#[tokio::test]
async fn a_login_cookie_is_http_only_and_strict_opens_the_api_and_ends_at_logout_or_when_idle() {
    let app = App::start().await;
    add_user(&app, "alice", "alice's long password", Role::Operator).await;
    assert_eq!(login(&app, "alice", "wrong password", "192.0.2.1").await.status, StatusCode::UNAUTHORIZED);
    let a = login(&app, "alice", "alice's long password", "192.0.2.1").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let set = a.headers["set-cookie"].to_str().unwrap();
    for part in ["car_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(part), "{set}");
    }
    assert!(!set.contains("Secure"), "PUBLIC_URL is http here: {set}");
    let cookie = session_of(&a);
    let token = cookie.trim_start_matches("car_session=");
    let dump = common::dump(&app.store).await;
    assert!(!dump.contains(token), "the session token is stored as written");

    let me = send(&app.app, with_cookie("GET", "/api/v1/auth/me", &cookie, &[], None), None).await;
    assert_eq!(me.body, json!({"kind": "user", "name": "alice", "role": "operator"}));
    // The dashboard's own writes pass; another site's are refused, WebSocket upgrades too.
    let same = [("sec-fetch-site", "same-origin")];
    let ok = send(&app.app, with_cookie("POST", "/api/v1/sync/refresh", &cookie, &same, None), None).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED);
    let evil = [("origin", "https://evil.example"), ("host", "car.lan:3000")];
    let no = send(&app.app, with_cookie("POST", "/api/v1/sync/refresh", &cookie, &evil, None), None).await;
    assert_eq!((no.status, no.body["error"]["code"].clone()), (StatusCode::FORBIDDEN, json!("cross_site")));
    let upgrade = [("origin", "https://evil.example"), ("host", "car.lan:3000"), ("upgrade", "websocket")];
    let ws = send(&app.app, with_cookie("GET", "/api/v1/runs/x/stream", &cookie, &upgrade, None), None).await;
    assert_eq!(ws.status, StatusCode::FORBIDDEN);
    let page = send(&app.app, with_cookie("GET", "/api/v1/nodes", &cookie, &evil, None), None).await;
    assert_eq!(page.status, StatusCode::OK, "reading is no cross-site risk");

    let out = send(&app.app, with_cookie("POST", "/api/v1/auth/logout", &cookie, &same, None), None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(out.headers["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let after = send(&app.app, with_cookie("GET", "/api/v1/auth/me", &cookie, &[], None), None).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert!(after.body["error"]["message"].as_str().unwrap().contains("session has ended"));

    // A session unused for longer than SESSION_IDLE_TIMEOUT (12 h here) ends.
    let idle = session_of(&login(&app, "alice", "alice's long password", "192.0.2.1").await);
    sqlx::query("UPDATE sessions SET last_seen_at = now() - interval '13 hours'")
        .execute(app.store.pool())
        .await
        .unwrap();
    let a = send(&app.app, with_cookie("GET", "/api/v1/auth/me", &idle, &[], None), None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn failed_logins_are_throttled_per_user_and_address_and_a_good_login_clears_them() {
    let app = App::start().await;
    add_user(&app, "bob", "bob's long password", Role::Viewer).await;
    for _ in 0..5 {
        assert_eq!(login(&app, "bob", "guess", "10.0.0.1").await.status, StatusCode::UNAUTHORIZED);
    }
    let held = login(&app, "bob", "bob's long password", "10.0.0.1").await;
    assert_eq!(held.status, StatusCode::TOO_MANY_REQUESTS, "even the right password waits: {}", held.body);
    let wait: u64 = held.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&wait), "Retry-After {wait}");
    // The owner, elsewhere, gets in; and that clears the count.
    assert_eq!(login(&app, "bob", "bob's long password", "10.0.0.2").await.status, StatusCode::OK);
    assert_eq!(login(&app, "bob", "bob's long password", "10.0.0.1").await.status, StatusCode::OK);
    // One address guessing many names is held back as a whole.
    for i in 0..20 {
        assert_eq!(login(&app, &format!("user{i}"), "guess", "10.0.0.9").await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login(&app, "bob", "bob's long password", "10.0.0.9").await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(login(&app, "bob", "bob's long password", "10.0.0.3").await.status, StatusCode::OK);
    // Every failure and the throttling are in the audit log, without the passwords.
    let (_, audit) = app.get("/api/v1/audit?action=auth.login_failed&limit=500").await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 25);
    let (_, throttled) = app.get("/api/v1/audit?action=auth.login_throttled").await;
    assert_eq!(throttled["items"][0]["ip"], "10.0.0.9");
    assert!(!common::dump(&app.store).await.contains("bob's long password"));
}

#[tokio::test]
async fn api_keys_are_shown_once_kept_as_hashes_and_stop_working_when_revoked_or_expired() {
    let app = App::start().await;
    let (status, made) = app
        .call(
            "POST",
            "/api/v1/api-keys",
            &[("content-type", "application/json")],
            json!({"name": "home-assistant", "role": "viewer", "expires_in_days": 30}).to_string().into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let key = made["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("car_") && key.len() > 40);
    assert_eq!((made["name"].as_str(), made["role"].as_str()), (Some("home-assistant"), Some("viewer")), "{made}");
    let (_, list) = app.get("/api/v1/api-keys").await;
    assert!(!list.to_string().contains(&key), "the list shows the key");
    assert!(list["api_keys"].as_array().unwrap().iter().any(|k| k["prefix"] == key[..12]));
    assert!(!common::dump(&app.store).await.contains(&key), "the key is stored as written");

    let read = send(&app.app, request("get", "/api/v1/nodes", Some(&key), None), None).await;
    assert_eq!(read.status, StatusCode::OK);
    let write =
        send(&app.app, request("post", "/api/v1/runs", Some(&key), Some(json!({"agent": "a", "node": "b"}))), None)
            .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    assert_eq!(write.body["error"]["message"], "this needs the operator role; you are a viewer");
    let (_, list) = app.get("/api/v1/api-keys").await;
    let row = list["api_keys"].as_array().unwrap().iter().find(|k| k["name"] == "home-assistant").unwrap().clone();
    assert!(row["last_used_at"].is_string(), "use is not recorded: {row}");

    let id = row["id"].as_str().unwrap();
    assert_eq!(app.call("DELETE", &format!("/api/v1/api-keys/{id}"), &[], vec![]).await.0, StatusCode::NO_CONTENT);
    let gone = send(&app.app, request("get", "/api/v1/nodes", Some(&key), None), None).await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);
    assert!(gone.body["error"]["message"].as_str().unwrap().contains("was revoked"));
    assert_eq!(app.call("DELETE", &format!("/api/v1/api-keys/{id}"), &[], vec![]).await.0, StatusCode::NOT_FOUND);

    for (bad, why) in [
        (json!({"name": "x", "role": "viewer", "expires_in_days": 0}), "not from 1 to 3650"),
        (json!({"name": "x", "role": "viewer", "expires_in_days": "soon"}), "invalid type"),
        (json!({"name": "x", "role": "viewer", "expires": "2030-01-01"}), "unknown field `expires`"),
        (json!({"name": "", "role": "viewer"}), "not a key name"),
        (json!({"name": "x", "role": "root"}), "not what this endpoint takes"),
        (json!([null, null]), "not a JSON object"),
    ] {
        let (status, body) = app
            .call("POST", "/api/v1/api-keys", &[("content-type", "application/json")], bad.to_string().into_bytes())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(body["error"]["message"].as_str().unwrap().contains(why), "{bad}: {body}");
    }
}

#[tokio::test]
async fn users_are_managed_by_admins_and_the_last_admin_cannot_go() {
    let app = App::start().await;
    let post = |body: Value| {
        app.call("POST", "/api/v1/users", &[("content-type", "application/json")], body.to_string().into_bytes())
    };
    let (status, body) = post(json!({"username": "carol", "password": "short", "role": "viewer"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains("shorter than 8"));
    assert_eq!(
        post(json!({"username": "bad name", "password": "long enough", "role": "viewer"})).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post(json!({"username": "carol", "password": "carol's password", "role": "viewer"})).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        post(json!({"username": "carol", "password": "carol's password", "role": "viewer"})).await.0,
        StatusCode::CONFLICT
    );
    let (_, users) = app.get("/api/v1/users").await;
    assert!(!users.to_string().contains("argon2"), "password hashes are shown: {users}");

    let carol = session_of(&login(&app, "carol", "carol's password", "192.0.2.7").await);
    let app = &app;
    let patch = |user: &str, body: Value| {
        let path = format!("/api/v1/users/{user}");
        async move { app.call("PATCH", &path, &[("content-type", "application/json")], body.to_string().into_bytes()).await }
    };
    assert_eq!(patch("carol", json!({"disabled": true})).await.0, StatusCode::OK);
    let me = send(&app.app, with_cookie("GET", "/api/v1/auth/me", &carol, &[], None), None).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "a disabled user's session goes on");
    assert_eq!(login(app, "carol", "carol's password", "192.0.2.7").await.status, StatusCode::UNAUTHORIZED);

    assert_eq!(
        post(json!({"username": "root", "password": "root's password", "role": "admin"})).await.0,
        StatusCode::CREATED
    );
    let (status, body) = patch("root", json!({"role": "viewer"})).await;
    assert_eq!((status, body["error"]["code"].clone()), (StatusCode::CONFLICT, json!("last_admin")));
    assert_eq!(app.call("DELETE", "/api/v1/users/root", &[], vec![]).await.0, StatusCode::CONFLICT);
    assert_eq!(app.call("DELETE", "/api/v1/users/carol", &[], vec![]).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.call("DELETE", "/api/v1/users/carol", &[], vec![]).await.0, StatusCode::NOT_FOUND);

    // A user changes their own password; their other sessions end.
    let first = session_of(&login(app, "root", "root's password", "192.0.2.8").await);
    let change = json!({"current_password": "root's password", "new_password": "root's new password"});
    let same = [("sec-fetch-site", "same-origin")];
    let wrong = json!({"current_password": "nope", "new_password": "root's new password"});
    let a = send(&app.app, with_cookie("POST", "/api/v1/auth/password", &first, &same, Some(wrong)), None).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = send(&app.app, with_cookie("POST", "/api/v1/auth/password", &first, &same, Some(change)), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let fresh = session_of(&a);
    assert_eq!(
        send(&app.app, with_cookie("GET", "/api/v1/auth/me", &first, &[], None), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&app.app, with_cookie("GET", "/api/v1/auth/me", &fresh, &[], None), None).await.status,
        StatusCode::OK
    );
    assert_eq!(login(app, "root", "root's new password", "192.0.2.8").await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_setup_link_makes_the_first_admin_once() {
    let app = App::start().await;
    app.store
        .user_repo()
        .set_setup_token("the-setup-token", chrono::Utc::now() + chrono::TimeDelta::hours(1))
        .await
        .unwrap();
    let setup = |token: &str, user: &str| {
        let body = json!({"token": token, "username": user, "password": "first admin's password"});
        send(&app.app, request("post", "/api/v1/auth/setup", None, Some(body)), Some("192.0.2.9"))
    };
    assert_eq!(setup("a-guess", "eve").await.status, StatusCode::FORBIDDEN);
    let made = setup("the-setup-token", "first").await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let me = send(&app.app, with_cookie("GET", "/api/v1/auth/me", &session_of(&made), &[], None), None).await;
    assert_eq!(me.body["role"], "admin");
    assert_eq!(setup("the-setup-token", "second").await.status, StatusCode::FORBIDDEN, "the link worked twice");
}

#[tokio::test]
async fn the_audit_log_records_who_did_what_and_refuses_changes() {
    let app = App::start().await;
    add_user(&app, "dave", "dave's long password", Role::Admin).await;
    login(&app, "dave", "typo", "198.51.100.4").await;
    let dave = session_of(&login(&app, "dave", "dave's long password", "198.51.100.4").await);
    let same = [("sec-fetch-site", "same-origin")];
    let key = json!({"name": "ci", "role": "operator"});
    let made =
        send(&app.app, with_cookie("POST", "/api/v1/api-keys", &dave, &same, Some(key)), Some("198.51.100.4")).await;
    let secret = made.body["key"].as_str().unwrap().to_string();
    let run = json!({"agent": "zfs-health", "node": "truenas"});
    let started = send(&app.app, request("post", "/api/v1/runs", Some(&secret), Some(run)), Some("198.51.100.5")).await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);

    let (status, audit) = app.get("/api/v1/audit").await;
    assert_eq!(status, StatusCode::OK);
    let entries = audit["items"].as_array().unwrap();
    let find = |action: &str| {
        entries.iter().find(|e| e["action"] == action).unwrap_or_else(|| panic!("no {action} in {audit:#}"))
    };
    assert_eq!(find("auth.login_failed")["actor"], "dave");
    assert_eq!(find("auth.login")["ip"], "198.51.100.4");
    assert_eq!(find("api_key.created")["actor"], "dave");
    let run_started = find("run.started");
    assert_eq!((run_started["actor_kind"].as_str(), run_started["actor"].as_str()), (Some("api_key"), Some("ci")));
    assert_eq!(run_started["target"], started.body["id"]);
    assert_eq!(find("sync.applied")["actor_kind"], "git");
    assert!(!audit.to_string().contains(&secret) && !audit.to_string().contains("dave's long password"));
    let (_, only) = app.get("/api/v1/audit?action=auth.*&actor=dave").await;
    assert!(only["items"].as_array().unwrap().iter().all(|e| e["action"].as_str().unwrap().starts_with("auth.")));
    let (_, page) = app.get("/api/v1/audit?limit=1").await;
    let cursor = page["next"].as_str().expect("a next page");
    let (_, next) = app.get(&format!("/api/v1/audit?limit=1&before={cursor}")).await;
    assert!(next["items"][0]["id"].as_i64() < page["items"][0]["id"].as_i64());

    for change in ["UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log", "TRUNCATE audit_log"] {
        let e = sqlx::query(change).execute(app.store.pool()).await.unwrap_err();
        assert!(e.to_string().contains("append-only"), "{change}: {e}");
    }
}

#[tokio::test]
async fn an_enrollment_token_works_once_for_its_node_and_the_node_key_can_be_revoked() {
    let app = App::start().await;
    let json_header = [("content-type", "application/json")];
    let (status, made) = app
        .call("POST", "/api/v1/enrollment-tokens", &json_header, json!({"node": "probe"}).to_string().into_bytes())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let token = made["token"].as_str().unwrap().to_string();
    assert_eq!(
        made["command"],
        format!("curl -sSL http://car.lan:8000/install | bash -s -- --token {token} --name probe")
    );
    let enroll = |name: &str, token: &str| {
        let body = json!({"token": token, "name": name, "port": 8101});
        send(&app.app, request("post", "/api/v1/nodes/enroll", None, Some(body)), Some("192.0.2.50"))
    };
    let wrong = enroll("other", &token).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert!(wrong.body["error"]["message"].as_str().unwrap().contains("for node probe, not other"));
    let ok = enroll("probe", &token).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    assert_eq!(ok.body["node"]["address"], "http://192.0.2.50:8101", "the address as the server saw it");
    let key = ok.body["key"].as_str().unwrap().to_string();
    let again = enroll("probe", &token).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert!(again.body["error"]["message"].as_str().unwrap().contains("used already, by probe"), "{}", again.body);
    assert_eq!(enroll("probe", "care_made-up").await.status, StatusCode::FORBIDDEN);
    let (_, short) = app
        .call(
            "POST",
            "/api/v1/enrollment-tokens",
            &json_header,
            json!({"expires_in_minutes": 1}).to_string().into_bytes(),
        )
        .await;
    sqlx::query("UPDATE enrollment_tokens SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(short["id"].as_str().unwrap())
        .execute(app.store.pool())
        .await
        .unwrap();
    let late = enroll("late", short["token"].as_str().unwrap()).await;
    assert!(late.body["error"]["message"].as_str().unwrap().contains("expired"), "{}", late.body);
    assert!(!common::dump(&app.store).await.contains(&token), "the enrollment token is stored as written");
    assert!(!common::dump(&app.store).await.contains(&key), "the node key is stored as written");

    // Enrolled, not declared: listed, and drift says so.
    let (_, nodes) = app.get("/api/v1/nodes").await;
    let probe = nodes["nodes"].as_array().unwrap().iter().find(|n| n["name"] == "probe").unwrap().clone();
    assert_eq!(
        (probe["declared"].clone(), probe["enrolled"]["address"].clone()),
        (json!(false), json!("http://192.0.2.50:8101"))
    );
    let (_, drift) = app.get("/api/v1/drift").await;
    assert!(
        drift["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["object"] == "Node/probe" && i["kind"] == "node.undeclared")
    );

    // The key speaks for its node only.
    let beat = send(&app.app, request("post", "/api/v1/nodes/probe/heartbeat", Some(&key), None), None).await;
    assert_eq!(beat.status, StatusCode::ACCEPTED);
    assert_eq!(beat.body["keys"].as_array().unwrap().len(), 1);
    let read = send(&app.app, request("get", "/api/v1/nodes", Some(&key), None), None).await;
    assert_eq!(read.status, StatusCode::FORBIDDEN);

    let (status, revoked) = app.call("POST", "/api/v1/nodes/probe/keys/revoke", &[], vec![]).await;
    assert_eq!((status, revoked["revoked"].clone()), (StatusCode::OK, json!(1)));
    let beat = send(&app.app, request("post", "/api/v1/nodes/probe/heartbeat", Some(&key), None), None).await;
    assert_eq!(
        (beat.status, beat.body["error"]["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("node_key_revoked"))
    );
    let (_, nodes) = app.get("/api/v1/nodes").await;
    assert!(nodes["nodes"].as_array().unwrap().iter().all(|n| n["name"] != "probe"), "a revoked node stays listed");
    let (_, audit) = app.get("/api/v1/audit?action=node.*").await;
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions[0], "node.key_revoked");
    assert_eq!(actions.iter().filter(|a| **a == "node.enrolled").count(), 1);
    assert_eq!(actions.iter().filter(|a| **a == "node.enroll_refused").count(), 4, "{actions:?}");
}

#[tokio::test]
async fn rotating_the_key_of_a_node_whose_runner_is_down_is_a_conflict_and_changes_nothing() {
    let app = App::start().await;
    let key = enrolled_node(&app, "probe").await;
    let (status, body) = app.call("POST", "/api/v1/nodes/probe/keys/rotate", &[], vec![]).await;
    assert_eq!((status, body["error"]["code"].clone()), (StatusCode::CONFLICT, json!("runner_unreachable")), "{body}");
    let (_, keys) = app.get("/api/v1/nodes/probe/keys").await;
    let states: Vec<&str> = keys["keys"].as_array().unwrap().iter().map(|k| k["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["current"], "{keys}");
    let beat = send(&app.app, request("post", "/api/v1/nodes/probe/heartbeat", Some(&key), None), None).await;
    assert_eq!(beat.status, StatusCode::ACCEPTED, "the old key still works");
}

#[tokio::test]
async fn secrets_are_stored_encrypted_listed_without_values_and_need_their_key() {
    let app = App::start().await;
    let app = &app;
    let put = |name: &str, value: &str| {
        let (path, body) = (format!("/api/v1/secrets/{name}"), json!({"value": value}).to_string());
        async move { app.call("PUT", &path, &[("content-type", "application/json")], body.into_bytes()).await }
    };
    assert_eq!(put("gotify-token", "the-gotify-app-token").await.0, StatusCode::CREATED);
    assert_eq!(put("gotify-token", "the-new-gotify-token").await.0, StatusCode::OK);
    assert_eq!(put("Bad_Name", "x").await.0, StatusCode::BAD_REQUEST);
    let (_, list) = app.get("/api/v1/secrets").await;
    assert_eq!(list["secrets"][0]["name"], "gotify-token");
    assert!(!list.to_string().contains("the-new-gotify-token"), "the list shows the value");
    let dump = common::dump(&app.store).await;
    assert!(!dump.contains("the-new-gotify-token") && !dump.contains("the-gotify-app-token"), "stored as written");
    let r = car_schemas::values::SecretRef::Secret("gotify-token".into());
    assert_eq!(app.state.secrets.resolve(&r).await.unwrap(), "the-new-gotify-token");
    assert!(
        app.state.secrets.redactor().redact_str("x the-new-gotify-token").contains("[redacted secret gotify-token]")
    );

    let other = car_server::trust::secrets::MasterKey::parse(&"77".repeat(32)).unwrap();
    let e = car_server::trust::secrets::Secrets::open(app.store.clone(), other, Box::new(|_| None), Vec::new())
        .await
        .err()
        .unwrap();
    assert!(e.to_string().contains("SECRET_KEY does not match"), "{e}");

    assert_eq!(app.call("DELETE", "/api/v1/secrets/gotify-token", &[], vec![]).await.0, StatusCode::NO_CONTENT);
    assert!(app.state.secrets.resolve(&r).await.is_err());
    let (_, audit) = app.get("/api/v1/audit?action=secret.*").await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 3);
    assert!(!audit.to_string().contains("gotify-app-token"));
}

#[tokio::test]
async fn the_values_of_the_env_references_in_the_config_are_redacted_and_no_others() {
    let app = App::start().await;
    let env: car_server::trust::secrets::EnvLookup = Box::new(|k| match k {
        "TOWER_RUNNER_TOKEN" => Some("tower-token-value-123".into()),
        "GOTIFY_TOKEN" => Some("gotify-token-value-456".into()),
        "UNRELATED_VARIABLE" => Some("not-a-secret-at-all".into()),
        _ => None,
    });
    let key = car_server::trust::secrets::MasterKey::parse(&"5e".repeat(32)).unwrap();
    let secrets = car_server::trust::secrets::Secrets::open(app.store.clone(), key, env, Vec::new()).await.unwrap();
    let text = "tower-token-value-123 gotify-token-value-456 not-a-secret-at-all";
    assert_eq!(
        secrets.redactor().redact_str(text),
        "[redacted TOWER_RUNNER_TOKEN] [redacted GOTIFY_TOKEN] not-a-secret-at-all"
    );
}
