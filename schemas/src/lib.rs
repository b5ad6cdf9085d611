//! The Claude Agent Runner config language.
//!
//! Users declare nodes, agents, schedules, notification channels and rules,
//! and webhook triggers as YAML documents in a git repository. This crate
//! owns that language end to end:
//!
//! - [`yaml`] reads YAML into trees that keep positions, refusing hostile input;
//! - [`de`] deserializes those trees into typed documents, locating every error;
//! - [`kinds`], [`values`] and [`rules`] are the typed documents;
//! - [`load`] reads a repository from disk, [`validate`] checks it as a whole;
//! - [`schema`] generates the JSON Schemas editors validate with;
//! - [`diagnostic`] is what every stage reports, in three output formats;
//! - [`run`] is the run event wire model, and [`redact`] takes known secret
//!   values out of those events before they are stored or shown.

pub mod de;
pub mod diagnostic;
pub mod document;
pub mod edit;
pub mod kinds;
pub mod load;
pub mod placement;
pub mod redact;
pub mod rules;
pub mod run;
pub mod schema;
pub mod validate;
pub mod values;
pub mod yaml;

pub use diagnostic::{Diagnostic, Severity, Span};
pub use document::{Document, Kind, Spec};
pub use load::{LoadError, LoadOptions, Loaded, load};

/// Loads the repository under `root` and validates it as a whole; the
/// returned diagnostics are sorted by file and position.
pub fn check(root: &std::path::Path, opts: &LoadOptions) -> Result<Loaded, LoadError> {
    Ok(validated(load(root, opts)?))
}

/// [`check`] for a repository held anywhere (a git commit's tree, say).
pub fn check_from(files: &dyn load::Files, opts: &LoadOptions) -> Result<Loaded, LoadError> {
    Ok(validated(load::load_from(files, opts)?))
}

fn validated(mut loaded: Loaded) -> Loaded {
    let more = validate::validate(&loaded);
    loaded.diagnostics.extend(more);
    diagnostic::sort(&mut loaded.diagnostics);
    loaded
}
