//! The audit log: who did what, when and from where. Logins (and failed
//! ones), keys made and revoked, runs started (by whom, or by which
//! schedule or trigger), approvals decided, settings changed, syncs applied,
//! trigger hooks fired or refused. Rows are only added (the database
//! refuses changes); an entry names things and never holds a secret.
//! Entries are written in the transaction of the change they record where
//! there is one, so neither exists without the other.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// Who (or what) acted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Actor {
    pub kind: ActorKind,
    /// The user's name, the key's name, the node, schedule or trigger.
    pub name: String,
    /// Where the request came from, for people acting over HTTP.
    pub ip: Option<String>,
}

impl Actor {
    pub fn new(kind: ActorKind, name: impl Into<String>, ip: Option<String>) -> Actor {
        Actor { kind, name: name.into(), ip }
    }

    pub fn system(what: &str) -> Actor {
        Actor::new(ActorKind::System, what, None)
    }

    /// How the actor is named elsewhere (a run's `started_by`, an approval's `decided_by`).
    pub fn label(&self) -> String {
        match self.kind {
            ActorKind::User | ActorKind::Schedule | ActorKind::Trigger => self.name.clone(),
            kind => format!("{}:{}", kind.as_str(), self.name),
        }
    }
}

/// The kinds of actor, as the log stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A person logged in to the dashboard (or logging in).
    User,
    /// An API key, by its name.
    ApiKey,
    /// A node's runner, or a node enrolling.
    Node,
    /// A schedule that started a run.
    Schedule,
    /// A webhook trigger that started a run.
    Trigger,
    /// A sync of the config repository (by what asked for it).
    Git,
    /// The server itself (start-up, bootstrap).
    System,
}

impl ActorKind {
    pub const ALL: [ActorKind; 7] = [
        ActorKind::User,
        ActorKind::ApiKey,
        ActorKind::Node,
        ActorKind::Schedule,
        ActorKind::Trigger,
        ActorKind::Git,
        ActorKind::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::ApiKey => "api_key",
            ActorKind::Node => "node",
            ActorKind::Schedule => "schedule",
            ActorKind::Trigger => "trigger",
            ActorKind::Git => "git",
            ActorKind::System => "system",
        }
    }
}

impl TryFrom<String> for ActorKind {
    type Error = String;
    fn try_from(s: String) -> Result<ActorKind, String> {
        ActorKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| format!("unknown actor kind {s:?}"))
    }
}

