//! Watching one answer go by: how it ended, whether it said anything, and (when JSON was asked
//! for) whether what it said is valid. The text is held only while JSON must be judged, only in
//! memory, and never beyond the request.

use super::JsonExpectation;
use crate::domain::FinishReason;
use crate::wire::openai::{ChatCompletionChunk, CompletionEnvelope};

/// Longest answer text held for the JSON check; a longer answer is not judged.
const MAX_JUDGED_BYTES: usize = 4 << 20;

/// How one answer ended and whether it said anything: what a check learns of it besides its text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnswerSignals {
    saw_text: bool,
    saw_tool_calls: bool,
    finish: Option<FinishReason>,
}

impl AnswerSignals {
    /// The signals of a whole completion's choices (the first choice's ending wins).
    pub fn of(completion: &CompletionEnvelope<'_>) -> AnswerSignals {
        let mut signals = AnswerSignals::default();
        for (i, choice) in completion.choices.iter().enumerate() {
            if let Some(message) = &choice.message {
                signals.saw_text |= message.content.as_deref().is_some_and(|c| !c.trim().is_empty());
                signals.saw_tool_calls |= message.tool_calls.as_ref().is_some_and(|calls| !calls.is_empty());
            }
            if let Some(reason) = choice.finish_reason.as_deref()
                && (i == 0 || signals.finish.is_none())
            {
                signals.finish = Some(FinishReason::from_upstream(reason));
            }
        }
        signals
    }
}

/// The signals of one answer, fed chunk by chunk or as one whole completion.
#[derive(Debug, Default)]
pub struct AnswerCheck {
    expectation: JsonExpectation,
    /// The first choice's text, while JSON must be judged and it is short enough.
    text: String,
    /// The text outgrew [`MAX_JUDGED_BYTES`]: no verdict.
    too_long: bool,
    /// Hold the text even without a JSON expectation (a shadow twin will be compared with it).
    keep_text: bool,
    signals: AnswerSignals,
}

impl AnswerCheck {
    /// A check for an answer that must meet `expectation`.
    pub fn new(expectation: JsonExpectation) -> AnswerCheck {
        AnswerCheck {
            expectation,
            ..AnswerCheck::default()
        }
    }

    /// Reads one streamed chunk; returns whether it carried the answer's first token (text,
    /// reasoning or a tool call).
    pub fn observe_chunk(&mut self, chunk: &ChatCompletionChunk) -> bool {
        let before = self.signals.saw_text || self.signals.saw_tool_calls;
        let mut token = false;
        for choice in &chunk.choices {
            let delta = &choice.delta;
            if let Some(content) = delta.content.as_deref().filter(|c| !c.is_empty()) {
                token = true;
                self.signals.saw_text |= !content.trim().is_empty();
                if choice.index == 0 {
                    self.hold(content);
                }
            }
            token |= delta.reasoning.as_deref().is_some_and(|r| !r.is_empty());
            if delta.tool_calls.as_ref().is_some_and(|calls| !calls.is_null()) {
                token = true;
                self.signals.saw_tool_calls = true;
            }
            if let Some(reason) = choice.finish_reason.as_deref()
                && (choice.index == 0 || self.signals.finish.is_none())
            {
                self.signals.finish = Some(FinishReason::from_upstream(reason));
            }
        }
        token && !before
    }

