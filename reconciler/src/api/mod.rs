//! The HTTP API (port 8000, and under `/api` on the dashboard port): one
//! module per resource; `app(state)` builds the router so tests can drive it
//! without a socket. The OpenAPI document is generated from the handlers.

mod api_keys;
mod approvals;
mod audit;
mod auth;
mod config_write;
mod dashboard;
mod error;
mod events;
mod guard;
mod health;
mod hooks;
mod install;
mod live;
mod node_trust;
mod notifications;
mod objects;
mod page;
pub mod reference;
mod runs;
mod secrets;
mod sync;
mod usage;
mod users;
mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use utoipa::OpenApi;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{ApiError, JsonBody};
pub use page::Page;

use crate::config::snapshot::LiveConfig;
use crate::config::sync::SyncRequests;
use crate::db::Store;
use crate::nodes::client::Runners;
use crate::nodes::repo::NodeRepo;
use crate::tasks::Queue;
use crate::trust::access::{Access, AuthSettings, Role};
use crate::trust::users::UserRepo;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// The live config.
    pub live: LiveConfig,
    pub sync: SyncRequests,
    /// Node reconciles, so a heartbeat can ask for a look now.
    pub probes: Arc<Queue<String>>,
    pub runners: Runners,
    /// What the server saw of the nodes.
    pub nodes: NodeRepo,
    pub users: UserRepo,
    pub settings: Arc<ApiSettings>,
    /// `CONFIG_REPO` as shown to users (credentials removed).
    pub source: String,
    pub runs: Arc<crate::runs::Runs>,
    pub secrets: Arc<crate::trust::secrets::Secrets>,
    /// Notification channels, rules and the outbox.
    pub notify: Arc<crate::notify::Notifier>,
    /// New events, for the dashboard's live updates.
    pub feed: crate::events::Feed,
    /// The background tasks' health, for `/readyz`.
    pub tasks: crate::tasks::Health,
    /// Edits written back to the config repository.
    pub writer: Arc<crate::config::write::Writer>,
}

/// What the API needs of the server's settings.
#[derive(Debug, Clone, Default)]
pub struct ApiSettings {
    /// `PUBLIC_URL`: how users reach the server.
    pub public_url: Option<String>,
    /// `API_PORT`, for addresses when `PUBLIC_URL` is unset.
    pub api_port: u16,
    /// `GIT_WEBHOOK_SECRET`; unset, pushes are refused.
    pub webhook_secret: Option<crate::trust::secrets::Secret>,
    /// `CONFIG_BRANCH`: pushes to other branches are ignored.
    pub branch: String,
    /// `RUNNER_IMAGE`, for the install script.
    pub runner_image: Option<String>,
    /// `RUNNER_BINARY_DIR`, where the install script's binaries are.
    pub runner_binary_dir: Option<std::path::PathBuf>,
    pub auth: AuthSettings,
}

#[derive(OpenApi)]
#[openapi(
    components(schemas(error::ErrorBody, error::ErrorDetail)),
    info(
        title = "Claude Agent Runner",
        description = "The car-server API: config sync, live state, drift, runs, approvals, usage, users, keys, \
                   node enrollment, secrets, notifications, webhook triggers and the audit log. Send an API key as \
                   `Authorization: Bearer car_…` or log in for the dashboard's session cookie; each operation \
                   says the role it needs."
    )
)]
struct ApiDoc;

