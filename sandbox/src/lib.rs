//! Sandbox (being built).
