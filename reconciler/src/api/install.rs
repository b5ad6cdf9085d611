//! Installing a node: `GET /install` serves the install script (with this
//! server's URL and the pinned versions filled in), and
//! `GET /install/car-runner` the runner binary it downloads where Docker
//! is not used. Both are public: they hold nothing secret; enrolling needs
//! the one-time token.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tower::ServiceExt;
use utoipa::{IntoParams, ToSchema};

use super::error::QueryParams;
use super::{ApiError, AppState};

/// The script, with `@SERVER_URL@`, `@CLAUDE_VERSION@`, `@RUNNER_VERSION@`,
/// `@RUNNER_IMAGE@` and `@SYSTEMD_UNIT@` to fill in.
const SCRIPT: &str = include_str!("../../../deploy/install.sh");
/// The unit the script installs where systemd runs.
const UNIT: &str = include_str!("../../../deploy/car-runner.service");
/// The claude CLI version runners use (the one place it is pinned).
pub const CLAUDE_VERSION: &str = include_str!("../../../claude-code.version");

/// The runner image the script runs where Docker works.
pub fn runner_image() -> String {
    format!("car-runner:{}", env!("CARGO_PKG_VERSION"))
}

/// The install script: `curl -sSL {server}/install | bash -s -- --token <enrollment token>`.
#[utoipa::path(get, path = "/install", tag = "nodes", security(()),
    responses((status = 200, description = "the install script (bash)", body = String, content_type = "text/x-shellscript")))]
pub async fn script(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let url = super::node_trust::server_url(&s, &headers);
    let text = SCRIPT
        .replace("@SERVER_URL@", &url)
        .replace("@CLAUDE_VERSION@", CLAUDE_VERSION.trim())
        .replace("@RUNNER_VERSION@", env!("CARGO_PKG_VERSION"))
        .replace("@RUNNER_IMAGE@", &s.settings.runner_image.clone().unwrap_or_else(runner_image))
        .replace("@SYSTEMD_UNIT@", UNIT.trim_end());
    ([(header::CONTENT_TYPE, "text/x-shellscript; charset=utf-8")], text).into_response()
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BinaryQuery {
    /// The node's `uname -m` (x86_64, aarch64); default: the server's.
    #[param(pattern = "^[A-Za-z0-9_]{1,32}$")]
    arch: Option<String>,
}

/// The car-runner executable, streamed from its file (ranges work).
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct RunnerBinary(Response);

impl IntoResponse for RunnerBinary {
    fn into_response(self) -> Response {
        self.0
    }
}

/// The car-runner binary for an architecture, as this server ships it
/// (`car-runner-{arch}`, or `car-runner` for its own, beside the server's
/// binary or in RUNNER_BINARY_DIR).
#[utoipa::path(get, path = "/install/car-runner", tag = "nodes", params(BinaryQuery), security(()),
    responses((status = 200, description = "the binary", body = RunnerBinary, content_type = "application/octet-stream"),
    (status = 404, description = "this server has no car-runner for that architecture")))]
pub async fn binary(
    State(s): State<AppState>,
    QueryParams(q): QueryParams<BinaryQuery>,
    req: Request,
) -> Result<RunnerBinary, ApiError> {
    let arch = q.arch.unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let plain = arch.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let dir = s
        .settings
        .runner_binary_dir
        .clone()
        .or_else(|| std::env::current_exe().ok().and_then(|p| p.parent().map(std::path::Path::to_path_buf)));
    let candidates = dir.into_iter().flat_map(|d| {
        let own = (arch == std::env::consts::ARCH).then(|| d.join("car-runner"));
        [Some(d.join(format!("car-runner-{arch}"))), own].into_iter().flatten()
    });
    let Some(path) = candidates.filter(|_| plain).find(|p| p.is_file()) else {
        return Err(ApiError::not_found(
            format!("this server has no car-runner for {arch}"),
            "put car-runner-<arch> beside car-server (or in RUNNER_BINARY_DIR), or install with --mode docker",
        ));
    };
    let mut resp = tower_http::services::ServeFile::new(path)
        .oneshot(req)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "io", e.to_string(), "try again"))?
        .into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/octet-stream"));
    Ok(RunnerBinary(resp))
}
