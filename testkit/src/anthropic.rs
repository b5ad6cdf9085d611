//! A scripted fake of the Anthropic Messages API, so the real `claude` CLI can
//! run offline in tests (point `ANTHROPIC_BASE_URL` at [`FakeAnthropic::url`]).
//!
//! A request enters at `POST /v1/messages`; the fake picks a [`Scenario`] by
//! the marker `[[scenario:NAME]]` anywhere in the system prompt or messages
//! (no marker, or one it has no script for: the scenario named `default`, if
//! any), and the turn by the
//! number of assistant messages already in the conversation. It answers with
//! that turn's step — streamed as server-sent events when the request says
//! `"stream": true`, as one JSON message otherwise — and records the request
//! for the test to inspect ([`FakeAnthropic::requests`]). Requests that offer
//! no tools (title generation and the like) get a short "ok". Beyond the last
//! step the last reply repeats. `POST /v1/messages/count_tokens` answers an
//! estimate; anything else is a 404, noted in
//! [`FakeAnthropic::other_requests`].
//!
//! One difference from the Python fake of the acceptance checks: an error
//! step does not take a turn of its own, so `error, tool_use, text` serves the
//! tool call on turn 0 (after the errors) and the text on turn 1.

mod scenario;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use scenario::Turn;
pub use scenario::{Reply, Scenario, ScenarioError, ScriptedError, Step, ToolUse, Usage};

/// The fake API, serving on `127.0.0.1` on a free port until dropped.
pub struct FakeAnthropic {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
}

/// A `POST /v1/messages` the fake received, and what it answered.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// The scenario picked (`default` when the request holds no marker).
    pub scenario: String,
    /// The number of assistant messages in the request.
    pub turn: usize,
    pub model: Option<String>,
    /// The names of the tools offered to the model.
    pub tools: Vec<String>,
    pub stream: bool,
    /// The `x-api-key` header.
    pub api_key: Option<String>,
    /// The `authorization` header (an OAuth token arrives here).
    pub authorization: Option<String>,
    /// Every header, names lower-case.
    pub headers: BTreeMap<String, String>,
    /// The HTTP status the fake answered with.
    pub status: u16,
    /// The whole request body.
    pub body: Value,
}

/// A `tool_result` block of a request's last message.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolResult {
    pub tool_use_id: String,
    pub is_error: bool,
    /// The result's text (text blocks joined by newlines).
    pub text: String,
}

struct Shared {
    scenarios: HashMap<String, Vec<Turn>>,
    log: Mutex<Log>,
}

#[derive(Default)]
struct Log {
    requests: Vec<RecordedRequest>,
    other: Vec<String>,
    /// Requests served so far per (scenario, turn), to count scripted errors.
    served: HashMap<(String, usize), u32>,
    next_id: u64,
}

impl FakeAnthropic {
    /// Starts the fake with these scenarios (later ones replace earlier ones
    /// of the same name).
    ///
    /// # Panics
    /// When no local port can be bound.
    pub async fn start(scenarios: impl IntoIterator<Item = Scenario>) -> FakeAnthropic {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake Messages API");
        Self::serve(listener, scenarios)
    }

    /// Starts the fake on `listener` (a port of the caller's choosing: the demo model's).
    pub fn serve(listener: tokio::net::TcpListener, scenarios: impl IntoIterator<Item = Scenario>) -> FakeAnthropic {
        let scenarios = scenarios.into_iter().map(|s| (s.name().to_owned(), s.turns())).collect();
        let shared = Arc::new(Shared { scenarios, log: Mutex::new(Log::default()) });
        let addr = listener.local_addr().expect("the fake's address");
        let (tx, rx) = oneshot::channel::<()>();
        let server = axum::serve(listener, app(shared.clone())).with_graceful_shutdown(async {
            let _ = rx.await;
        });
        tokio::spawn(async move {
            if let Err(e) = server.await {
                eprintln!("fake Messages API stopped: {e}");
            }
        });
        FakeAnthropic { addr, shared, shutdown: Some(tx) }
    }

