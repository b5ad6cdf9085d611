//! Notifications end to end: the real server and runner, script agents,
//! PostgreSQL, and the testkit's fake Gotify (which follows Gotify's API
//! spec and can be down, failing or slow). A failed run pages with high
//! priority and a link; a rule's condition on the report decides; an outage
//! or a crash of the server loses and doubles nothing; a wrong token is not
//! retried and says what to fix; a node away and back is one alert and one
//! "resolved"; a burst of one rule is one message; throttle holds repeats.

mod common;

use std::time::Duration;

use car_testkit::gotify::{FakeGotify, GotifyMessage, Mode};
use common::live::{self, Proc, Server, free_port};
use serde_json::json;

const RUNNER_TOKEN: &str = "notify-test-runner-token-0123456789";
const GOTIFY_TOKEN: &str = "Anotify-test-gotify-app-token";

/// A script agent that reports `status` with `level` in its report.
fn script_agent(name: &str, status: &str, level: &str) -> (String, String, String) {
    let yaml = format!(
        "---\napiVersion: car/v1\nkind: Agent\nmetadata: {{name: {name}}}\nspec: {{script: {name}.py, mode: read-only}}\n"
    );
    let source = format!(
        "import car_agent\n\ndef main(ctx):\n    ctx.report({status:?}, \"{name} looked\", {{\"level\": {level:?}}})\n\ncar_agent.run(main)\n"
    );
    (yaml, format!("{name}.py"), source)
}

const RULES: &str = "---\napiVersion: car/v1\nkind: NotificationRule\nmetadata: {name: failed}\nspec:\n  \
    events: [run.failed]\n  priority: high\n  channels: [phone]\n\
    ---\napiVersion: car/v1\nkind: NotificationRule\nmetadata: {name: report}\nspec:\n  events: [run.succeeded]\n  \
    filter: {agents: [crit, fine]}\n  condition: 'run.report.level == \"critical\"'\n  priority: critical\n  channels: [phone]\n\
    ---\napiVersion: car/v1\nkind: NotificationRule\nmetadata: {name: broken}\nspec:\n  events: [run.succeeded]\n  \
    filter: {agents: [fine]}\n  condition: 'run.report.missing.deeper == 1'\n  channels: [phone]\n\
    ---\napiVersion: car/v1\nkind: NotificationRule\nmetadata: {name: gone}\nspec:\n  events: [node.disconnected]\n  \
    priority: high\n  channels: [phone]\n\
    ---\napiVersion: car/v1\nkind: NotificationRule\nmetadata: {name: flappy}\nspec:\n  events: [node.disconnected]\n  \
    filter: {nodes: [x]}\n  throttle: 1h\n  channels: [phone]\n";

struct Setup {
    gotify: FakeGotify,
    db: String,
    data: tempfile::TempDir,
    config: tempfile::TempDir,
    api_port: u16,
    runner_port: u16,
    runner_data: tempfile::TempDir,
    extra: Vec<(String, String)>,
}

impl Setup {
    /// Everything but the processes; Gotify accepts `token`.
    async fn new(token: &str) -> Setup {
        Setup::with(token, "").await
    }

    /// The same, with more documents in `more.yaml`.
    async fn with(token: &str, more: &str) -> Setup {
        let gotify = FakeGotify::start(token).await;
        let runner_port = free_port();
        let node = format!(
            "apiVersion: car/v1\nkind: Node\nmetadata: {{name: local}}\nspec:\n  address: http://127.0.0.1:{runner_port}\n  \
             token: {{env: TEST_RUNNER_TOKEN}}\n  os: linux\n\
             ---\napiVersion: car/v1\nkind: Node\nmetadata: {{name: x}}\nspec: {{address: 'http://127.0.0.1:9', os: linux}}\n"
        );
        let channel = format!(
            "apiVersion: car/v1\nkind: NotificationChannel\nmetadata: {{name: phone}}\nspec:\n  gotify: {{url: '{}', token: {{env: GOTIFY_TOKEN}}}}\n",
            gotify.url()
        );
        let agents = [
            script_agent("fail", "failed", "critical"),
            script_agent("crit", "succeeded", "critical"),
            script_agent("fine", "succeeded", "fine"),
        ];
        let yaml: String = agents.iter().map(|a| a.0.clone()).collect();
        let mut files = vec![
            ("nodes.yaml", node.as_str()),
            ("agents.yaml", yaml.as_str()),
            ("notify.yaml", RULES),
            ("channels.yaml", channel.as_str()),
            ("more.yaml", more),
        ];
        for a in &agents {
            files.push((a.1.as_str(), a.2.as_str()));
        }
        Setup {
            config: car_testkit::config_dir(&files),
            gotify,
            db: common::database_url().await,
            data: tempfile::tempdir().unwrap(),
            api_port: free_port(),
            runner_port,
            runner_data: tempfile::tempdir().unwrap(),
            extra: Vec::new(),
        }
    }

