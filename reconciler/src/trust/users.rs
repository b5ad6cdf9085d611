//! The SQL of users, sessions, API keys and the setup link. Secrets are
//! looked up by their SHA-256; writes that only note use (`last_seen_at`,
//! `last_used_at`) happen at most once a minute per row.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;

use super::access::Role;
use crate::db::{Store, StoreError};
use crate::trust::audit::{self, Action, Actor};
use crate::trust::tokens;

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub full_name: Option<String>,
    pub email: Option<String>,
}

/// A user as the API shows it: never the password.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    /// The name they log in with.
    pub username: String,
    pub role: Role,
    /// Disabled users cannot log in.
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    /// Their last login; null: never.
    pub last_login_at: Option<DateTime<Utc>>,
    /// Their name as commits of their edits carry it; null: the user name.
    pub full_name: Option<String>,
    /// Their e-mail as commits of their edits carry it.
    pub email: Option<String>,
}

impl From<&UserRow> for User {
    fn from(u: &UserRow) -> User {
        User {
            username: u.username.clone(),
            role: u.role.parse().unwrap_or(Role::Viewer),
            disabled: u.disabled,
            created_at: u.created_at,
            last_login_at: u.last_login_at,
            full_name: u.full_name.clone(),
            email: u.email.clone(),
        }
    }
}

/// An API key as the API shows it: never the key itself.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct ApiKey {
    /// Its id (`key_…`), to revoke it by.
    pub id: String,
    /// What the key is for, e.g. "home-assistant".
    pub name: String,
    /// What callers with the key may do.
    #[sqlx(try_from = "String")]
    pub role: Role,
    /// The key's first characters, to recognise it by.
    pub prefix: String,
    /// Who made it: a user's name, or `<kind>:<name>` for other actors (`api_key:ci`).
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// When it stops working; null: never.
    pub expires_at: Option<DateTime<Utc>>,
    /// When a request last came with it (noted at most once a minute); null: never used.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; null: it was not.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A session's user, as a request presents it.
#[derive(Debug, Clone, FromRow)]
pub struct SessionUser {
    pub user_id: i64,
    pub username: String,
    pub role: String,
    pub expires_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

/// How an API key a request presents stands.
#[derive(Debug, Clone, FromRow)]
pub struct PresentedKey {
    pub id: String,
    pub name: String,
    pub role: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// How stale a "last used" time may get before a request writes it again:
/// most requests then cost one read, no write.
pub const USE_NOTED_EVERY: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// Whether a row last noted in use at `at` should be noted again.
pub fn stale(at: Option<DateTime<Utc>>) -> bool {
    at.is_none_or(|t| t < Utc::now() - USE_NOTED_EVERY)
}

const USER_COLUMNS: &str = "id, username, password_hash, role, disabled, created_at, last_login_at, full_name, email";

/// Users, their sessions and API keys in PostgreSQL.
#[derive(Debug, Clone)]
pub struct UserRepo {
    pool: sqlx::PgPool,
}

impl UserRepo {
    pub fn new(store: &Store) -> UserRepo {
        UserRepo { pool: store.pool().clone() }
    }