    /// Reads a whole `chat.completion` body (OpenAI's shape, whatever the upstream). A body it
    /// cannot read leaves every signal unknown.
    pub fn observe_completion(&mut self, body: &[u8]) {
        let Ok(completion) = serde_json::from_slice::<CompletionEnvelope<'_>>(body) else {
            return;
        };
        self.signals = AnswerSignals::of(&completion);
        let first = completion.choices.first().and_then(|c| c.message.as_ref());
        if let Some(content) = first.and_then(|m| m.content.as_deref()) {
            self.hold(content);
        }
    }

    /// Takes the signals of a whole completion its relay already read; its `body` is read again
    /// only when the check must hold the text.
    pub fn observe_answer(&mut self, signals: AnswerSignals, body: &[u8]) {
        if self.holds_text() {
            self.observe_completion(body);
        } else {
            self.signals = signals;
        }
    }

    /// Holds the answer's text whatever it is asked to be, for [`AnswerCheck::text`].
    pub fn keep_text(&mut self) {
        self.keep_text = true;
    }

    /// The first choice's text, when it was held and not too long.
    pub fn text(&self) -> Option<&str> {
        (self.keep_text && !self.too_long).then_some(self.text.as_str())
    }

    fn holds_text(&self) -> bool {
        self.expectation.wants_json() || self.keep_text
    }

    fn hold(&mut self, content: &str) {
        if !self.holds_text() || self.too_long {
            return;
        }
        if self.text.len() + content.len() > MAX_JUDGED_BYTES {
            self.too_long = true;
            self.text = String::new();
            return;
        }
        self.text.push_str(content);
    }

    /// How the answer ended, as far as it was seen (`stop` when it ended without saying).
    pub fn finish_reason(&self) -> FinishReason {
        self.signals.finish.unwrap_or(if self.signals.saw_tool_calls {
            FinishReason::ToolCalls
        } else {
            FinishReason::Stop
        })
    }

    /// Whether the answer had neither text nor tool calls.
    pub fn empty(&self) -> bool {
        !self.signals.saw_text && !self.signals.saw_tool_calls
    }

    /// Whether the answer met the JSON expectation (`None`: not asked for, or too long to hold).
    /// An answer that called tools instead is not judged.
    pub fn json_valid(&self) -> Option<bool> {
        if self.too_long || (self.signals.saw_tool_calls && !self.signals.saw_text) {
            return None;
        }
        self.expectation.judge(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::openai::{ChunkChoice, Delta};
    use serde_json::json;

    fn chunk(content: Option<&str>, finish: Option<&str>) -> ChatCompletionChunk {
        ChatCompletionChunk {
            choices: vec![ChunkChoice {
                delta: Delta {
                    content: content.map(str::to_string),
                    ..Delta::default()
                },
                finish_reason: finish.map(str::to_string),
                ..ChunkChoice::default()
            }],
            ..ChatCompletionChunk::default()
        }
    }

    #[test]
    fn a_stream_reports_its_first_token_once_and_its_finish() {
        let mut check = AnswerCheck::new(JsonExpectation::Json);
        assert!(!check.observe_chunk(&chunk(Some(""), None)), "role-only chunk");
        assert!(check.observe_chunk(&chunk(Some("{\"a\":"), None)));
        assert!(!check.observe_chunk(&chunk(Some(" 1}"), None)));
        check.observe_chunk(&chunk(None, Some("length")));
        assert_eq!(check.finish_reason(), FinishReason::Length);
        assert!(!check.empty());
        assert_eq!(check.json_valid(), Some(true));
    }

    #[test]
    fn a_whitespace_answer_is_empty_and_invalid_json() {
        let mut check = AnswerCheck::new(JsonExpectation::Json);
        let body = json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "  \n"}, "finish_reason": "stop"}]});
        check.observe_completion(body.to_string().as_bytes());
        assert!(check.empty());
        assert_eq!(check.finish_reason(), FinishReason::Stop);
        assert_eq!(check.json_valid(), Some(false));
    }

    #[test]
    fn tool_calls_are_an_answer_and_are_not_judged_as_json() {
        let mut check = AnswerCheck::new(JsonExpectation::Json);
        let body = json!({"choices": [{"message": {"content": null, "tool_calls": [{"id": "c1", "type": "function",
            "function": {"name": "f", "arguments": "{}"}}]}, "finish_reason": "tool_calls"}]});
        check.observe_completion(body.to_string().as_bytes());
        assert!(!check.empty());
        assert_eq!(check.finish_reason(), FinishReason::ToolCalls);
        assert_eq!(check.json_valid(), None);
    }

    #[test]
    fn escaped_text_is_judged_whole() {
        let mut check = AnswerCheck::new(JsonExpectation::Json);
        let body =
            json!({"choices": [{"message": {"content": "{\"quote\": \"say \\\"hi\\\"\"}"}, "finish_reason": "stop"}]});
        check.observe_completion(body.to_string().as_bytes());
        assert_eq!(check.json_valid(), Some(true));
    }

    #[test]
    fn free_text_is_not_held() {
        let mut check = AnswerCheck::new(JsonExpectation::Text);
        check.observe_chunk(&chunk(Some("hello"), Some("stop")));
        assert!(check.text.is_empty());
        assert_eq!(check.json_valid(), None);
    }

    #[test]
    fn an_unreadable_completion_leaves_the_signals_unknown() {
        let mut check = AnswerCheck::new(JsonExpectation::Json);
        check.observe_completion(b"{\"choices\": 12}");
        assert!(check.empty());
        assert_eq!(check.finish_reason(), FinishReason::Stop);
    }

    fn envelope_signals(body: &str) -> AnswerSignals {
        AnswerSignals::of(&serde_json::from_str::<CompletionEnvelope<'_>>(body).expect("an envelope"))
    }

    #[test]
    fn signals_read_by_the_relay_give_the_same_verdicts_as_reading_the_body() {
        let bodies = [
            json!({"choices": [{"message": {"content": "  "}, "finish_reason": "stop"}]}),
            json!({"choices": [{"message": {"content": "{\"a\": 1}"}, "finish_reason": "length"}]}),
            json!({"choices": [{"message": {"content": null, "tool_calls": [{"id": "c1"}]}, "finish_reason": null}]}),
            json!({"choices": [{"message": {"content": "x"}}, {"message": {"content": "y"}, "finish_reason": "stop"}]}),
        ];
        for body in bodies.map(|b| b.to_string()) {
            for expectation in [JsonExpectation::Text, JsonExpectation::Json] {
                let mut read = AnswerCheck::new(expectation.clone());
                read.observe_completion(body.as_bytes());
                let mut told = AnswerCheck::new(expectation);
                told.observe_answer(envelope_signals(&body), body.as_bytes());
                let verdicts = |c: &AnswerCheck| (c.empty(), c.finish_reason(), c.json_valid());
                assert_eq!(verdicts(&told), verdicts(&read), "{body}");
            }
        }
    }

    #[test]
    fn told_signals_hold_the_text_only_when_it_must_be_judged() {
        let body = json!({"choices": [{"message": {"content": "{\"a\": 1}"}, "finish_reason": "stop"}]}).to_string();
        let mut free = AnswerCheck::new(JsonExpectation::Text);
        free.observe_answer(envelope_signals(&body), body.as_bytes());
        assert!(free.text.is_empty());
        let mut json = AnswerCheck::new(JsonExpectation::Json);
        json.observe_answer(envelope_signals(&body), body.as_bytes());
        assert_eq!((json.text.as_str(), json.json_valid()), ("{\"a\": 1}", Some(true)));
        let mut shadowed = AnswerCheck::default();
        shadowed.keep_text();
        shadowed.observe_answer(envelope_signals(&body), body.as_bytes());
        assert_eq!(shadowed.text(), Some("{\"a\": 1}"));
    }
}
