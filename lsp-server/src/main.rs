//! `pencil-lsp`: the coach's language server (being built).
fn main() {
    eprintln!("pencil-lsp: not built yet");
    std::process::exit(2);
}
