//! The store on its own: start-up against a database that is not there.

use std::time::{Duration, Instant};

use car_server::store::Store;
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
