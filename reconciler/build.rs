//! Two things the binary carries, rebuilt when they change:
//! - the migrations (`sqlx::migrate!`);
//! - the dashboard: `ui/` built with npm into `$OUT_DIR/dashboard`, which
//!   `api::dashboard` embeds. A plain `cargo build` makes the whole server.
//!   Without npm, or with `CAR_BUILD_UI=0` (a server without the dashboard,
//!   say to build faster), the server is built without it and its UI port
//!   says how to build it; a UI that does not build fails the build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
    println!("cargo:rerun-if-env-changed=CAR_BUILD_UI");
    // Read when the script runs, not built in: clones sharing a CARGO_TARGET_DIR share this script.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let ui = Path::new(&manifest).join("../ui");
    for input in ["src", "public", "index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json"]
    {
        watch(&ui.join(input));
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("dashboard");
    // rust-embed wants the folder to exist, built or not; never an older build in it.
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("OUT_DIR is writable");
    if std::env::var("CAR_BUILD_UI").as_deref() == Ok("0") {
        println!("cargo:warning=CAR_BUILD_UI=0: car-server is built without the dashboard");
        return;
    }
    if Command::new("npm").arg("--version").output().is_err() {
        println!(
            "cargo:warning=npm is not installed: car-server is built without the dashboard (install Node.js 20 and npm, then build again)"
        );
        return;
    }
    if !installed(&ui) {
        npm(&ui, &["ci", "--no-fund", "--no-audit", "--loglevel=error"]);
    }
    npm(&ui, &["run", "--silent", "build", "--", "--outDir", &out.display().to_string(), "--emptyOutDir"]);
}

/// Every file under `path`, named one by one: a file added or changed
/// anywhere in the UI's sources builds it again.
fn watch(path: &Path) {
    println!("cargo:rerun-if-changed={}", path.display());
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            watch(&entry.path());
        }
    }
}

/// Whether `node_modules` holds what `package-lock.json` asks for: npm
/// writes its own copy of the lock there, no older than the lock it installed.
fn installed(ui: &Path) -> bool {
    let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(ui.join("node_modules/.package-lock.json")), modified(ui.join("package-lock.json"))) {
        (Some(installed), Some(wanted)) => installed >= wanted,
        _ => false,
    }
}

fn npm(dir: &Path, args: &[&str]) {
    let done = Command::new("npm")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run npm in {}: {e}", dir.display()));
    if !done.status.success() {
        panic!(
            "`npm {}` in {} failed (set CAR_BUILD_UI=0 to build car-server without the dashboard):\n{}{}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&done.stdout),
            String::from_utf8_lossy(&done.stderr)
        );
    }
}
