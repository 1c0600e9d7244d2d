//! Answer quality, measured in flight and kept only as numbers: how each answer ended, whether it
//! was empty or (when JSON was asked for) valid, and the hourly rollup of those signals per task
//! class and route. Pure logic: the gateway feeds it what passes through, the stores persist it.

mod answer;
mod json_expectation;
mod rollup;

pub use answer::AnswerCheck;
pub use json_expectation::{JsonExpectation, SchemaCache};
pub use rollup::{QualityLine, TTFT_BUCKETS_MS, quality_route};
