//! `car-server plan`: what the next sync would add, change and remove,
//! field by field, compared with the live database ([`crate::config::plan`]). Exit 0 nothing to do,
//! 1 changes, 2 error (an invalid config counts: it would not apply).

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use car_schemas::diagnostic::{Format, render};

use crate::app::settings::Settings;
use crate::config::plan::{diff, render_plan};
use crate::config::repo::ConfigRepo;
use crate::config::sync::desired;
use crate::db::Store;

/// `car-server plan [DIR] [--revision REV]`: DIR, or CONFIG_REPO at REV
/// (default its head), against the live database.
pub fn run(dir: Option<PathBuf>, revision: Option<String>) -> ExitCode {
    match run_inner(dir, revision) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_inner(dir: Option<PathBuf>, revision: Option<String>) -> Result<u8, String> {
    if dir.is_some() && revision.is_some() {
        return Err("give a folder or --revision, not both (hint: --revision reads CONFIG_REPO)".into());
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let settings = Settings::from_lookup(|k| match (k, &dir) {
            // With a folder given, CONFIG_REPO is not needed.
            ("CONFIG_REPO", Some(d)) => Some(d.display().to_string()),
            _ => std::env::var(k).ok(),
        })
        .map_err(|e| e.to_string())?;
        let loaded = {
            let (dir, settings) = (dir.clone(), settings.clone());
            tokio::task::spawn_blocking(move || super::load_config(dir.as_deref(), revision.as_deref(), &settings))
                .await
                .map_err(|e| e.to_string())??
        };
        if loaded.diagnostics.iter().any(|d| d.is_error()) {
            let root = dir.clone().unwrap_or_default();
            print!("{}", render(&loaded.diagnostics, Format::Text, &root));
            return Err("the config is invalid, so the next sync would apply nothing (fix the errors above)".into());
        }
        let options = match &settings.database_url {
            Some(url) => sqlx::postgres::PgConnectOptions::from_str(url).map_err(|e| format!("DATABASE_URL: {e}"))?,
            None => {
                let pg_dir = settings.data_dir.join("postgres");
                let pg = tokio::task::spawn_blocking(move || crate::db::postgres::EmbeddedPostgres::start(&pg_dir))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
                pg.options("car")
            }
        };
        let store = Store::connect(options, Duration::from_secs(10)).await.map_err(|e| e.to_string())?;
        let repo = ConfigRepo::new(&store);
        let live = repo.objects(None).await.map_err(|e| e.to_string())?;
        let state = repo.sync_state().await.map_err(|e| e.to_string())?;
        let steps = diff(&live, &desired(&loaded));
        print!("{}", render_plan(&steps, state.applied_revision.as_deref()));
        Ok(u8::from(!steps.is_empty()))
    })
}
