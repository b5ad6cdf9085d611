//! The dashboard on the UI port: the React app of `ui/`, which `build.rs`
//! builds with npm, embedded in the binary with rust-embed (a maintained
//! crate for exactly this; debug builds read the folder at run time).
//!
//! Hashed assets (`/assets/…`) are cached for a year; `index.html` is
//! answered for every other page path (the app routes in the browser, so a
//! deep link such as `/runs/{id}` works) and is never cached, so a new
//! version shows at the next load. A server built without the UI says how
//! to build it instead of failing. The API keeps its own JSON 404s.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::Embed)]
#[folder = "$OUT_DIR/dashboard/"]
#[allow_missing = true]
struct Assets;

/// What the browser may load and run: this origin only (agent output is
/// text, and this keeps it so even if a page ever got it wrong).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>Claude Agent Runner</title>\
    <h1>The dashboard is not built into this server</h1>\
    <p>It was built without npm, or with <code>CAR_BUILD_UI=0</code>: install Node.js 20 and npm, then \
    build <code>car-server</code> again (<code>cargo build --release -p car-server</code> builds the dashboard \
    too). The API works without it: <a href=/openapi.json>/openapi.json</a>.</p>";

/// Answers a GET the API does not: an asset, or the app's page.
pub async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path.starts_with("api/") {
        return super::not_found().into_response();
    }
    if let Some(file) = (!path.is_empty()).then(|| Assets::get(path)).flatten() {
        let cache =
            if path.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "public, max-age=3600" };
        return answer(StatusCode::OK, file.metadata.mimetype(), cache, file.data.into_owned());
    }
    if path.starts_with("assets/") {
        // An old page asking for the assets of a version that is gone: a reload fetches the new ones.
        return answer(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "no-store", b"no such asset".to_vec());
    }
    match Assets::get("index.html") {
        Some(index) => answer(StatusCode::OK, "text/html; charset=utf-8", "no-cache", index.data.into_owned()),
        None => answer(StatusCode::OK, "text/html; charset=utf-8", "no-cache", NOT_BUILT.as_bytes().to_vec()),
    }
}

fn answer(status: StatusCode, mime: &str, cache: &'static str, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    r
}
