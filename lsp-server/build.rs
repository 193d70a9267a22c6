//! Bundles the editor page that `pencil-lsp --listen` serves (`editor-extensions/pencilcode`:
//! CodeMirror, `@codemirror/lsp-client` and the shared turtle renderer, npm packages
//! at exact versions installed by `scripts/setup.sh`) with esbuild into `OUT_DIR/page/`,
//! where `server/http.rs` embeds it with `include_str!`. Nothing is fetched when the
//! page runs; third-party code is never committed.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    if let Err(message) = run() {
        eprintln!("\npencil-lsp build: {message}\n");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    println!("cargo:rerun-if-env-changed=PENCIL_NODE");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let page = manifest.join("../editor-extensions/pencilcode");
    let drawing = manifest.join("../editor-extensions/drawing/src");
    for watched in [
        page.join("src"),
        page.join("build.mjs"),
        page.join("package-lock.json"),
        page.join("node_modules/.package-lock.json"),
        drawing,
    ] {
        println!("cargo:rerun-if-changed={}", watched.display());
    }
    let installed = page.join("node_modules/.package-lock.json");
    if !installed.is_file() || !page.join("node_modules/esbuild/package.json").is_file() {
        return Err(format!(
            "the editor page's npm packages are missing from {}.\n  Run `bash scripts/setup.sh` (it runs `npm ci` there, \
             installing the exact versions in package-lock.json).",
            page.join("node_modules").display()
        ));
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?).join("page");
    let node = std::env::var_os("PENCIL_NODE").unwrap_or_else(|| "node".into());
    let status = Command::new(&node)
        .arg(page.join("build.mjs"))
        .arg(&out)
        .current_dir(&page)
        .status()
        .map_err(|e| format!("could not start {} to bundle the editor page ({e}); install Node.js or set PENCIL_NODE", Path::new(&node).display()))?;
    if !status.success() {
        return Err(format!(
            "bundling the editor page failed ({status}); run `bash scripts/setup.sh`, then `node build.mjs` in {} to see why",
            page.display()
        ));
    }
    Ok(())
}
