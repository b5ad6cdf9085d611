//! Retention against a real PostgreSQL and real log files: old finished
//! runs go with their logs, recent and open runs stay, and what the deleted
//! runs used and cost still adds up in the usage statistics.

mod common;

use common::Repos;

use car_schemas::run::{RunFinished, RunStatus, Usage};
use car_server::db::Store;
use car_server::runs::logs::Logs;
use car_server::runs::repo::{NewRun, RunInputs, RunTrigger, UsageGroup};
use car_server::runs::retention::sweep;
use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use serde_json::json;

struct Setup {
    store: Store,
    logs: Logs,
    _data: tempfile::TempDir,
}

async fn setup() -> Setup {
    let store = common::store().await;
    let data = tempfile::tempdir().unwrap();
    let logs = Logs::open(data.path().join("logs")).unwrap();
    Setup { store, logs, _data: data }
}

/// The retention the server defaults to: 90 days.
fn cutoff() -> DateTime<Utc> {
    Utc::now() - TimeDelta::days(90)
}

/// A time long past any 90-day cutoff, on a fixed day so roll-ups have known keys.
fn old(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, day, hour, 0, 0).unwrap()
}

fn recent() -> DateTime<Utc> {
    Utc::now() - TimeDelta::days(1)
}

fn usage(tokens: u64, cost_usd: f64) -> Usage {
    Usage {
        input_tokens: tokens,
        output_tokens: tokens * 2,
        cache_creation_input_tokens: tokens * 3,
        cache_read_input_tokens: tokens * 4,
        cost_usd,
        turns: 1,
    }
}

impl Setup {
    /// A run of `agent` on `node` that ended with `status` (or still is in
    /// an open one), created at `created_at`, with a log file.
    async fn run(&self, agent: &str, node: &str, status: RunStatus, u: Usage, created_at: DateTime<Utc>) -> String {
        self.run_with(RunInputs::default(), agent, node, status, u, created_at).await
    }

    /// A run as `run` makes it, that runs with `inputs`.
    async fn run_with(
        &self,
        inputs: RunInputs,
        agent: &str,
        node: &str,
        status: RunStatus,
        u: Usage,
        created_at: DateTime<Utc>,
    ) -> String {
        let new = NewRun {
            agent: agent.into(),
            node: node.into(),
            trigger: RunTrigger::Manual,
            inputs,
            ..Default::default()
        };
        let run = self.store.run_repo().queue_run(&new).await.unwrap().expect("a queued run");
        let finished = RunFinished { usage: Some(u), ..RunFinished::new(status) };
        match status {
            RunStatus::Queued => {}
            RunStatus::Running | RunStatus::AwaitingApproval => {
                self.store.run_repo().set_status(&run.id, status, "test").await.unwrap()
            }
            _ => assert!(self.store.run_repo().finish(&run.id, &finished, "test", None).await.unwrap()),
        }
        sqlx::query("UPDATE runs SET created_at = $2 WHERE id = $1")
            .bind(&run.id)
            .bind(created_at)
            .execute(self.store.pool())
            .await
            .unwrap();
        self.logs.finish(&run.id, finished).unwrap();
        run.id
    }

    async fn exists(&self, id: &str) -> bool {
        self.store.run_repo().run(id).await.unwrap().is_some()
    }

    async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(self.store.pool()).await.unwrap()
    }
}

/// Comparable rows of a usage answer.
type Row = (String, i64, i64, i64, i64, i64, f64);

fn rows(groups: Vec<UsageGroup>) -> Vec<Row> {
    groups
        .into_iter()
        .map(|g| {
            (
                g.key,
                g.runs,
                g.input_tokens,
                g.output_tokens,
                g.cache_creation_input_tokens,
                g.cache_read_input_tokens,
                g.cost_usd,
            )
        })
        .collect()
}

