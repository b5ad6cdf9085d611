//! A fake Gotify server, so notification delivery can be tested offline
//! against the API the real one speaks (the spec is
//! `/work/shared/reference/gotify-openapi.json`; no Gotify package exists for
//! the test machines, and compose.yml runs the real image).
//!
//! It serves the part a sender uses: `POST /message` with an application
//! token, `GET /message` to read back what arrived, and `GET /health`. Errors
//! carry Gotify's error body, `{"error", "errorCode", "errorDescription"}`, so
//! the client's error handling meets what it will meet in production.
//!
//! The test drives failures while it runs ([`FakeGotify::set_mode`]): the
//! server gone, answering 500, or answering slowly. It counts the
//! `POST /message` requests and the 401s among them, and keeps the messages it
//! accepted ([`FakeGotify::messages`], [`FakeGotify::wait_for`]).
//!
//! Simplifications, none of which a sender sees: one user with one
//! application (id 1, named [`APP_NAME`], default priority 0); the
//! application token also serves as a client token for `GET /message` (the
//! real server wants a client token there); only JSON bodies are read (the
//! real server also takes form and query bodies).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// The name of the one application; Gotify titles an untitled message with it.
pub const APP_NAME: &str = "car-test";
/// The one application's id, the `appid` of every message.
pub const APP_ID: u64 = 1;

/// How the fake answers, changed while it runs with [`FakeGotify::set_mode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Answers as Gotify does.
    Up,
    /// Gone: nothing listens on the port, so a connection is refused.
    Down,
    /// Answers every request with a 500 (Gotify's error body; `/health` says
    /// red) and stores nothing, as a server with a broken database does.
    Error500,
    /// Answers as [`Mode::Up`] but only after this long. A message is stored
    /// on arrival, before the wait, so a client that gives up early has still
    /// delivered it — a retry then makes a duplicate, as with a real server
    /// whose answer is slow.
    Slow(Duration),
}

/// Where a request's token was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// The `X-Gotify-Key` header.
    Header,
    /// `Authorization: Bearer …`.
    Bearer,
    /// The `?token=` query parameter (ends up in access logs).
    Query,
}

/// A message the fake accepted, as the client sent it.
#[derive(Clone, Debug)]
pub struct GotifyMessage {
    /// The id the fake gave it (from 1, in arrival order).
    pub id: u64,
    /// `None` when the body had none (the API then answers [`APP_NAME`]).
    pub title: Option<String>,
    pub message: String,
    /// `None` when the body had none (the API then answers 0, the
    /// application's default).
    pub priority: Option<i64>,
    /// The `extras` object, `Value::Null` when the body had none.
    pub extras: Value,
    /// How the client passed its token.
    pub token_source: TokenSource,
    pub received_at: Instant,
    /// RFC 3339, as the API's `date`.
    pub date: String,
}

/// The fake server, on `127.0.0.1` on a port picked at start that stays the
/// same through [`Mode::Down`] and back, until dropped.
pub struct FakeGotify {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// The running server; `None` while down. Behind an async lock so that
    /// concurrent mode changes take their turn.
    server: tokio::sync::Mutex<Option<Server>>,
}

struct Shared {
    token: String,
    mode: Mutex<Mode>,
    messages: Mutex<Vec<GotifyMessage>>,
    /// How many messages are stored, for [`FakeGotify::wait_for`].
    stored: watch::Sender<usize>,
    requests: AtomicU64,
    unauthorized: AtomicU64,
}

