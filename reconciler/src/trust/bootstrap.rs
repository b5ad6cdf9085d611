//! The first admin: made from `ADMIN_USERNAME` and `ADMIN_PASSWORD` at
//! start when that user does not exist yet; with neither set and no users
//! at all, a one-time setup link (valid 24 hours) is printed instead. An
//! existing user is never changed from the environment: the password set
//! in the dashboard wins.

use crate::app::settings::Settings;
use crate::db::{Store, StoreError};
use crate::trust::audit::Actor;

/// How long the setup link works.
pub const SETUP_TTL: chrono::TimeDelta = chrono::TimeDelta::hours(24);

pub async fn first_admin(store: &Store, settings: &Settings) -> Result<(), StoreError> {
    let by = Actor::system("ADMIN_USERNAME");
    match &settings.admin {
        Some((username, password)) => match store.user(username).await? {
            None => {
                let hash = super::password::hash(password.expose()).await;
                store.create_user(username, &hash, super::access::Role::Admin, &by).await?;
                tracing::info!(username = %username, "made the first admin from ADMIN_USERNAME and ADMIN_PASSWORD");
            }
            Some(user) => {
                if !super::password::verify(password.expose(), Some(&user.password_hash)).await {
                    tracing::info!(
                        username = %username,
                        "ADMIN_PASSWORD is not this user's password any more (it was changed in the dashboard); the environment only makes the first admin"
                    );
                }
            }
        },
        None if !store.has_users().await? => {
            let token = crate::trust::tokens::generate("");
            store.set_setup_token(&token, chrono::Utc::now() + SETUP_TTL).await?;
            let base = settings.public_url.clone().unwrap_or_else(|| format!("http://localhost:{}", settings.ui_port));
            tracing::warn!(
                "no users yet: open {base}/setup#token={token} within 24 hours to create the first admin \
                 (or set ADMIN_USERNAME and ADMIN_PASSWORD)"
            );
        }
        None => {}
    }
    Ok(())
}
