//! Webhook triggers end to end with the real parts: the `car-server` and
//! `car-runner` binaries, PostgreSQL and a Python script agent that reports
//! the payload it was given. A call with the trigger's secret (as a bearer
//! token or an HMAC of the body) whose condition holds starts the agent with
//! the body as its `payload`; a false condition, a running cooldown, a bad or
//! missing signature, a malformed or oversized body and an unknown trigger
//! start nothing and say why; a storm of calls across two server replicas
//! starts one set of runs; `GET /api/v1/triggers` shows the last call.

mod common;

use std::path::Path;

use car_server::trust::signature::sign;
use reqwest::StatusCode;
use serde_json::{Value, json};

use common::live::{self, Proc, Server, ServerSpec, free_port};

const RUNNER_TOKEN: &str = "hooks-test-runner-token-0123456789";
const HOOK_SECRET: &str = "hook-secret-3f9a7c1e5b";
const STORM_SECRET: &str = "storm-secret-8d2b6e0a4c";

/// The agent: it reports the payload it was started with.
const ECHO: &str = "import json\nimport car_agent\n\n\
    async def main(ctx):\n    \
    ctx.report(\"succeeded\", \"payload: \" + json.dumps(ctx.context.get(\"payload\"), sort_keys=True))\n\n\
    car_agent.run(main)\n";

fn trigger(name: &str, secret_var: &str, agent: &str, extra: &str) -> String {
    format!(
        "---\napiVersion: car/v1\nkind: Trigger\nmetadata: {{name: {name}}}\nspec:\n  secret: {{env: {secret_var}}}\n  \
         agents: [{agent}]\n{extra}"
    )
}

fn config(runner_port: u16) -> tempfile::TempDir {
    let node = format!(
        "apiVersion: car/v1\nkind: Node\nmetadata: {{name: local}}\nspec:\n  address: http://127.0.0.1:{runner_port}\n  \
         token: {{env: TEST_RUNNER_TOKEN}}\n  os: linux\n  tags: [lab]\n"
    );
    // `needy` requires what no node has: git allows it (a runner may report it), but nothing can run it.
    let agents = "apiVersion: car/v1\nkind: Agent\nmetadata: {name: echo}\nspec: {script: echo.py, mode: read-only}\n---\n\
                  apiVersion: car/v1\nkind: Agent\nmetadata: {name: needy}\n\
                  spec: {script: echo.py, mode: read-only, requires: [no-such-tool]}\n";
    let triggers = [
        trigger(
            "disk-alert",
            "HOOK_SECRET",
            "echo",
            "  nodes: {tags: [lab]}\n  condition: 'payload.status == \"firing\" && payload.commonLabels.severity == \"critical\"'\n",
        ),
        trigger("open", "HOOK_SECRET", "echo", "  nodes: all\n"),
        trigger("storm", "STORM_SECRET", "echo", "  nodes: [local]\n  cooldown: 10m\n"),
        trigger("nowhere", "HOOK_SECRET", "needy", "  nodes: all\n"),
    ]
    .concat();
    car_testkit::config_dir(&[
        ("nodes.yaml", &node),
        ("agents.yaml", agents),
        ("echo.py", ECHO),
        ("triggers.yaml", &triggers),
    ])
}

/// A server (and its runner when `runner` is given) over a fresh database.
struct Setup {
    db: String,
    config: tempfile::TempDir,
    runner_port: u16,
    logs: tempfile::TempDir,
}

impl Setup {
    async fn new() -> Setup {
        let runner_port = free_port();
        Setup {
            db: common::database_url().await,
            config: config(runner_port),
            runner_port,
            logs: tempfile::tempdir().unwrap(),
        }
    }

    async fn runner(&self, data: &Path) -> Proc {
        live::start_runner(self.runner_port, data, &[("RUNNER_TOKEN", RUNNER_TOKEN), ("NODE_NAME", "local")]).await
    }

