//! Helpers shared by the integration tests.

pub mod raw;
pub mod scale;
