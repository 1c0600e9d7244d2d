//! The on-farm privacy reviewer's words: the question put to the review model, and how its answer
//! is read. Only a clear "no" clears a request for the frontier; anything else keeps it local.

/// The system message every review request starts with (the simulator recognises it too).
pub const REVIEW_INSTRUCTION: &str = "You are a data-privacy reviewer. The user message is a request that is about to be sent \
to an external AI provider, as JSON. Does it contain personal data, secrets or credentials, or confidential business \
information? Answer with one word: YES or NO.";

/// Requests larger than this are not put to the reviewer whole, so they are kept local.
pub const MAX_REVIEW_BYTES: usize = 64 * 1024;

/// Output tokens the reviewer may use for its one-word answer.
pub const REVIEW_MAX_TOKENS: u32 = 4;

/// What the reviewer said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewAnswer {
    /// "No": nothing private, the request may leave.
    Clear,
    /// "Yes": keep it on the farm.
    Private,
    /// Anything else: keep it on the farm.
    Unclear,
}

impl ReviewAnswer {
    /// Reads the review model's reply: its first word, case and punctuation aside.
    pub fn read(reply: &str) -> ReviewAnswer {
        let first = reply
            .split(|c: char| c.is_whitespace() || c.is_ascii_punctuation())
            .find(|w| !w.is_empty())
            .unwrap_or_default();
        if first.eq_ignore_ascii_case("no") {
            ReviewAnswer::Clear
        } else if first.eq_ignore_ascii_case("yes") {
            ReviewAnswer::Private
        } else {
            ReviewAnswer::Unclear
        }
    }

    /// The answer's name in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewAnswer::Clear => "clear",
            ReviewAnswer::Private => "private",
            ReviewAnswer::Unclear => "unclear",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_clear_no_clears() {
        for reply in ["NO", "no.", " No, nothing private.", "**No**", "no\n"] {
            assert_eq!(ReviewAnswer::read(reply), ReviewAnswer::Clear, "{reply:?}");
        }
        for reply in ["YES", "Yes, an email address.", "yes!"] {
            assert_eq!(ReviewAnswer::read(reply), ReviewAnswer::Private, "{reply:?}");
        }
        for reply in ["", "Not sure", "Nope", "I cannot answer", "None", "N", "NOYES"] {
            assert_eq!(ReviewAnswer::read(reply), ReviewAnswer::Unclear, "{reply:?}");
        }
    }
}
