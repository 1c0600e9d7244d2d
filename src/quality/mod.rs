//! Answer quality, measured in flight and kept only as numbers: how each answer ended, whether it
//! was empty or (when JSON was asked for) valid, the hourly rollup of those signals per task
//! class and route, and the objectives judged against them. Pure logic: the gateway feeds it what passes through, the stores persist it.

mod agreement;
mod answer;
mod json_expectation;
pub mod recommend;
mod rollup;
mod slo;

pub use agreement::{AgreementMethod, AgreementRow, agreement};
pub use answer::{AnswerCheck, AnswerSignals};
pub use json_expectation::{JsonExpectation, SchemaCache};
pub use rollup::{QualityLine, TTFT_BUCKETS_MS, quality_route};
pub use slo::{SloCheck, SloKind, evaluate, evaluate_config};
