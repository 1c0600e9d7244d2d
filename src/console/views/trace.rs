//! A decision's fallback chain as one line: `mini-03 timeout 1,000 ms → mini-05 ok 212 ms`.

use crate::console::ring::HeldAttempt;
use crate::domain::grouped;

/// Every attempt in order, `target outcome N ms`, joined by arrows; `–` when nothing was tried.
pub fn attempt_trace(attempts: &[HeldAttempt]) -> String {
    if attempts.is_empty() {
        return "–".into();
    }
    attempts
        .iter()
        .map(|a| format!("{} {} {} ms", a.target, a.outcome, grouped(a.ms)))
        .collect::<Vec<_>>()
        .join(" → ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AttemptOutcome;

    fn attempt(target: &str, outcome: AttemptOutcome, ms: i64) -> HeldAttempt {
        HeldAttempt {
            target: target.into(),
            outcome,
            ms,
        }
    }

    #[test]
    fn the_chain_reads_left_to_right() {
        let chain = [
            attempt("mini-03", AttemptOutcome::Timeout, 1000),
            attempt("mini-05", AttemptOutcome::Ok, 212),
        ];
        assert_eq!(attempt_trace(&chain), "mini-03 timeout 1,000 ms → mini-05 ok 212 ms");
        let frontier = [
            attempt("anthropic/claude-sonnet-4-6", AttemptOutcome::Status(529), 1_234_567),
            attempt("mini-01", AttemptOutcome::Cancelled, 0),
        ];
        assert_eq!(
            attempt_trace(&frontier),
            "anthropic/claude-sonnet-4-6 529 1,234,567 ms → mini-01 cancelled 0 ms"
        );
        assert_eq!(attempt_trace(&[]), "–");
    }
}
