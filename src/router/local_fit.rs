//! What a request asks of the farm's nodes: the model capabilities it needs (`tools`, `vision`,
//! `audio`, `thinking`), and anything Ollama's OpenAI-compatible endpoint cannot carry at all.
//!
//! Ollama's `/v1/chat/completions` reads `tools`, images as base64 data URLs, `input_audio`,
//! `response_format`, `reasoning_effort`, `stop`, the sampling fields and `logprobs`; it ignores
//! the rest. What it would ignore while the reply depends on it (`n`, a forced `tool_choice`,
//! `parallel_tool_calls: false`, `logit_bias`, the legacy `functions`, audio output, web search) and what it
//! refuses (image URLs, other content parts) is an [`OllamaGap`]: such a request never goes to a
//! node. Computed once from the parsed body; no I/O.

use serde_json::Value;

use crate::domain::{Capabilities, Capability};

/// Image data URL prefixes Ollama decodes (`openai.decodeImageURL`).
const IMAGE_DATA_URLS: &[&str] = &[
    "data:image/jpeg;base64,",
    "data:image/jpg;base64,",
    "data:image/png;base64,",
    "data:image/webp;base64,",
    "data:;base64,",
];

/// A part of a request that Ollama's compatibility layer cannot carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OllamaGap {
    /// `n` above 1: Ollama answers with one choice.
    Choices,
    /// `tool_choice` `required` or a named function: Ollama cannot force a tool call.
    ForcedToolChoice,
    /// `parallel_tool_calls: false` with tools: Ollama cannot hold a reply to one call.
    SerialToolCalls,
    /// A non-empty `logit_bias`: Ollama has none.
    LogitBias,
    /// The legacy `functions` / `function_call` fields, which Ollama does not read.
    LegacyFunctions,
    /// Audio output (`audio`, or `modalities` with `audio`).
    AudioOutput,
    /// `web_search_options`: Ollama does not search the web.
    WebSearch,
    /// An `image_url` part that is not a data URL (Ollama does not fetch URLs).
    RemoteImage {
        /// Index of the message.
        message: u32,
        /// Index of the part.
        part: u32,
    },
    /// An image data URL of a type Ollama does not decode (it takes JPEG, PNG and WebP).
    ImageType {
        /// Index of the message.
        message: u32,
        /// Index of the part.
        part: u32,
    },
    /// A content part other than `text`, `image_url` and `input_audio` (`file`, …).
    ContentPart {
        /// Index of the message.
        message: u32,
        /// Index of the part.
        part: u32,
    },
}

impl OllamaGap {
    /// The request field at fault, e.g. `tool_choice` or `messages[0].content[1]`.
    pub fn field(self) -> String {
        match self {
            OllamaGap::Choices => "n".into(),
            OllamaGap::ForcedToolChoice => "tool_choice".into(),
            OllamaGap::SerialToolCalls => "parallel_tool_calls".into(),
            OllamaGap::LogitBias => "logit_bias".into(),
            OllamaGap::LegacyFunctions => "functions".into(),
            OllamaGap::AudioOutput => "audio".into(),
            OllamaGap::WebSearch => "web_search_options".into(),
            OllamaGap::RemoteImage { message, part } | OllamaGap::ImageType { message, part } => {
                format!("messages[{message}].content[{part}].image_url")
            }
            OllamaGap::ContentPart { message, part } => format!("messages[{message}].content[{part}]"),
        }
    }

    /// Why Ollama cannot carry it.
    pub fn reason(self) -> &'static str {
        match self {
            OllamaGap::Choices => "Ollama answers with one choice",
            OllamaGap::ForcedToolChoice => "Ollama cannot force a tool call (it reads only `tools`)",
            OllamaGap::SerialToolCalls => "Ollama cannot hold a reply to one tool call",
            OllamaGap::LogitBias => "Ollama has no logit bias",
            OllamaGap::LegacyFunctions => "Ollama reads `tools`, not the legacy `functions` and `function_call`",
            OllamaGap::AudioOutput => "Ollama answers in text only",
            OllamaGap::WebSearch => "Ollama does not search the web",
            OllamaGap::RemoteImage { .. } => "Ollama takes images as base64 data URLs only, it does not fetch URLs",
            OllamaGap::ImageType { .. } => "Ollama decodes JPEG, PNG and WebP data URLs only",
            OllamaGap::ContentPart { .. } => "Ollama reads `text`, `image_url` and `input_audio` parts only",
        }
    }
}

