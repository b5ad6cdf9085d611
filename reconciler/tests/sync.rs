//! The sync controller against a real PostgreSQL and real git repositories:
//! good revisions apply whole, broken ones are reported at file:line while
//! the last good one stays live, and restarts do not re-apply.

mod common;

use common::Repos;

use car_server::config::repo::SyncOutcome;
use car_server::config::sync::{Outcome, Trigger};
use car_testkit::git::ConfigRepo;
use common::{example_dir, store, syncer};

fn added_node(name: &str) -> String {
    format!(
        "apiVersion: car/v1\nkind: Node\nmetadata:\n  name: {name}\nspec:\n  os: linux\n  address: http://{name}.lan:8100\n"
    )
}

async fn live_nodes(store: &car_server::db::Store) -> Vec<String> {
    store.config_repo().objects(Some("Node")).await.unwrap().into_iter().map(|o| o.name).collect()
}

#[tokio::test]
async fn a_valid_revision_is_applied_whole() {
    let repo = ConfigRepo::from_dir(&example_dir());
    let head = repo.commit("initial config");
    let (store, data) = (store().await, tempfile::tempdir().unwrap());
    let s = syncer(&store, &repo.url(), data.path()).await;
    let Outcome::Applied(changes) = s.sync_once(Trigger::Start).await.unwrap() else { panic!("not applied") };
    assert_eq!(changes.added.len(), 29);
    let state = store.config_repo().sync_state().await.unwrap();
    assert_eq!(state.applied_revision.as_deref(), Some(head.as_str()));
    assert_eq!(state.head_author.as_deref(), Some("Test Author <author@example.org>"));
    assert_eq!(state.head_message.as_deref(), Some("initial config"));
    assert_eq!(live_nodes(&store).await, ["homeserver", "local", "tower", "truenas"]);
    let agent = store.config_repo().object("Agent", "zfs-health").await.unwrap().unwrap();
    assert_eq!(agent.revision, head);
    assert_eq!(agent.file, "agents/zfs-health.yaml");
    assert_eq!(agent.document["spec"]["mode"], "read-only");
}

