//! Notification handlers.

pub(in crate::server) mod did_change;
pub(in crate::server) mod did_change_configuration;
pub(in crate::server) mod did_close;
pub(in crate::server) mod did_open;
pub(in crate::server) mod did_save;
pub(in crate::server) mod initialized;
