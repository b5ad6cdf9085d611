//! Edits written back to git through the API, against a real bare
//! repository as the remote: one commit by the user with every other byte
//! kept, applied by the sync; moved branches, conflicts, invalid edits,
//! previews, new and deleted objects, and secrets typed into a form.

mod common;

use car_server::trust::access::Role;
use car_server::trust::audit::{Actor, ActorKind};
use car_testkit::forge::{FakeForge, Flavor};
use common::Repos;
use common::app::App;
use git2::Repository;
use serde_json::{Value, json};

const SCHEDULE: &str = "schedules/daily-maintenance.yaml";

/// The example config, and an API key of a user with a profile.
async fn start() -> (App, String) {
    let app = App::start().await;
    let users = app.store.user_repo();
    let system = Actor::system("test");
    users.create_user("ada", "x", Role::Operator, &system).await.unwrap();
    users.set_profile("ada", Some("Ada Lovelace"), Some("ada@example.org"), &system).await.unwrap();
    let ada = Actor::new(ActorKind::User, "ada", None);
    let key = users.create_api_key("ada's key", Role::Operator, None, &ada).await.unwrap().1;
    (app, key)
}

fn head(app: &App) -> String {
    Repository::open_bare(app.repo.path()).unwrap().refname_to_id("refs/heads/main").unwrap().to_string()
}

fn commit_of(app: &App, id: &str) -> (String, String, Vec<String>) {
    let repo = Repository::open_bare(app.repo.path()).unwrap();
    let c = repo.find_commit(git2::Oid::from_str(id).unwrap()).unwrap();
    let author = format!("{} <{}>", c.author().name().unwrap(), c.author().email().unwrap());
    (author, c.message().unwrap().to_string(), c.parent_ids().map(|p| p.to_string()).collect())
}

fn file_at(app: &App, rev: &str, path: &str) -> Option<String> {
    let repo = Repository::open_bare(app.repo.path()).unwrap();
    let tree = repo.find_commit(git2::Oid::from_str(rev).unwrap()).unwrap().tree().unwrap();
    let entry = tree.get_path(std::path::Path::new(path)).ok()?;
    Some(String::from_utf8(repo.find_blob(entry.id()).unwrap().content().to_vec()).unwrap())
}

async fn edit(app: &App, key: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let auth = format!("Bearer {key}");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    let (status, body) = app.call(method, path, &headers, body.to_string().into_bytes()).await;
    (status.as_u16(), body)
}

async fn live_spec(app: &App, name: &str) -> Value {
    let (_, list) = app.get("/api/v1/schedules").await;
    list["schedules"].as_array().unwrap().iter().find(|s| s["name"] == name).map(|s| s["spec"].clone()).unwrap()
}

