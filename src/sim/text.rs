//! Plausible reply text, one token at a time, from an embedded vocabulary and a seeded generator.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const OPENERS: &[&str] = &[
    "The", "This", "Each", "Every", "Our", "That", "A", "One", "Most", "Some", "Overall,", "In", "For", "After",
];
const WORDS: &[&str] = &[
    "node",
    "model",
    "request",
    "queue",
    "memory",
    "cluster",
    "report",
    "summary",
    "ticket",
    "customer",
    "invoice",
    "schedule",
    "result",
    "answer",
    "section",
    "record",
    "pipeline",
    "batch",
    "latency",
    "budget",
    "policy",
    "team",
    "is",
    "are",
    "was",
    "will",
    "should",
    "can",
    "may",
    "shows",
    "needs",
    "keeps",
    "handles",
    "returns",
    "uses",
    "loads",
    "routes",
    "checks",
    "explains",
    "covers",
    "moves",
    "stays",
    "reaches",
    "includes",
    "suggests",
    "quickly",
    "clearly",
    "mostly",
    "often",
    "usually",
    "already",
    "still",
    "only",
    "also",
    "carefully",
    "new",
    "small",
    "large",
    "local",
    "remote",
    "stable",
    "busy",
    "idle",
    "recent",
    "simple",
    "complete",
    "useful",
    "of",
    "to",
    "with",
    "for",
    "on",
    "in",
    "from",
    "by",
    "and",
    "or",
    "but",
    "the",
    "a",
    "its",
    "their",
    "each",
    "today",
    "overnight",
    "later",
    "again",
    "first",
    "next",
    "finally",
    "together",
    "within",
    "minutes",
    "hours",
];

/// A prompt containing this asks the simulator to answer with exactly the text after it (so
/// tests can put a known string into a completion).
pub const ECHO_CUE: &str = "Repeat exactly: ";

/// Words the simulator's reviewer model treats as private (it answers YES when one appears).
pub const SIMULATED_PRIVATE_WORDS: &[&str] = &[
    "confidential",
    "salary",
    "diagnosis",
    "patient",
    "home address",
    "medical",
    "disciplinary",
    "passport",
];

/// The simulator's deterministic review: YES when the reviewed text holds a [`SIMULATED_PRIVATE_WORDS`] word.
pub fn simulated_review(reviewed: &str) -> &'static str {
    let lower = reviewed.to_ascii_lowercase();
    if SIMULATED_PRIVATE_WORDS.iter().any(|w| lower.contains(w)) {
        "YES"
    } else {
        "NO"
    }
}

/// A deterministic stream of reply tokens (words with their leading space, punctuation attached).
#[derive(Debug)]
pub struct TextGenerator {
    rng: StdRng,
    words_left_in_sentence: u32,
    started: bool,
    /// The words of an [`ECHO_CUE`] answer, in reverse order.
    script: Vec<String>,
    /// A model's own way with the reference answer: its random stream and the chance that it
    /// says a word differently.
    drift: Option<(StdRng, f64)>,
    /// How much longer than the reference the model's answers run.
    verbosity: f64,
}

impl TextGenerator {
    /// A generator for one reply; the same seed gives the same text.
    pub fn new(seed: u64) -> Self {
        TextGenerator {
            rng: StdRng::seed_from_u64(seed),
            words_left_in_sentence: 0,
            started: false,
            script: Vec::new(),
            drift: None,
            verbosity: 1.0,
        }
    }

    /// A model's reply to `prompt`: every model starts from the same reference answer (seeded by
    /// the prompt), says each word differently with chance `drift` (its own stream, `seed`), and
    /// runs `verbosity` times as long. Models that drift more agree less; verbose ones hit
    /// `max_tokens` more often.
    pub fn answering(prompt: &str, seed: u64, drift: f64, verbosity: f64) -> Self {
        let mut generator = TextGenerator::for_prompt(prompt_seed(prompt), prompt);
        generator.drift = Some((StdRng::seed_from_u64(seed), drift.clamp(0.0, 1.0)));
        generator.verbosity = verbosity.max(0.1);
        generator
    }

    /// A generator for a reply to `prompt`: the text after [`ECHO_CUE`] when the prompt holds it,
    /// generated text otherwise.
    pub fn for_prompt(seed: u64, prompt: &str) -> Self {
        let mut generator = TextGenerator::new(seed);
        if let Some((_, echoed)) = prompt.split_once(ECHO_CUE) {
            generator.script = echoed.split_inclusive(' ').rev().map(str::to_string).collect();
        }
        generator
    }

    /// How many tokens this reply has when nothing caps it.
    pub fn natural_length(&mut self) -> u32 {
        if !self.script.is_empty() {
            return u32::try_from(self.script.len()).unwrap_or(u32::MAX);
        }
        let reference: u32 = self.rng.random_range(24..160);
        (f64::from(reference) * self.verbosity).round() as u32
    }

