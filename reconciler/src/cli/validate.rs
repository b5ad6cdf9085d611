//! `car-server validate DIR`: the config repository checked as the server
//! would check a new revision, every problem reported in one pass.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use car_schemas::LoadOptions;
use car_schemas::diagnostic::{Format, render};

/// Exit codes of `validate`.
pub const VALID: u8 = 0;
pub const INVALID: u8 = 1;
pub const COULD_NOT_RUN: u8 = 2;

pub fn run(dir: &Path, format: Format, opts: LoadOptions) -> ExitCode {
    let loaded = match car_schemas::check(dir, &opts) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(COULD_NOT_RUN);
        }
    };
    let out = render(&loaded.diagnostics, format, dir);
    let mut stdout = std::io::stdout().lock();
    if stdout.write_all(out.as_bytes()).and_then(|()| stdout.flush()).is_err() {
        return ExitCode::from(COULD_NOT_RUN);
    }
    let errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = loaded.diagnostics.len() - errors;
    if format == Format::Text {
        eprintln!(
            "{}: {} documents, {} {}, {} {}",
            dir.display(),
            loaded.documents.len(),
            errors,
            if errors == 1 { "error" } else { "errors" },
            warnings,
            if warnings == 1 { "warning" } else { "warnings" },
        );
    }
    ExitCode::from(if errors > 0 { INVALID } else { VALID })
}
