//! Request handlers.

pub(in crate::server) mod code_action;
pub(in crate::server) mod execute_command;
pub(in crate::server) mod guarded;
pub(in crate::server) mod initialize;
pub(in crate::server) mod run;
pub(in crate::server) mod trace;