/// One run of the HTTP server, from a bind to the next [`Mode::Down`].
struct Server {
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl FakeGotify {
    /// Starts the fake, accepting `token` as the application token.
    ///
    /// # Panics
    /// When no local port can be bound.
    pub async fn start(token: &str) -> FakeGotify {
        let shared = Arc::new(Shared {
            token: token.to_owned(),
            mode: Mutex::new(Mode::Up),
            messages: Mutex::new(Vec::new()),
            stored: watch::Sender::new(0),
            requests: AtomicU64::new(0),
            unauthorized: AtomicU64::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake Gotify");
        let addr = listener.local_addr().expect("the fake Gotify's address");
        let server = Server::spawn(listener, shared.clone());
        FakeGotify { addr, shared, server: tokio::sync::Mutex::new(Some(server)) }
    }

    /// The base URL, as a Gotify URL is configured (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The application token the fake accepts.
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    pub fn mode(&self) -> Mode {
        *self.shared.mode.lock().expect("fake Gotify mode")
    }

    /// Changes how the fake answers from now on.
    ///
    /// [`Mode::Down`] stops the server and closes the listening socket, so a
    /// client's connection is refused — what it sees when the real server is
    /// gone (reqwest: `is_connect()`). Answering on an accepted connection by
    /// closing it would not do: the client has connected, so it sees a broken
    /// request instead. The fake keeps no connection alive between answers
    /// (see `app`), so none outlives the listener; an answer in flight (a
    /// [`Mode::Slow`] one) is given first, and this returns once it is.
    /// Leaving Down binds the same port again, so the URL the code under test
    /// was given stays valid.
    ///
    /// # Panics
    /// When the port cannot be bound again (something else took it).
    pub async fn set_mode(&self, mode: Mode) {
        let mut server = self.server.lock().await;
        *self.shared.mode.lock().expect("fake Gotify mode") = mode;
        if mode == Mode::Down {
            if let Some(running) = server.take() {
                running.stop().await;
            }
        } else if server.is_none() {
            let listener = tokio::net::TcpListener::bind(self.addr)
                .await
                .unwrap_or_else(|e| panic!("bind the fake Gotify again on {}: {e}", self.addr));
            *server = Some(Server::spawn(listener, self.shared.clone()));
        }
    }

    /// The messages accepted so far, in arrival order.
    pub fn messages(&self) -> Vec<GotifyMessage> {
        self.shared.messages.lock().expect("fake Gotify messages").clone()
    }

    /// The messages, once at least `n` have been accepted.
    ///
    /// # Panics
    /// When fewer than `n` have arrived after `timeout`, listing those that did.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<GotifyMessage> {
        let mut stored = self.shared.stored.subscribe();
        if tokio::time::timeout(timeout, stored.wait_for(|&count| count >= n)).await.is_err() {
            let arrived = self.messages();
            let listed: Vec<String> =
                arrived.iter().map(|m| format!("  #{} title={:?} message={:?}", m.id, m.title, m.message)).collect();
            panic!(
                "fake Gotify: waited {timeout:?} for {n} message(s), {} arrived ({} POST /message, {} of them 401, mode {:?}){}{}",
                arrived.len(),
                self.requests(),
                self.unauthorized(),
                self.mode(),
                if listed.is_empty() { "" } else { ":\n" },
                listed.join("\n"),
            );
        }
        self.messages()
    }

    /// How many `POST /message` requests reached the fake, whatever it
    /// answered (401, 400 and 500 included; none while [`Mode::Down`]).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// How many `POST /message` requests were answered 401.
    pub fn unauthorized(&self) -> u64 {
        self.shared.unauthorized.load(Ordering::SeqCst)
    }
}

impl Drop for FakeGotify {
    fn drop(&mut self) {
        if let Some(server) = self.server.get_mut().take() {
            let _ = server.shutdown.send(());
        }
    }
}

impl Server {
    fn spawn(listener: tokio::net::TcpListener, shared: Arc<Shared>) -> Server {
        let (shutdown, rx) = oneshot::channel::<()>();
        let server = axum::serve(listener, app(shared)).with_graceful_shutdown(async {
            let _ = rx.await;
        });
        let task = tokio::spawn(async move {
            if let Err(e) = server.await {
                eprintln!("fake Gotify stopped: {e}");
            }
        });
        Server { shutdown, task }
    }

    /// Stops accepting (the listener is closed), closes idle connections and
    /// returns once the answers in flight are given.
    async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }
}

fn app(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/message", get(list_messages).post(create_message))
        .route("/health", get(health))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "page not found") })
        // No kept-alive connections, unlike the real server: a client's pooled
        // connection closed by [`Mode::Down`] can still be picked for the next
        // request before the client has read the close, which then fails as a
        // broken request (`SendRequest`, about 1 in 100 on a multi-threaded
        // runtime) instead of a refused connection. Closing after each answer
        // makes Down refuse every time.
        .layer(axum::middleware::map_response(|mut response: Response| async move {
            response.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
            response
        }))
        .with_state(shared)
}

#[derive(Deserialize)]
struct Params {
    token: Option<String>,
    limit: Option<String>,
    since: Option<String>,
}

/// The body of `POST /message` (the spec's CreateMessage).
#[derive(Deserialize)]
struct CreateMessage {
    title: Option<String>,
    message: Option<String>,
    priority: Option<i64>,
    extras: Option<serde_json::Map<String, Value>>,
}

async fn create_message(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let mode = *shared.mode.lock().expect("fake Gotify mode");
    let delay = match mode {
        Mode::Error500 => return error(StatusCode::INTERNAL_SERVER_ERROR, "database is not reachable"),
        Mode::Slow(delay) => delay,
        Mode::Up | Mode::Down => Duration::ZERO,
    };
    let answer = accept(&shared, &params, &headers, &body);
    tokio::time::sleep(delay).await;
    answer
}