    pub async fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        Ok(sqlx::query_as::<_, UserRow>(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY username"))
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn user(&self, username: &str) -> Result<Option<UserRow>, StoreError> {
        Ok(sqlx::query_as::<_, UserRow>(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"))
            .bind(username)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn has_users(&self) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users)").fetch_one(&self.pool).await?)
    }

    /// Adds a user; false when the name is taken.
    pub async fn create_user(
        &self,
        username: &str,
        password_hash: &str,
        role: Role,
        by: &Actor,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let added = sqlx::query(
            "INSERT INTO users (username, password_hash, role) VALUES ($1, $2, $3) ON CONFLICT (username) DO NOTHING",
        )
        .bind(username)
        .bind(password_hash)
        .bind(role.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if added {
            audit::record(&mut *tx, by, Action::UserCreated, Some(username), serde_json::json!({"role": role})).await?;
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Sets a user's name and e-mail for commits (`Some("")` clears one; `None` keeps it).
    pub async fn set_profile(
        &self,
        username: &str,
        full_name: Option<&str>,
        email: Option<&str>,
        by: &Actor,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE users SET full_name = CASE WHEN $2::text IS NULL THEN full_name ELSE NULLIF($2, '') END, \
             email = CASE WHEN $3::text IS NULL THEN email ELSE NULLIF($3, '') END, updated_at = now() \
             WHERE username = $1",
        )
        .bind(username)
        .bind(full_name)
        .bind(email)
        .execute(&mut *tx)
        .await?;
        let detail = serde_json::json!({"full_name": full_name, "email": email});
        audit::record(&mut *tx, by, Action::UserUpdated, Some(username), detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user who made an API key (its edits are theirs), when a user did.
    pub async fn api_key_owner(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT created_by FROM api_keys WHERE id = $1 AND created_by NOT LIKE '%:%'")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Changes a user; a new password or disabling ends their sessions.
    /// Refused (false) when it would take the last enabled admin away.
    pub async fn update_user(
        &self,
        username: &str,
        role: Option<Role>,
        password_hash: Option<&str>,
        disabled: Option<bool>,
        by: &Actor,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Serialises changes to admins, so two demotions cannot both pass the check.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('car users'))").execute(&mut *tx).await?;
        let had_admin = has_admin(&mut tx).await?;
        sqlx::query(
            "UPDATE users SET role = COALESCE($2, role), password_hash = COALESCE($3, password_hash), \
             disabled = COALESCE($4, disabled), updated_at = now() WHERE username = $1",
        )
        .bind(username)
        .bind(role.map(|r| r.as_str()))
        .bind(password_hash)
        .bind(disabled)
        .execute(&mut *tx)
        .await?;
        if had_admin && !has_admin(&mut tx).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        if password_hash.is_some() || disabled == Some(true) {
            sqlx::query("DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = $1)")
                .bind(username)
                .execute(&mut *tx)
                .await?;
        }
        let detail =
            serde_json::json!({"role": role, "password_changed": password_hash.is_some(), "disabled": disabled});
        audit::record(&mut *tx, by, Action::UserUpdated, Some(username), detail).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes a user and their sessions; false when it would take the last enabled admin away.
    pub async fn delete_user(&self, username: &str, by: &Actor) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('car users'))").execute(&mut *tx).await?;
        let had_admin = has_admin(&mut tx).await?;
        sqlx::query("DELETE FROM users WHERE username = $1").bind(username).execute(&mut *tx).await?;
        if had_admin && !has_admin(&mut tx).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        audit::record(&mut *tx, by, Action::UserDeleted, Some(username), serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Starts a session for a user who just proved who they are; records the login.
    pub async fn create_session(
        &self,
        user: &UserRow,
        token: &str,
        expires_at: DateTime<Utc>,
        actor: &Actor,
        user_agent: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, expires_at, ip, user_agent) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tokens::hash(token))
        .bind(user.id)
        .bind(expires_at)
        .bind(&actor.ip)
        .bind(user_agent.map(|a| a.chars().take(200).collect::<String>()))
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE users SET last_login_at = now() WHERE id = $1").bind(user.id).execute(&mut *tx).await?;
        audit::record(&mut *tx, actor, Action::AuthLogin, None, serde_json::json!({"via": "password"})).await?;
        // Expired sessions are cleared out as new ones come.
        sqlx::query("DELETE FROM sessions WHERE expires_at < now()").execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user of a live session (not past its end, nor idle for `idle`), noting its use.
    pub async fn session(&self, token: &str, idle: chrono::TimeDelta) -> Result<Option<SessionUser>, StoreError> {
        let hash = tokens::hash(token);
        let found = sqlx::query_as::<_, SessionUser>(
            "SELECT s.user_id, u.username, u.role, s.expires_at, s.last_seen_at FROM sessions s \
             JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > now() AND s.last_seen_at > now() - $2::interval \
             AND NOT u.disabled",
        )
        .bind(&hash)
        .bind(format!("{} seconds", idle.num_seconds()))
        .fetch_optional(&self.pool)
        .await?;
        if found.as_ref().is_some_and(|s| stale(Some(s.last_seen_at))) {
            sqlx::query(
                "UPDATE sessions SET last_seen_at = now() WHERE token_hash = $1 \
                 AND last_seen_at < now() - interval '1 minute'",
            )
            .bind(&hash)
            .execute(&self.pool)
            .await?;
        }
        Ok(found)
    }

    pub async fn end_session(&self, token: &str, actor: &Actor) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let ended = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(tokens::hash(token))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if ended > 0 {
            audit::record(&mut *tx, actor, Action::AuthLogout, None, serde_json::json!({})).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn create_api_key(
        &self,
        name: &str,
        role: Role,
        expires_at: Option<DateTime<Utc>>,
        by: &Actor,
    ) -> Result<(ApiKey, String), StoreError> {
        let secret = tokens::generate(tokens::API_KEY);
        let id = tokens::id("key_");
        let mut tx = self.pool.begin().await?;
        let key = sqlx::query_as::<_, ApiKey>(
            "INSERT INTO api_keys (id, name, role, prefix, token_hash, created_by, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id, name, role, prefix, created_by, created_at, \
             expires_at, last_used_at, revoked_at",
        )
        .bind(&id)
        .bind(name)
        .bind(role.as_str())
        .bind(tokens::shown_prefix(&secret))
        .bind(tokens::hash(&secret))
        .bind(by.label())
        .bind(expires_at)
        .fetch_one(&mut *tx)
        .await?;
        let detail = serde_json::json!({"name": name, "role": role, "expires_at": expires_at});
        audit::record(&mut *tx, by, Action::ApiKeyCreated, Some(&id), detail).await?;
        tx.commit().await?;
        Ok((key, secret))
    }

    pub async fn api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        Ok(sqlx::query_as::<_, ApiKey>(
            "SELECT id, name, role, prefix, created_by, created_at, expires_at, last_used_at, revoked_at \
             FROM api_keys ORDER BY created_at DESC",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Revokes a key; false when there is no such key or it was revoked already.
    pub async fn revoke_api_key(&self, id: &str, by: &Actor) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let name: Option<String> = sqlx::query_scalar(
            "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING name",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(name) = &name {
            audit::record(&mut *tx, by, Action::ApiKeyRevoked, Some(id), serde_json::json!({"name": name})).await?;
        }
        tx.commit().await?;
        Ok(name.is_some())
    }

    /// The key a request presents, whatever its state, noting its use when it is valid.
    pub async fn presented_key(&self, secret: &str) -> Result<Option<PresentedKey>, StoreError> {
        let hash = tokens::hash(secret);
        let key = sqlx::query_as::<_, PresentedKey>(
            "SELECT id, name, role, expires_at, revoked_at, last_used_at FROM api_keys WHERE token_hash = $1",
        )
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?;
        let live = |k: &PresentedKey| k.revoked_at.is_none() && k.expires_at.is_none_or(|e| e > Utc::now());
        if key.as_ref().is_some_and(|k| live(k) && stale(k.last_used_at)) {
            sqlx::query(
                "UPDATE api_keys SET last_used_at = now() WHERE token_hash = $1 \
                 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
            )
            .bind(&hash)
            .execute(&self.pool)
            .await?;
        }
        Ok(key)
    }

    /// Replaces the one-time setup link's token.
    pub async fn set_setup_token(&self, token: &str, expires_at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO setup_token (token_hash, expires_at) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET token_hash = $1, expires_at = $2",
        )
        .bind(tokens::hash(token))
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Creates the first admin with the setup link's token: false when the
    /// token is wrong or expired, or when there are users already.
    pub async fn complete_setup(
        &self,
        token: &str,
        username: &str,
        password_hash: &str,
        actor: &Actor,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('car users'))").execute(&mut *tx).await?;
        let taken = sqlx::query_scalar::<_, bool>(
            "DELETE FROM setup_token WHERE token_hash = $1 AND expires_at > now() RETURNING true",
        )
        .bind(tokens::hash(token))
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        let empty: bool = sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM users)").fetch_one(&mut *tx).await?;
        if !taken || !empty {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("INSERT INTO users (username, password_hash, role) VALUES ($1, $2, 'admin')")
            .bind(username)
            .bind(password_hash)
            .execute(&mut *tx)
            .await?;
        let detail = serde_json::json!({"role": "admin", "via": "setup link"});
        audit::record(&mut *tx, actor, Action::UserCreated, Some(username), detail).await?;
        tx.commit().await?;
        Ok(true)
    }
}

async fn has_admin(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin' AND NOT disabled)")
        .fetch_one(&mut **tx)
        .await?)
}
