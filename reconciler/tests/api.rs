//! The HTTP API with the sync loop running against real PostgreSQL and git:
//! push webhooks (signed, forged, bursts, other branches), sync status, live
//! objects, overrides and drift, and the OpenAPI document.

mod common;

use common::Repos;

use std::time::Duration;

use axum::http::StatusCode;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

use common::app::{App as Server, SECRET};

async fn push(s: &Server, branch: &str, signature: Option<String>) -> (StatusCode, Value) {
    let body = serde_json::to_vec(&json!({"ref": format!("refs/heads/{branch}"), "after": "x"})).unwrap();
    let sig = signature.unwrap_or_else(|| sign(&body));
    let headers =
        [("x-github-event", "push"), ("x-hub-signature-256", sig.as_str()), ("content-type", "application/json")];
    s.call("POST", "/api/v1/webhooks/git", &headers, body).await
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn node(name: &str) -> String {
    format!("apiVersion: car/v1\nkind: Node\nmetadata:\n  name: {name}\nspec:\n  os: linux\n")
}

#[tokio::test]
async fn a_forged_webhook_is_401_and_triggers_nothing_while_a_signed_one_applies() {
    let mut s = Server::start().await;
    let before = s.applied().await;
    s.repo.write("nodes/new.yaml", node("new"));
    let head = s.repo.commit("add a node");

    let (status, body) = push(&s, "main", Some(format!("sha256={}", "0".repeat(64)))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
    assert_eq!(body["error"]["message"], "webhook refused: X-Hub-Signature-256 does not match GIT_WEBHOOK_SECRET");
    let (status, _) = s.call("POST", "/api/v1/webhooks/git", &[], b"{}".to_vec()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(s.applied().await, before, "a forged push changed live state");

    let (status, body) = push(&s, "main", None).await;
    assert_eq!((status, body), (StatusCode::ACCEPTED, json!({"queued": true})));
    s.wait_applied(Some(&head)).await;
}

#[tokio::test]
async fn a_burst_of_pushes_syncs_once_per_distinct_head() {
    let mut s = Server::start().await;
    s.repo.write("nodes/new.yaml", node("new"));
    let head = s.repo.commit("add a node");
    for _ in 0..5 {
        assert_eq!(push(&s, "main", None).await.0, StatusCode::ACCEPTED);
    }
    s.wait_applied(Some(&head)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let history = s.store.config_repo().history(20).await.unwrap();
    let revisions: Vec<&str> = history.iter().map(|h| h.revision.as_str()).collect();
    assert_eq!(revisions.len(), 2, "{revisions:?}");
    assert_eq!(revisions[0], head);
    assert_eq!(history[0].trigger, car_server::config::sync::Trigger::Webhook);
}

#[tokio::test]
async fn a_push_to_another_branch_queues_nothing() {
    let s = Server::start().await;
    s.repo.commit_on("dev", "work in progress");
    let (status, body) = push(&s, "dev", None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        body,
        json!({"queued": false, "reason": "push to refs/heads/dev, the config branch is refs/heads/main"})
    );
}

#[tokio::test]
async fn sync_status_shows_errors_at_file_and_line_and_the_last_good_revision() {
    let mut s = Server::start().await;
    let good = s.applied().await.unwrap();
    let (_, v) = s.get("/api/v1/sync").await;
    assert_eq!(v["status"], "Synced");
    assert_eq!(v["revision"], good.as_str());

    s.repo.write(
        "schedules/storage-watch.yaml",
        s.repo.read("schedules/storage-watch.yaml").replace("every: 6h", "every: 6 hours"),
    );
    let bad = s.repo.commit("break a schedule");
    push(&s, "main", None).await;
    let mut v = Value::Null;
    for _ in 0..200 {
        v = s.get("/api/v1/sync").await.1;
        if v["status"] == "Error" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(v["status"], "Error", "{v}");
    assert_eq!(v["revision"], bad.as_str());
    assert_eq!(v["last_attempted"]["revision"], bad.as_str());
    assert_eq!(v["last_applied"]["revision"], good.as_str());
    let e = &v["errors"][0];
    assert_eq!(e["file"], "schedules/storage-watch.yaml");
    assert_eq!(e["message"], "\"6 hours\" is not a duration");
    assert!(e["line"].as_u64().unwrap() > 1 && e["column"].as_u64().unwrap() > 1);
    let broken = v["objects"].as_array().unwrap().iter().find(|o| o["name"] == "storage-watch").unwrap();
    assert_eq!(broken["status"], "Error");
    assert_eq!(v["history"][0]["outcome"], "invalid");
    assert_eq!(v["history"][0]["message"], "break a schedule");
    assert_eq!(v["history"][1]["outcome"], "applied");
}

#[tokio::test]
async fn live_objects_carry_their_revision_and_unknown_ones_are_404() {
    let s = Server::start().await;
    let rev = s.applied().await.unwrap();
    let (status, v) = s.get("/api/v1/nodes").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = v["nodes"].as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["homeserver", "local", "tower", "truenas"]);
    assert_eq!(v["nodes"][2]["revision"], rev.as_str());
    assert_eq!(v["nodes"][2]["spec"]["os"], "unraid");
    assert_eq!(v["nodes"][2]["health"]["health"], "red");
    let (status, v) = s.get("/api/v1/agents/zfs-health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["file"], "agents/zfs-health.yaml");
    // Only truenas offers the zfs it requires (none of the nodes reported anything yet).
    assert_eq!((v["nodes"].clone(), v["schedules"].clone()), (json!(["truenas"]), json!(["storage-watch"])));
    let (status, v) = s.get("/api/v1/agents/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["message"], "no Agent named \"nope\" is live");
    let (_, v) = s.get("/api/v1/agents").await;
    assert_eq!(v["agents"].as_array().unwrap().len(), 7);
    let (status, v) = s.get("/api/v1/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["hint"], "see /openapi.json for the API");
}

#[tokio::test]
async fn drift_lists_runnerless_nodes_and_a_paused_schedule_until_resumed() {
    let s = Server::start().await;
    let (_, drift) = s.get("/api/v1/drift").await;
    let kinds: Vec<(&str, &str)> = drift["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["kind"].as_str().unwrap(), i["object"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("node.never_connected", "Node/homeserver"),
            ("node.never_connected", "Node/local"),
            ("node.never_connected", "Node/tower"),
            ("node.never_connected", "Node/truenas")
        ]
    );
    assert!(drift["items"][2]["fix"].as_str().unwrap().contains("curl -sSL http://car.lan:8000/install"));

    let body = serde_json::to_vec(&json!({"reason": "disk swap tonight"})).unwrap();
    let (status, _) = s
        .call("POST", "/api/v1/schedules/daily-maintenance/pause", &[("content-type", "application/json")], body)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, v) = s.get("/api/v1/schedules").await;
    let daily = v["schedules"].as_array().unwrap().iter().find(|x| x["name"] == "daily-maintenance").unwrap().clone();
    assert_eq!((daily["paused"].clone(), daily["paused_reason"].clone()), (json!(true), json!("disk swap tonight")));
    let (_, drift) = s.get("/api/v1/drift").await;
    let item = drift["items"].as_array().unwrap().iter().find(|i| i["kind"] == "override").unwrap().clone();
    assert_eq!(item["object"], "Schedule/daily-maintenance");
    assert_eq!(item["message"], "Schedule daily-maintenance has paused = true set outside git (disk swap tonight)");

    assert_eq!(s.call("POST", "/api/v1/schedules/daily-maintenance/resume", &[], vec![]).await.0, StatusCode::OK);
    assert_eq!(
        s.call("POST", "/api/v1/schedules/daily-maintenance/resume", &[], vec![]).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(s.call("POST", "/api/v1/schedules/nope/pause", &[], vec![]).await.0, StatusCode::NOT_FOUND);
    let (_, drift) = s.get("/api/v1/drift").await;
    assert!(drift["items"].as_array().unwrap().iter().all(|i| i["kind"] != "override"));
}

#[tokio::test]
async fn a_heartbeat_of_a_declared_node_asks_for_a_look() {
    let s = Server::start().await;
    let (status, body) = s.call("POST", "/api/v1/nodes/tower/heartbeat", &[], vec![]).await;
    assert_eq!((status, body["queued"].clone()), (StatusCode::ACCEPTED, json!(true)));
    let (status, body) = s.call("POST", "/api/v1/nodes/ghost/heartbeat", &[], vec![]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["message"], "no node \"ghost\" is declared or enrolled");
}

#[tokio::test]
async fn health_readiness_and_refresh() {
    let s = Server::start().await;
    assert_eq!(s.get("/healthz").await.0, StatusCode::OK);
    assert_eq!(s.get("/readyz").await, (StatusCode::OK, json!({"ready": true})));
    assert_eq!(
        s.call("POST", "/api/v1/sync/refresh", &[], vec![]).await,
        (StatusCode::ACCEPTED, json!({"queued": true}))
    );
}

#[tokio::test]
async fn every_route_is_in_the_openapi_document() {
    let s = Server::start().await;
    let (status, doc) = s.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let paths: Vec<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    for p in [
        "/healthz",
        "/readyz",
        "/api/v1/sync",
        "/api/v1/sync/refresh",
        "/api/v1/webhooks/git",
        "/api/v1/nodes",
        "/api/v1/nodes/{name}",
        "/api/v1/nodes/{name}/heartbeat",
        "/api/v1/agents",
        "/api/v1/agents/{name}",
        "/api/v1/schedules",
        "/api/v1/schedules/{name}/pause",
        "/api/v1/schedules/{name}/resume",
        "/api/v1/drift",
    ] {
        assert!(paths.contains(&p), "{p} missing from {paths:?}");
    }
}

#[tokio::test]
async fn the_documented_patterns_accept_exactly_what_the_server_accepts() {
    let s = Server::start().await;
    let (_, doc) = s.get("/openapi.json").await;
    let mut patterns = std::collections::BTreeSet::new();
    collect_patterns(&doc, &mut patterns);
    let matches = |pattern: &str, text: &str| regex::Regex::new(pattern).unwrap().is_match(text);
    let name = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";
    assert!(patterns.contains(name), "{patterns:?}");
    for text in ["a", "zfs-health", "a1", "-a", "a-", "A", "a_b", "", &"a".repeat(63), &"a".repeat(64), "ä"] {
        let server = text.parse::<car_schemas::values::Name>().is_ok();
        assert_eq!(matches(name, text), server, "{text:?}: the document and the server disagree");
    }
    let user = "^[A-Za-z0-9._@-]{1,64}$";
    assert!(patterns.contains(user));
    // Every pattern is one of the known ones, written the same everywhere.
    let known = [
        name,
        user,
        "^(agent|node|day)$",
        "^([0-9]{1,9}(ms|s|m|h|d))+$",
        "^[^\\u0000]*$",
        "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$",
        "^https?://[A-Za-z0-9.:\\[\\]-]+(/[!-~]*)?$",
        "^[A-Za-z0-9_]{1,32}$",
        "^[A-Za-z][A-Za-z0-9_-]{0,127}$",
        "^/[^\\u0000]{0,4095}$",
    ];
    for p in &patterns {
        assert!(known.contains(&p.as_str()), "an unknown pattern {p:?}: add it here with a check of what it means");
    }
    for text in ["30s", "6h", "1h30m", "500ms"] {
        assert!(matches(known[3], text) && text.parse::<car_schemas::values::Duration>().is_ok(), "{text}");
    }
    // A can-i question's tool and folder: the server answers 200 exactly where the document says it may.
    for tool in ["Bash", "mcp__gotify__send", "Read", "", "1Bash", "Ba sh", "Bash;", &"B".repeat(128), &"B".repeat(129)]
    {
        let accepted =
            can_i(&s, "zfs-health", json!({"tool": tool, "input": {"command": "ls"}})).await.0 == StatusCode::OK;
        assert_eq!(matches(known[8], tool), accepted, "tool {tool:?}: the document and the server disagree");
    }
    for cwd in
        ["/", "/srv/app", "srv", "", "/a\u{0}b", &format!("/{}", "a".repeat(4095)), &format!("/{}", "a".repeat(4096))]
    {
        let accepted =
            can_i(&s, "zfs-health", json!({"input": {"command": "ls"}, "cwd": cwd})).await.0 == StatusCode::OK;
        assert_eq!(matches(known[9], cwd), accepted, "cwd {cwd:?}: the document and the server disagree");
    }
}

/// Asks agent `agent`'s policy about a call.
async fn can_i(s: &Server, agent: &str, body: Value) -> (StatusCode, Value) {
    let path = format!("/api/v1/agents/{agent}/can-i");
    s.call("POST", &path, &[("content-type", "application/json")], body.to_string().into_bytes()).await
}

#[tokio::test]
async fn can_i_answers_what_an_agents_policy_would_do_without_running_anything() {
    let s = Server::start().await;
    let ask = |body: Value| can_i(&s, "zfs-health", body);
    let (status, body) = ask(json!({"input": {"command": "zpool status -x && zpool events -c"}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["decision"], "deny");
    assert_eq!(body["rule"], "default: read-only agent");
    assert_eq!(body["parts"][0]["decision"], "allow");
    assert_eq!(body["parts"][0]["rule"], "Bash(zpool status *)");
    assert_eq!(body["parts"][1]["words"], json!(["zpool", "events", "-c"]));
    assert_eq!(body["parts"][1]["only_reads"], false);
    let (_, body) = ask(json!({"tool": "Read", "input": {"file_path": "/etc/hostname"}})).await;
    assert_eq!((body["decision"].as_str(), body["parts"].as_array().map(Vec::len)), (Some("allow"), Some(0)));
    let (status, body) = ask(json!({"tool": "Bash", "input": "ls"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = ask(json!({"input": {}})).await;
    assert_eq!((status, body["rule"].as_str()), (StatusCode::OK, Some("built-in: malformed input")));
    let (status, _) = can_i(&s, "nope", json!({"input": {"command": "ls"}})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn collect_patterns(v: &Value, out: &mut std::collections::BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(p)) = map.get("pattern") {
                out.insert(p.clone());
            }
            map.values().for_each(|v| collect_patterns(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_patterns(v, out)),
        _ => {}
    }
}

#[test]
fn the_committed_openapi_document_is_current() {
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/json/openapi.json");
    let committed = std::fs::read_to_string(&committed).unwrap_or_default();
    assert!(
        committed == car_server::cli::schema::openapi_text(),
        "schemas/json/openapi.json is stale: run `cargo run -p car-server -- schema --out schemas/json --docs docs/api.md`, then \
         regenerate the TypeScript client and docs (`npm --prefix ui run generate`), and commit the result"
    );
}

#[tokio::test]
async fn the_served_document_is_the_committed_one() {
    let s = Server::start().await;
    let (status, doc) = s.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc, serde_json::from_str::<Value>(&car_server::cli::schema::openapi_text()).unwrap());
}

#[test]
fn the_committed_api_reference_is_current() {
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/api.md");
    let committed = std::fs::read_to_string(&committed).unwrap_or_default();
    assert!(
        committed == car_server::cli::schema::reference_text(),
        "docs/api.md is stale: run `cargo run -p car-server -- schema --out schemas/json --docs docs/api.md` and commit it"
    );
}

/// A GET on the dashboard port, as a browser makes it: status, headers, body as text.
async fn page(server: &Server, path: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = axum::http::Request::get(path).body(axum::body::Body::empty()).unwrap();
    let resp = server.ui.clone().oneshot(req).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn the_dashboard_port_serves_the_app_at_every_page_path_and_json_at_the_api() {
    let server = Server::start().await;
    for path in ["/", "/login", "/runs/run_20261206120000_0123456789abcdef", "/agents/zfs-health", "/sync"] {
        let (status, headers, body) = page(&server, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(body.contains("<div id=\"root\">"), "{path}: {body}");
        assert_eq!(headers["cache-control"], "no-cache", "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self';"), "{path}: {csp}");
    }
    let (_, _, index) = page(&server, "/").await;
    assert!(!index.contains("not built into this server"), "car-server was built without the dashboard (npm missing?)");
    let script = format!("/assets/{}", index.split("src=\"/assets/").nth(1).expect(&index).split('"').next().unwrap());
    let (status, headers, body) = page(&server, &script).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/javascript");
    assert_eq!(headers["cache-control"], "public, max-age=31536000, immutable");
    assert!(body.len() > 1000);
    let (status, _, _) = page(&server, "/assets/index-gone.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an old version's asset is not the app");
    let (status, headers, body) = page(&server, "/api/v1/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["content-type"], "application/json");
    assert!(body.contains("no such endpoint"), "{body}");
    let (status, _, body) = page(&server, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test]
async fn a_websocket_route_asked_over_plain_http_says_so_in_the_apis_own_error() {
    let s = Server::start().await;
    for path in ["/api/v1/live", "/api/v1/runs/run_nope/stream"] {
        let (status, v) = s.get(path).await;
        let expected = if path.contains("run_nope") { StatusCode::NOT_FOUND } else { StatusCode::BAD_REQUEST };
        assert_eq!(status, expected, "{path}: {v}");
        assert!(v["error"]["hint"].is_string(), "{path}: {v}");
    }
    let (_, v) = s.get("/api/v1/live").await;
    assert!(v["error"]["message"].as_str().unwrap().starts_with("this is a WebSocket"), "{v}");
}