/// The request field that needs `capability` of a local model.
pub fn field_needing(capability: Capability) -> &'static str {
    match capability {
        Capability::Tools => "tools",
        Capability::Vision => "image_url",
        Capability::Audio => "input_audio",
        Capability::Thinking => "reasoning_effort",
        Capability::Completion | Capability::Insert | Capability::Embedding => "messages",
    }
}

/// What a request asks of a local model and of Ollama's compatibility layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LocalFit {
    /// Capabilities the serving model must have.
    pub needs: Capabilities,
    /// The first part of the request Ollama cannot carry, if any.
    pub gap: Option<OllamaGap>,
}

impl LocalFit {
    /// Reads what `request` (a parsed chat completion body) needs from a node.
    pub fn of_request(request: &Value) -> LocalFit {
        let field = |name: &str| request.get(name).filter(|v| !v.is_null());
        let tool_choice = field("tool_choice");
        let withheld = tool_choice.and_then(Value::as_str) == Some("none");
        let has_tools = field("tools").and_then(Value::as_array).is_some_and(|t| !t.is_empty());
        let mut needs = Capabilities::NONE;
        if has_tools && !withheld {
            needs = needs.with(Capability::Tools);
        }
        if [
            field("reasoning_effort"),
            field("reasoning").and_then(|r| r.get("effort")),
        ]
        .into_iter()
        .flatten()
        .any(|effort| effort.as_str().is_some_and(|e| !e.is_empty() && e != "none"))
        {
            needs = needs.with(Capability::Thinking);
        }
        let mut gap = None;
        let mut note = |found: OllamaGap| {
            gap.get_or_insert(found);
        };
        if field("n").and_then(Value::as_u64).is_some_and(|n| n > 1) {
            note(OllamaGap::Choices);
        }
        if tool_choice.is_some_and(|c| !matches!(c.as_str(), Some("auto" | "none"))) {
            note(OllamaGap::ForcedToolChoice);
        }
        if needs.contains(Capability::Tools) && field("parallel_tool_calls") == Some(&Value::Bool(false)) {
            note(OllamaGap::SerialToolCalls);
        }
        if field("logit_bias").is_some_and(|b| b.as_object().is_none_or(|b| !b.is_empty())) {
            note(OllamaGap::LogitBias);
        }
        if field("functions").is_some() || field("function_call").is_some() {
            note(OllamaGap::LegacyFunctions);
        }
        let audio_modality = field("modalities")
            .and_then(Value::as_array)
            .is_some_and(|m| m.iter().any(|m| m == "audio"));
        if field("audio").is_some() || audio_modality {
            note(OllamaGap::AudioOutput);
        }
        if field("web_search_options").is_some() {
            note(OllamaGap::WebSearch);
        }
        let messages = field("messages")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for (m, message) in (0u32..).zip(messages) {
            let Some(parts) = message.get("content").and_then(Value::as_array) else {
                continue;
            };
            for (p, part) in (0u32..).zip(parts) {
                match part.get("type").and_then(Value::as_str) {
                    Some("text") => {}
                    Some("image_url") => {
                        needs = needs.with(Capability::Vision);
                        let url = part
                            .get("image_url")
                            .and_then(|i| i.get("url").or(Some(i)))
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        if !url.starts_with("data:") {
                            note(OllamaGap::RemoteImage { message: m, part: p });
                        } else if !IMAGE_DATA_URLS.iter().any(|prefix| url.starts_with(prefix)) {
                            note(OllamaGap::ImageType { message: m, part: p });
                        }
                    }
                    Some("input_audio") => needs = needs.with(Capability::Audio),
                    _ => note(OllamaGap::ContentPart { message: m, part: p }),
                }
            }
        }
        LocalFit { needs, gap }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const PNG: &str = "data:image/png;base64,iVBORw0KGgo=";

    fn fit(extra: Value) -> LocalFit {
        let mut request = json!({"model": "routine", "messages": [{"role": "user", "content": "hi"}]});
        for (key, value) in extra.as_object().expect("an object") {
            request[key] = value.clone();
        }
        LocalFit::of_request(&request)
    }

    fn tools() -> Value {
        json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}])
    }

    #[test]
    fn plain_text_needs_nothing() {
        assert_eq!(
            fit(json!({"max_tokens": 5, "stop": ["x"], "metadata": {"a": "b"}})),
            LocalFit::default()
        );
    }

    #[test]
    fn tools_need_a_tool_model_unless_withheld() {
        let tool = Capabilities::NONE.with(Capability::Tools);
        assert_eq!(fit(json!({"tools": tools()})).needs, tool);
        assert_eq!(
            fit(json!({"tools": tools(), "tool_choice": "auto", "parallel_tool_calls": true})),
            LocalFit { needs: tool, gap: None }
        );
        assert_eq!(
            fit(json!({"tools": tools(), "tool_choice": "none"})).needs,
            Capabilities::NONE
        );
        assert_eq!(fit(json!({"tools": []})).needs, Capabilities::NONE);
    }

    #[test]
    fn what_ollama_would_ignore_is_a_gap() {
        let gap = |extra: Value| fit(extra).gap;
        assert_eq!(gap(json!({"n": 2})), Some(OllamaGap::Choices));
        assert_eq!(gap(json!({"n": 1})), None);
        assert_eq!(
            gap(json!({"tools": tools(), "tool_choice": "required"})),
            Some(OllamaGap::ForcedToolChoice)
        );
        assert_eq!(
            gap(json!({"tools": tools(), "tool_choice": {"type": "function", "function": {"name": "f"}}})),
            Some(OllamaGap::ForcedToolChoice)
        );
        assert_eq!(
            gap(json!({"tools": tools(), "parallel_tool_calls": false})),
            Some(OllamaGap::SerialToolCalls)
        );
        assert_eq!(
            gap(json!({"parallel_tool_calls": false})),
            None,
            "no tools, nothing to hold back"
        );
        assert_eq!(gap(json!({"logit_bias": {"50256": -100}})), Some(OllamaGap::LogitBias));
        assert_eq!(gap(json!({"logit_bias": {}})), None);
        assert_eq!(
            gap(json!({"functions": [{"name": "f"}]})),
            Some(OllamaGap::LegacyFunctions)
        );
        assert_eq!(
            gap(json!({"modalities": ["text", "audio"]})),
            Some(OllamaGap::AudioOutput)
        );
        assert_eq!(
            gap(json!({"audio": {"voice": "alloy", "format": "wav"}})),
            Some(OllamaGap::AudioOutput)
        );
        assert_eq!(gap(json!({"web_search_options": {}})), Some(OllamaGap::WebSearch));
    }

    #[test]
    fn parts_need_vision_or_audio_and_images_must_be_data_urls() {
        let parts = |parts: Value| {
            fit(json!({"messages": [{"role": "system", "content": "x"}, {"role": "user", "content": parts}]}))
        };
        let image =
            parts(json!([{"type": "text", "text": "what is it?"}, {"type": "image_url", "image_url": {"url": PNG}}]));
        assert_eq!(
            image,
            LocalFit {
                needs: Capabilities::NONE.with(Capability::Vision),
                gap: None
            }
        );
        let remote = parts(json!([{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]));
        assert_eq!(remote.gap, Some(OllamaGap::RemoteImage { message: 1, part: 0 }));
        assert_eq!(
            remote.gap.map(OllamaGap::field).as_deref(),
            Some("messages[1].content[0].image_url")
        );
        let gif = parts(
            json!([{"type": "text", "text": "x"}, {"type": "image_url", "image_url": "data:image/gif;base64,R0lG"}]),
        );
        assert_eq!(gif.gap, Some(OllamaGap::ImageType { message: 1, part: 1 }));
        let audio = parts(json!([{"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}]));
        assert_eq!(
            audio,
            LocalFit {
                needs: Capabilities::NONE.with(Capability::Audio),
                gap: None
            }
        );
        let file = parts(json!([{"type": "file", "file": {"file_id": "f"}}]));
        assert_eq!(file.gap, Some(OllamaGap::ContentPart { message: 1, part: 0 }));
    }

    #[test]
    fn reasoning_effort_needs_thinking_unless_none() {
        let thinking = Capabilities::NONE.with(Capability::Thinking);
        assert_eq!(fit(json!({"reasoning_effort": "low"})).needs, thinking);
        assert_eq!(fit(json!({"reasoning": {"effort": "high"}})).needs, thinking);
        assert_eq!(fit(json!({"reasoning_effort": "none"})).needs, Capabilities::NONE);
    }
}
