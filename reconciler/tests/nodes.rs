//! Node reconcile against runners that answer, refuse, lie or are gone,
//! and the drift and health each leaves behind.

mod common;

use common::Repos;

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use car_server::config::sync::Trigger;
use car_server::db::Store;
use car_server::nodes::drift::{self, Health};
use car_server::nodes::reconcile as node;
use car_server::tasks::reconcile::Action;
use car_testkit::git::ConfigRepo;
use serde_json::{Value, json};

/// A stand-in runner health endpoint: answers `health` to `Bearer token`.
async fn runner(token: &'static str, health: Value) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/v1/health",
        get(move |h: HeaderMap| {
            let health = health.clone();
            async move {
                if h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {token}")) {
                    (StatusCode::OK, axum::Json(health))
                } else {
                    (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "no"})))
                }
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn node_doc(name: &str, address: &str, token_env: &str, agents: &str) -> String {
    format!(
        "apiVersion: car/v1\nkind: Node\nmetadata: {{name: {name}}}\nspec:\n  os: linux\n  address: {address}\n  token: {{env: {token_env}}}\n  agents: {agents}\n"
    )
}

const AGENT: &str =
    "apiVersion: car/v1\nkind: Agent\nmetadata: {name: zfs-check}\nspec:\n  prompt: Check pools.\n  requires: [zfs]\n";

/// The server's environment holding one variable.
fn env_with(name: &'static str, value: &'static str) -> car_server::trust::secrets::EnvLookup {
    Box::new(move |k| (k == name).then(|| value.to_string()))
}

async fn setup(nodes: &[String]) -> (Store, tempfile::TempDir, ConfigRepo) {
    let mut repo = ConfigRepo::new();
    repo.write("agent.yaml", AGENT);
    for (i, n) in nodes.iter().enumerate() {
        repo.write(&format!("node{i}.yaml"), n.as_str());
    }
    repo.commit("nodes");
    let (store, data) = (common::store().await, tempfile::tempdir().unwrap());
    common::syncer(&store, &repo.url(), data.path()).await.sync_once(Trigger::Start).await.unwrap();
    (store, data, repo)
}

/// A node reconcile's context over `store`'s live config.
async fn context(store: &Store, secrets: std::sync::Arc<car_server::trust::secrets::Secrets>) -> node::NodeContext {
    let runners = car_server::nodes::client::Runners::new(common::live(store).await, store.clone(), secrets);
    node::NodeContext {
        runners,
        repo: store.node_repo(),
        away_grace: std::time::Duration::from_secs(60),
        resource_limits: Default::default(),
    }
}

async fn drift_of(store: &Store, version: &str) -> drift::Drift {
    drift::compute(&drift::Inputs {
        config: &common::live(store).await.now(),
        observations: &store.node_repo().observations().await.unwrap(),
        server_version: version,
        install_hint: "run the install script".into(),
    })
}

#[tokio::test]
async fn a_healthy_runner_is_recorded_and_checked_again_later() {
    let env = env_with("HEALTHY_NODE_TOKEN", "tok-1");
    let url = runner(
        "tok-1",
        json!({"version": "0.1.0", "os": "linux", "capabilities": {"zfs": true, "docker": false},
                               "sandbox": "landlock v7"}),
    )
    .await;
    let (store, _d, _r) = setup(&[node_doc("nas", &url, "HEALTHY_NODE_TOKEN", "[zfs-check]")]).await;
    let ctx = context(&store, common::secrets(&store, env).await).await;
    assert_eq!(node::reconcile("nas".into(), &ctx).await.unwrap(), Action::Requeue(node::HEALTHY_INTERVAL));
    let obs = store.node_repo().observations().await.unwrap();
    assert_eq!(obs[0].version.as_deref(), Some("0.1.0"));
    assert_eq!(obs[0].capabilities, ["zfs"]);
    assert_eq!(obs[0].sandbox.as_deref(), Some("landlock v7"));
    assert!(obs[0].reachable && obs[0].last_seen.is_some());
    let d = drift_of(&store, "0.1.0").await;
    assert!(d.items.is_empty(), "{:?}", d.items);
    assert_eq!(d.nodes[0].health, Health::Green);
}

#[tokio::test]
async fn an_old_runner_without_a_required_capability_is_yellow() {
    let env = env_with("OLD_NODE_TOKEN", "tok-2");
    let url = runner("tok-2", json!({"version": "0.0.9", "capabilities": ["docker"], "sandbox": "landlock v5"})).await;
    let (store, _d, _r) = setup(&[node_doc("old", &url, "OLD_NODE_TOKEN", "[zfs-check]")]).await;
    let ctx = context(&store, common::secrets(&store, env).await).await;
    node::reconcile("old".into(), &ctx).await.unwrap();
    let d = drift_of(&store, "0.1.0").await;
    let kinds: Vec<&str> = d.items.iter().map(|i| i.kind.as_str()).collect();
    assert_eq!(kinds, ["runner.outdated", "node.missing_capability"]);
    assert_eq!(d.items[1].message, "node old lacks zfs that agent zfs-check requires");
    assert_eq!(d.nodes[0].health, Health::Yellow);
}

