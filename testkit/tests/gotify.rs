//! The fake Gotify over HTTP: what a sender sees for each answer and failure
//! mode, and what the fake records.

use std::time::{Duration, Instant};

use car_testkit::gotify::{APP_ID, APP_NAME, FakeGotify, Mode, TokenSource};
use serde_json::{Value, json};

const TOKEN: &str = "AbCdEf.123";

async fn post(
    client: &reqwest::Client,
    fake: &FakeGotify,
    token: &str,
    body: &Value,
) -> reqwest::Result<reqwest::Response> {
    client.post(format!("{}/message", fake.url())).header("X-Gotify-Key", token).json(body).send().await
}

async fn send(fake: &FakeGotify, body: &Value) -> reqwest::Response {
    post(&reqwest::Client::new(), fake, TOKEN, body).await.expect("reach the fake Gotify")
}

async fn status_and_json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

#[tokio::test]
async fn a_good_token_stores_the_message_and_answers_it_as_the_message_model() {
    let fake = FakeGotify::start(TOKEN).await;
    assert_eq!(fake.token(), TOKEN);
    let extras = json!({"client::display": {"contentType": "text/markdown"}});
    let body = json!({"title": "Run failed", "message": "agent **x** failed", "priority": 8, "extras": extras});
    let (status, answer) = status_and_json(send(&fake, &body).await).await;

    assert_eq!(status, 200);
    assert_eq!(answer["id"], 1);
    assert_eq!(answer["appid"], APP_ID);
    assert_eq!(answer["title"], "Run failed");
    assert_eq!(answer["message"], "agent **x** failed");
    assert_eq!(answer["priority"], 8);
    assert_eq!(answer["extras"], extras);
    let date = answer["date"].as_str().expect("a date string");
    assert!(chrono::DateTime::parse_from_rfc3339(date).is_ok(), "date {date:?} is RFC 3339");

    let stored = fake.messages();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].title.as_deref(), Some("Run failed"));
    assert_eq!(stored[0].message, "agent **x** failed");
    assert_eq!(stored[0].priority, Some(8));
    assert_eq!(stored[0].extras, extras);
    assert_eq!(stored[0].token_source, TokenSource::Header);
    assert_eq!((fake.requests(), fake.unauthorized()), (1, 0));
}

#[tokio::test]
async fn the_token_may_come_as_a_query_or_a_bearer_and_defaults_fill_the_answer() {
    let fake = FakeGotify::start(TOKEN).await;
    let client = reqwest::Client::new();
    let by_query = client
        .post(format!("{}/message?token={TOKEN}", fake.url()))
        .json(&json!({"message": "one"}))
        .send()
        .await
        .unwrap();
    let (status, answer) = status_and_json(by_query).await;
    assert_eq!(status, 200);
    // Gotify titles an untitled message with the application's name and gives
    // it the application's default priority; no extras, no field.
    assert_eq!(answer["title"], APP_NAME);
    assert_eq!(answer["priority"], 0);
    assert!(answer.get("extras").is_none(), "{answer}");

    let by_bearer = client
        .post(format!("{}/message", fake.url()))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .json(&json!({"message": "two"}))
        .send()
        .await
        .unwrap();
    assert_eq!(by_bearer.status(), 200);

    let stored = fake.messages();
    let sources: Vec<_> = stored.iter().map(|m| (m.message.as_str(), m.token_source)).collect();
    assert_eq!(sources, [("one", TokenSource::Query), ("two", TokenSource::Bearer)]);
    assert_eq!((stored[0].title.clone(), stored[0].priority, stored[0].extras.clone()), (None, None, Value::Null));
}

