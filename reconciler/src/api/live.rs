//! `GET /api/v1/live`: what happens, as it happens, for the dashboard: a
//! WebSocket that sends one JSON message per new event (a run started or
//! ended, an approval asked or answered, a node gone or back, a sync), so
//! open pages refresh at once instead of polling. Only what happened and to
//! what: the event's data (a trigger's payload) stays out.

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket};
use axum::response::Response;
use tokio::sync::broadcast::error::RecvError;

use super::{ApiError, AppState};

/// New events over a WebSocket, one `FeedItem` JSON per message
/// (`{"id", "type", "at", "run_id", "agent", "node"}`); a viewer too slow to
/// keep up gets `{"type": "lagged"}` and should reload what it shows.
#[utoipa::path(get, path = "/api/v1/live", tag = "live state",
    responses((status = 101, description = "WebSocket of events as they happen", body = crate::events::FeedItem),
    (status = 400, description = "not a WebSocket request", body = super::error::ErrorBody)))]
pub async fn live(State(s): State<AppState>, ws: super::error::Upgrade) -> Result<Response, ApiError> {
    let ws = super::error::websocket(ws)?;
    let feed = s.feed.subscribe();
    Ok(ws.on_upgrade(move |socket| pump(socket, feed)))
}

async fn pump(mut socket: WebSocket, mut feed: tokio::sync::broadcast::Receiver<crate::events::FeedItem>) {
    loop {
        let text = tokio::select! {
            item = feed.recv() => match item {
                Ok(item) => serde_json::to_string(&item).unwrap_or_default(),
                Err(RecvError::Lagged(_)) => r#"{"type":"lagged"}"#.to_string(),
                Err(RecvError::Closed) => return,
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            },
        };
        if socket.send(Message::Text(text.into())).await.is_err() {
            return;
        }
    }
}