    /// The base URL, for `ANTHROPIC_BASE_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every `POST /v1/messages` so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.log.lock().expect("fake log").requests.clone()
    }

    /// The requests that picked `scenario`.
    pub fn requests_for(&self, scenario: &str) -> Vec<RecordedRequest> {
        self.requests().into_iter().filter(|r| r.scenario == scenario).collect()
    }

    /// Requests to anything but `/v1/messages`, as `"METHOD /path"`.
    pub fn other_requests(&self) -> Vec<String> {
        self.shared.log.lock().expect("fake log").other.clone()
    }
}

impl Drop for FakeAnthropic {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl RecordedRequest {
    /// The API key or authorization the request carried.
    pub fn key(&self) -> Option<&str> {
        self.api_key.as_deref().or(self.authorization.as_deref())
    }

    pub fn messages(&self) -> &[Value] {
        self.body.get("messages").and_then(Value::as_array).map_or(&[], Vec::as_slice)
    }

    /// The system prompt's text.
    pub fn system(&self) -> String {
        self.body.get("system").map(text_of).unwrap_or_default()
    }

    /// The tool results the last message carries back to the model.
    pub fn tool_results(&self) -> Vec<ToolResult> {
        let Some(content) = self.messages().last().and_then(|m| m.get("content")).and_then(Value::as_array) else {
            return Vec::new();
        };
        content
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
            .map(|b| ToolResult {
                tool_use_id: b.get("tool_use_id").and_then(Value::as_str).unwrap_or_default().to_owned(),
                is_error: b.get("is_error").and_then(Value::as_bool).unwrap_or(false),
                text: match b.get("content") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(blocks)) => blocks
                        .iter()
                        .filter_map(|x| x.get("text").and_then(Value::as_str))
                        .collect::<Vec<_>>()
                        .join("\n"),
                    _ => String::new(),
                },
            })
            .collect()
    }
}

fn app(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/messages", post(messages))
        .route("/v1/messages/count_tokens", post(count_tokens))
        .fallback(other)
        // Claude Code sends its whole system prompt and tool schemas each turn.
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

/// What the script says to answer one request with.
enum Answer {
    Error(ScriptedError),
    Reply(Reply),
}

async fn messages(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return api_error(StatusCode::BAD_REQUEST, &format!("body is not JSON: {e}"), &[]),
    };
    let (scenario, turn) = pick(&body);
    // A marker the fake has no script for falls back to `default` too, when there is one.
    let scenario = if !shared.scenarios.contains_key(&scenario) && shared.scenarios.contains_key("default") {
        "default".to_owned()
    } else {
        scenario
    };
    let tools: Vec<String> = body
        .get("tools")
        .and_then(Value::as_array)
        .map(|ts| ts.iter().filter_map(|t| t.get("name").and_then(Value::as_str).map(str::to_owned)).collect())
        .unwrap_or_default();
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let model = body.get("model").and_then(Value::as_str).map(str::to_owned);

    let (answer, id) = {
        let mut log = shared.log.lock().expect("fake log");
        let answer = if tools.is_empty() {
            Answer::Reply(Reply::ok())
        } else {
            match shared.scenarios.get(&scenario) {
                None => Answer::Reply(Reply::ok()),
                Some(turns) => {
                    let script = &turns[turn.min(turns.len() - 1)];
                    let served = log.served.entry((scenario.clone(), turn)).or_insert(0);
                    let n = *served;
                    *served += 1;
                    scripted(script, n)
                }
            }
        };
        let status = match &answer {
            Answer::Error(e) => e.status,
            Answer::Reply(_) => 200,
        };
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let record = RecordedRequest {
            scenario,
            turn,
            model: model.clone(),
            tools,
            stream,
            api_key: header("x-api-key"),
            authorization: header("authorization"),
            headers: headers
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect(),
            status,
            body,
        };
        log.requests.push(record);
        log.next_id += 1;
        (answer, log.next_id)
    };

    match answer {
        Answer::Error(e) => {
            tokio::time::sleep(e.delay).await;
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            api_error(status, "scripted", &[("retry-after", e.retry_after.to_string())])
        }
        Answer::Reply(reply) => {
            tokio::time::sleep(reply.delay).await;
            let usage = reply.usage.unwrap_or_else(|| Usage::for_turn(turn));
            let model = model.unwrap_or_else(|| "claude-fake".into());
            let message = Message { id, model, reply: &reply, usage };
            if stream { message.sse() } else { message.json() }
        }
    }
}

