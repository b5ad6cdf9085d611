//! Edits proposed as pull requests: what was proposed, where, and whether it
//! was merged yet (the SQL of `config_changes`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;

use crate::db::StoreError;

/// An edit proposed as a pull (merge) request.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct ProposedChange {
    pub id: i64,
    /// The object's kind and name.
    pub kind: String,
    pub name: String,
    /// The pull request's title.
    pub title: String,
    /// The branch the edit was pushed to, and its commit.
    pub branch: String,
    pub commit: String,
    /// github, gitlab or gitea.
    pub forge: String,
    /// The pull request's number, and where people open it.
    pub number: i64,
    pub url: String,
    /// open, merged or closed.
    pub state: String,
    /// Who made the edit.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What is new about a proposal.
pub struct NewChange<'a> {
    pub kind: &'a str,
    pub name: &'a str,
    pub title: &'a str,
    pub branch: &'a str,
    pub commit: &'a str,
    pub forge: &'a str,
    pub number: i64,
    pub url: &'a str,
    pub created_by: &'a str,
}

impl NewChange<'_> {
    pub async fn record(&self, pool: &sqlx::PgPool) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO config_changes (kind, name, title, branch, commit, forge, number, url, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (forge, number) DO UPDATE SET \
             commit = $5, state = 'open', updated_at = now()",
        )
        .bind(self.kind)
        .bind(self.name)
        .bind(self.title)
        .bind(self.branch)
        .bind(self.commit)
        .bind(self.forge)
        .bind(self.number)
        .bind(self.url)
        .bind(self.created_by)
        .execute(pool)
        .await?;
        Ok(())
    }
}

/// The open proposals first, then the 50 newest others.
pub async fn list(pool: &sqlx::PgPool) -> Result<Vec<ProposedChange>, StoreError> {
    Ok(sqlx::query_as::<_, ProposedChange>(
        "(SELECT * FROM config_changes WHERE state = 'open') UNION ALL \
         (SELECT * FROM config_changes WHERE state <> 'open' ORDER BY updated_at DESC LIMIT 50) \
         ORDER BY created_at DESC",
    )
    .fetch_all(pool)
    .await?)
}

/// A pull request of ours was merged or closed.
pub async fn set_state(pool: &sqlx::PgPool, forge: &str, number: i64, state: &str) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE config_changes SET state = $3, updated_at = now() WHERE forge = $1 AND number = $2")
        .bind(forge)
        .bind(number)
        .bind(state)
        .execute(pool)
        .await?;
    Ok(r.rows_affected() > 0)
}
