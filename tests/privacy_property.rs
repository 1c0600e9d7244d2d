//! Sensitive never leaves, as a property of the whole gateway under random overrides, budgets,
//! drains and upstream failures (see `support::privacy_property`); about 1k cases here, 100k in
//! `cargo bench --bench privacy_property`.

mod support;

use support::privacy_property::{run, seed, start};

/// Cases in `cargo test`.
const CASES: usize = 1_000;
/// Concurrent requests per round (one set of faults and overrides each).
const PER_ROUND: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_frontier_upstream_ever_receives_a_marker_of_work_that_must_stay() {
    let (stack, control) = start().await;
    let seed = seed();
    let report = run(&stack, &control, CASES, PER_ROUND, seed).await;
    println!(
        "privacy property (seed {seed}): {} cases in {} rounds, {} had to stay, {} answered by the frontier, {} locally, {} refused or failed",
        report.cases, report.rounds, report.must_stay, report.frontier_answers, report.local_answers, report.failures
    );
    assert!(
        report.leaks.is_empty(),
        "seed {seed} (replay with FARMHAND_PRIVACY_SEED={seed}): {} leaks, the first: {:?}",
        report.leaks.len(),
        &report.leaks[..report.leaks.len().min(3)]
    );
    assert_eq!(report.cases, CASES);
    assert!(
        report.must_stay > CASES / 4,
        "too few cases had to stay: {}",
        report.must_stay
    );
    assert!(
        report.frontier_answers >= CASES / 100,
        "the frontier was hardly exercised: {}",
        report.frontier_answers
    );
}
