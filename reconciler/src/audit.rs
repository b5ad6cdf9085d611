//! The audit log: who did what, when and from where. Logins (and failed
//! ones), keys made and revoked, runs started (by whom, or by which
//! schedule), approvals decided, settings changed, syncs applied. Rows are
//! only added (the database refuses changes); an entry names things and
//! never holds a secret. Entries are written in the transaction of the
//! change they record where there is one, so neither exists without the other.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// Who (or what) acted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Actor {
    /// `user`, `api_key`, `node`, `schedule`, `trigger`, `git` or `system`.
    pub kind: String,
    /// The user's name, the key's name, the node, schedule or trigger.
    pub name: String,
    /// Where the request came from, for people acting over HTTP.
    pub ip: Option<String>,
}

impl Actor {
    pub fn new(kind: &str, name: impl Into<String>, ip: Option<String>) -> Actor {
        Actor { kind: kind.into(), name: name.into(), ip }
    }

    pub fn system(what: &str) -> Actor {
        Actor::new("system", what, None)
    }

    /// How the actor is named elsewhere (a run's `started_by`, an approval's `decided_by`).
    pub fn label(&self) -> String {
        match self.kind.as_str() {
            "user" | "schedule" | "trigger" => self.name.clone(),
            kind => format!("{kind}:{}", self.name),
        }
    }
}

/// One audit entry as the API shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Record {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_kind: String,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub ip: Option<String>,
    #[schema(value_type = Object)]
    pub detail: Value,
}

/// Appends an entry, in `db`'s transaction when it is one.
pub async fn record<'e>(
    db: impl sqlx::PgExecutor<'e>,
    actor: &Actor,
    action: &str,
    target: Option<&str>,
    detail: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (actor_kind, actor, action, target, ip, detail) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&actor.kind)
    .bind(&actor.name)
    .bind(action)
    .bind(target)
    .bind(&actor.ip)
    .bind(detail)
    .execute(db)
    .await?;
    Ok(())
}

/// Which entries to list, newest first.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub actor: Option<String>,
    /// An action, or a family of them with a trailing `.*` (`auth.*`).
    pub action: Option<String>,
    pub target: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Entries older than this id (the `next` of the previous page).
    pub before: Option<i64>,
    pub limit: i64,
}

pub async fn list<'e>(db: impl sqlx::PgExecutor<'e>, f: &Filter) -> Result<Vec<Record>, sqlx::Error> {
    let (action, family) = match f.action.as_deref() {
        Some(a) => match a.strip_suffix(".*") {
            Some(family) => (None, Some(format!("{}.%", family.replace('%', "\\%").replace('_', "\\_")))),
            None => (Some(a.to_string()), None),
        },
        None => (None, None),
    };
    sqlx::query_as::<_, Record>(
        "SELECT id, at, actor_kind, actor, action, target, ip, detail FROM audit_log \
         WHERE ($1::text IS NULL OR actor = $1) AND ($2::text IS NULL OR action = $2) \
         AND ($3::text IS NULL OR action LIKE $3) AND ($4::text IS NULL OR target = $4) \
         AND ($5::timestamptz IS NULL OR at >= $5) AND ($6::timestamptz IS NULL OR at < $6) \
         AND ($7::bigint IS NULL OR id < $7) ORDER BY id DESC LIMIT $8",
    )
    .bind(&f.actor)
    .bind(action)
    .bind(family)
    .bind(&f.target)
    .bind(f.from)
    .bind(f.to)
    .bind(f.before)
    .bind(f.limit)
    .fetch_all(db)
    .await
}
