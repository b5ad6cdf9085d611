//! `car-server schema --out DIR`: writes the JSON Schemas of the config
//! language (one per kind, and one for any document).

use std::path::Path;
use std::process::ExitCode;

pub fn run(out: &Path) -> ExitCode {
    match write(out) {
        Ok(n) => {
            eprintln!("wrote {n} schemas to {}", out.display());
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
    let files = car_schemas::schema::all_files();
    for (name, text) in &files {
        std::fs::write(out.join(name), text)?;
    }
    Ok(files.len())
}
