//! Embeds Pencil Code's CoffeeScript compiler (npm `iced-coffee-script@1.8.0-e`
//! and `iced-runtime@1.0.4`, installed by `scripts/setup.sh`) into the crate.
//!
//! The 14 CommonJS files become one JavaScript object of module factories,
//! keyed `cs/<name>` and `rt/<name>`, that `js/host.js`'s `require` shim loads.
//! Third-party code is never committed: it is read from `.deps/npm` (or from
//! the directory in `PENCIL_NPM_DIR`) at build time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const COMPILER_FILES: [&str; 10] = [
    "helpers", "lexer", "rewriter", "parser", "nodes", "scope", "iced", "sourcemap",
    "coffee-script", "register",
];
const RUNTIME_FILES: [&str; 4] = ["main", "runtime", "library", "const"];
const COMPILER_VERSION: &str = "1.8.0-e";
const RUNTIME_VERSION: &str = "1.0.4";

fn main() {
    if let Err(message) = run() {
        eprintln!("\npencil-sandbox build: {message}\n");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    println!("cargo:rerun-if-env-changed=PENCIL_NPM_DIR");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let npm = match std::env::var_os("PENCIL_NPM_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => manifest.join("../.deps/npm"),
    };
    let modules = npm.join("node_modules");
    let missing = || {
        format!(
            "the CoffeeScript compiler is missing from {}.\n  Run `bash scripts/setup.sh` (it installs \
             iced-coffee-script@{COMPILER_VERSION} and iced-runtime@{RUNTIME_VERSION} from npm), \
             or set PENCIL_NPM_DIR to a directory holding them in node_modules/.",
            npm.display()
        )
    };
    check_version(&modules.join("iced-coffee-script/package.json"), COMPILER_VERSION)
        .map_err(|e| format!("{}\n  ({e})", missing()))?;
    check_version(&modules.join("iced-runtime/package.json"), RUNTIME_VERSION)
        .map_err(|e| format!("{}\n  ({e})", missing()))?;

    let mut bundle = String::from("({\n");
    let sources = COMPILER_FILES
        .iter()
        .map(|f| (format!("cs/{f}"), modules.join(format!("iced-coffee-script/lib/coffee-script/{f}.js"))))
        .chain(
            RUNTIME_FILES
                .iter()
                .map(|f| (format!("rt/{f}"), modules.join(format!("iced-runtime/lib/{f}.js")))),
        );
    for (key, path) in sources {
        println!("cargo:rerun-if-changed={}", path.display());
        let src = std::fs::read_to_string(&path)
            .map_err(|e| format!("{}\n  (reading {}: {e})", missing(), path.display()))?;
        let _ = write!(
            bundle,
            "{key:?}: function (require, module, exports) {{\n{src}\n}},\n"
        );
    }
    bundle.push_str("})\n");

    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?);
    std::fs::write(out.join("compiler_modules.js"), bundle).map_err(|e| e.to_string())?;
    Ok(())
}

fn check_version(package_json: &Path, want: &str) -> Result<(), String> {
    println!("cargo:rerun-if-changed={}", package_json.display());
    let text = std::fs::read_to_string(package_json)
        .map_err(|e| format!("reading {}: {e}", package_json.display()))?;
    let needle = format!("\"version\": \"{want}\"");
    if text.contains(&needle) {
        Ok(())
    } else {
        Err(format!("{} is not version {want}", package_json.display()))
    }
}