/// Old runs of two agents on two nodes over two days, every final status.
/// Costs are binary fractions, so sums are exact in any order.
async fn history(s: &Setup) -> Vec<String> {
    vec![
        s.run("checker", "nas", RunStatus::Succeeded, usage(10, 0.25), old(10, 8)).await,
        s.run("checker", "nas", RunStatus::Failed, usage(20, 0.5), old(10, 23)).await,
        s.run("checker", "pi", RunStatus::TimedOut, usage(30, 0.125), old(10, 12)).await,
        s.run("checker", "nas", RunStatus::Succeeded, usage(40, 1.0), old(11, 1)).await,
        s.run("cleaner", "nas", RunStatus::Cancelled, usage(50, 0.0625), old(11, 2)).await,
        s.run("cleaner", "pi", RunStatus::Lost, usage(60, 2.0), old(11, 3)).await,
    ]
}

#[tokio::test]
async fn old_finished_runs_go_with_their_logs_while_recent_and_open_runs_stay() {
    let s = setup().await;
    let gone = history(&s).await;
    let recent = s.run("checker", "nas", RunStatus::Succeeded, usage(1, 0.5), recent()).await;
    let open = [
        s.run("checker", "nas", RunStatus::Queued, Usage::default(), old(1, 0)).await,
        s.run("checker", "pi", RunStatus::Running, Usage::default(), old(1, 0)).await,
        s.run("cleaner", "pi", RunStatus::AwaitingApproval, Usage::default(), old(1, 0)).await,
    ];

    let deleted = sweep(&s.store.run_repo(), &s.logs, cutoff(), 100).await.unwrap();

    assert_eq!(deleted, gone.len() as u64);
    for id in &gone {
        assert!(!s.exists(id).await, "old finished run {id} is still there");
        assert!(!s.logs.path(id).exists(), "old finished run {id}'s log is still there");
    }
    for id in open.iter().chain([&recent]) {
        assert!(s.exists(id).await, "run {id} was deleted");
        assert!(s.logs.path(id).exists(), "run {id}'s log was deleted");
    }
    // Transitions cascade with their runs: only the four kept runs' are left.
    let owners = s.count("SELECT count(DISTINCT run_id) FROM run_transitions").await;
    assert_eq!(owners, 4);
}

/// A `usage_daily` row: day, agent, node, runs, succeeded, failed, the
/// four token counts, cost.
type Daily = (NaiveDate, String, String, i64, i64, i64, i64, i64, i64, i64, f64);

#[tokio::test]
async fn usage_daily_holds_the_deleted_runs_totals_per_day_agent_and_node() {
    let s = setup().await;
    history(&s).await;
    s.run("checker", "nas", RunStatus::Succeeded, usage(1, 0.5), recent()).await;

    sweep(&s.store.run_repo(), &s.logs, cutoff(), 100).await.unwrap();

    let daily: Vec<Daily> = sqlx::query_as(
        "SELECT day, agent, node, runs, succeeded, failed, input_tokens, output_tokens, \
         cache_creation_input_tokens, cache_read_input_tokens, cost_usd FROM usage_daily ORDER BY 1, 2, 3",
    )
    .fetch_all(s.store.pool())
    .await
    .unwrap();
    let day = |d| NaiveDate::from_ymd_opt(2025, 1, d).unwrap();
    let (c, n, p) = ("checker".to_string(), "nas".to_string(), "pi".to_string());
    assert_eq!(
        daily,
        [
            (day(10), c.clone(), n.clone(), 2, 1, 1, 30, 60, 90, 120, 0.75),
            (day(10), c.clone(), p.clone(), 1, 0, 1, 30, 60, 90, 120, 0.125),
            (day(11), c, n.clone(), 1, 1, 0, 40, 80, 120, 160, 1.0),
            (day(11), "cleaner".into(), n, 1, 0, 1, 50, 100, 150, 200, 0.0625),
            (day(11), "cleaner".into(), p, 1, 0, 1, 60, 120, 180, 240, 2.0),
        ]
    );
}

