//! Test harness shared by the integration tests: `mod support;` at the top of a test file.
#![allow(dead_code)]

pub mod batch;
pub mod console_fixture;
pub mod outage;
pub mod pg;
pub mod privacy;
pub mod privacy_property;
pub mod sshd;
pub mod stack;
