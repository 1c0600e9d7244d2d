//! Bench mode of the gateway privacy property: 100,000 random requests (markers in random fields,
//! random overrides, budgets, drains, node and frontier faults) through real HTTP against the
//! simulator; no frontier upstream may receive a marker of work that must stay on the farm.
//! `FARMHAND_PRIVACY_CASES` sets the count, `FARMHAND_PRIVACY_SEED` replays a run.

mod support {
    #[path = "../../tests/support/privacy.rs"]
    pub mod privacy;
    #[path = "../../tests/support/privacy_property.rs"]
    pub mod privacy_property;
    #[path = "../../tests/support/stack.rs"]
    pub mod stack;
}

use std::process::ExitCode;
use std::time::Instant;

use support::privacy_property::{run, seed, start};

/// Cases by default.
const CASES: usize = 100_000;
/// Concurrent requests per round (one set of faults and overrides each).
const PER_ROUND: usize = 250;

fn main() -> ExitCode {
    let cases = std::env::var("FARMHAND_PRIVACY_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(CASES);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("privacy_property: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let seed = seed();
    let started = Instant::now();
    let report = runtime.block_on(async {
        let (stack, control) = start().await;
        run(&stack, &control, cases, PER_ROUND, seed).await
    });
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "privacy property (seed {seed}): {} cases in {} rounds, {elapsed:.0} s; {} had to stay on the farm, {} answered by the frontier, {} locally, {} refused or failed",
        report.cases, report.rounds, report.must_stay, report.frontier_answers, report.local_answers, report.failures
    );
    if report.cases == 0 || report.must_stay == 0 || report.frontier_answers == 0 {
        println!("privacy property: FAIL (measured nothing: no case, none that had to stay, or none that left)");
        return ExitCode::FAILURE;
    }
    for leak in report.leaks.iter().take(5) {
        println!("  leak: {leak}");
    }
    let verdict = if report.leaks.is_empty() { "PASS" } else { "FAIL" };
    println!(
        "privacy property: {} leaks in {} cases that had to stay (budget 0) {verdict}",
        report.leaks.len(),
        report.must_stay
    );
    if report.leaks.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