    async fn runner(&self) -> Proc {
        live::start_runner(
            self.runner_port,
            self.runner_data.path(),
            &[("RUNNER_TOKEN", RUNNER_TOKEN), ("NODE_NAME", "local")],
        )
        .await
    }

    async fn server(&self) -> Server {
        let mut env = vec![
            ("TEST_RUNNER_TOKEN".to_string(), RUNNER_TOKEN.to_string()),
            ("GOTIFY_TOKEN".to_string(), GOTIFY_TOKEN.to_string()),
            ("PUBLIC_URL".to_string(), "http://car.test".to_string()),
        ];
        env.extend(self.extra.iter().cloned());
        let spec = live::ServerSpec {
            config: self.config.path(),
            db: &self.db,
            data: self.data.path(),
            api_port: self.api_port,
            env,
            log: None,
        };
        let server = live::start_server(&spec).await;
        server.eventually("/api/v1/nodes/local", |n| n["connection"] == "connected", 30).await;
        server
    }
}

async fn run(s: &Server, agent: &str, status: &str) -> String {
    let (code, run) = s.post("/api/v1/runs", json!({"agent": agent, "node": "local"})).await;
    assert_eq!(code, reqwest::StatusCode::ACCEPTED, "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    s.status_is(&id, status, 60).await;
    id
}

fn about<'a>(messages: &'a [GotifyMessage], word: &str) -> Vec<&'a GotifyMessage> {
    messages.iter().filter(|m| m.title.as_deref().unwrap_or_default().contains(word)).collect()
}

#[tokio::test]
async fn a_failed_run_pages_high_with_a_link_and_a_report_condition_decides() {
    let setup = Setup::new(GOTIFY_TOKEN).await;
    let _runner = setup.runner().await;
    let server = setup.server().await;

    let failed = run(&server, "fail", "failed").await;
    let m = setup.gotify.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(m[0].title.as_deref(), Some("fail on local failed"));
    assert_eq!(m[0].priority, Some(8), "run.failed with priority high");
    assert!(m[0].message.contains("fail looked"), "the summary: {}", m[0].message);
    assert_eq!(m[0].extras["client::notification"]["click"]["url"], format!("http://car.test/runs/{failed}"));
    assert_eq!(m[0].extras["client::display"]["contentType"], "text/markdown");

    run(&server, "crit", "succeeded").await;
    run(&server, "fine", "succeeded").await;
    let m = setup.gotify.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(m[1].title.as_deref(), Some("crit on local succeeded"));
    assert_eq!(m[1].priority, Some(10));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let all = setup.gotify.messages();
    assert!(about(&all, "fine").is_empty(), "a false condition (or one that errs) sent: {all:?}");
    assert_eq!(all.len(), 2);

    let list = server.get("/api/v1/notifications").await;
    let items = list["items"].as_array().unwrap();
    let sent: Vec<(&str, &str)> =
        items.iter().map(|d| (d["rule"].as_str().unwrap(), d["status"].as_str().unwrap())).collect();
    assert_eq!(sent, [("report", "sent"), ("failed", "sent")]);
    assert_eq!(items[1]["run_id"], failed.as_str());
    let channels = server.get("/api/v1/notifications/channels").await;
    assert_eq!(channels["channels"][0]["health"], "ok", "{channels}");
    let (_, test) = server.post("/api/v1/notifications/channels/phone/test", json!({})).await;
    assert_eq!(test["sent"], true, "{test}");
    setup.gotify.wait_for(3, Duration::from_secs(5)).await;
    for body in [list, channels, test, server.get("/api/v1/audit").await] {
        assert!(!body.to_string().contains(GOTIFY_TOKEN), "the app token leaked: {body}");
    }
}