    /// The next token.
    pub fn next_token(&mut self) -> String {
        if let Some(word) = self.script.pop() {
            return word;
        }
        let space = if self.started { " " } else { "" };
        self.started = true;
        if self.words_left_in_sentence == 0 {
            self.words_left_in_sentence = self.rng.random_range(6..16);
            let opener = OPENERS[self.rng.random_range(0..OPENERS.len())];
            self.words_left_in_sentence -= 1;
            return format!("{space}{opener}");
        }
        self.words_left_in_sentence -= 1;
        let mut word = WORDS[self.rng.random_range(0..WORDS.len())];
        if let Some((own, drift)) = &mut self.drift
            && own.random_bool(*drift)
        {
            word = WORDS[own.random_range(0..WORDS.len())];
        }
        let punctuation = match self.words_left_in_sentence {
            0 => ".",
            3 if self.rng.random_bool(0.3) => ",",
            _ => "",
        };
        format!("{space}{word}{punctuation}")
    }
}

/// A seed from the prompt's text, so every model answers it from the same reference.
fn prompt_seed(prompt: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    prompt.hash(&mut hasher);
    hasher.finish()
}

/// How far a farm model drifts from the reference answer: more on long prompts (long reasoning
/// is where small models part ways with frontier ones).
pub fn local_drift(prompt: &str) -> f64 {
    let words = prompt.split_whitespace().count() as f64;
    0.02 + 0.40 * (words / 300.0).min(1.0)
}

/// How far a frontier model drifts from the reference answer.
pub const FRONTIER_DRIFT: f64 = 0.03;

/// How much longer farm models' answers run than frontier ones (so they are cut more often).
pub const LOCAL_VERBOSITY: f64 = 1.15;

/// Approximate token count of a text: one token per four characters, at least one.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(seed: u64, tokens: usize) -> String {
        let mut g = TextGenerator::new(seed);
        (0..tokens).map(|_| g.next_token()).collect()
    }

    #[test]
    fn same_seed_same_text_other_seed_other_text() {
        assert_eq!(reply(1, 40), reply(1, 40));
        assert_ne!(reply(1, 40), reply(2, 40));
    }

    #[test]
    fn text_reads_like_sentences() {
        let text = reply(5, 60);
        assert!(!text.starts_with(' '));
        assert!(text.contains(". "));
        assert!(
            text.split(". ")
                .skip(1)
                .all(|s| s.chars().next().is_some_and(|c| c.is_uppercase()))
        );
    }

    #[test]
    fn token_estimate_is_a_quarter_of_the_characters() {
        assert_eq!(estimate_tokens(""), 1);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        assert_eq!(estimate_tokens(&"x".repeat(400)), 100);
    }

    #[test]
    fn an_echo_cue_makes_the_reply_the_text_after_it() {
        let mut g = TextGenerator::for_prompt(7, "Please. Repeat exactly: MARKER one two");
        assert_eq!(g.natural_length(), 3);
        let reply: String = (0..3).map(|_| g.next_token()).collect();
        assert_eq!(reply, "MARKER one two");
        let mut plain = TextGenerator::for_prompt(7, "no cue here");
        let mut same = TextGenerator::new(7);
        assert_eq!(plain.natural_length(), same.natural_length());
        assert_eq!(plain.next_token(), same.next_token());
    }

    #[test]
    fn the_simulated_reviewer_is_deterministic() {
        assert_eq!(simulated_review("Summarise the CONFIDENTIAL board minutes"), "YES");
        assert_eq!(simulated_review("Plan the release for the platform team"), "NO");
        assert_eq!(
            crate::router::review::ReviewAnswer::read(simulated_review("patient notes")),
            crate::router::review::ReviewAnswer::Private
        );
    }

    #[test]
    fn models_answer_from_one_reference_and_drift_by_their_own_amount() {
        let prompt = "Label this ticket: the export button does nothing.";
        let words = |mut g: TextGenerator| {
            let n = g.natural_length();
            (0..n).map(|_| g.next_token()).collect::<Vec<_>>()
        };
        let a = words(TextGenerator::answering(prompt, 1, 0.0, 1.0));
        let b = words(TextGenerator::answering(prompt, 2, 0.0, 1.0));
        assert_eq!(a, b, "no drift: the reference itself");
        let frontier = words(TextGenerator::answering(prompt, 3, FRONTIER_DRIFT, 1.0));
        let local = words(TextGenerator::answering(prompt, 4, 0.4, LOCAL_VERBOSITY));
        assert!(local.len() > frontier.len(), "farm answers run longer");
        let same = |x: &[String]| x.iter().zip(&a).filter(|(p, q)| p == q).count() as f64 / a.len() as f64;
        assert!(
            same(&frontier) > same(&local[..a.len()]),
            "{} vs {}",
            same(&frontier),
            same(&local)
        );
        assert!(local_drift(&"word ".repeat(400)) > local_drift(prompt));
    }
}