#[tokio::test]
async fn usage_after_a_sweep_equals_usage_before_it() {
    let s = setup().await;
    history(&s).await;
    s.run("checker", "nas", RunStatus::Succeeded, usage(1, 0.5), recent()).await;
    s.run("cleaner", "pi", RunStatus::Failed, usage(2, 0.25), recent()).await;
    let (from, to) = (old(1, 0), Utc::now() + TimeDelta::days(1));
    let mut before = Vec::new();
    for group_by in ["agent", "node", "day"] {
        before.push(rows(s.store.run_repo().usage(from, to, group_by).await.unwrap()));
    }

    sweep(&s.store.run_repo(), &s.logs, cutoff(), 100).await.unwrap();

    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM runs").fetch_one(s.store.pool()).await.unwrap();
    assert_eq!(left, 2, "the old runs are still there");
    for (group_by, before) in ["agent", "node", "day"].into_iter().zip(before) {
        let after = rows(s.store.run_repo().usage(from, to, group_by).await.unwrap());
        assert_eq!(after, before, "grouped by {group_by}");
    }
}

#[tokio::test]
async fn a_rolled_up_day_counts_whole_when_the_range_touches_it() {
    let s = setup().await;
    s.run("checker", "nas", RunStatus::Succeeded, usage(10, 0.25), old(10, 15)).await;
    sweep(&s.store.run_repo(), &s.logs, cutoff(), 100).await.unwrap();
    let at = |day, hour| Utc.with_ymd_and_hms(2025, 1, day, hour, 0, 0).unwrap();
    let runs = async |from, to| -> i64 {
        s.store.run_repo().usage(from, to, "day").await.unwrap().iter().map(|g| g.runs).sum()
    };

    // The run was at 15:00; ranges that hold any part of its day count it.
    assert_eq!(runs(at(10, 0), at(11, 0)).await, 1);
    assert_eq!(runs(at(10, 20), at(11, 0)).await, 1, "a range starting late in the day");
    assert_eq!(runs(at(9, 0), at(10, 1)).await, 1, "a range ending early in the day");
    assert_eq!(runs(at(9, 0), at(10, 0)).await, 0, "a range ending at the day's midnight");
    assert_eq!(runs(at(11, 0), at(12, 0)).await, 0, "a range starting after the day");
    let keys: Vec<String> =
        s.store.run_repo().usage(at(1, 0), at(20, 0), "day").await.unwrap().into_iter().map(|g| g.key).collect();
    assert_eq!(keys, ["2025-01-10"]);
}

#[tokio::test]
async fn small_batches_delete_every_old_run() {
    let s = setup().await;
    let mut ids = Vec::new();
    for hour in 0..5 {
        ids.push(s.run("checker", "nas", RunStatus::Succeeded, usage(1, 0.5), old(10, hour)).await);
    }

    let deleted = sweep(&s.store.run_repo(), &s.logs, cutoff(), 2).await.unwrap();

    assert_eq!(deleted, 5);
    assert_eq!(s.count("SELECT count(*) FROM runs").await, 0);
    assert!(ids.iter().all(|id| !s.logs.path(id).exists()));
    assert_eq!(s.count("SELECT runs FROM usage_daily").await, 5);
}

#[tokio::test]
async fn a_log_that_cannot_be_deleted_does_not_stop_the_sweep() {
    let s = setup().await;
    let missing = s.run("checker", "nas", RunStatus::Succeeded, usage(1, 0.5), old(10, 1)).await;
    std::fs::remove_file(s.logs.path(&missing)).unwrap();
    // A directory where the log should be: removing it fails, and not as "not found".
    let blocked = s.run("checker", "nas", RunStatus::Failed, usage(1, 0.5), old(10, 2)).await;
    std::fs::remove_file(s.logs.path(&blocked)).unwrap();
    std::fs::create_dir(s.logs.path(&blocked)).unwrap();
    let fine = s.run("checker", "nas", RunStatus::Succeeded, usage(1, 0.5), old(10, 3)).await;

    // Batches of one: the run after the troubled ones is in a later batch.
    let deleted = sweep(&s.store.run_repo(), &s.logs, cutoff(), 1).await.unwrap();

    assert_eq!(deleted, 3);
    for id in [&missing, &blocked, &fine] {
        assert!(!s.exists(id).await, "run {id} is still there");
    }
    assert!(!s.logs.path(&fine).exists());
    assert!(s.logs.path(&blocked).is_dir(), "the directory in the way is left for a person");
}