/// The `n`th request (from 0) for a turn: its scripted errors, in order, each
/// `times` times, then the reply.
fn scripted(turn: &Turn, n: u32) -> Answer {
    let mut before = 0u32;
    for error in &turn.errors {
        before = before.saturating_add(error.times);
        if n < before {
            return Answer::Error(error.clone());
        }
    }
    Answer::Reply(turn.reply.clone())
}

/// The scenario named by the first marker in the system prompt or messages,
/// and the number of assistant turns so far.
fn pick(body: &Value) -> (String, usize) {
    let hay = format!(
        "{} {}",
        body.get("system").map(text_of).unwrap_or_default(),
        body.get("messages").map(text_of).unwrap_or_default()
    );
    let scenario = marker(&hay).unwrap_or("default").to_owned();
    let turn = body
        .get("messages")
        .and_then(Value::as_array)
        .map_or(0, |ms| ms.iter().filter(|m| m.get("role").and_then(Value::as_str) == Some("assistant")).count());
    (scenario, turn)
}

fn marker(hay: &str) -> Option<&str> {
    const OPEN: &str = "[[scenario:";
    let mut rest = hay;
    while let Some(at) = rest.find(OPEN) {
        let tail = &rest[at + OPEN.len()..];
        let len = tail.find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '.' | '-'))).unwrap_or(tail.len());
        if len > 0 && tail[len..].starts_with("]]") {
            return Some(&tail[..len]);
        }
        rest = tail;
    }
    None
}

/// The text a prompt or message holds: strings, and the `text`, `content`
/// and `system` fields of objects, all the way down.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join(" "),
        Value::Object(fields) => fields
            .iter()
            .filter(|(k, _)| matches!(k.as_str(), "text" | "content" | "system"))
            .map(|(_, v)| text_of(v))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

struct Message<'a> {
    id: u64,
    model: String,
    reply: &'a Reply,
    usage: Usage,
}

