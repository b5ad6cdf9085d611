//! The store on its own: start-up against a database that is not there,
//! and node metrics history.

mod common;

use common::Repos;

use std::time::{Duration, Instant};

use car_server::db::Store;
use sqlx::postgres::PgConnectOptions;

#[tokio::test]
async fn a_database_that_is_down_is_retried_then_reported_clearly() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let options = PgConnectOptions::new().host("127.0.0.1").port(closed).username("car").database("car");
    let t = Instant::now();
    let err = Store::connect(options, Duration::from_millis(1500)).await.unwrap_err().to_string();
    assert!(t.elapsed() >= Duration::from_millis(700), "gave up without retrying");
    assert!(err.starts_with("cannot reach PostgreSQL: "), "{err}");
    assert!(
        err.contains(
            "(hint: check DATABASE_URL and that the database is running; the server retried before giving up)"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn node_metrics_fold_into_minutes_and_hours_and_old_minutes_go() {
    use car_server::nodes::metrics::{Resolution, Sample};
    let store = common::store().await;
    let now = chrono::Utc::now();
    let sample = |cpu| Sample { cpu_percent: cpu, memory_percent: 50.0, load1: 1.0, disk_percent: 70.0 };
    let minute = chrono::DurationRound::duration_trunc(now, chrono::TimeDelta::minutes(1)).unwrap();
    store.node_repo().record_metrics("nas", minute + chrono::TimeDelta::seconds(1), sample(10.0)).await.unwrap();
    store.node_repo().record_metrics("nas", minute + chrono::TimeDelta::seconds(31), sample(30.0)).await.unwrap();
    store.node_repo().record_metrics("pi", minute, sample(99.0)).await.unwrap();
    let (resolution, points) = store.node_repo().metrics("nas", now - chrono::TimeDelta::hours(1)).await.unwrap();
    assert_eq!(resolution, Resolution::Minute);
    assert_eq!(points.len(), 1);
    assert_eq!((points[0].samples, points[0].cpu_percent), (2, 20.0));
    let (resolution, hours) = store.node_repo().metrics("nas", now - chrono::TimeDelta::days(7)).await.unwrap();
    assert_eq!((resolution, hours.len()), (Resolution::Hour, 1));
    // A sample three days later drops the old minute but keeps its hour.
    store.node_repo().record_metrics("nas", now + chrono::TimeDelta::days(3), sample(50.0)).await.unwrap();
    let minutes: i64 =
        sqlx::query_scalar("SELECT count(*) FROM node_metrics WHERE node = 'nas' AND resolution = 'minute'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(minutes, 1);
    let hours: i64 = sqlx::query_scalar("SELECT count(*) FROM node_metrics WHERE node = 'nas' AND resolution = 'hour'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(hours, 2);
}
