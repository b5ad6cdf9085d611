//! The scheduler against a real PostgreSQL, with a clock the test sets:
//! slots become queued runs on the selected nodes, missed slots follow the
//! misfire policy, overlap skips are recorded, and two replicas fire each
//! slot once.

mod common;

use common::Repos;

use car_server::config::sync::Trigger;
use car_server::db::Store;
use car_server::runs::RunTrigger;
use car_server::schedule::fire::Scheduler;
use chrono::{DateTime, TimeZone, Utc};

fn config(schedule: &str) -> tempfile::TempDir {
    let nodes = "apiVersion: car/v1\nkind: Node\nmetadata: {name: nas}\nspec: {os: linux, address: 'http://127.0.0.1:9', tags: [storage]}\n\
                 ---\napiVersion: car/v1\nkind: Node\nmetadata: {name: pi}\nspec: {os: linux, address: 'http://127.0.0.1:9', tags: [edge]}\n";
    let agent = "apiVersion: car/v1\nkind: Agent\nmetadata: {name: checker}\nspec: {prompt: check, mode: read-only}\n";
    car_testkit::config_dir(&[("nodes.yaml", nodes), ("agent.yaml", agent), ("schedule.yaml", schedule)])
}

fn schedule(extra: &str) -> String {
    format!(
        "apiVersion: car/v1\nkind: Schedule\nmetadata: {{name: often}}\nspec:\n  agents: [checker]\n  nodes: {{tags: [storage]}}\n{extra}"
    )
}

/// A database with `schedule` applied, and a server replica's scheduler over it.
async fn setup(schedule: &str) -> (Store, Scheduler, tempfile::TempDir, tempfile::TempDir) {
    let store = common::store().await;
    let dir = config(schedule);
    let data = tempfile::tempdir().unwrap();
    common::syncer(&store, dir.path().to_str().unwrap(), data.path()).await.sync_once(Trigger::Start).await.unwrap();
    let scheduler = replica(&store, &dir, &data).await;
    (store, scheduler, dir, data)
}

/// The scheduler of a server replica with its data in `data`.
async fn replica(store: &Store, config: &tempfile::TempDir, data: &tempfile::TempDir) -> Scheduler {
    let app = common::application(store, config.path().to_str().unwrap(), data.path()).await;
    Scheduler { runs: app.runs.clone(), repo: store.schedule_repo() }
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap() + chrono::TimeDelta::seconds(secs)
}

async fn runs_of(store: &Store) -> Vec<car_server::runs::Run> {
    let filter = car_server::runs::repo::RunFilter { limit: 100, ..Default::default() };
    let mut runs = store.run_repo().runs(&filter).await.unwrap();
    runs.reverse();
    runs
}

#[tokio::test]
async fn slots_become_runs_on_the_selected_nodes_from_the_first_look_on() {
    let (store, scheduler, _dir, _data) = setup(&schedule("  every: 10s\n  overlap: allow\n")).await;
    scheduler.tick(at(0)).await.unwrap();
    assert!(runs_of(&store).await.is_empty(), "a new schedule fired for the past");
    scheduler.tick(at(5)).await.unwrap();
    assert!(runs_of(&store).await.is_empty());
    scheduler.tick(at(10)).await.unwrap();
    scheduler.tick(at(21)).await.unwrap();
    let fired = runs_of(&store).await;
    let what: Vec<(&str, &str, Option<DateTime<Utc>>)> =
        fired.iter().map(|r| (r.agent.as_str(), r.node.as_str(), r.slot)).collect();
    assert_eq!(what, [("checker", "nas", Some(at(10))), ("checker", "nas", Some(at(20)))]);
    assert_eq!(fired[0].trigger, RunTrigger::Schedule);
    assert_eq!(fired[0].started_by.as_deref(), Some("often"));
    let told = scheduler.runs.context(&fired[0]);
    assert_eq!(told.node.tags, ["storage"]);
    assert_eq!(told.extra["schedule"], "often");
    assert_eq!(told.extra["slot"], serde_json::json!(at(10)));

    // The schedules page's last result, and the history's trigger filter.
    let repo = store.run_repo();
    let last = repo.last_scheduled(&[("often", "checker"), ("never-fired", "checker")]).await.unwrap();
    let last: Vec<(&str, &str, &str)> =
        last.iter().map(|r| (r.schedule.as_str(), r.id.as_str(), r.node.as_str())).collect();
    assert_eq!(last, [("often", fired[1].id.as_str(), "nas")]);
    let by = |trigger| car_server::runs::repo::RunFilter { trigger: Some(trigger), limit: 100, ..Default::default() };
    assert_eq!(repo.runs(&by(RunTrigger::Schedule)).await.unwrap().len(), 2);
    assert!(repo.runs(&by(RunTrigger::Manual)).await.unwrap().is_empty());
}