#[tokio::test]
async fn a_wrong_or_missing_token_is_401_with_gotifys_error_and_stores_nothing() {
    let fake = FakeGotify::start(TOKEN).await;
    let client = reqwest::Client::new();
    let body = json!({"message": "hello"});

    let (status, answer) = status_and_json(post(&client, &fake, "wrong", &body).await.unwrap()).await;
    assert_eq!(status, 401);
    assert_eq!(answer["error"], "Unauthorized");
    assert_eq!(answer["errorCode"], 401);
    assert!(answer["errorDescription"].as_str().is_some_and(|d| !d.is_empty()), "{answer}");

    let missing = client.post(format!("{}/message", fake.url())).json(&body).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    // A Bearer with the right token but a wrong X-Gotify-Key: the header is
    // looked at first, as Gotify does.
    let both = client
        .post(format!("{}/message", fake.url()))
        .header("X-Gotify-Key", "wrong")
        .header("Authorization", format!("Bearer {TOKEN}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), 401);

    assert!(fake.messages().is_empty());
    assert_eq!((fake.requests(), fake.unauthorized()), (3, 3));
}

#[tokio::test]
async fn a_missing_or_empty_message_or_a_body_that_is_not_json_is_400() {
    let fake = FakeGotify::start(TOKEN).await;
    for body in [json!({"title": "no message"}), json!({"message": ""}), json!({"message": 5})] {
        let (status, answer) = status_and_json(send(&fake, &body).await).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["error"], "Bad Request");
        assert_eq!(answer["errorCode"], 400);
        assert!(answer["errorDescription"].is_string());
    }
    let not_json = reqwest::Client::new()
        .post(format!("{}/message", fake.url()))
        .header("X-Gotify-Key", TOKEN)
        .body("message=hi")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    assert!(fake.messages().is_empty());
    assert_eq!((fake.requests(), fake.unauthorized()), (4, 0));
}

// Multi-threaded, and many times over: a kept-alive connection the client
// has not yet seen closed would fail some of these as a broken request rather
// than a refused connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_refuses_connections_and_up_again_serves_on_the_same_url() {
    let fake = FakeGotify::start(TOKEN).await;
    let url = fake.url();
    // One client throughout, as the notifier keeps one.
    let client = reqwest::Client::new();
    let rounds = 50;
    for round in 0..rounds {
        let sent = post(&client, &fake, TOKEN, &json!({"message": format!("up {round}")})).await.unwrap();
        assert_eq!(sent.status(), 200);

        fake.set_mode(Mode::Down).await;
        assert_eq!(fake.mode(), Mode::Down);
        let err = post(&client, &fake, TOKEN, &json!({"message": "while down"})).await.expect_err("the server is gone");
        assert!(err.is_connect(), "round {round}: a connection error, not {err:?}");
        fake.set_mode(Mode::Up).await;
        assert_eq!(fake.url(), url);
    }
    fake.set_mode(Mode::Down).await;
    let err = reqwest::get(format!("{url}/health")).await.expect_err("the server is gone");
    assert!(err.is_connect(), "a connection error, not {err:?}");
    assert_eq!(fake.requests(), rounds, "nothing reached the server while down");
    fake.set_mode(Mode::Up).await;
    assert_eq!(reqwest::get(format!("{url}/health")).await.unwrap().status(), 200);

    let texts: Vec<String> = fake.messages().into_iter().map(|m| m.message).collect();
    assert_eq!(texts, (0..rounds).map(|r| format!("up {r}")).collect::<Vec<_>>());
}

/// What makes Down refuse every time: no connection outlives its answer, so
/// a client never has one to reuse once the server is gone.
#[tokio::test]
async fn the_server_closes_each_connection_after_answering() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fake = FakeGotify::start(TOKEN).await;
    let mut stream = tokio::net::TcpStream::connect(fake.addr()).await.unwrap();
    let request = format!("GET /health HTTP/1.1\r\nHost: {}\r\nConnection: keep-alive\r\n\r\n", fake.addr());
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection after answering")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn error500_answers_500_and_stores_nothing_until_up_again() {
    let fake = FakeGotify::start(TOKEN).await;
    fake.set_mode(Mode::Error500).await;
    let (status, answer) = status_and_json(send(&fake, &json!({"message": "lost"})).await).await;
    assert_eq!(status, 500);
    assert_eq!(answer["errorCode"], 500);
    assert_eq!(answer["error"], "Internal Server Error");
    let (status, health) = status_and_json(reqwest::get(format!("{}/health", fake.url())).await.unwrap()).await;
    assert_eq!((status, health), (500, json!({"health": "red", "database": "red"})));
    assert!(fake.messages().is_empty());
    assert_eq!((fake.requests(), fake.unauthorized()), (1, 0));

    fake.set_mode(Mode::Up).await;
    assert_eq!(send(&fake, &json!({"message": "kept"})).await.status(), 200);
    assert_eq!(fake.messages().len(), 1);
}

