//! `car-server plan` as a PR check runs it: a config folder against the
//! live database, exit 0 nothing, 1 changes, 2 error.

mod common;

use std::process::Command;

use car_server::config::sync::Trigger;
use car_testkit::git::ConfigRepo;

fn plan(dir: &std::path::Path, database_url: &str) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_car-server"))
        .args(["plan", dir.to_str().unwrap()])
        .env("DATABASE_URL", database_url)
        .env("DATA_DIR", dir.join(".no-data"))
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[tokio::test]
async fn plan_shows_what_the_next_sync_would_change() {
    let url = common::database_url().await;
    let store = car_server::db::Store::connect(url.parse().unwrap(), std::time::Duration::from_secs(10)).await.unwrap();
    let repo = ConfigRepo::from_dir(&common::example_dir());
    let rev = repo.commit("initial");
    let data = tempfile::tempdir().unwrap();
    common::syncer(&store, &repo.url(), data.path()).await.sync_once(Trigger::Start).await.unwrap();

    let work = tempfile::tempdir().unwrap();
    let copy = |to: &std::path::Path| {
        for e in walkdir::WalkDir::new(common::example_dir()).into_iter().filter_map(Result::ok) {
            let rel = e.path().strip_prefix(common::example_dir()).unwrap();
            if e.file_type().is_dir() {
                std::fs::create_dir_all(to.join(rel)).unwrap();
            } else {
                std::fs::copy(e.path(), to.join(rel)).unwrap();
            }
        }
    };
    copy(work.path());
    let (code, out, err) = plan(work.path(), &url);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(out, format!("Plan: 0 to add, 0 to change, 0 to remove (live revision: {})\n", &rev[..12]));

    let zfs = work.path().join("agents/zfs-health.yaml");
    std::fs::write(&zfs, std::fs::read_to_string(&zfs).unwrap().replace("timeout: 15m", "timeout: 20m")).unwrap();
    std::fs::remove_file(work.path().join("triggers/emergency.yaml")).unwrap();
    std::fs::write(
        work.path().join("nodes/new.yaml"),
        "apiVersion: car/v1\nkind: Node\nmetadata: {name: new}\nspec: {os: linux}\n",
    )
    .unwrap();
    let (code, out, err) = plan(work.path(), &url);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.starts_with("Plan: 1 to add, 1 to change, 1 to remove"), "{out}");
    assert!(out.contains("  + Node new  (nodes/new.yaml:1)\n"), "{out}");
    assert!(out.contains("  ~ Agent zfs-health  (agents/zfs-health.yaml:"), "{out}");
    assert!(out.contains("      spec.timeout: \"15m\" -> \"20m\"\n"), "{out}");
    assert!(out.contains("  - Trigger emergency\n"), "{out}");

    std::fs::write(
        work.path().join("nodes/new.yaml"),
        "apiVersion: car/v1\nkind: Node\nmetadata: {name: new}\nspec: {os: dos}\n",
    )
    .unwrap();
    let (code, out, err) = plan(work.path(), &url);
    assert_eq!(code, Some(2));
    assert!(out.contains("nodes/new.yaml:4:12: error: unknown value \"dos\""), "{out}");
    assert!(err.contains("the config is invalid, so the next sync would apply nothing"), "{err}");
}

#[tokio::test]
async fn plan_reads_a_revision_of_the_config_repository() {
    let url = common::database_url().await;
    let store = car_server::db::Store::connect(url.parse().unwrap(), std::time::Duration::from_secs(10)).await.unwrap();
    let mut repo = ConfigRepo::from_dir(&common::example_dir());
    let first = repo.commit("initial");
    let data = tempfile::tempdir().unwrap();
    common::syncer(&store, &repo.url(), data.path()).await.sync_once(Trigger::Start).await.unwrap();
    repo.remove("triggers/emergency.yaml");
    repo.commit("drop the trigger");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_car-server"))
            .arg("plan")
            .args(args)
            .env("DATABASE_URL", &url)
            .env("CONFIG_REPO", repo.url())
            .env("DATA_DIR", data.path())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(&[]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.ends_with("  - Trigger emergency\n"), "{out}");
    let (code, out, err) = run(&["--revision", &first]);
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, _, err) = run(&["--revision", "no-such-revision"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("revision \"no-such-revision\" not found"), "{err}");
}