#[tokio::test]
async fn after_ten_missed_slots_run_once_runs_only_the_newest() {
    let (store, scheduler, _dir, _data) = setup(&schedule("  every: 10s\n  misfire: run-once\n")).await;
    scheduler.tick(at(0)).await.unwrap();
    // The server was away for 100 s: slots 10..100 were missed.
    scheduler.tick(at(105)).await.unwrap();
    let fired = runs_of(&store).await;
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].slot, Some(at(100)));
    let skipped = store.schedule_repo().skipped("often", 100).await.unwrap();
    assert_eq!(skipped.len(), 9);
    assert!(skipped.iter().all(|s| s.reason.starts_with("missed")), "{skipped:?}");
}

#[tokio::test]
async fn after_missed_slots_skip_runs_none_of_them_but_fires_on_time_again() {
    let (store, scheduler, _dir, _data) = setup(&schedule("  every: 10s\n  misfire: skip\n")).await;
    scheduler.tick(at(0)).await.unwrap();
    scheduler.tick(at(1000)).await.unwrap(); // slot 1000 is on time
    let fired = runs_of(&store).await;
    assert_eq!(fired.iter().map(|r| r.slot).collect::<Vec<_>>(), [Some(at(1000))]);
}

#[tokio::test]
async fn overlap_skip_records_slots_while_the_previous_run_goes() {
    let (store, scheduler, _dir, _data) = setup(&schedule("  every: 2s\n  overlap: skip\n")).await;
    scheduler.tick(at(0)).await.unwrap();
    scheduler.tick(at(2)).await.unwrap();
    scheduler.tick(at(4)).await.unwrap();
    scheduler.tick(at(6)).await.unwrap();
    let fired = runs_of(&store).await;
    assert_eq!(fired.len(), 1, "the slot fired while its previous run was open");
    let skipped = store.schedule_repo().skipped("often", 10).await.unwrap();
    let slots: Vec<_> = skipped.iter().map(|s| s.slot).collect();
    assert_eq!(slots, [at(6), at(4)]);
    assert!(skipped[0].reason.contains(&format!("the previous run {} is still queued", fired[0].id)), "{skipped:?}");
}

#[tokio::test]
async fn overlap_queue_waits_for_the_previous_run() {
    let (store, scheduler, _dir, _data) = setup(&schedule("  every: 2s\n  overlap: queue\n")).await;
    scheduler.tick(at(0)).await.unwrap();
    scheduler.tick(at(2)).await.unwrap();
    scheduler.tick(at(4)).await.unwrap();
    let fired = runs_of(&store).await;
    assert_eq!(fired.len(), 2);
    assert!(fired.iter().all(|r| r.after_previous));
    // The first is claimed (as if dispatched); the second waits for it.
    let first = store.run_repo().claim_queued("a", true).await.unwrap().expect("the first run");
    assert_eq!(first.id, fired[0].id);
    assert!(
        store.run_repo().claim_queued("a", true).await.unwrap().is_none(),
        "the queued run did not wait for the previous one"
    );
}

#[tokio::test]
async fn two_replicas_fire_each_slot_once() {
    let (store, a, dir, _data) = setup(&schedule("  every: 10s\n  overlap: allow\n")).await;
    let other = tempfile::tempdir().unwrap();
    let b = replica(&store, &dir, &other).await;
    a.tick(at(0)).await.unwrap();
    for t in [10, 20, 30] {
        let (x, y) = tokio::join!(a.tick(at(t)), b.tick(at(t)));
        x.unwrap();
        y.unwrap();
    }
    let slots: Vec<_> = runs_of(&store).await.iter().map(|r| r.slot).collect();
    assert_eq!(slots, [Some(at(10)), Some(at(20)), Some(at(30))]);
}

#[tokio::test]
async fn a_paused_schedule_does_not_fire_and_does_not_catch_up_when_resumed() {
    let (store, scheduler, _dir, _data) = setup(&schedule("  every: 10s\n")).await;
    scheduler.tick(at(0)).await.unwrap();
    let by = car_server::trust::audit::Actor::system("test");
    assert!(scheduler.runs.live.pause("often", Some("maintenance"), &by).await.unwrap());
    scheduler.tick(at(50)).await.unwrap();
    assert!(scheduler.runs.live.resume("often", &by).await.unwrap());
    scheduler.tick(at(55)).await.unwrap();
    assert!(runs_of(&store).await.is_empty(), "a paused schedule fired");
    scheduler.tick(at(60)).await.unwrap();
    assert_eq!(runs_of(&store).await.len(), 1);
}