#[tokio::test]
async fn slow_delays_the_answer_but_stores_the_message_on_arrival() {
    let fake = FakeGotify::start(TOKEN).await;
    let delay = Duration::from_millis(400);
    fake.set_mode(Mode::Slow(delay)).await;

    let started = Instant::now();
    assert_eq!(send(&fake, &json!({"message": "slow"})).await.status(), 200);
    assert!(started.elapsed() >= delay, "answered after {:?}", started.elapsed());

    // A client that gives up first has still delivered.
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(100)).build().unwrap();
    let started = Instant::now();
    let err = post(&impatient, &fake, TOKEN, &json!({"message": "timed out"})).await.expect_err("a timeout");
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < delay);
    let texts: Vec<String> = fake.wait_for(2, Duration::from_secs(5)).await.into_iter().map(|m| m.message).collect();
    assert_eq!(texts, ["slow", "timed out"]);

    fake.set_mode(Mode::Up).await;
    let started = Instant::now();
    assert_eq!(send(&fake, &json!({"message": "fast"})).await.status(), 200);
    assert!(started.elapsed() < delay, "answered after {:?}", started.elapsed());
}

#[tokio::test]
async fn wait_for_returns_once_enough_messages_arrived() {
    let fake = FakeGotify::start(TOKEN).await;
    let url = fake.url();
    let sender = tokio::spawn(async move {
        for text in ["a", "b"] {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let response = reqwest::Client::new()
                .post(format!("{url}/message"))
                .header("X-Gotify-Key", TOKEN)
                .json(&json!({"message": text}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
    });
    let arrived = fake.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(arrived.iter().map(|m| m.message.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    assert!(arrived[0].received_at <= arrived[1].received_at);
    sender.await.unwrap();
}

#[tokio::test]
#[should_panic(expected = "waited 200ms for 2 message(s), 1 arrived")]
async fn wait_for_panics_listing_what_arrived() {
    let fake = FakeGotify::start(TOKEN).await;
    assert_eq!(send(&fake, &json!({"title": "t", "message": "only one"})).await.status(), 200);
    fake.wait_for(2, Duration::from_millis(200)).await;
}

#[tokio::test]
async fn get_message_pages_newest_first() {
    let fake = FakeGotify::start(TOKEN).await;
    for text in ["1", "2", "3"] {
        assert_eq!(send(&fake, &json!({"message": text})).await.status(), 200);
    }
    let client = reqwest::Client::new();
    let get = |query: &str| client.get(format!("{}/message{query}", fake.url())).header("X-Gotify-Key", TOKEN).send();

    let (status, page) = status_and_json(get("?limit=2").await.unwrap()).await;
    assert_eq!(status, 200);
    let ids: Vec<&Value> = page["messages"].as_array().unwrap().iter().map(|m| &m["id"]).collect();
    assert_eq!(ids, [&json!(3), &json!(2)]);
    assert_eq!(page["paging"], json!({"size": 2, "limit": 2, "since": 2, "next": "/message?limit=2&since=2"}));

    let (_, rest) = status_and_json(get("?limit=2&since=2").await.unwrap()).await;
    assert_eq!(rest["messages"][0]["message"], "1");
    assert_eq!(rest["paging"], json!({"size": 1, "limit": 2, "since": 0}));

    assert_eq!(get("?limit=500").await.unwrap().status(), 400);
    let unauthorized = client.get(format!("{}/message", fake.url())).send().await.unwrap();
    assert_eq!(unauthorized.status(), 401);
    assert_eq!(fake.requests(), 3, "GET /message is not counted");
}

#[tokio::test]
async fn health_is_green() {
    let fake = FakeGotify::start(TOKEN).await;
    let (status, health) = status_and_json(reqwest::get(format!("{}/health", fake.url())).await.unwrap()).await;
    assert_eq!((status, health), (200, json!({"health": "green", "database": "green"})));
}