/// Every route of the API in its group, with the [`Access`] the group needs.
/// Every route sits in exactly one group.
fn groups() -> Vec<(OpenApiRouter<AppState>, Access)> {
    // Anyone: probes, logging in, and routes with secrets of their own.
    let public = OpenApiRouter::new()
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(webhook::git))
        .routes(routes!(auth::login))
        .routes(routes!(auth::setup))
        .routes(routes!(node_trust::enroll))
        .routes(routes!(install::script))
        .routes(routes!(install::binary))
        .merge(hooks::public());
    // Viewers read.
    let read = OpenApiRouter::new()
        .routes(routes!(auth::me))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::change_password))
        .routes(routes!(auth::profile))
        .routes(routes!(sync::status))
        .routes(routes!(objects::nodes))
        .routes(routes!(objects::node))
        .routes(routes!(objects::metrics))
        .routes(routes!(objects::agents))
        .routes(routes!(objects::agent))
        .routes(routes!(objects::can_i))
        .routes(routes!(objects::schedules))
        .routes(routes!(objects::drift))
        .routes(routes!(runs::list))
        .routes(routes!(runs::one))
        .routes(routes!(runs::log))
        .routes(routes!(runs::stream))
        .routes(routes!(runs::events))
        .routes(routes!(approvals::list))
        .routes(routes!(usage::usage))
        .routes(routes!(usage::budget))
        .routes(routes!(live::live))
        .routes(routes!(notifications::list))
        .routes(routes!(notifications::channels))
        .routes(routes!(notifications::rules))
        .routes(routes!(hooks::triggers))
        .routes(routes!(config_write::changes));
    // Operators also run, approve and steer.
    let operate = OpenApiRouter::new()
        .routes(routes!(sync::refresh))
        .routes(routes!(objects::pause))
        .routes(routes!(objects::resume))
        .routes(routes!(runs::start))
        .routes(routes!(runs::cancel))
        .routes(routes!(runs::again))
        .routes(routes!(approvals::decide))
        .routes(routes!(notifications::test))
        .routes(routes!(config_write::put, config_write::delete))
        .routes(routes!(config_write::preview));
    // Admins also manage who and what is trusted.
    let admin = OpenApiRouter::new()
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::update, users::delete))
        .routes(routes!(api_keys::create, api_keys::list))
        .routes(routes!(api_keys::revoke))
        .routes(routes!(secrets::list))
        .routes(routes!(secrets::put, secrets::delete))
        .routes(routes!(audit::list))
        .routes(routes!(node_trust::create_token, node_trust::tokens))
        .routes(routes!(node_trust::revoke_token))
        .routes(routes!(node_trust::keys))
        .routes(routes!(node_trust::rotate))
        .routes(routes!(node_trust::revoke));
    // A node's runner, for its own node.
    let node = OpenApiRouter::new().routes(routes!(node_trust::heartbeat));

    vec![
        (public, Access::Public),
        (read, Access::Role(Role::Viewer)),
        (operate, Access::Role(Role::Operator)),
        (admin, Access::Role(Role::Admin)),
        (node, Access::Node),
    ]
}

/// The API's OpenAPI document, as `/openapi.json` serves it and
/// `schemas/json/openapi.json` holds it (`car-server schema`), with the run
/// events' schemas (which car-schemas generates) among its components.
pub fn openapi() -> serde_json::Value {
    let mut api = OpenApiRouter::with_openapi(ApiDoc::openapi());
    for (group, access) in groups() {
        api = api.merge(documented(group, access));
    }
    let mut doc = api.into_openapi();
    finish(&mut doc);
    let mut doc = serde_json::to_value(doc).unwrap_or_default();
    events::embed(&mut doc);
    doc
}

/// The API router, each group behind [`guard::guard`] with its [`Access`].
pub fn router(state: &AppState) -> Router<AppState> {
    let mut api = OpenApiRouter::new();
    for (group, access) in groups() {
        let layer = axum::middleware::from_fn_with_state(
            state.clone(),
            move |st: axum::extract::State<AppState>, req: axum::extract::Request, next: axum::middleware::Next| {
                guard::guard(st, access, req, next)
            },
        );
        api = api.merge(group.route_layer(layer));
    }
    api.split_for_parts().0
}

/// The document's security schemes, and operation ids made unique: a
/// handler's name (`list`) names several operations, so those are told apart
/// by their tag (`list_users`, `list_runs`); generated clients need each once.
fn finish(doc: &mut utoipa::openapi::OpenApi) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for op in doc.paths.paths.values().flat_map(operations) {
        *seen.entry(op.operation_id.clone().unwrap_or_default()).or_default() += 1;
    }
    for item in doc.paths.paths.values_mut() {
        for op in operations_mut(item) {
            let id = op.operation_id.clone().unwrap_or_default();
            if seen.get(&id).is_some_and(|n| *n > 1) {
                let tag = op.tags.as_ref().and_then(|t| t.first()).cloned().unwrap_or_default();
                op.operation_id = Some(format!("{id}_{}", tag.replace(' ', "_")));
            }
        }
    }
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "api_key",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("car_…").build()),
    );
    components.add_security_scheme(
        "session",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(crate::trust::access::SESSION_COOKIE))),
    );
    components.add_security_scheme(
        "node_key",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("carn_…").build()),
    );
}

/// A group's operations documented with its `access`: the security they
/// accept, the role they need (`x-required-role`), their 401 and 403
/// answers, and the error schema on every error answer.
fn documented(mut group: OpenApiRouter<AppState>, access: Access) -> OpenApiRouter<AppState> {
    for item in group.get_openapi_mut().paths.paths.values_mut() {
        for op in operations_mut(item) {
            document(op, access);
        }
    }
    group
}

/// The operations of one path.
fn operations(item: &utoipa::openapi::PathItem) -> impl Iterator<Item = &utoipa::openapi::path::Operation> {
    [&item.get, &item.put, &item.post, &item.delete, &item.patch, &item.head, &item.options, &item.trace]
        .into_iter()
        .flatten()
}