    /// A server replica with its data in `data`, logging to `<logs>/<name>.log`.
    async fn server(&self, data: &Path, name: &str) -> Server {
        let env = [
            ("TEST_RUNNER_TOKEN", RUNNER_TOKEN),
            ("HOOK_SECRET", HOOK_SECRET),
            ("STORM_SECRET", STORM_SECRET),
            // Replicas share the database and so its secrets' key.
            ("SECRET_KEY", &"5e".repeat(32)),
            ("RUST_LOG", "info"),
        ];
        let spec = ServerSpec {
            config: self.config.path(),
            db: &self.db,
            data,
            api_port: free_port(),
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            log: Some(self.logs.path().join(format!("{name}.log"))),
        };
        let server = live::start_server(&spec).await;
        server.eventually("/api/v1/triggers", |t| t["triggers"].as_array().is_some_and(|a| a.len() == 4), 30).await;
        server
    }

    fn log(&self) -> String {
        let mut all = String::new();
        for entry in std::fs::read_dir(self.logs.path()).unwrap() {
            all.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
        }
        all
    }
}

/// A call to a hook: the status and the JSON answer.
async fn call(server: &Server, name: &str, headers: &[(&str, &str)], body: &[u8]) -> (StatusCode, Value) {
    let send = || {
        let mut req = reqwest::Client::new()
            .post(format!("{}/api/v1/hooks/{name}", server.url))
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send()
    };
    // A connection the loaded test machine dropped before the request was read is sent again
    // (once, and said): what these tests count is what the server answered.
    let resp = match send().await {
        Ok(r) => r,
        Err(e) if e.is_request() && !e.is_timeout() => {
            eprintln!("a hook call's connection failed ({e}); sending it again");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            send().await.unwrap()
        }
        Err(e) => panic!("a hook call failed: {e}"),
    };
    (resp.status(), resp.json().await.unwrap_or(Value::Null))
}

async fn bearer(server: &Server, name: &str, body: &Value) -> (StatusCode, Value) {
    call(server, name, &[("authorization", &format!("Bearer {HOOK_SECRET}"))], body.to_string().as_bytes()).await
}

fn run_ids(answer: &Value) -> Vec<String> {
    answer["runs"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect()
}

async fn runs_of(server: &Server) -> Vec<Value> {
    server.get("/api/v1/runs?limit=200").await["items"].as_array().unwrap().clone()
}

fn alert(status: &str, severity: &str) -> Value {
    json!({
        "version": "4",
        "status": status,
        "receiver": "car",
        "commonLabels": {"alertname": "DiskFull", "severity": severity, "instance": "nas:9100"},
        "alerts": [{"status": status, "labels": {"alertname": "DiskFull", "severity": severity}}]
    })
}

fn trigger_view<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["triggers"].as_array().unwrap().iter().find(|t| t["name"] == name).unwrap()
}

