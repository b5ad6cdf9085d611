//! API errors: `{"error": {"code", "message", "hint"}}` with a fitting
//! status, on every route ([`ErrorBody`] is the one schema the document
//! gives every error answer).

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub hint: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), hint: hint.into() }
    }

    pub fn not_found(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message, hint)
    }

    pub fn unauthorized(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message, hint)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "database error in a request");
        match e {
            // A stored record this server cannot read: not an outage, and retrying will not help.
            StoreError::Query(
                sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) | sqlx::Error::TypeNotFound { .. },
            ) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "database",
                format!("a stored record cannot be read: {e}"),
                "the database holds what this version of the server does not understand \
                 (edited by hand, or written by another version); the server log names the record",
            ),
            _ => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database",
                "the database did not answer",
                "check that PostgreSQL is running; GET /readyz tells when the server is ready again",
            ),
        }
    }
}

/// A query run straight on the pool (the audit log) fails like any store call.
impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::from(e).into()
    }
}

/// Every error answer of the API.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong and what to do about it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable code for programs: `invalid`, `not_found`, `unauthorized`,
    /// `forbidden`, `conflict`, `throttled`, `database`, `runner`, ….
    #[schema(example = "not_found")]
    pub code: String,
    /// What happened, and where (a file and line, a node, a run id).
    #[schema(example = "no run \"r-123\"")]
    pub message: String,
    /// How to fix it.
    #[schema(example = "GET /api/v1/runs lists the runs")]
    pub hint: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code.into(), message: self.message, hint: self.hint } };
        (self.status, Json(body)).into_response()
    }
}

/// A JSON request body, which must be an object (serde would also take a
/// struct from an array); a malformed one is a 400 in the API's error
/// shape, saying what is wrong with it.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let invalid = |why: String| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!("the request body is not what this endpoint takes: {why}"),
                "send a JSON object (content-type: application/json) with the fields /openapi.json lists",
            )
        };
        let value = match <Json<serde_json::Value> as FromRequest<S>>::from_request(req, state).await {
            Ok(Json(v @ serde_json::Value::Object(_))) => v,
            Ok(Json(_)) => return Err(invalid("it is not a JSON object".into())),
            Err(e) => return Err(invalid(e.body_text())),
        };
        serde_json::from_value(value).map(JsonBody).map_err(|e| invalid(e.to_string()))
    }
}

/// An optional JSON body: none without a `content-type`, else as [`JsonBody`].
impl<S: Send + Sync, T: serde::de::DeserializeOwned> OptionalFromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Option<Self>, ApiError> {
        if !req.headers().contains_key(axum::http::header::CONTENT_TYPE) {
            return Ok(None);
        }
        <JsonBody<T> as FromRequest<S>>::from_request(req, state).await.map(Some)
    }
}

/// Query parameters; a malformed one is a 400 in the API's error shape.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(QueryParams(v)),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!("a query parameter is wrong: {}", e.body_text()),
                "see /openapi.json for this endpoint's parameters",
            )),
        }
    }
}

/// Text bound for PostgreSQL, which cannot store NUL (`\u0000`): an error naming the field otherwise.
pub fn storable(field: &str, text: &str) -> Result<(), ApiError> {
    if text.contains('\0') {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("{field} holds a NUL character (\\u0000), which cannot be stored"),
            format!("send {field} without NUL"),
        ));
    }
    Ok(())
}

/// A WebSocket upgrade, or why the request is not one.
pub type Upgrade = Result<axum::extract::ws::WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>;

/// The upgrade, or a 400 in the API's own error body (axum's rejection is plain text).
pub fn websocket(ws: Upgrade) -> Result<axum::extract::ws::WebSocketUpgrade, ApiError> {
    ws.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("this is a WebSocket, and the request is not one: {e}"),
            "connect with a WebSocket client (Upgrade: websocket)",
        )
    })
}