#[tokio::test]
async fn a_refused_token_or_a_dead_runner_is_an_error_with_the_reason() {
    let env = env_with("WRONG_NODE_TOKEN", "not-the-token");
    let url = runner("tok-3", json!({"version": "0.1.0"})).await;
    let dead = format!(
        "http://127.0.0.1:{}",
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    );
    let (store, _d, _r) = setup(&[
        node_doc("wrong", &url, "WRONG_NODE_TOKEN", "[]"),
        node_doc("dead", &dead, "WRONG_NODE_TOKEN", "[]"),
        node_doc("unset", &url, "NO_SUCH_TOKEN_VARIABLE", "[]"),
    ])
    .await;
    let ctx = context(&store, common::secrets(&store, env).await).await;
    let e = node::reconcile("wrong".into(), &ctx).await.unwrap_err().to_string();
    assert!(e.contains("refused the token (hint: the node's token in git must match the runner's RUNNER_TOKEN"), "{e}");
    let e = node::reconcile("dead".into(), &ctx).await.unwrap_err().to_string();
    assert!(e.contains("is unreachable"), "{e}");
    let e = node::reconcile("unset".into(), &ctx).await.unwrap_err().to_string();
    assert!(e.contains("NO_SUCH_TOKEN_VARIABLE is not set on the server"), "{e}");
    let d = drift_of(&store, "0.1.0").await;
    assert!(d.nodes.iter().all(|n| n.health == Health::Red));
    assert!(d.items.iter().all(|i| i.kind.as_str() == "node.never_connected"));
}

#[tokio::test]
async fn a_runner_that_hangs_costs_at_most_the_probe_timeout() {
    let env = env_with("SLOW_NODE_TOKEN", "t");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts connections and never answers.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let (store, _d, _r) = setup(&[node_doc("slow", &format!("http://{addr}"), "SLOW_NODE_TOKEN", "[]")]).await;
    let ctx = context(&store, common::secrets(&store, env).await).await;
    let t = std::time::Instant::now();
    let e = node::reconcile("slow".into(), &ctx).await.unwrap_err().to_string();
    assert!(t.elapsed() < node::PROBE_TIMEOUT + Duration::from_secs(2));
    assert!(e.contains("did not answer in 5s"), "{e}");
}

#[tokio::test]
async fn a_node_removed_from_git_is_not_probed() {
    let (store, _d, _r) = setup(&[]).await;
    let secrets = common::secrets(&store, env_with("X", "y")).await;
    let ctx = context(&store, secrets).await;
    assert_eq!(node::reconcile("gone".into(), &ctx).await.unwrap(), Action::AwaitChange);
}

#[tokio::test]
async fn a_node_without_landlock_is_yellow_unless_git_accepts_the_risk_which_shows_too() {
    let env = env_with("PLAIN_NODE_TOKEN", "tok-5");
    let bare = runner("tok-5", json!({"version": "0.1.0", "capabilities": ["zfs"], "sandbox": null})).await;
    let jailed = runner("tok-5", json!({"version": "0.1.0", "capabilities": ["zfs"], "sandbox": "landlock v7"})).await;
    let unenforced = |name: &str, url: &str| {
        format!("{}  sandbox: unenforced\n", node_doc(name, url, "PLAIN_NODE_TOKEN", "[zfs-check]"))
    };
    let (store, _d, _r) = setup(&[
        node_doc("old-kernel", &bare, "PLAIN_NODE_TOKEN", "[zfs-check]"),
        unenforced("accepted", &bare),
        unenforced("needless", &jailed),
    ])
    .await;
    let ctx = context(&store, common::secrets(&store, env).await).await;
    for n in ["old-kernel", "accepted", "needless"] {
        node::reconcile(n.into(), &ctx).await.unwrap();
    }
    let d = drift_of(&store, "0.1.0").await;
    let items: Vec<(&str, &str)> = d.items.iter().map(|i| (i.object.as_str(), i.kind.as_str())).collect();
    assert_eq!(
        items,
        [
            ("Node/accepted", "node.sandbox_unenforced"),
            ("Node/needless", "node.sandbox_unenforced"),
            ("Node/old-kernel", "node.no_sandbox"),
        ]
    );
    let item = |object: &str| d.items.iter().find(|i| i.object == object).unwrap();
    assert_eq!(
        item("Node/old-kernel").message,
        "node old-kernel's kernel has no Landlock, so it refuses read-only agents"
    );
    assert!(item("Node/old-kernel").fix.contains("`sandbox: unenforced`"), "{:?}", item("Node/old-kernel"));
    assert!(item("Node/needless").message.contains("its runner has landlock v7"), "{:?}", item("Node/needless"));
    let health = |name: &str| d.nodes.iter().find(|n| n.name == name).unwrap().health;
    assert_eq!(
        (health("old-kernel"), health("accepted"), health("needless")),
        (Health::Yellow, Health::Yellow, Health::Green)
    );
}

#[tokio::test]
async fn a_token_from_the_secret_store_reaches_the_runner() {
    let url = runner("stored-token-0001", json!({"version": "0.1.0", "capabilities": ["zfs"]})).await;
    let doc = format!(
        "apiVersion: car/v1\nkind: Node\nmetadata: {{name: vault}}\nspec:\n  os: linux\n  address: {url}\n  token: {{secret: vault-token}}\n"
    );
    let (store, _d, _r) = setup(&[doc]).await;
    let secrets = common::secrets(&store, Box::new(|_| None)).await;
    let ctx = context(&store, secrets.clone()).await;
    let e = node::reconcile("vault".into(), &ctx).await.unwrap_err().to_string();
    assert!(e.contains("no secret named \"vault-token\" is stored"), "{e}");
    secrets.put("vault-token", "stored-token-0001", &car_server::trust::audit::Actor::system("test")).await.unwrap();
    assert_eq!(node::reconcile("vault".into(), &ctx).await.unwrap(), Action::Requeue(node::HEALTHY_INTERVAL));
}