/// Declares [`Action`] once: its variants, their names in the log, and the list of all.
macro_rules! actions {
    // `tt`, not `literal`: a `literal` fragment reaches derives wrapped in an
    // invisible group, which utoipa does not read, so the schema would list the Rust names.
    ($($(#[doc = $doc:tt])* $variant:ident = $name:tt,)*) => {
        /// What was done, as the log names it; filter a family with `auth.*`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
        pub enum Action {
            $($(#[doc = $doc])* #[serde(rename = $name)] $variant,)*
        }

        impl Action {
            pub const ALL: &[Action] = &[$(Action::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }
        }
    };
}

actions! {
    /// A user logged in (or set up the first admin).
    AuthLogin = "auth.login",
    /// A login with a wrong user name or password.
    AuthLoginFailed = "auth.login_failed",
    /// A login refused because of earlier failures.
    AuthLoginThrottled = "auth.login_throttled",
    /// A user logged out.
    AuthLogout = "auth.logout",
    UserCreated = "user.created",
    UserUpdated = "user.updated",
    UserDeleted = "user.deleted",
    ApiKeyCreated = "api_key.created",
    ApiKeyRevoked = "api_key.revoked",
    EnrollmentTokenCreated = "enrollment_token.created",
    EnrollmentTokenRevoked = "enrollment_token.revoked",
    NodeEnrolled = "node.enrolled",
    NodeEnrollRefused = "node.enroll_refused",
    NodeKeyRotated = "node.key_rotated",
    NodeKeyRevoked = "node.key_revoked",
    SecretSet = "secret.set",
    SecretDeleted = "secret.deleted",
    SyncRequested = "sync.requested",
    SyncApplied = "sync.applied",
    SyncRejected = "sync.rejected",
    /// An edit written back to the config repository (its commit, or the file written in a local folder).
    ConfigWritten = "config.written",
    OverrideSet = "override.set",
    OverrideCleared = "override.cleared",
    RunStarted = "run.started",
    RunCancelled = "run.cancelled",
    ApprovalDecided = "approval.decided",
    /// A call to a trigger's hook started its agents.
    TriggerFired = "trigger.fired",
    /// A call to a trigger's hook without the trigger's secret (or while the server lacks it); nothing started.
    TriggerRefused = "trigger.refused",
}

impl TryFrom<String> for Action {
    type Error = String;
    fn try_from(s: String) -> Result<Action, String> {
        Action::ALL.iter().copied().find(|a| a.as_str() == s).ok_or_else(|| format!("unknown audit action {s:?}"))
    }
}

/// One entry of the audit log, as the API shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct AuditEntry {
    /// Its place in the log: later entries have larger ids.
    pub id: i64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What kind of actor acted.
    #[sqlx(try_from = "String")]
    pub actor_kind: ActorKind,
    /// The user's or key's name, the node, schedule or trigger, or what the server did it for.
    pub actor: String,
    /// What was done.
    #[sqlx(try_from = "String")]
    pub action: Action,
    /// What was acted on: a run id, key id, token id, node, user, secret, revision or `kind/name`.
    pub target: Option<String>,
    /// Where the request came from, for actors over HTTP.
    pub ip: Option<String>,
    /// The action's particulars (never a secret), e.g. `{"role": "operator"}` for `user.created`.
    #[schema(value_type = Object)]
    pub detail: Value,
}

/// An entry to append, made before the change it records so that both
/// go into the change's transaction.
#[derive(Debug, Clone)]
pub struct Entry {
    pub actor: Actor,
    pub action: Action,
    pub target: Option<String>,
    pub detail: Value,
}

impl Entry {
    pub fn new(actor: &Actor, action: Action, target: Option<&str>, detail: Value) -> Entry {
        Entry { actor: actor.clone(), action, target: target.map(String::from), detail }
    }

    /// Appends it, in `db`'s transaction when it is one.
    pub async fn record<'e>(&self, db: impl sqlx::PgExecutor<'e>) -> Result<(), sqlx::Error> {
        record(db, &self.actor, self.action, self.target.as_deref(), self.detail.clone()).await
    }
}

/// Appends an entry, in `db`'s transaction when it is one.
pub async fn record<'e>(
    db: impl sqlx::PgExecutor<'e>,
    actor: &Actor,
    action: Action,
    target: Option<&str>,
    detail: Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (actor_kind, actor, action, target, ip, detail) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(actor.kind.as_str())
    .bind(&actor.name)
    .bind(action.as_str())
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

pub async fn list<'e>(db: impl sqlx::PgExecutor<'e>, f: &Filter) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let (action, family) = match f.action.as_deref() {
        Some(a) => match a.strip_suffix(".*") {
            Some(family) => (None, Some(format!("{}.%", family.replace('%', "\\%").replace('_', "\\_")))),
            None => (Some(a.to_string()), None),
        },
        None => (None, None),
    };
    sqlx::query_as::<_, AuditEntry>(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_and_actor_kinds_are_stored_and_shown_by_the_same_names() {
        for a in Action::ALL {
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str(), "{a:?}");
            assert_eq!(Action::try_from(a.as_str().to_string()), Ok(*a));
        }
        for k in ActorKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str(), "{k:?}");
            assert_eq!(ActorKind::try_from(k.as_str().to_string()), Ok(k));
        }
        assert!(Action::try_from("auth.*".to_string()).is_err());
    }
}