#[tokio::test]
async fn an_alertmanager_alert_starts_the_agent_with_its_payload_and_a_false_condition_starts_nothing() {
    let setup = Setup::new().await;
    let (runner_data, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let _runner = setup.runner(runner_data.path()).await;
    let server = setup.server(data.path(), "server").await;
    server.eventually("/api/v1/nodes/local", |n| n["connection"] == "connected", 30).await;

    // Firing and critical: 202 with the run, whose context is the payload; the agent got it.
    let firing = alert("firing", "critical");
    let (status, answer) = bearer(&server, "disk-alert", &firing).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["started"], true);
    let ids = run_ids(&answer);
    assert_eq!(ids.len(), 1, "{answer}");
    let run = server.status_is(&ids[0], "succeeded", 60).await;
    assert_eq!((run["agent"].as_str(), run["node"].as_str()), (Some("echo"), Some("local")));
    assert_eq!(run["trigger"], "trigger");
    assert_eq!(run["started_by"], "disk-alert");
    assert_eq!(run["context"]["payload"], firing);
    assert_eq!(run["context"]["hook"], "disk-alert");
    assert_eq!(run["context"]["trigger"], "trigger");
    let told: Value =
        serde_json::from_str(run["summary"].as_str().unwrap().strip_prefix("payload: ").unwrap()).unwrap();
    assert_eq!(told, firing, "the agent itself was not given the payload");

    // Resolved, or firing but only a warning: 200, nothing started, the reason names the condition.
    for quiet in [alert("resolved", "critical"), alert("firing", "warning")] {
        let (status, answer) = bearer(&server, "disk-alert", &quiet).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["started"], false);
        assert_eq!(answer["runs"], json!([]));
        let reason = answer["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("the condition `payload.status == \"firing\"") && reason.ends_with("is false"),
            "{reason}"
        );
    }
    // A payload without the field: the condition fails, counts as false, and the reason says why.
    let (status, answer) = bearer(&server, "disk-alert", &json!({"status": "firing"})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["started"], false);
    let reason = answer["reason"].as_str().unwrap();
    assert!(reason.contains("could not be evaluated") && reason.contains("commonLabels"), "{reason}");
    assert_eq!(runs_of(&server).await.len(), 1, "a false condition started a run");

    // HMAC signatures of the exact body, in both header forms, start the agent too.
    let body = br#"{"check": "hmac"}"#;
    let sig = format!("sha256={}", sign(HOOK_SECRET, body));
    for header in ["x-signature-256", "x-hub-signature-256"] {
        let (status, answer) = call(&server, "open", &[(header, &sig)], body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{header}: {answer}");
        let run = server.get(&format!("/api/v1/runs/{}", run_ids(&answer)[0])).await;
        assert_eq!(run["context"]["payload"], json!({"check": "hmac"}));
    }
    // A trigger whose nodes cannot run its agents says so.
    let (status, answer) = bearer(&server, "nowhere", &json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert!(answer["error"]["hint"].as_str().unwrap().contains("nodes"), "{answer}");

    // The list: URL, agents, node selector, where it starts them, and each trigger's last call.
    let list = server.get("/api/v1/triggers").await;
    let disk = trigger_view(&list, "disk-alert");
    let port = server.url.rsplit(':').next().unwrap();
    assert_eq!(disk["url"], format!("http://127.0.0.1:{port}/api/v1/hooks/disk-alert"));
    assert_eq!(disk["agents"], json!(["echo"]));
    assert_eq!(disk["nodes"], json!({"tags": ["lab"]}));
    assert_eq!(disk["targets"], json!([{"agent": "echo", "node": "local"}]));
    assert_eq!(disk["secret"], json!({"env": "HOOK_SECRET"}));
    assert_eq!(disk["last_call"]["outcome"], "condition_false");
    assert_eq!(disk["last_call"]["status"], 200);
    assert!(disk["last_call"]["reason"].as_str().unwrap().contains("commonLabels"), "{disk}");
    let open = trigger_view(&list, "open");
    assert_eq!(open["last_call"]["outcome"], "started");
    assert_eq!(open["last_call"]["status"], 202);
    assert_eq!(open["last_call"]["run_ids"].as_array().unwrap().len(), 1);
    assert_eq!(open["last_call"]["ip"], "127.0.0.1");
    assert_eq!(trigger_view(&list, "nowhere")["last_call"]["outcome"], "nothing_to_start");
    assert!(trigger_view(&list, "storm")["last_call"].is_null());

    // The fires are audited; every run started says by which trigger.
    let fired = server.get("/api/v1/audit?action=trigger.fired").await;
    assert_eq!(fired["items"].as_array().unwrap().len(), 3, "{fired}");
    assert_eq!(fired["items"][2]["target"], "disk-alert");
    assert_eq!(fired["items"][2]["actor_kind"], "trigger");
}

#[tokio::test]
async fn calls_without_the_secret_or_with_a_bad_body_are_refused_audited_and_start_nothing() {
    let setup = Setup::new().await;
    let data = tempfile::tempdir().unwrap();
    let server = setup.server(data.path(), "server").await;
    let body = alert("firing", "critical").to_string();
    let wrong_sig = format!("sha256={}", sign("not-the-secret", body.as_bytes()));
    let refusals: [(&[(&str, &str)], &str); 5] = [
        (&[], "no signature"),
        (
            &[("authorization", "Bearer not-the-secret")],
            "Authorization does not match the secret of trigger \"disk-alert\"",
        ),
        (&[("authorization", HOOK_SECRET)], "Authorization does not match"),
        (&[("x-signature-256", &wrong_sig)], "X-Signature-256 does not match"),
        (&[("x-hub-signature-256", &wrong_sig)], "X-Hub-Signature-256 does not match"),
    ];
    for (headers, said) in refusals {
        let (status, answer) = call(&server, "disk-alert", headers, body.as_bytes()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{headers:?}: {answer}");
        assert_eq!(answer["error"]["code"], "unauthorized");
        assert!(answer["error"]["message"].as_str().unwrap().contains(said), "{answer}");
        assert!(!answer["error"]["hint"].as_str().unwrap().is_empty());
    }
    // A signature of another body is no signature of this one.
    let other = format!("sha256={}", sign(HOOK_SECRET, b"{}"));
    let (status, _) = call(&server, "disk-alert", &[("x-signature-256", &other)], body.as_bytes()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let audit = server.get("/api/v1/audit?action=trigger.*").await;
    let entries = audit["items"].as_array().unwrap();
    assert_eq!(entries.len(), 6, "{audit}");
    for e in entries {
        assert_eq!(e["action"], "trigger.refused");
        assert_eq!(e["target"], "disk-alert");
        assert_eq!(e["ip"], "127.0.0.1");
    }
    assert_eq!(
        entries[5]["detail"]["reason"],
        "no signature: send X-Hub-Signature-256, X-Gitlab-Token, X-Gitea-Signature, X-Signature-256 or Authorization: Bearer"
    );

    // Malformed JSON: 400 with a hint; an unknown trigger: 404; more than 1 MiB: 413.
    let auth = format!("Bearer {HOOK_SECRET}");
    let (status, answer) = call(&server, "disk-alert", &[("authorization", &auth)], b"{\"status\": firing}").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().starts_with("the body is not JSON"), "{answer}");
    assert!(answer["error"]["hint"].as_str().unwrap().contains("JSON"), "{answer}");
    let (status, answer) = call(&server, "no-such-trigger", &[("authorization", &auth)], b"{}").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert!(answer["error"]["hint"].as_str().unwrap().contains("/api/v1/triggers"), "{answer}");
    let huge = format!("{{\"blob\": \"{}\"}}", "x".repeat(1024 * 1024));
    let (status, answer) = call(&server, "disk-alert", &[("authorization", &auth)], huge.as_bytes()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert!(answer["error"]["hint"].as_str().unwrap().contains("at most"), "{answer}");

    // Nothing started, and each call to the declared trigger is its last call in turn.
    assert!(runs_of(&server).await.is_empty());
    let list = server.get("/api/v1/triggers").await;
    let last = &trigger_view(&list, "disk-alert")["last_call"];
    assert_eq!((last["outcome"].as_str(), last["status"].as_i64()), (Some("invalid"), Some(413)), "{last}");

    // The secret is nowhere: not in answers, the audit log, the database or the server's log.
    let mut shown = server.get("/api/v1/audit?limit=500").await.to_string();
    shown.push_str(&list.to_string());
    drop(server);
    let places = [
        ("the API", shown),
        ("the database", common::dump(&common::store_at(&setup.db).await).await),
        ("the server's log", setup.log()),
    ];
    for (place, content) in places {
        assert!(!content.contains(HOOK_SECRET), "the trigger's secret is in {place}");
    }
}

#[tokio::test]
async fn a_storm_of_calls_across_two_replicas_within_the_cooldown_starts_one_run() {
    let setup = Setup::new().await;
    let (a_data, b_data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (setup.server(a_data.path(), "a").await, setup.server(b_data.path(), "b").await);
    let body = json!({"heartbeat": {"status": 0, "msg": "down"}}).to_string();
    let auth = format!("Bearer {STORM_SECRET}");
    let headers = [("authorization", auth.as_str())];
    let calls = (0..50).map(|i| {
        let server = if i % 2 == 0 { &a } else { &b };
        call(server, "storm", &headers, body.as_bytes())
    });
    let answers = futures_util::future::join_all(calls).await;
    let started: Vec<&Value> = answers.iter().filter(|(s, _)| *s == StatusCode::ACCEPTED).map(|(_, v)| v).collect();
    assert_eq!(started.len(), 1, "{answers:?}");
    assert_eq!(run_ids(started[0]).len(), 1);
    for (status, answer) in answers.iter().filter(|(s, _)| *s != StatusCode::ACCEPTED) {
        assert_eq!(*status, StatusCode::OK, "{answer}");
        assert_eq!(answer["started"], false);
        assert!(answer["reason"].as_str().unwrap().starts_with("cooling down until "), "{answer}");
    }
    // (Its node has no runner: the run may be tried again, as a later attempt of the same run.)
    let runs: Vec<Value> = runs_of(&a).await.into_iter().filter(|r| r["attempt"] == 1).collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["id"], started[0]["runs"][0]);

    // A call after the storm cools down too; both replicas say so, until about ten minutes from now.
    let (status, answer) = call(&b, "storm", &headers, body.as_bytes()).await;
    assert_eq!((status, &answer["started"]), (StatusCode::OK, &json!(false)), "{answer}");
    for server in [&a, &b] {
        let list = server.get("/api/v1/triggers").await;
        let storm = trigger_view(&list, "storm");
        assert_eq!(storm["cooldown"], "10m");
        let until: chrono::DateTime<chrono::Utc> = serde_json::from_value(storm["cooling_until"].clone()).unwrap();
        let left = until - chrono::Utc::now();
        assert!(left > chrono::TimeDelta::minutes(9) && left <= chrono::TimeDelta::minutes(10), "{storm}");
        assert_eq!(storm["last_call"]["outcome"], "cooling_down");
    }
    let fired = a.get("/api/v1/audit?action=trigger.fired").await;
    assert_eq!(fired["items"].as_array().unwrap().len(), 1, "{fired}");
    // Every call was recorded, by whichever replica took it.
    let store = common::store_at(&setup.db).await;
    let outcomes: Vec<(String, i64)> = sqlx::query_as(
        "SELECT outcome, count(*) FROM trigger_calls WHERE trigger = 'storm' GROUP BY outcome ORDER BY outcome",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(outcomes, [("cooling_down".to_string(), 50), ("started".to_string(), 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_fifty_claims_at_once_on_two_pools_one_gets_the_cooldown_and_a_claim_given_back_is_free_again() {
    use car_server::hooks::repo::{Claim, HookRepo};
    let db = common::database_url().await;
    // Two pools, as two replicas have.
    let (a, b) = (HookRepo::new(&common::store_at(&db).await), HookRepo::new(&common::store_at(&db).await));
    let cooldown = std::time::Duration::from_secs(600);
    let claims = (0..50).map(|i| {
        let repo = if i % 2 == 0 { a.clone() } else { b.clone() };
        tokio::spawn(async move { repo.claim("storm", cooldown).await.unwrap() })
    });
    let claims: Vec<Claim> = futures_util::future::join_all(claims).await.into_iter().map(Result::unwrap).collect();
    let won: Vec<_> =
        claims.iter().filter_map(|c| if let Claim::Claimed { at } = c { Some(*at) } else { None }).collect();
    assert_eq!(won.len(), 1, "{claims:?}");
    for c in &claims {
        if let Claim::CoolingDown { until } = c {
            assert_eq!(*until, won[0] + chrono::TimeDelta::minutes(10));
        }
    }
    // A call that started nothing gives its claim back: the next call may start runs.
    a.release("storm", won[0]).await.unwrap();
    let again = a.claim("storm", cooldown).await.unwrap();
    assert!(matches!(again, Claim::Claimed { .. }), "{again:?}");
    assert!(matches!(b.claim("storm", cooldown).await.unwrap(), Claim::CoolingDown { .. }));
    // A shorter cooldown than the time since counts as passed.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert!(matches!(b.claim("storm", std::time::Duration::from_millis(10)).await.unwrap(), Claim::Claimed { .. }));
}
