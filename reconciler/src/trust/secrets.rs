//! Secrets: the server's master key, the encrypted store behind
//! `{secret: NAME}`, resolving secret references, and the redactor of every
//! secret value the server knows.
//!
//! The master key comes from `SECRET_KEY` (32 bytes, hex or base64) or,
//! unset, from `DATA_DIR/secret.key`, generated at first start with 0600
//! permissions. Two keys are derived from it with HKDF-SHA256: one encrypts
//! stored secrets (AES-256-GCM, a random nonce each, the secret's name as
//! associated data), the other derives node keys from their ids, so that
//! node keys are never stored, only their hashes. A known value encrypted
//! under the key is kept in the database, so a server started with another
//! key says so at start-up.
//!
//! Crypto is RustCrypto's (`aes-gcm`, `hkdf`, `hmac`, `sha2`): audited,
//! widely used, pure Rust.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use car_schemas::redact::Redactor;
use car_schemas::run::RUN_ENV;
use car_schemas::values::SecretRef;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::db::{Store, StoreError};
use crate::trust::audit::{self, Action, Actor};

/// What a wrong key decrypts the check value to: nothing.
const KEY_CHECK: &[u8] = b"car secret key check v1";
const NONCE_LEN: usize = 12;

/// A setting that is a secret: its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Reads the server's environment (tests pass their own).
pub type EnvLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the environment variable {0} is not set on the server (hint: set it where car-server runs)")]
    NoEnv(String),
    #[error("no secret named {0:?} is stored (hint: PUT /api/v1/secrets/{0} with its value, as an admin)")]
    NoSecret(String),
    #[error(
        "the stored secret {0:?} cannot be decrypted with this server's SECRET_KEY (hint: start the server with the key it was stored with, or store it again)"
    )]
    Undecryptable(String),
    #[error(
        "SECRET_KEY does not match the key this database's secrets and node keys were made with (hint: start with the original SECRET_KEY or DATA_DIR/secret.key; a new key needs every secret stored again and every node enrolled again)"
    )]
    KeyMismatch,
    #[error("cannot read or create the key file {path}: {source} (hint: set SECRET_KEY, or make DATA_DIR writable)")]
    KeyFile { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    BadKey(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for SecretError {
    fn from(e: sqlx::Error) -> Self {
        SecretError::Store(StoreError::Query(e))
    }
}

/// The master key, split into its two uses.
#[derive(Clone)]
pub struct MasterKey {
    cipher: Aes256Gcm,
    derive: [u8; 32],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

impl MasterKey {
    fn from_bytes(master: &[u8; 32]) -> MasterKey {
        let hk = hkdf::Hkdf::<Sha256>::new(Some(b"claude-agent-runner"), master);
        let (mut enc, mut derive) = ([0u8; 32], [0u8; 32]);
        hk.expand(b"secrets v1", &mut enc).expect("32 bytes is a valid HKDF length");
        hk.expand(b"node keys v1", &mut derive).expect("32 bytes is a valid HKDF length");
        MasterKey { cipher: Aes256Gcm::new(&enc.into()), derive }
    }

    /// `SECRET_KEY`'s value: 32 bytes as 64 hex digits or as base64.
    pub fn parse(text: &str) -> Result<MasterKey, String> {
        let t = text.trim();
        let bytes = hex::decode(t)
            .ok()
            .or_else(|| base64::engine::general_purpose::STANDARD.decode(t).ok())
            .or_else(|| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t).ok());
        match bytes.and_then(|b| <[u8; 32]>::try_from(b).ok()) {
            Some(b) => Ok(MasterKey::from_bytes(&b)),
            None => {
                Err("SECRET_KEY is not 32 bytes in hex or base64 (hint: make one with `openssl rand -hex 32`)".into())
            }
        }
    }

    /// The key in `path`, made (0600) when the file does not exist.
    pub fn load_or_create(path: &Path) -> Result<MasterKey, SecretError> {
        let err = |e| SecretError::KeyFile { path: path.to_path_buf(), source: e };
        match std::fs::read_to_string(path) {
            Ok(text) => MasterKey::parse(&text).map_err(|_| {
                SecretError::BadKey(format!(
                    "{} does not hold a 32-byte hex key (hint: restore it from a backup, or set SECRET_KEY)",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                let bytes: [u8; 32] = rand::random();
                let mut f =
                    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(err)?;
                f.write_all(hex::encode(bytes).as_bytes()).and_then(|()| f.sync_all()).map_err(err)?;
                tracing::info!(path = %path.display(), "made a new secret key; back it up with the database");
                Ok(MasterKey::from_bytes(&bytes))
            }
            Err(e) => Err(err(e)),
        }
    }

    fn encrypt(&self, aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
            .expect("AES-GCM encrypts any message of this size");
        [nonce.as_slice(), &sealed].concat()
    }

    fn decrypt(&self, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        self.cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad }).ok()
    }

    /// 32 bytes for `purpose` and `id`, the same on every replica with this key.
    pub fn derive(&self, purpose: &str, id: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.derive).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(id.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// A stored secret as the API shows it: never its value.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SecretInfo {
    /// Its name, as `{secret: NAME}` in git names it.
    pub name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When its value was last set.
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Who last set it: a user's name, or `<kind>:<name>` for other actors.
    pub updated_by: String,
}

pub struct Secrets {
    store: Store,
    key: MasterKey,
    env: EnvLookup,
    /// The server's own secrets from its settings (webhook secret, repo token, admin password).
    own: Vec<(String, String)>,
    redactor: RwLock<Arc<Redactor>>,
}

impl Secrets {
    /// Opens the store with `key`, checking that the key is the one the
    /// database was used with (and recording it on first use).
    pub async fn open(
        store: Store,
        key: MasterKey,
        env: EnvLookup,
        own: Vec<(String, String)>,
    ) -> Result<Secrets, SecretError> {
        let check: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT ciphertext FROM secret_key_check").fetch_optional(store.pool()).await?;
        match check {
            Some(sealed) if key.decrypt(b"check", &sealed).as_deref() == Some(KEY_CHECK) => {}
            Some(_) => return Err(SecretError::KeyMismatch),
            None => {
                sqlx::query("INSERT INTO secret_key_check (ciphertext) VALUES ($1) ON CONFLICT DO NOTHING")
                    .bind(key.encrypt(b"check", KEY_CHECK))
                    .execute(store.pool())
                    .await?;
            }
        }
        let secrets = Secrets { store, key, env, own, redactor: RwLock::default() };
        secrets.refresh().await;
        Ok(secrets)
    }

    pub fn key(&self) -> &MasterKey {
        &self.key
    }

    /// A variable of the server's environment.
    pub fn env(&self, name: &str) -> Option<String> {
        (self.env)(name).filter(|v| !v.is_empty())
    }

    /// The value behind a reference in git.
    pub async fn resolve(&self, r: &SecretRef) -> Result<String, SecretError> {
        match r {
            SecretRef::Env(var) => self.env(var).ok_or_else(|| SecretError::NoEnv(var.clone())),
            SecretRef::Secret(name) => self.get(name).await?.ok_or_else(|| SecretError::NoSecret(name.clone())),
        }
    }

    /// A stored secret's value.
    pub async fn get(&self, name: &str) -> Result<Option<String>, SecretError> {
        let sealed: Option<Vec<u8>> = sqlx::query_scalar("SELECT ciphertext FROM secrets WHERE name = $1")
            .bind(name)
            .fetch_optional(self.store.pool())
            .await?;
        sealed.map(|s| self.unseal(name, &s)).transpose()
    }

    /// The stored secrets of these names that exist (all with `None`), in one query;
    /// one that does not decrypt is left out and logged.
    async fn stored(&self, names: Option<&[String]>) -> Result<Vec<(String, String)>, SecretError> {
        let rows: Vec<(String, Vec<u8>)> =
            sqlx::query_as("SELECT name, ciphertext FROM secrets WHERE $1::text[] IS NULL OR name = ANY($1)")
                .bind(names)
                .fetch_all(self.store.pool())
                .await?;
        let opened = rows.into_iter().filter_map(|(name, sealed)| match self.unseal(&name, &sealed) {
            Ok(value) => Some((name, value)),
            Err(e) => {
                tracing::warn!(error = %e, "a stored secret cannot be read");
                None
            }
        });
        Ok(opened.collect())
    }

    fn unseal(&self, name: &str, sealed: &[u8]) -> Result<String, SecretError> {
        let plain = self.key.decrypt(name.as_bytes(), sealed).ok_or_else(|| SecretError::Undecryptable(name.into()))?;
        String::from_utf8(plain).map_err(|_| SecretError::Undecryptable(name.into()))
    }

    /// Stores (or replaces) a secret, with its audit entry; true when it is new.
    pub async fn put(&self, name: &str, value: &str, actor: &Actor) -> Result<bool, SecretError> {
        let sealed = self.key.encrypt(name.as_bytes(), value.as_bytes());
        let mut tx = self.store.pool().begin().await?;
        let created: bool = sqlx::query_scalar(
            "INSERT INTO secrets (name, ciphertext, updated_by) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET ciphertext = $2, updated_by = $3, updated_at = now() \
             RETURNING created_at = updated_at",
        )
        .bind(name)
        .bind(sealed)
        .bind(actor.label())
        .fetch_one(&mut *tx)
        .await?;
        audit::record(&mut *tx, actor, Action::SecretSet, Some(name), serde_json::json!({"created": created})).await?;
        tx.commit().await?;
        self.refresh().await;
        Ok(created)
    }

    /// Deletes a secret, with its audit entry; false when there was none.
    pub async fn delete(&self, name: &str, actor: &Actor) -> Result<bool, SecretError> {
        let mut tx = self.store.pool().begin().await?;
        let gone =
            sqlx::query("DELETE FROM secrets WHERE name = $1").bind(name).execute(&mut *tx).await?.rows_affected() > 0;
        if gone {
            audit::record(&mut *tx, actor, Action::SecretDeleted, Some(name), serde_json::json!({})).await?;
        }
        tx.commit().await?;
        // Its value stays redacted until the next refresh: a runner may still be using it.
        Ok(gone)
    }

    pub async fn list(&self) -> Result<Vec<SecretInfo>, SecretError> {
        Ok(sqlx::query_as::<_, SecretInfo>(
            "SELECT name, created_at, updated_at, updated_by FROM secrets ORDER BY name",
        )
        .fetch_all(self.store.pool())
        .await?)
    }

    /// Whether a model run would get credentials (an API key, an OAuth
    /// token, or a bearer token), from the environment or the secret store.
    pub async fn has_model_credentials(&self) -> bool {
        let env = self.run_env().await;
        ["ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN"].iter().any(|k| env.contains_key(*k))
    }

    /// The model credentials for one run ([`RUN_ENV`]): from the server's
    /// environment or, when unset there, from the secret store under the
    /// same name in lowercase with dashes (`anthropic-api-key`); at most one
    /// query, for those the environment lacks.
    pub async fn run_env(&self) -> BTreeMap<String, String> {
        let stored_name = |var: &str| var.to_lowercase().replace('_', "-");
        let mut env: BTreeMap<String, String> =
            RUN_ENV.iter().filter_map(|var| self.env(var).map(|v| (var.to_string(), v))).collect();
        let missing: Vec<String> = RUN_ENV.iter().filter(|v| !env.contains_key(**v)).map(|v| stored_name(v)).collect();
        if missing.is_empty() {
            return env;
        }
        let stored = self.stored(Some(&missing)).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the model credentials from the secret store");
            Vec::new()
        });
        for var in RUN_ENV {
            if let Some((_, v)) = stored.iter().find(|(name, _)| *name == stored_name(var)) {
                env.insert(var.to_string(), v.clone());
            }
        }
        env
    }

    /// What run events are redacted with now.
    pub fn redactor(&self) -> Arc<Redactor> {
        self.redactor.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Rebuilds the redactor from every secret the server knows: its own,
    /// the model credentials, each `{env}` and `{secret}` the live config
    /// refers to, every stored secret, and every node key. Called at start,
    /// after each sync that changed something, and when secrets or keys change.
    pub async fn refresh(&self) {
        let mut known: Vec<(String, String)> = self.own.clone();
        for var in RUN_ENV.iter().filter(|v| **v != "ANTHROPIC_BASE_URL") {
            if let Some(v) = self.env(var) {
                known.push((var.to_string(), v));
            }
        }
        // Found by PostgreSQL, so no document is loaded here (a repository may hold thousands).
        let vars: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT v #>> '{}' FROM objects, jsonb_path_query(document, '$.**.env') AS v \
             WHERE jsonb_typeof(v) = 'string'",
        )
        .fetch_all(self.store.pool())
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the config's {{env}} references for redaction");
            Vec::new()
        });
        known.extend(vars.into_iter().filter_map(|v| self.env(&v).map(|value| (v, value))));
        let stored = self.stored(None).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the stored secrets for redaction");
            Vec::new()
        });
        known.extend(stored.into_iter().map(|(name, v)| (format!("secret {name}"), v)));
        let keys: Vec<(String, String)> =
            sqlx::query_as("SELECT id, node FROM node_keys").fetch_all(self.store.pool()).await.unwrap_or_default();
        for (id, node) in keys {
            known.push((format!("node key of {node}"), crate::trust::node_keys::derive(&self.key, &id)));
        }
        let redactor = Arc::new(Redactor::new(known));
        *self.redactor.write().unwrap_or_else(|p| p.into_inner()) = redactor;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_decrypts_only_under_its_key_and_name() {
        let key = MasterKey::parse(&"ab".repeat(32)).unwrap();
        let sealed = key.encrypt(b"gotify", b"token-value");
        assert_eq!(key.decrypt(b"gotify", &sealed).unwrap(), b"token-value");
        assert!(key.decrypt(b"other-name", &sealed).is_none(), "bound to its name");
        let other = MasterKey::parse(&"cd".repeat(32)).unwrap();
        assert!(other.decrypt(b"gotify", &sealed).is_none(), "bound to its key");
        assert_ne!(key.encrypt(b"gotify", b"token-value"), sealed, "a fresh nonce each time");
    }

    #[test]
    fn keys_are_read_as_hex_or_base64_and_anything_else_is_refused() {
        assert!(MasterKey::parse(&"0f".repeat(32)).is_ok());
        assert!(MasterKey::parse(&base64::engine::general_purpose::STANDARD.encode([7u8; 32])).is_ok());
        let e = MasterKey::parse("hunter2").unwrap_err();
        assert!(e.contains("openssl rand -hex 32"), "{e}");
    }

    #[test]
    fn a_key_file_is_made_once_with_owner_only_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let first = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let again = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(first.derive("x", "1"), again.derive("x", "1"));
    }
}