#[tokio::test]
async fn messages_wait_out_a_gotify_outage_and_arrive_once() {
    let setup = Setup::new(GOTIFY_TOKEN).await;
    let _runner = setup.runner().await;
    let server = setup.server().await;
    setup.gotify.set_mode(Mode::Down).await;
    let id = run(&server, "fail", "failed").await;
    let retrying = server
        .eventually("/api/v1/notifications", |l| l["items"][0]["attempts"].as_i64().is_some_and(|a| a >= 2), 30)
        .await;
    let d = &retrying["items"][0];
    assert!(d["status"] == "queued" || d["status"] == "sending", "waiting for its next try: {d}");
    assert!(d["last_error"].as_str().unwrap().contains("gotify channel phone: cannot connect"), "{d}");
    let channels = server.get("/api/v1/notifications/channels").await;
    assert_eq!(
        (channels["channels"][0]["health"].as_str(), channels["channels"][0]["queued"].as_i64()),
        (Some("failing"), Some(1))
    );

    setup.gotify.set_mode(Mode::Up).await;
    let m = setup.gotify.wait_for(1, Duration::from_secs(30)).await;
    assert!(m[0].extras.to_string().contains(&id));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(setup.gotify.messages().len(), 1, "a message arrived twice");
    let after = server.get("/api/v1/notifications").await;
    assert_eq!(after["items"][0]["status"], "sent");
}

#[tokio::test]
async fn a_wrong_token_is_not_retried_and_the_channel_says_what_to_fix() {
    let setup = Setup::new("Asome-other-token").await;
    let _runner = setup.runner().await;
    let server = setup.server().await;
    run(&server, "fail", "failed").await;
    let failed = server.eventually("/api/v1/notifications", |l| l["items"][0]["status"] == "failed", 20).await;
    let error = failed["items"][0]["last_error"].as_str().unwrap().to_string();
    assert!(error.starts_with("gotify channel phone answered 401"), "{error}");
    assert!(error.contains("application token"), "the error says what to fix: {error}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(setup.gotify.requests(), 1, "a refused message was sent again");
    let channels = server.get("/api/v1/notifications/channels").await;
    assert_eq!(channels["channels"][0]["health"], "failing");
    assert!(!channels.to_string().contains(GOTIFY_TOKEN));
}

#[tokio::test]
async fn a_server_killed_with_messages_queued_sends_them_once_after_restart() {
    let setup = Setup::new(GOTIFY_TOKEN).await;
    let _runner = setup.runner().await;
    let server = setup.server().await;
    setup.gotify.set_mode(Mode::Down).await;
    let id = run(&server, "fail", "failed").await;
    server
        .eventually("/api/v1/notifications", |l| l["items"][0]["attempts"].as_i64().is_some_and(|a| a >= 1), 20)
        .await;
    let mut server = server;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(server.proc.0.id() as i32), nix::sys::signal::Signal::SIGKILL)
        .unwrap();
    let _ = server.proc.0.wait();
    setup.gotify.set_mode(Mode::Up).await;
    let _server = setup.server().await;
    let m = setup.gotify.wait_for(1, Duration::from_secs(30)).await;
    assert!(m[0].extras.to_string().contains(&id));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(setup.gotify.messages().len(), 1, "a message arrived twice after the restart");
}

