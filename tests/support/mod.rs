//! Helpers shared by the integration tests.

pub mod cbuild;
pub mod raw;