#[tokio::test]
async fn two_replicas_sweeping_at_once_delete_and_count_each_run_once() {
    let s = setup().await;
    for i in 0..40 {
        s.run("checker", if i % 2 == 0 { "nas" } else { "pi" }, RunStatus::Succeeded, usage(1, 0.5), old(10, i % 24))
            .await;
    }
    let other = Logs::open(s.logs.path("x").parent().unwrap().to_path_buf()).unwrap();

    let repo = s.store.run_repo();
    let (a, b) = tokio::join!(sweep(&repo, &s.logs, cutoff(), 3), sweep(&repo, &other, cutoff(), 3));

    assert_eq!(a.unwrap() + b.unwrap(), 40);
    assert_eq!(s.count("SELECT count(*) FROM runs").await, 0);
    assert_eq!(s.count("SELECT sum(runs)::bigint FROM usage_daily").await, 40);
    assert_eq!(s.count("SELECT sum(input_tokens)::bigint FROM usage_daily").await, 40);
}

#[tokio::test]
async fn the_month_s_spend_counts_runs_retention_deleted() {
    let s = setup().await;
    history(&s).await;
    s.run("checker", "nas", RunStatus::Succeeded, usage(1, 0.5), recent()).await;
    let since = old(1, 0);
    let before = s.store.run_repo().spend_since(since).await.unwrap();
    assert_eq!(before, 0.25 + 0.5 + 0.125 + 1.0 + 0.0625 + 2.0 + 0.5);

    sweep(&s.store.run_repo(), &s.logs, cutoff(), 100).await.unwrap();

    assert_eq!(s.store.run_repo().spend_since(since).await.unwrap(), before);
    let later = Utc.with_ymd_and_hms(2025, 1, 11, 0, 0, 0).unwrap();
    assert_eq!(s.store.run_repo().spend_since(later).await.unwrap(), 1.0 + 0.0625 + 2.0 + 0.5, "day 10 counted");
}

#[tokio::test]
async fn stored_agent_documents_go_when_their_last_run_goes() {
    let s = setup().await;
    let inputs = |agent: &str| RunInputs {
        agent: json!({"kind": "Agent", "metadata": {"name": agent}, "spec": {"prompt": format!("check {agent}")}}),
        files: [("check.py".to_string(), format!("print('{agent}')"))].into(),
    };
    let shared = inputs("checker");
    let old_shared =
        s.run_with(shared.clone(), "checker", "nas", RunStatus::Succeeded, usage(1, 0.5), old(10, 1)).await;
    let kept = s.run_with(shared.clone(), "checker", "pi", RunStatus::Succeeded, usage(1, 0.5), recent()).await;
    s.run_with(inputs("cleaner"), "cleaner", "nas", RunStatus::Failed, usage(1, 0.5), old(10, 2)).await;
    assert_eq!(s.count("SELECT count(*) FROM run_inputs").await, 2, "two runs with the same inputs share one row");

    sweep(&s.store.run_repo(), &s.logs, cutoff(), 100).await.unwrap();

    assert!(!s.exists(&old_shared).await);
    assert_eq!(s.count("SELECT count(*) FROM run_inputs").await, 1, "the cleaner's inputs outlived its last run");
    let run = s.store.run_repo().run(&kept).await.unwrap().unwrap();
    assert_eq!(s.store.run_repo().inputs(&run).await.unwrap(), shared);
}

#[tokio::test]
async fn the_database_and_the_code_agree_on_which_statuses_are_open() {
    let s = setup().await;
    for status in RunStatus::OPEN.into_iter().chain(RunStatus::FINAL) {
        let open: bool =
            sqlx::query_scalar("SELECT run_is_open($1)").bind(status).fetch_one(s.store.pool()).await.unwrap();
        assert_eq!(open, RunStatus::OPEN.contains(&status), "{status}");
    }
}
