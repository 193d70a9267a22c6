//! End-to-end tests that cross crates live in `tests/tests/*.rs`; tests that
//! drive the `pencil-lsp` binary with real clients (stdio, WebSocket, Neovim)
//! live beside it in `lsp-server/tests/`.