#[tokio::test]
async fn a_node_away_then_back_is_one_alert_and_one_resolved() {
    let mut setup = Setup::new(GOTIFY_TOKEN).await;
    setup.extra.push(("NODE_AWAY_GRACE".into(), "1s".into()));
    let runner = setup.runner().await;
    let server = setup.server().await;
    drop(runner);
    let m = setup.gotify.wait_for(1, Duration::from_secs(60)).await;
    assert_eq!(m[0].title.as_deref(), Some("Node local is unreachable"));
    assert_eq!(m[0].extras["client::notification"]["click"]["url"], "http://car.test/nodes/local");
    let _runner = setup.runner().await;
    let m = setup.gotify.wait_for(2, Duration::from_secs(90)).await;
    assert_eq!(m[1].title.as_deref(), Some("Resolved: Node local is back"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(setup.gotify.messages().len(), 2, "{:?}", setup.gotify.messages());
    server.eventually("/api/v1/nodes/local", |n| n["connection"] == "connected", 5).await;
}

#[tokio::test]
async fn a_burst_of_one_rule_is_one_message_and_throttle_holds_repeats() {
    let setup = Setup::new(GOTIFY_TOKEN).await;
    let _runner = setup.runner().await;
    let server = setup.server().await;
    let db = sqlx::PgPool::connect(&setup.db).await.unwrap();
    let gone = |nodes: &[&str]| {
        let values: Vec<String> = nodes.iter().map(|n| format!("('node.disconnected', '{n}')")).collect();
        format!("INSERT INTO events (type, node) VALUES {}", values.join(", "))
    };
    // Ten nodes gone at once (a switch rebooted): rule `gone` sends one message listing them.
    sqlx::query(&gone(&["n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9"])).execute(&db).await.unwrap();
    let m = setup.gotify.wait_for(1, Duration::from_secs(20)).await;
    let title = m[0].title.clone().unwrap_or_default();
    assert!(title.starts_with("10 × node.disconnected"), "{title}");
    assert_eq!(m[0].message.matches("- [Node n").count(), 10, "{}", m[0].message);
    // One node flapping: `flappy` (throttle 1h) sends once, `gone` each time.
    for _ in 0..3 {
        sqlx::query(&gone(&["x"])).execute(&db).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    setup.gotify.wait_for(5, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let flappy = server.get("/api/v1/notifications?rule=flappy").await;
    let statuses: Vec<&str> =
        flappy["items"].as_array().unwrap().iter().map(|d| d["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["suppressed", "suppressed", "sent"]);
    assert!(flappy["items"][0]["note"].as_str().unwrap().starts_with("throttled: rule flappy"), "{flappy}");
    assert_eq!(setup.gotify.messages().len(), 5, "one burst, three of `gone`, one of `flappy`");
}

/// What a webhook receiver got: headers and body of each POST.
type Received = std::sync::Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, Vec<u8>)>>>;

async fn receiver() -> (String, Received) {
    let got = Received::default();
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let keep = keep.clone();
            async move { keep.lock().unwrap().push((headers, body.to_vec())) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

#[tokio::test]
async fn a_webhook_channel_gets_signed_json_with_its_headers_and_an_idempotency_key() {
    let (url, got) = receiver().await;
    let more = format!(
        "apiVersion: car/v1\nkind: NotificationChannel\nmetadata: {{name: ops}}\nspec:\n  webhook:\n    url: '{url}'\n    \
         headers: {{X-Team: storage, Authorization: {{env: HOOK_AUTH}}}}\n    secret: {{env: HOOK_KEY}}\n\
         ---\napiVersion: car/v1\nkind: NotificationRule\nmetadata: {{name: to-ops}}\nspec:\n  events: [run.failed]\n  channels: [ops]\n"
    );
    let mut setup = Setup::with(GOTIFY_TOKEN, &more).await;
    setup.extra.push(("HOOK_AUTH".into(), "Bearer hook-auth-value-123".into()));
    setup.extra.push(("HOOK_KEY".into(), "hook-signing-key-456".into()));
    let _runner = setup.runner().await;
    let server = setup.server().await;
    let id = run(&server, "fail", "failed").await;
    for _ in 0..100 {
        if !got.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (headers, body) = got.lock().unwrap().first().cloned().expect("the webhook was called");
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert_eq!((header("x-team"), header("authorization")), ("storage".into(), "Bearer hook-auth-value-123".into()));
    let signed = format!("sha256={}", car_server::trust::signature::sign("hook-signing-key-456", &body));
    assert_eq!(header("x-signature-256"), signed);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(header("idempotency-key"), json["delivery"].as_str().unwrap());
    assert_eq!((json["rule"].as_str(), json["event"]["type"].as_str()), (Some("to-ops"), Some("run.failed")));
    assert_eq!(json["event"]["run_id"], id.as_str());
    assert_eq!(json["url"], format!("http://car.test/runs/{id}"));
    let list = server.get("/api/v1/notifications?channel=ops").await;
    assert_eq!(list["items"][0]["status"], "sent");
    for secret in ["hook-auth-value-123", "hook-signing-key-456"] {
        assert!(!list.to_string().contains(secret));
        assert!(!server.get("/api/v1/notifications/channels").await.to_string().contains(secret));
    }
}

#[tokio::test]
async fn a_rule_that_waits_stays_quiet_when_the_alert_clears_in_time() {
    let more = "apiVersion: car/v1\nkind: NotificationRule\nmetadata: {name: patient}\nspec:\n  \
                events: [node.disconnected]\n  filter: {nodes: [x]}\n  wait: 2s\n  channels: [phone]\n";
    let setup = Setup::with(GOTIFY_TOKEN, more).await;
    let _runner = setup.runner().await;
    let server = setup.server().await;
    let db = sqlx::PgPool::connect(&setup.db).await.unwrap();
    let event = |kind: &str| format!("INSERT INTO events (type, node) VALUES ('{kind}', 'x')");
    // Gone and back within the wait: `patient` says nothing (`gone` and `flappy`, which do not wait, do).
    sqlx::query(&event("node.disconnected")).execute(&db).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    sqlx::query(&event("node.connected")).execute(&db).await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let patient = server.get("/api/v1/notifications?rule=patient").await;
    assert_eq!(patient["items"][0]["status"], "suppressed", "{patient}");
    assert_eq!(patient["items"][0]["note"], "the alert cleared before the rule's wait ended");
    assert_eq!(server.get("/api/v1/notifications?rule=patient&status=sent").await["items"], json!([]));
    // Gone for longer than the wait: it pages, then says when it is back.
    sqlx::query(&event("node.disconnected")).execute(&db).await.unwrap();
    let sent = server
        .eventually(
            "/api/v1/notifications?rule=patient&status=sent",
            |l| l["items"].as_array().is_some_and(|i| i.len() == 1),
            10,
        )
        .await;
    assert_eq!(sent["items"][0]["title"], "Node x is unreachable");
    sqlx::query(&event("node.connected")).execute(&db).await.unwrap();
    let sent = server
        .eventually(
            "/api/v1/notifications?rule=patient&status=sent",
            |l| l["items"].as_array().is_some_and(|i| i.len() == 2),
            10,
        )
        .await;
    assert_eq!(sent["items"][0]["title"], "Resolved: Node x is back");
}

#[tokio::test]
async fn drift_is_announced_once_when_it_appears() {
    let more = "apiVersion: car/v1\nkind: NotificationRule\nmetadata: {name: drifty}\nspec:\n  \
                events: [drift.detected]\n  channels: [phone]\n";
    let setup = Setup::with(GOTIFY_TOKEN, more).await;
    let _runner = setup.runner().await;
    let server = setup.server().await;
    // Node x never answers (its address is closed): drift, announced after the first look.
    let sent = server
        .eventually("/api/v1/notifications?rule=drifty", |l| !l["items"].as_array().unwrap().is_empty(), 40)
        .await;
    let titles: Vec<&str> = sent["items"].as_array().unwrap().iter().map(|d| d["title"].as_str().unwrap()).collect();
    assert!(titles.iter().all(|t| t.starts_with("Drift: ") && t.contains("x")), "{titles:?}");
    assert!(!titles.iter().any(|t| t.contains("local")), "the node that answers is no drift: {titles:?}");
}

#[tokio::test]
async fn a_schedule_notifies_its_failures_loudly_and_its_successes_quietly() {
    let more = "apiVersion: car/v1\nkind: Schedule\nmetadata: {name: often-failing}\nspec:\n  every: 2s\n  agents: [fail]\n  \
                nodes: [local]\n  notify: {onFailure: {channels: [phone], priority: high}}\n\
                ---\napiVersion: car/v1\nkind: Schedule\nmetadata: {name: often-fine}\nspec:\n  every: 2s\n  agents: [fine]\n  \
                nodes: [local]\n  notify: {onSuccess: {channels: [phone], priority: low}}\n";
    let setup = Setup::with(GOTIFY_TOKEN, more).await;
    let _runner = setup.runner().await;
    let server = setup.server().await;
    let sent = |rule: &'static str| {
        let server = &server;
        async move {
            let path = format!("/api/v1/notifications?rule=schedule/{rule}&status=sent");
            server.eventually(&path, |l| !l["items"].as_array().unwrap().is_empty(), 30).await["items"][0].clone()
        }
    };
    let failing = sent("often-failing").await;
    assert_eq!((failing["priority"].as_i64(), failing["title"].as_str()), (Some(8), Some("fail on local failed")));
    let run = failing["run_id"].as_str().unwrap();
    assert_eq!(failing["url"], format!("http://car.test/runs/{run}"));
    let fine = sent("often-fine").await;
    assert_eq!((fine["priority"].as_i64(), fine["title"].as_str()), (Some(2), Some("fine on local succeeded")));
    let gotify = setup.gotify.messages();
    assert!(gotify.iter().any(|m| m.priority == Some(2) && m.title.as_deref() == Some("fine on local succeeded")));
}