impl Message<'_> {
    fn message_id(&self) -> String {
        format!("msg_fake{:016}", self.id)
    }

    fn tool_use_id(&self, index: usize) -> String {
        format!("toolu_fake{:012}{index:04}", self.id)
    }

    fn stop_reason(&self) -> &'static str {
        if self.reply.tool_uses.is_empty() { "end_turn" } else { "tool_use" }
    }

    fn usage(&self, output_tokens: u64) -> Value {
        json!({
            "input_tokens": self.usage.input_tokens,
            "cache_creation_input_tokens": self.usage.cache_creation_input_tokens,
            "cache_read_input_tokens": self.usage.cache_read_input_tokens,
            "output_tokens": output_tokens,
            "service_tier": "standard",
        })
    }

    /// The content blocks, complete: text first, then the tool calls.
    fn blocks(&self) -> Vec<Value> {
        let text = self.reply.text.iter().map(|t| json!({"type": "text", "text": t}));
        let tools = self
            .reply
            .tool_uses
            .iter()
            .enumerate()
            .map(|(i, t)| json!({"type": "tool_use", "id": self.tool_use_id(i), "name": t.name, "input": t.input}));
        text.chain(tools).collect()
    }

    fn json(&self) -> Response {
        let body = json!({
            "id": self.message_id(), "type": "message", "role": "assistant", "model": self.model,
            "content": self.blocks(), "stop_reason": self.stop_reason(), "stop_sequence": null,
            "usage": self.usage(self.usage.output_tokens),
        });
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            [("request-id", request_id(self.id))],
            body.to_string(),
        )
            .into_response()
    }

    /// The reply as the API streams it: message_start, each block as
    /// start / deltas / stop, message_delta with the final usage, message_stop.
    fn sse(&self) -> Response {
        let mut out = String::new();
        let mut event = |name: &str, data: Value| {
            out.push_str(&format!("event: {name}\ndata: {data}\n\n"));
        };
        event(
            "message_start",
            json!({"type": "message_start", "message": {
                "id": self.message_id(), "type": "message", "role": "assistant", "model": self.model,
                "content": [], "stop_reason": null, "stop_sequence": null, "usage": self.usage(1),
            }}),
        );
        event("ping", json!({"type": "ping"}));
        for (index, block) in self.blocks().into_iter().enumerate() {
            let (start, deltas) = if block["type"] == "text" {
                let text = block["text"].as_str().unwrap_or_default();
                let deltas: Vec<Value> =
                    chunks(text).into_iter().map(|c| json!({"type": "text_delta", "text": c})).collect();
                (json!({"type": "text", "text": ""}), deltas)
            } else {
                let input = block["input"].to_string();
                let deltas = chunks(&input).into_iter().map(|c| json!({"type": "input_json_delta", "partial_json": c}));
                (json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}), deltas.collect())
            };
            event(
                "content_block_start",
                json!({"type": "content_block_start", "index": index, "content_block": start}),
            );
            for delta in deltas {
                event("content_block_delta", json!({"type": "content_block_delta", "index": index, "delta": delta}));
            }
            event("content_block_stop", json!({"type": "content_block_stop", "index": index}));
        }
        event(
            "message_delta",
            json!({"type": "message_delta",
                   "delta": {"stop_reason": self.stop_reason(), "stop_sequence": null},
                   "usage": {"output_tokens": self.usage.output_tokens}}),
        );
        event("message_stop", json!({"type": "message_stop"}));
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")],
            [("request-id", request_id(self.id))],
            out,
        )
            .into_response()
    }
}

/// Splits text into pieces of at most 40 characters, as deltas arrive (one
/// empty piece for empty text).
fn chunks(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    chars.chunks(40).map(|c| c.iter().collect()).collect()
}

fn request_id(id: u64) -> String {
    format!("req_fake{id:016}")
}

fn api_error(status: StatusCode, message: &str, headers: &[(&str, String)]) -> Response {
    let kind = match status.as_u16() {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    };
    let body = json!({"type": "error", "error": {"type": kind, "message": message}});
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (name.parse::<header::HeaderName>(), value.parse()) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

async fn count_tokens(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    shared.log.lock().expect("fake log").other.push("POST /v1/messages/count_tokens".into());
    // About four bytes a token, like English text.
    let tokens = (body.len() / 4).max(1);
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], json!({"input_tokens": tokens}).to_string())
        .into_response()
}

async fn other(State(shared): State<Arc<Shared>>, method: Method, uri: Uri) -> Response {
    shared.log.lock().expect("fake log").other.push(format!("{method} {}", uri.path()));
    api_error(StatusCode::NOT_FOUND, "not here", &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_is_found_anywhere_and_must_be_closed() {
        assert_eq!(marker("run [[scenario:ro-rm]] now"), Some("ro-rm"));
        assert_eq!(marker("[[scenario:bad name]] [[scenario:a.b_c]]"), Some("a.b_c"));
        assert_eq!(marker("[[scenario:]] [[scenario:x"), None);
    }

    #[test]
    fn pick_reads_system_and_nested_content_and_counts_assistant_turns() {
        let body = json!({
            "system": [{"type": "text", "text": "You are Claude Code."}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "[[scenario:deep]] go"}]},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "x"}]},
            ],
        });
        assert_eq!(pick(&body), ("deep".into(), 1));
        assert_eq!(pick(&json!({"messages": [{"role": "user", "content": "hi"}]})), ("default".into(), 0));
    }

    #[test]
    fn chunks_keep_characters_whole() {
        let text = "é".repeat(41);
        let parts = chunks(&text);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts.concat(), text);
        assert_eq!(chunks(""), vec![String::new()]);
    }
}
