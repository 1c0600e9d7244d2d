//! The `auto` classifier: cheap word-level heuristics that pick a task class for requests
//! declared `auto`. It never answers `sensitive`; only the content detectors and the
//! `X-Data-Class` header can make a request sensitive.

use crate::domain::TaskClass;

/// Prompts at least this long (≈ 2,000 tokens) are treated as reasoning work.
pub const LONG_PROMPT_CHARS: usize = 8_000;
/// A request offering at least this many tools is treated as orchestration.
pub const MANY_TOOLS: usize = 3;
/// A numbered list with at least this many items reads as a multi-step task.
const NUMBERED_STEPS: usize = 3;
/// Longest cue word (`orchestration`); longer words are never cues.
const MAX_WORD: usize = 13;

/// The task class an `auto` request is routed as.
pub fn classify(messages: &[&str], tool_count: usize) -> TaskClass {
    if tool_count >= MANY_TOOLS {
        return TaskClass::Orchestration;
    }
    let mut cues = Cues::default();
    let mut chars = 0;
    for text in messages {
        chars += text.len();
        cues.scan_words(text);
        if cues.orchestration {
            return TaskClass::Orchestration;
        }
        cues.numbered_items += numbered_items(text);
    }
    if cues.reasoning || cues.numbered_items >= NUMBERED_STEPS || chars >= LONG_PROMPT_CHARS {
        TaskClass::Reasoning
    } else {
        TaskClass::Routine
    }
}

/// Words that take part in a cue; everything else is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Word {
    Step,
    By,
    First,
    Then,
    Into,
    Tasks,
    Coordinate,
    Agents,
    Reasoning,
    Orchestration,
    Other,
}

impl Word {
    fn of(raw: &[u8]) -> Word {
        if raw.len() > MAX_WORD {
            return Word::Other;
        }
        let mut buf = [0u8; MAX_WORD];
        let lower = &mut buf[..raw.len()];
        lower.copy_from_slice(raw);
        lower.make_ascii_lowercase();
        match &*lower {
            b"step" => Word::Step,
            b"by" => Word::By,
            b"first" => Word::First,
            b"then" => Word::Then,
            b"into" => Word::Into,
            b"tasks" | b"subtasks" => Word::Tasks,
            b"coordinate" | b"coordinating" => Word::Coordinate,
            b"agents" | b"subagents" => Word::Agents,
            b"analyze" | b"analyse" | b"analysis" | b"prove" | b"proof" | b"plan" | b"derive" | b"theorem" => {
                Word::Reasoning
            }
            b"delegate" | b"delegation" | b"orchestrate" | b"orchestration" => Word::Orchestration,
            _ => Word::Other,
        }
    }
}

/// What the scan has seen so far in a request.
#[derive(Debug, Default)]
struct Cues {
    reasoning: bool,
    orchestration: bool,
    numbered_items: usize,
    saw_first: bool,
}

impl Cues {
    /// Feeds every word of `text`; adjacent-word phrases only match inside one message.
    fn scan_words(&mut self, text: &str) {
        let mut recent = [Word::Other; 3];
        let words = text.as_bytes().split(|b| !(b.is_ascii_alphanumeric() || *b >= 0x80));
        for raw in words.filter(|w| !w.is_empty()) {
            let word = Word::of(raw);
            self.feed(word, &recent);
            if self.orchestration {
                return;
            }
            recent = [recent[1], recent[2], word];
        }
    }

    /// `recent` holds the three words before `word`, oldest first.
    fn feed(&mut self, word: Word, recent: &[Word; 3]) {
        match word {
            Word::Reasoning => self.reasoning = true,
            Word::Orchestration => self.orchestration = true,
            Word::Step if recent[1..] == [Word::Step, Word::By] => self.reasoning = true,
            Word::First => self.saw_first = true,
            Word::Then if self.saw_first => self.reasoning = true,
            Word::Tasks if recent[2] == Word::Into => self.orchestration = true,
            Word::Agents if recent.contains(&Word::Coordinate) => self.orchestration = true,
            _ => {}
        }
    }
}

/// Lines that start a numbered list item: `1. `, `2) `, `10. `.
fn numbered_items(text: &str) -> usize {
    text.split('\n')
        .filter(|line| {
            let line = line.trim_start().as_bytes();
            let digits = line.iter().take(3).take_while(|b| b.is_ascii_digit()).count();
            (1..=2).contains(&digits)
                && matches!(line.get(digits), Some(b'.' | b')'))
                && matches!(line.get(digits + 1), Some(b' ' | b'\t'))
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class_of(text: &str) -> TaskClass {
        classify(&[text], 0)
    }

    #[test]
    fn short_plain_requests_are_routine() {
        for text in [
            "Extract the invoice number from this email.",
            "Classify the sentiment: 'great product, slow delivery'",
            "Translate 'good morning' to French",
            "Summarise this paragraph in one sentence.",
            "Write a short reply thanking them for the stepping stones.",
            "",
        ] {
            assert_eq!(class_of(text), TaskClass::Routine, "{text}");
        }
    }

    #[test]
    fn multi_step_cues_are_reasoning() {
        for text in [
            "Think step by step about why the cache misses.",
            "Think step-by-step.",
            "Analyze the failure and propose a fix.",
            "Prove that the sum of two even numbers is even.",
            "Make a plan for the migration.",
            "First read the logs, then tell me which node failed.",
            "Do this:\n1. read the file\n2. find the bug\n3) fix it",
        ] {
            assert_eq!(class_of(text), TaskClass::Reasoning, "{text}");
        }
        assert_eq!(class_of(&"word ".repeat(LONG_PROMPT_CHARS / 5)), TaskClass::Reasoning);
    }

    #[test]
    fn delegation_cues_and_tool_lists_are_orchestration() {
        for text in [
            "Delegate the research to the crawler agent.",
            "Orchestrate the nightly ETL jobs.",
            "Break this into tasks for the team.",
            "Coordinate the agents working on the release.",
            "Coordinate agents, then analyze the results step by step.",
        ] {
            assert_eq!(class_of(text), TaskClass::Orchestration, "{text}");
        }
        assert_eq!(classify(&["what's the weather?"], MANY_TOOLS), TaskClass::Orchestration);
        assert_eq!(classify(&["what's the weather?"], MANY_TOOLS - 1), TaskClass::Routine);
    }

    #[test]
    fn cues_need_whole_words_and_stay_inside_one_message() {
        for text in [
            "The planet is round.",
            "Provenance of the data.",
            "firstly, thenceforth",
            "1.5 litres\n2.0 litres\n3.5 litres",
        ] {
            assert_eq!(class_of(text), TaskClass::Routine, "{text}");
        }
        assert_eq!(classify(&["break it down into", "tasks"], 0), TaskClass::Routine);
        assert_eq!(
            classify(&["first, a greeting", "then a question"], 0),
            TaskClass::Reasoning
        );
    }
}
