//! The first admin: made from `ADMIN_USERNAME` and `ADMIN_PASSWORD` at
//! start when that user does not exist yet; with neither set and no users
//! at all, a one-time setup link (valid 24 hours) is printed instead. An
//! existing user is never changed from the environment: the password set
//! in the dashboard wins.

use crate::db::{Store, StoreError};
use crate::trust::audit::Actor;
use crate::trust::secrets::Secret;
use crate::trust::users::UserRepo;

/// How long the setup link works.
pub const SETUP_TTL: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// `admin`: `ADMIN_USERNAME` and `ADMIN_PASSWORD`; `dashboard`: where the setup link points.
pub async fn first_admin(store: &Store, admin: Option<&(String, Secret)>, dashboard: &str) -> Result<(), StoreError> {
    let by = Actor::system("ADMIN_USERNAME");
    let users = UserRepo::new(store);
    match admin {
        Some((username, password)) => match users.user(username).await? {
            None => {
                let hash = super::password::hash(password.expose()).await;
                users.create_user(username, &hash, super::access::Role::Admin, &by).await?;
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
        None if !users.has_users().await? => {
            let token = crate::trust::tokens::generate("");
            users.set_setup_token(&token, chrono::Utc::now() + SETUP_TTL).await?;
            tracing::warn!(
                "no users yet: open {dashboard}/setup#token={token} within 24 hours to create the first admin \
                 (or set ADMIN_USERNAME and ADMIN_PASSWORD)"
            );
        }
        None => {}
    }
    Ok(())
}
