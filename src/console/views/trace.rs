//! A decision's fallback chain as one line: `mini-03 timeout 1,000 ms → mini-05 ok 212 ms`.

use crate::domain::Attempt;

/// Every attempt in order, `target outcome N ms`, joined by arrows; `–` when nothing was tried.
pub fn attempt_trace(attempts: &[Attempt]) -> String {
    if attempts.is_empty() {
        return "–".into();
    }
    attempts
        .iter()
        .map(|a| format!("{} {} {} ms", a.target, a.outcome, grouped(a.ms)))
        .collect::<Vec<_>>()
        .join(" → ")
}

/// A count with thousands separators: `1,000`, `-12,345`.
fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AttemptOutcome;

    fn attempt(target: &str, outcome: AttemptOutcome, ms: i64) -> Attempt {
        Attempt {
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

    #[test]
    fn thousands_are_grouped() {
        for (n, text) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (100_000, "100,000"),
            (-12_345, "-12,345"),
        ] {
            assert_eq!(grouped(n), text);
        }
        assert_eq!(grouped(i64::MIN), "-9,223,372,036,854,775,808");
    }
}