fn operations_mut(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
        &mut item.head,
        &mut item.options,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

fn document(op: &mut utoipa::openapi::path::Operation, access: Access) {
    use utoipa::openapi::ResponseBuilder;
    use utoipa::openapi::path::ParameterIn;
    optional_body(op);
    let mut answer = |code: &str, description: &str| {
        op.responses
            .responses
            .entry(code.into())
            .or_insert_with(|| ResponseBuilder::new().description(description).build().into());
    };
    // Every error is {"error": {code, message, hint}}; these can come from any operation with inputs.
    let params = op.parameters.as_deref().unwrap_or_default();
    let has_path = params.iter().any(|p| p.parameter_in == ParameterIn::Path);
    if op.request_body.is_some() || !params.is_empty() {
        answer("400", "a malformed or invalid request: the error says what and how to fix it");
    }
    if has_path {
        answer("404", "nothing by that name or id");
    }
    let guard = match access {
        Access::Public => None,
        Access::Role(r) => Some((r.as_str(), vec!["api_key", "session"])),
        Access::Node => Some(("node", vec!["node_key", "api_key", "session"])),
    };
    match guard {
        None => op.security = Some(vec![SecurityRequirement::default()]),
        Some((role, schemes)) => {
            answer("401", "not logged in, or an unknown, expired or revoked key");
            answer("403", "the caller's role does not allow this, or a cross-site request");
            op.security =
                Some(schemes.into_iter().map(|s| SecurityRequirement::new(s, Vec::<String>::new())).collect());
            let ext = op.extensions.get_or_insert_with(Default::default);
            ext.merge(
                utoipa::openapi::extensions::ExtensionsBuilder::new()
                    .add("x-required-role", serde_json::json!(role))
                    .build(),
            );
            let needs = match access {
                Access::Node => "the node's own key (or its token from git), or the operator role".to_string(),
                _ => format!("the {role} role"),
            };
            op.description =
                Some(format!("{}\n\nNeeds {needs}.", op.description.take().unwrap_or_default()).trim().to_string());
        }
    }
    // Every error answer has the one error schema.
    let error = utoipa::openapi::ContentBuilder::new()
        .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
        .build();
    for (code, response) in op.responses.responses.iter_mut() {
        if let (true, utoipa::openapi::RefOr::T(r)) = (code.starts_with('4') || code.starts_with('5'), response)
            && r.content.is_empty()
        {
            r.content.insert("application/json".into(), error.clone());
        }
    }
}

/// An optional body (`Option<T>`, which utoipa writes as "null or T") is
/// not required, and is a T when sent: a JSON `null` is no body.
fn optional_body(op: &mut utoipa::openapi::path::Operation) {
    use utoipa::openapi::schema::{Schema, SchemaType, Type};
    use utoipa::openapi::{RefOr, Required};
    let Some(body) = op.request_body.as_mut().filter(|b| b.required != Some(Required::True)) else { return };
    let null =
        |s: &RefOr<Schema>| matches!(s, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null));
    for content in body.content.values_mut() {
        if let Some(RefOr::T(Schema::OneOf(one))) = &content.schema
            && let [sent] = one.items.iter().filter(|s| !null(s)).collect::<Vec<_>>()[..]
        {
            content.schema = Some(sent.clone());
        }
    }
}

/// Every route of the API and `/openapi.json` (for viewers and up).
fn routes(state: &AppState) -> Router<AppState> {
    let api = router(state);
    let doc = Arc::new(openapi());
    let openapi = Router::new()
        .route("/openapi.json", axum::routing::get(move || async move { axum::Json(doc.as_ref().clone()) }))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            |st: axum::extract::State<AppState>, req: axum::extract::Request, next: axum::middleware::Next| {
                guard::guard(st, Access::Role(Role::Viewer), req, next)
            },
        ));
    api.merge(openapi)
}

fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint", "see /openapi.json for the API")
}

/// The whole API, ready to serve.
pub fn app(state: AppState) -> Router {
    routes(&state).fallback(|| async { not_found() }).with_state(state)
}

/// The dashboard port: the same API at the same paths (`/api/v1/…`, so the
/// dashboard calls it on its own origin, with `/api/openapi.json`) and the
/// dashboard itself for every other page path.
pub fn ui(state: AppState) -> Router {
    routes(&state)
        .route("/api/openapi.json", axum::routing::get(|| async { axum::response::Redirect::to("/openapi.json") }))
        .fallback(axum::routing::get(dashboard::serve).fallback(|| async { not_found() }))
        .with_state(state)
}
