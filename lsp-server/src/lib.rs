//! The coach's language server as a library: the binary only routes to [`server::run_stdio`],
//! [`server::run_listen`], [`replay`] and [`bench`].
//!
//! Layout (after ruff's server): `server/` is the LSP main loop with one file per
//! method under `server/api/`, the transports and who may use them; `session/` holds
//! documents and settings; `edit/` converts text and UTF-16 positions; the features
//! themselves (`store`, `checker`, `fixes`, `coach`, `adaptation`, `pipeline`) are plain code that
//! knows no LSP and is tested without an editor; `diagnostics` is the one conversion
//! of sandbox verdicts into LSP diagnostics.

pub mod adaptation;
pub mod bench;
pub mod bench_handshake;
pub mod bench_server;
pub mod check;
pub mod class;
pub mod classroom;
pub mod checker;
pub mod clock;
pub mod coach;
pub mod data;
pub mod diagnostics;
pub mod edit;
pub mod error;
pub mod fixes;
pub mod pipeline;
pub mod protocol;
pub mod replay;
pub mod research;
pub mod server;
pub mod session;
pub mod store;
pub mod student;
