//! A sandbox worker process and nothing else: the child that the sandbox's own tests
//! start (`pencil-lsp sandbox-worker` is the product's, the same function).

fn main() {
    std::process::exit(pencil_sandbox::serve_worker())
}