/// Checks the token and the body, and stores the message.
fn accept(shared: &Shared, params: &Params, headers: &HeaderMap, body: &[u8]) -> Response {
    let Some(token_source) = authorized(shared, params, headers) else {
        shared.unauthorized.fetch_add(1, Ordering::SeqCst);
        return unauthorized();
    };
    let create: CreateMessage = match serde_json::from_slice(body) {
        Ok(c) => c,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("invalid JSON body: {e}")),
    };
    // Gotify's binding is `required`, which an empty string fails too.
    let Some(text) = create.message.filter(|m| !m.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "Field 'message' is required");
    };
    let stored = {
        let mut messages = shared.messages.lock().expect("fake Gotify messages");
        let message = GotifyMessage {
            id: messages.len() as u64 + 1,
            title: create.title.filter(|t| !t.is_empty()),
            message: text,
            priority: create.priority,
            extras: create.extras.map_or(Value::Null, Value::Object),
            token_source,
            received_at: Instant::now(),
            date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        };
        messages.push(message.clone());
        shared.stored.send_replace(messages.len());
        message
    };
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], external(&stored).to_string()).into_response()
}

/// `GET /message`: newest first, paged by `limit` (1 to 200, default 100)
/// and `since` (ids below it), as the real server pages.
async fn list_messages(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let mode = *shared.mode.lock().expect("fake Gotify mode");
    match mode {
        Mode::Error500 => return error(StatusCode::INTERNAL_SERVER_ERROR, "database is not reachable"),
        Mode::Slow(delay) => tokio::time::sleep(delay).await,
        Mode::Up | Mode::Down => {}
    }
    if authorized(&shared, &params, &headers).is_none() {
        return unauthorized();
    }
    let limit = match params.limit.as_deref().map(str::parse::<usize>) {
        None => 100,
        Some(Ok(l)) if (1..=200).contains(&l) => l,
        Some(_) => return error(StatusCode::BAD_REQUEST, "Field 'limit' must be between 1 and 200"),
    };
    let since = match params.since.as_deref().map(str::parse::<u64>) {
        None | Some(Ok(0)) => u64::MAX,
        Some(Ok(s)) => s,
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "Field 'since' must be a number"),
    };
    let messages = shared.messages.lock().expect("fake Gotify messages").clone();
    let newest_first: Vec<&GotifyMessage> = messages.iter().rev().filter(|m| m.id < since).collect();
    let page = &newest_first[..limit.min(newest_first.len())];
    let mut paging = json!({"size": page.len(), "limit": limit, "since": 0});
    if newest_first.len() > limit {
        let last = page.last().map_or(0, |m| m.id);
        paging["since"] = json!(last);
        paging["next"] = json!(format!("/message?limit={limit}&since={last}"));
    }
    let body = json!({"messages": page.iter().map(|m| external(m)).collect::<Vec<_>>(), "paging": paging});
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

async fn health(State(shared): State<Arc<Shared>>) -> Response {
    let mode = *shared.mode.lock().expect("fake Gotify mode");
    let (status, colour) = match mode {
        Mode::Error500 => (StatusCode::INTERNAL_SERVER_ERROR, "red"),
        Mode::Slow(delay) => {
            tokio::time::sleep(delay).await;
            (StatusCode::OK, "green")
        }
        Mode::Up | Mode::Down => (StatusCode::OK, "green"),
    };
    let body = json!({"health": colour, "database": colour});
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// Where the request's token is, if it is the right one. Gotify looks in the
/// query, then `X-Gotify-Key`, then `Authorization: Bearer`, and takes the
/// first it finds.
fn authorized(shared: &Shared, params: &Params, headers: &HeaderMap) -> Option<TokenSource> {
    let header = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let bearer = header(header::AUTHORIZATION);
    let bearer = bearer.get(..7).filter(|p| p.eq_ignore_ascii_case("bearer ")).map_or("", |_| &bearer[7..]);
    let (token, source) = [
        (params.token.as_deref().unwrap_or_default(), TokenSource::Query),
        (header(header::HeaderName::from_static("x-gotify-key")), TokenSource::Header),
        (bearer, TokenSource::Bearer),
    ]
    .into_iter()
    .find(|(token, _)| !token.is_empty())?;
    (token == shared.token).then_some(source)
}

/// A message as the API shows it (the spec's Message model).
fn external(m: &GotifyMessage) -> Value {
    let mut body = json!({
        "id": m.id,
        "appid": APP_ID,
        "message": m.message,
        "title": m.title.as_deref().unwrap_or(APP_NAME),
        "priority": m.priority.unwrap_or(0),
        "date": m.date,
    });
    if !m.extras.is_null() {
        body["extras"] = m.extras.clone();
    }
    body
}

fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, "you need to provide a valid access token or user credentials to access this api")
}

/// Gotify's error body: the status's reason, its code, and what went wrong.
fn error(status: StatusCode, description: &str) -> Response {
    let body = json!({
        "error": status.canonical_reason().unwrap_or("Error"),
        "errorCode": status.as_u16(),
        "errorDescription": description,
    });
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}
