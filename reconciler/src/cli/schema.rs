//! `car-server schema --out DIR [--docs FILE]`: writes the JSON Schemas of
//! the config language (one per kind, and one for any document) and of run
//! events, the API's OpenAPI document (`openapi.json`), which clients are
//! generated from, and the API reference rendered from it (`docs/api.md`).

use std::path::Path;
use std::process::ExitCode;

pub fn run(out: &Path, docs: Option<&Path>) -> ExitCode {
    let written = write(out).and_then(|n| match docs {
        Some(file) => std::fs::write(file, reference_text()).map(|()| n),
        None => Ok(n),
    });
    match written {
        Ok(n) => {
            eprintln!("wrote {n} schemas to {}", out.display());
            if let Some(file) = docs {
                eprintln!("wrote the API reference to {}", file.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "error: cannot write schemas to {}: {e} (hint: check that the folder is writable)",
                out.display()
            );
            ExitCode::from(2)
        }
    }
}

/// Writes every schema file into `out`; returns how many.
pub fn write(out: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(out)?;
    let mut files = car_schemas::schema::all_files();
    files.push((OPENAPI_FILE, openapi_text()));
    for (name, text) in &files {
        std::fs::write(out.join(name), text)?;
    }
    Ok(files.len())
}

/// The OpenAPI document's file name in the schema folder.
pub const OPENAPI_FILE: &str = "openapi.json";

/// The API reference (`docs/api.md`) as committed.
pub fn reference_text() -> String {
    crate::api::reference::render(&crate::api::openapi())
}

/// The OpenAPI document as committed: pretty JSON, keys in a stable order, a final newline.
pub fn openapi_text() -> String {
    let mut text = serde_json::to_string_pretty(&crate::api::openapi()).unwrap_or_default();
    text.push('\n');
    text
}
