//! `pencil-hub`: the teacher's side of classroom mode.
//!
//! - [`server`]: configuration, the routing table, Host check and security headers.
//! - [`web`]: the teacher's pages (sign-in, classes, dashboard, policy form, replies).
//! - [`dashboard`]: what the dashboard shows, computed from events and hands (plain functions).
//! - [`api`]: the students' JSON API, wire types in `pencil_core::classroom`;
//!   [`hands`]: its raised hands (the only way program text reaches the hub).
//! - [`store`]: the storage trait and the database thread; [`sqlite`] its default
//!   backend, [`postgres`] the one several hub processes share (`--database`).
//! - [`security`]: tokens, hashes, Argon2id, join codes. [`html`]: escaping and layout.
//! - [`research`]: consented research collection: `study publish`, pseudonyms, the
//!   students' `/api/v1/research` endpoints.
//! - [`release`]: releases of a study to its researchers (ProgSnap2, JSON Lines,
//!   Parquet), deletion manifests after revocations; [`audit`]: the disclosure log.
//! - [`teacher`]: the `teacher add` command; [`bench`]: the ingest load test.

pub mod api;
pub mod audit;
pub mod bench;
pub mod dashboard;
pub mod hands;
pub mod html;
pub mod release;
pub mod research;
pub mod security;
pub mod postgres;
pub mod server;
pub mod sqlite;
pub mod store;
pub mod teacher;
pub mod web;
