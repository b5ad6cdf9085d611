//! The subcommands besides `serve`: `validate`, `plan`, `can-i`, `schema`.

pub mod can_i;
pub mod plan;
pub mod schema;
pub mod validate;

use std::path::Path;

use car_schemas::{LoadOptions, Loaded};

use crate::config::source;

/// The config a command-line tool looks at: folder `dir`, else `CONFIG_REPO`
/// at `revision` (default its head), read as the server reads it. Blocking.
pub fn load_config(
    dir: Option<&Path>,
    revision: Option<&str>,
    settings: &crate::app::settings::Settings,
) -> Result<Loaded, String> {
    if let Some(d) = dir {
        return car_schemas::check(d, &LoadOptions::default()).map_err(|e| e.to_string());
    }
    let source = source::open(&settings.source, &settings.data_dir).map_err(|e| e.to_string())?;
    let rev = match revision {
        Some(r) => source.revision(r),
        None => source.head(),
    }
    .map_err(|e| e.to_string())?;
    source.load(&rev, &LoadOptions::default()).map_err(|e| e.to_string())
}