#[tokio::test]
async fn invalid_commit_keeps_last_good_revision_and_reports_file_line() {
    let mut repo = ConfigRepo::from_dir(&example_dir());
    let good = repo.commit("initial config");
    let (store, data) = (store().await, tempfile::tempdir().unwrap());
    let s = syncer(&store, &repo.url(), data.path()).await;
    s.sync_once(Trigger::Start).await.unwrap();

    repo.write("nodes/extra.yaml", added_node("extra").replace("  os: linux\n", "  os: linux\n  adress_typo: x\n"));
    let bad = repo.commit("break it");
    assert_eq!(s.sync_once(Trigger::Webhook).await.unwrap(), Outcome::Invalid { errors: 1 });

    let state = store.config_repo().sync_state().await.unwrap();
    assert_eq!(state.attempted_revision.as_deref(), Some(bad.as_str()));
    assert_eq!(state.applied_revision.as_deref(), Some(good.as_str()));
    let errors = state.diagnostics.as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["file"], "nodes/extra.yaml");
    assert_eq!((errors[0]["line"].as_u64(), errors[0]["column"].as_u64()), (Some(7), Some(3)));
    assert_eq!(errors[0]["message"], "unknown field \"adress_typo\"");
    assert_eq!(
        errors[0]["hint"],
        "fields allowed here: \"description\", \"address\", \"token\", \"os\", \"tags\", \"capabilities\", \"agents\", \"sandbox\", \"resourceWarnings\""
    );
    assert_eq!(
        live_nodes(&store).await,
        ["homeserver", "local", "tower", "truenas"],
        "a broken commit changed live state"
    );
    let objects = state.objects.as_array().unwrap();
    let extra = objects.iter().find(|o| o["name"] == "extra").unwrap();
    assert_eq!(extra["status"], "Error");
    assert_eq!(extra["message"], "nodes/extra.yaml:7:3: unknown field \"adress_typo\"");
    let tower = objects.iter().find(|o| o["name"] == "tower").unwrap();
    assert_eq!(tower["status"], "Synced");
    let history = store.config_repo().history(20).await.unwrap();
    assert_eq!(history[0].outcome, SyncOutcome::Invalid);
    assert_eq!(history[1].outcome, SyncOutcome::Applied);

    // Fixing the commit recovers without a restart.
    repo.write("nodes/extra.yaml", added_node("extra"));
    let fixed = repo.commit("fix it");
    let Outcome::Applied(changes) = s.sync_once(Trigger::Webhook).await.unwrap() else { panic!("not applied") };
    assert_eq!(changes.added, [("Node".to_string(), "extra".to_string())]);
    let state = store.config_repo().sync_state().await.unwrap();
    assert_eq!(state.applied_revision.as_deref(), Some(fixed.as_str()));
    assert_eq!(state.diagnostics.as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn an_object_removed_from_git_disappears_from_live_state() {
    let mut repo = ConfigRepo::from_dir(&example_dir());
    repo.write("nodes/extra.yaml", added_node("extra"));
    repo.commit("with extra");
    let (store, data) = (store().await, tempfile::tempdir().unwrap());
    let s = syncer(&store, &repo.url(), data.path()).await;
    s.sync_once(Trigger::Start).await.unwrap();
    assert!(live_nodes(&store).await.contains(&"extra".to_string()));
    repo.remove("nodes/extra.yaml");
    repo.commit("without extra");
    let Outcome::Applied(changes) = s.sync_once(Trigger::Poll).await.unwrap() else { panic!("not applied") };
    assert_eq!(changes.removed, [("Node".to_string(), "extra".to_string())]);
    assert!(changes.added.is_empty() && changes.changed.is_empty());
    assert!(!live_nodes(&store).await.contains(&"extra".to_string()));
}

#[tokio::test]
async fn the_same_head_is_synced_once_and_a_restart_does_not_reapply() {
    let repo = ConfigRepo::from_dir(&example_dir());
    repo.commit("initial config");
    let (store, data) = (store().await, tempfile::tempdir().unwrap());
    let s = syncer(&store, &repo.url(), data.path()).await;
    assert!(matches!(s.sync_once(Trigger::Start).await.unwrap(), Outcome::Applied(_)));
    assert_eq!(s.sync_once(Trigger::Webhook).await.unwrap(), Outcome::Unchanged);
    assert_eq!(s.sync_once(Trigger::Webhook).await.unwrap(), Outcome::Unchanged);
    // A new server process on the same database and data dir.
    let restarted = syncer(&store, &repo.url(), data.path()).await;
    assert_eq!(restarted.sync_once(Trigger::Start).await.unwrap(), Outcome::Unchanged);
    // And on a fresh data dir (the mirror is gone): still nothing to re-apply.
    let fresh = tempfile::tempdir().unwrap();
    assert_eq!(
        syncer(&store, &repo.url(), fresh.path()).await.sync_once(Trigger::Start).await.unwrap(),
        Outcome::Unchanged
    );
    assert_eq!(store.config_repo().history(20).await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_unreadable_source_is_an_error_and_live_state_stays() {
    let repo = ConfigRepo::from_dir(&example_dir());
    repo.commit("initial config");
    let (store, data) = (store().await, tempfile::tempdir().unwrap());
    syncer(&store, &repo.url(), data.path()).await.sync_once(Trigger::Start).await.unwrap();
    let mut settings = common::source_settings(&repo.url());
    settings.branch = "nope".into();
    let source = car_server::config::source::open(&settings, data.path()).unwrap();
    let s = car_server::config::sync::Syncer {
        live: common::live(&store).await,
        source: std::sync::Arc::from(source),
        load: Default::default(),
        on_change: Box::new(|_| {}),
    };
    let err = s.sync_once(Trigger::Poll).await.unwrap_err().to_string();
    assert!(err.contains("branch \"nope\" not found") && err.contains("set CONFIG_BRANCH to one of: main"), "{err}");
    let state = store.config_repo().sync_state().await.unwrap();
    assert!(state.fetch_error.is_some());
    assert_eq!(live_nodes(&store).await.len(), 4);
}

#[tokio::test]
async fn a_local_folder_is_read_in_place_and_each_edit_is_a_new_revision() {
    let dir = car_testkit::config_dir(&[("nodes/a.yaml", &added_node("a"))]);
    let (store, data) = (store().await, tempfile::tempdir().unwrap());
    let s = syncer(&store, dir.path().to_str().unwrap(), data.path()).await;
    assert!(matches!(s.sync_once(Trigger::Start).await.unwrap(), Outcome::Applied(_)));
    let first = store.config_repo().sync_state().await.unwrap().applied_revision.unwrap();
    assert!(first.starts_with("local-"), "{first}");
    std::fs::write(dir.path().join("nodes/b.yaml"), added_node("b")).unwrap();
    assert!(matches!(s.sync_once(Trigger::Watch).await.unwrap(), Outcome::Applied(_)));
    assert_ne!(store.config_repo().sync_state().await.unwrap().applied_revision.unwrap(), first);
    assert_eq!(live_nodes(&store).await, ["a", "b"]);
}