async fn wait_for(app: &App, what: &str, ok: impl AsyncFn(&App) -> bool) {
    for _ in 0..200 {
        if ok(app).await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{what} did not happen in 5 s");
}

#[tokio::test]
async fn a_changed_cron_is_one_commit_by_the_user_that_keeps_every_other_byte_and_goes_live() {
    let (app, key) = start().await;
    let base = head(&app);
    let before = file_at(&app, &base, SCHEDULE).unwrap();
    let spec = live_spec(&app, "daily-maintenance").await;
    let body = json!({"spec": dict(&spec, "cron", json!("15 3 * * *")), "base_revision": base, "message": "Run maintenance after the backups"});

    let (status, preview) =
        edit(&app, &key, "POST", "/api/v1/config/schedules/daily-maintenance/preview", body.clone()).await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(head(&app), base, "a preview writes nothing");
    assert!(preview["diff"].as_str().unwrap().contains("-  cron: \"0 2 * * *\"\n+  cron: \"15 3 * * *\""), "{preview}");
    assert_eq!(preview["commit"], Value::Null);
    let steps = preview["plan"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{preview}");
    assert_eq!((steps[0]["action"].as_str(), steps[0]["name"].as_str()), (Some("change"), Some("daily-maintenance")));
    assert_eq!(steps[0]["fields"], json!([{"path": "spec.cron", "old": "0 2 * * *", "new": "15 3 * * *"}]));

    let (status, done) = edit(&app, &key, "PUT", "/api/v1/config/schedules/daily-maintenance", body).await;
    assert_eq!(status, 200, "{done}");
    let commit = done["commit"].as_str().unwrap().to_string();
    assert_eq!(head(&app), commit);
    let (author, message, parents) = commit_of(&app, &commit);
    assert_eq!(author, "Ada Lovelace <ada@example.org>");
    assert!(
        message.starts_with(
            "Run maintenance after the backups\n\nChange Schedule daily-maintenance in schedules/daily-maintenance.yaml"
        ),
        "{message}"
    );
    assert!(message.contains("spec.cron: \"0 2 * * *\" -> \"15 3 * * *\""), "{message}");
    assert_eq!(parents, std::slice::from_ref(&base));
    let after = file_at(&app, &commit, SCHEDULE).unwrap();
    assert_eq!(after, before.replace("cron: \"0 2 * * *\"", "cron: \"15 3 * * *\""), "only the cron moved");

    wait_for(&app, "the edited cron live", async |a| live_spec(a, "daily-maintenance").await["cron"] == "15 3 * * *")
        .await;
    let (_, audit) = app.get("/api/v1/audit?action=config.written").await;
    let entry = &audit["items"][0];
    assert_eq!(
        (entry["actor"].as_str(), entry["target"].as_str()),
        (Some("ada's key"), Some("Schedule/daily-maintenance")),
        "{audit}"
    );
    assert_eq!(entry["detail"]["commit"], commit.as_str());
}

fn dict(spec: &Value, key: &str, value: Value) -> Value {
    let mut s = spec.clone();
    s[key] = value;
    s
}

#[tokio::test]
async fn a_moved_branch_takes_the_edit_on_its_new_head_unless_the_object_changed_there() {
    let (mut app, key) = start().await;
    let base = head(&app);
    let spec = live_spec(&app, "daily-maintenance").await;

    // Someone else changes another file: the edit lands on top of theirs.
    let agent = format!("{}# upstream\n", app.repo.pull().read("agents/zfs-health.yaml"));
    app.repo.write("agents/zfs-health.yaml", agent);
    let upstream = app.repo.commit("upstream edit of another file");
    let body = json!({"spec": dict(&spec, "jitter", json!("5m")), "base_revision": base});
    let (status, done) = edit(&app, &key, "PUT", "/api/v1/config/schedules/daily-maintenance", body).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["rebased"], true);
    let commit = done["commit"].as_str().unwrap();
    assert_eq!(commit_of(&app, commit).2, std::slice::from_ref(&upstream));
    assert!(file_at(&app, commit, "agents/zfs-health.yaml").unwrap().ends_with("# upstream\n"), "their change is kept");

    // Someone else changes the same schedule: a conflict that shows both, and nothing written.
    app.repo.pull();
    let theirs = app.repo.read(SCHEDULE).replace("jitter: 5m", "jitter: 1m");
    app.repo.write(SCHEDULE, theirs);
    let upstream = app.repo.commit("upstream edit of the same schedule");
    let body = json!({"spec": dict(&spec, "jitter", json!("7m")), "base_revision": commit});
    let (status, conflict) = edit(&app, &key, "PUT", "/api/v1/config/schedules/daily-maintenance", body).await;
    assert_eq!(status, 409, "{conflict}");
    assert_eq!(head(&app), upstream, "nothing written");
    let c = &conflict["conflict"];
    assert_eq!(
        (c["yours"]["jitter"].as_str(), c["theirs"]["jitter"].as_str(), c["base"]["jitter"].as_str()),
        (Some("7m"), Some("1m"), Some("5m"))
    );
    assert_eq!(c["head_revision"], upstream.as_str());
    assert_eq!(c["head_message"], "upstream edit of the same schedule");
}

#[tokio::test]
async fn an_invalid_edit_names_every_field_at_once_and_writes_nothing() {
    let (app, key) = start().await;
    let base = head(&app);
    let spec = live_spec(&app, "daily-maintenance").await;
    let bad = dict(&dict(&spec, "cron", json!("61 * * * *")), "agents", json!(["docker-manager", "disk-spaec"]));
    for path in ["/api/v1/config/schedules/daily-maintenance/preview", "/api/v1/config/schedules/daily-maintenance"] {
        let method = if path.ends_with("preview") { "POST" } else { "PUT" };
        let (status, r) = edit(&app, &key, method, path, json!({"spec": bad, "base_revision": base})).await;
        assert_eq!(status, 422, "{r}");
        let fields: Vec<(&str, &str)> = r["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["field"].as_str().unwrap_or("-"), e["file"].as_str().unwrap()))
            .collect();
        assert_eq!(fields, [("spec.cron", SCHEDULE), ("spec.agents[1]", SCHEDULE)], "{r}");
        assert!(r["errors"][1]["message"].as_str().unwrap().contains("unknown agent \"disk-spaec\""), "{r}");
        assert!(r["errors"][0]["line"].as_u64().unwrap() > 1);
        assert_eq!(head(&app), base, "nothing written");
    }
    // Not a spec at all, a kind that does not exist, a name that cannot be one.
    let (status, _) =
        edit(&app, &key, "PUT", "/api/v1/config/schedules/x", json!({"spec": [1], "base_revision": base})).await;
    assert_eq!(status, 400);
    let (status, _) =
        edit(&app, &key, "PUT", "/api/v1/config/widgets/x", json!({"spec": {}, "base_revision": base})).await;
    assert_eq!(status, 404);
    let (status, _) =
        edit(&app, &key, "PUT", "/api/v1/config/schedules/Bad_Name", json!({"spec": {}, "base_revision": base})).await;
    assert_eq!(status, 400);
    let (status, _) =
        edit(&app, &key, "DELETE", "/api/v1/config/schedules/never-was", json!({"base_revision": base})).await;
    assert_eq!(status, 404);
    // A viewer may not write.
    let viewer =
        app.store.user_repo().create_api_key("viewer", Role::Viewer, None, &Actor::system("test")).await.unwrap().1;
    let (status, _) = edit(
        &app,
        &viewer,
        "PUT",
        "/api/v1/config/schedules/daily-maintenance",
        json!({"spec": spec, "base_revision": base}),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(head(&app), base);
}

#[tokio::test]
async fn new_objects_get_a_file_with_a_modeline_beside_their_kind_and_deleted_ones_lose_theirs() {
    let (app, key) = start().await;
    let base = head(&app);
    let spec = json!({"cron": "*/30 * * * *", "agents": ["disk-space"], "nodes": ["tower"], "description": "Half-hourly disk check"});
    let (status, done) =
        edit(&app, &key, "PUT", "/api/v1/config/schedules/disk-watch", json!({"spec": spec, "base_revision": base}))
            .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["file"], "schedules/disk-watch.yaml");
    let commit = done["commit"].as_str().unwrap().to_string();
    let text = file_at(&app, &commit, "schedules/disk-watch.yaml").unwrap();
    assert!(text.starts_with("# yaml-language-server: $schema=../../schemas/json/schedule.schema.json\napiVersion: car/v1\nkind: Schedule\nmetadata:\n  name: disk-watch\nspec:\n  description: Half-hourly disk check\n"), "{text}");
    assert!(commit_of(&app, &commit).1.starts_with("Add Schedule disk-watch"));
    wait_for(&app, "the new schedule live", async |a| {
        a.get("/api/v1/schedules").await.1.to_string().contains("disk-watch")
    })
    .await;

    // A trigger the schedule does not need: its file goes.
    let (status, done) = edit(
        &app,
        &key,
        "DELETE",
        "/api/v1/config/triggers/emergency",
        json!({"base_revision": commit, "message": "No more pager"}),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    let commit = done["commit"].as_str().unwrap();
    assert_eq!(file_at(&app, commit, "triggers/emergency.yaml"), None);
    assert!(done["diff"].as_str().unwrap().starts_with("--- a/triggers/emergency.yaml\n+++ /dev/null"), "{done}");
    assert!(
        done["plan"].as_array().unwrap().iter().any(|s| s["action"] == "remove" && s["name"] == "emergency"),
        "{done}"
    );
    // An agent a schedule still runs cannot go: the schedules that name it say why.
    let (status, r) =
        edit(&app, &key, "DELETE", "/api/v1/config/agents/disk-space", json!({"base_revision": commit})).await;
    assert_eq!(status, 422, "{r}");
    assert!(r["errors"].to_string().contains("unknown agent \\\"disk-space\\\""), "{r}");
}

#[tokio::test]
async fn a_secret_typed_into_a_channel_goes_to_the_secret_store_and_never_into_git() {
    let (app, key) = start().await;
    let base = head(&app);
    let typed = "gotify-app-token-typed-in-the-form";
    let spec = json!({"description": "My phone", "gotify": {"url": "http://gotify.lan:8080", "token": {"secret": "phone-token", "value": typed}}});
    for (method, path) in [
        ("POST", "/api/v1/config/notification-channels/phone/preview"),
        ("PUT", "/api/v1/config/notification-channels/phone"),
    ] {
        let (status, r) = edit(&app, &key, method, path, json!({"spec": spec, "base_revision": base})).await;
        assert_eq!(status, 200, "{r}");
        assert!(!r.to_string().contains(typed), "the answer does not show it: {r}");
        assert!(r["diff"].as_str().unwrap().contains("token:\n+      secret: phone-token"), "{r}");
    }
    assert_eq!(app.state.secrets.get("phone-token").await.unwrap().as_deref(), Some(typed));
    // No blob of the repository, no audit entry holds the value.
    let repo = Repository::open_bare(app.repo.path()).unwrap();
    let mut leaked = false;
    repo.odb()
        .unwrap()
        .foreach(|oid| {
            let blob = repo.find_blob(*oid);
            leaked |= blob.is_ok_and(|b| String::from_utf8_lossy(b.content()).contains(typed));
            true
        })
        .unwrap();
    assert!(!leaked, "the typed secret reached git");
    assert!(!common::dump(&app.store).await.contains(typed), "the typed secret is stored in the clear");
}

#[tokio::test]
async fn an_edit_that_changes_nothing_makes_no_commit() {
    let (app, key) = start().await;
    let base = head(&app);
    let spec = live_spec(&app, "daily-maintenance").await;
    let (status, r) = edit(
        &app,
        &key,
        "PUT",
        "/api/v1/config/schedules/daily-maintenance",
        json!({"spec": spec, "base_revision": base}),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!((r["commit"].clone(), r["diff"].as_str()), (Value::Null, Some("")));
    assert_eq!(head(&app), base);
}

/// The example config with pull-request mode against a fake forge.
async fn start_forge(flavor: Flavor) -> (App, FakeForge) {
    let forge = FakeForge::start(flavor, "forge-token").await;
    let name = match flavor {
        Flavor::GitHub => "github",
        Flavor::Gitea => "gitea",
        Flavor::GitLab => "gitlab",
    };
    let repo = car_testkit::git::ConfigRepo::from_dir(&common::example_dir());
    repo.commit("initial config");
    let settings = [
        ("CONFIG_WRITE_MODE", "pull-request"),
        ("CONFIG_FORGE", name),
        ("CONFIG_FORGE_API_URL", forge.api.as_str()),
        ("CONFIG_FORGE_REPO", "me/homelab"),
        ("CONFIG_FORGE_TOKEN", "forge-token"),
    ];
    (App::with_settings(repo, &settings).await, forge)
}

#[tokio::test]
async fn pull_request_mode_pushes_a_branch_and_opens_a_pull_request_on_each_forge() {
    for flavor in [Flavor::GitHub, Flavor::Gitea, Flavor::GitLab] {
        let (app, forge) = start_forge(flavor).await;
        let base = head(&app);
        let spec = live_spec(&app, "daily-maintenance").await;
        let body = json!({"spec": dict(&spec, "cron", json!("15 3 * * *")), "base_revision": base, "message": "Later maintenance"});
        let (status, done) = edit(&app, &app.key, "PUT", "/api/v1/config/schedules/daily-maintenance", body).await;
        assert_eq!(status, 200, "{flavor:?}: {done}");
        assert_eq!(head(&app), base, "{flavor:?}: the config branch waits for the merge");
        let pr = &done["pull_request"];
        let branch = pr["branch"].as_str().unwrap();
        assert!(branch.starts_with("car/schedules-daily-maintenance-"), "{pr}");
        let repo = Repository::open_bare(app.repo.path()).unwrap();
        let pushed = repo.refname_to_id(&format!("refs/heads/{branch}")).unwrap().to_string();
        assert_eq!(done["commit"], pushed.as_str());
        assert_eq!(commit_of(&app, &pushed).2, std::slice::from_ref(&base));

        let (path, title, head_field, base_field, text) = match flavor {
            Flavor::GitLab => (
                "/api/v4/projects/me%2Fhomelab/merge_requests",
                "title",
                "source_branch",
                "target_branch",
                "description",
            ),
            Flavor::Gitea => ("/api/v1/repos/me/homelab/pulls", "title", "head", "base", "body"),
            Flavor::GitHub => ("/repos/me/homelab/pulls", "title", "head", "base", "body"),
        };
        let sent = forge.wait_for("POST", path.rsplit('/').next().unwrap()).await;
        assert_eq!(
            (sent.path.as_str(), sent.status, sent.token.as_deref()),
            (path, 201, Some("forge-token")),
            "{flavor:?}"
        );
        assert_eq!(
            (sent.body[title].as_str(), sent.body[head_field].as_str(), sent.body[base_field].as_str()),
            (Some("Later maintenance"), Some(branch), Some("main"))
        );
        let described = sent.body[text].as_str().unwrap();
        assert!(
            described.contains("spec.cron: \"0 2 * * *\" -> \"15 3 * * *\"")
                && described.contains("+  cron: \"15 3 * * *\""),
            "{described}"
        );
        assert_eq!(pr["number"], 1);

        let (_, changes) = app.get("/api/v1/config/changes").await;
        let c = &changes["changes"][0];
        assert_eq!(
            (c["state"].as_str(), c["url"].as_str(), c["branch"].as_str()),
            (Some("open"), pr["url"].as_str(), Some(branch)),
            "{changes}"
        );

        // Merged on the forge: the proposal says so, and a sync is asked for.
        let merged =
            json!({"action": "closed", "number": 1, "pull_request": {"merged": true, "base": {"ref": "main"}}});
        if flavor != Flavor::GitLab {
            assert_eq!(pull_request_event(&app, merged).await.0, 202);
            wait_for(&app, "the proposal merged", async |a| {
                a.get("/api/v1/config/changes").await.1["changes"][0]["state"] == "merged"
            })
            .await;
        }

        // The same server can still commit straight away when the edit asks.
        let body = json!({"spec": dict(&spec, "jitter", json!("3m")), "base_revision": base, "mode": "commit"});
        let (status, done) = edit(&app, &app.key, "PUT", "/api/v1/config/schedules/daily-maintenance", body).await;
        assert_eq!((status, done["pull_request"].clone()), (200, Value::Null), "{done}");
        assert_eq!(head(&app), done["commit"].as_str().unwrap());
    }
}

fn signed(body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(common::app::SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn pull_request_event(app: &App, body: Value) -> (u16, Value) {
    let bytes = body.to_string().into_bytes();
    let sig = signed(&bytes);
    let headers = [
        ("x-github-event", "pull_request"),
        ("x-hub-signature-256", sig.as_str()),
        ("content-type", "application/json"),
    ];
    let (status, answer) = app.call("POST", "/api/v1/webhooks/git", &headers, bytes).await;
    (status.as_u16(), answer)
}

#[tokio::test]
async fn a_pull_request_is_checked_before_merge_and_a_broken_head_fails_naming_file_and_line() {
    let (mut app, forge) = start_forge(Flavor::GitHub).await;
    // A contributor's pull request #5 with a broken cron, #6 with a good one.
    let good = app.repo.pull().read(SCHEDULE);
    app.repo.write(SCHEDULE, good.replace("cron: \"0 2 * * *\"", "cron: \"0 25 * * *\""));
    let broken = app.repo.commit_on("broken", "a broken cron");
    app.repo.write(SCHEDULE, good.replace("cron: \"0 2 * * *\"", "cron: \"30 2 * * *\""));
    let fine = app.repo.commit_on("fine", "a later cron");
    let repo = Repository::open_bare(app.repo.path()).unwrap();
    for (n, sha) in [(5, &broken), (6, &fine)] {
        repo.reference(&format!("refs/pull/{n}/head"), git2::Oid::from_str(sha).unwrap(), true, "the forge's pull ref")
            .unwrap();
    }

    let event = |n: i64, sha: &str| json!({"action": "opened", "number": n, "pull_request": {"head": {"sha": sha}, "base": {"ref": "main"}}});
    let (status, answer) = pull_request_event(&app, event(5, &broken)).await;
    assert_eq!(status, 202, "{answer}");
    let status = forge.wait_for("POST", &format!("/statuses/{broken}")).await;
    assert_eq!(status.body["state"], "failure");
    let description = status.body["description"].as_str().unwrap();
    assert!(
        description.starts_with("1 error; schedules/daily-maintenance.yaml:14:9: invalid cron expression"),
        "{description}"
    );
    assert_eq!(status.body["context"], "car-server/config");
    let comment = forge.wait_for("POST", "/issues/5/comments").await;
    assert!(
        comment.body["body"]
            .as_str()
            .unwrap()
            .contains("`schedules/daily-maintenance.yaml:14:9` invalid cron expression \"0 25 * * *\""),
        "{:?}",
        comment.body
    );

    pull_request_event(&app, event(6, &fine)).await;
    let status = forge.wait_for("POST", &format!("/statuses/{fine}")).await;
    assert_eq!(status.body["state"], "success");
    assert!(
        status.body["description"].as_str().unwrap().starts_with("valid; Plan: 0 to add, 1 to change, 0 to remove"),
        "{:?}",
        status.body
    );
    let comment = forge.wait_for("POST", "/issues/6/comments").await;
    assert!(
        comment.body["body"].as_str().unwrap().contains("spec.cron: \"0 2 * * *\" -> \"30 2 * * *\""),
        "{:?}",
        comment.body
    );

    // A pull request into another branch is none of our business.
    let other =
        json!({"action": "opened", "number": 7, "pull_request": {"head": {"sha": fine}, "base": {"ref": "dev"}}});
    assert_eq!(pull_request_event(&app, other).await.0, 202);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!forge.requests().iter().any(|r| r.path.contains("/issues/7/")), "{:#?}", forge.requests());
}

#[tokio::test]
async fn a_local_folder_is_written_in_place_and_committed_when_it_is_a_work_tree() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    copy(&common::example_dir(), &config);
    let work = Repository::init(dir.path()).unwrap();
    let mut index = work.index().unwrap();
    index.add_all(["config"], git2::IndexAddOption::DEFAULT, None).unwrap();
    let tree = work.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("Someone", "someone@example.org").unwrap();
    work.commit(Some("HEAD"), &sig, &sig, "the config", &tree, &[]).unwrap();
    index.write().unwrap();

    let store = common::store().await;
    let data = tempfile::tempdir().unwrap();
    let mut server = common::application(&store, &config.display().to_string(), data.path()).await;
    server.start(&[car_server::app::startup::Task::Sync]);
    let state = server.state.clone();
    let key = common::admin_key(&store).await;
    let app = car_server::api::app(state);
    let call = |method: &'static str, path: String, body: Value| {
        let app = app.clone();
        let key = key.clone();
        async move {
            let req = axum::http::Request::builder()
                .method(method)
                .uri(path)
                .header("authorization", format!("Bearer {key}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .unwrap();
            let a = common::app::send(&app, req, None).await;
            (a.status.as_u16(), a.body)
        }
    };
    let mut base = None;
    for _ in 0..200 {
        base = server.live.now().revision.clone();
        if base.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let base = base.expect("the folder applied");
    let (_, list) = call("GET", "/api/v1/schedules".into(), Value::Null).await;
    let spec = list["schedules"].as_array().unwrap().iter().find(|s| s["name"] == "daily-maintenance").unwrap()["spec"]
        .clone();
    let body = json!({"spec": dict(&spec, "cron", json!("45 1 * * *")), "base_revision": base, "message": "Earlier"});
    let (status, done) = call("PUT", "/api/v1/config/schedules/daily-maintenance".into(), body).await;
    assert_eq!(status, 200, "{done}");
    let text = std::fs::read_to_string(config.join(SCHEDULE)).unwrap();
    assert!(text.contains("cron: \"45 1 * * *\""), "written in place: {text}");
    let commit = work.head().unwrap().peel_to_commit().unwrap();
    assert_eq!((commit.summary(), commit.author().name()), (Some("Earlier"), Some("test admin")));
    assert_eq!(done["commit"], commit.id().to_string().as_str());
    let statuses = work.statuses(None).unwrap();
    assert!(statuses.iter().all(|s| !s.path().unwrap_or_default().starts_with("config/")), "the work tree is clean");
}

fn copy(from: &std::path::Path, to: &std::path::Path) {
    for entry in walkdir::WalkDir::new(from).into_iter().filter_map(Result::ok).filter(|e| e.file_type().is_file()) {
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(entry.path(), target).unwrap();
    }
}
