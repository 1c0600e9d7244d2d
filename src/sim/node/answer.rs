//! What a simulated model answers on the compatibility endpoint: tool calls whose arguments fit
//! the tools' schemas, JSON for a response format, or prose. Deterministic from a seed; pure.

use serde_json::{Value, json};

use crate::sim::catalogue::splitmix;
use crate::sim::node::compat_input::{CompatInput, Format};
use crate::sim::schema::sample;
use crate::sim::text::TextGenerator;

/// Most tool calls the sim makes in one reply: models call several tools at once, and Ollama
/// has no way to stop them (it does not read `parallel_tool_calls`).
const MAX_PARALLEL_CALLS: usize = 2;
/// Characters per generated token of a scripted answer (the token estimate's ratio).
const CHARS_PER_TOKEN: usize = 4;
/// Characters of an Ollama tool-call id after `call_`.
const ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// One tool call of a reply.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolCall {
    /// `call_` and eight characters, as Ollama makes them.
    pub(crate) id: String,
    /// The function called.
    pub(crate) name: String,
    /// Arguments that satisfy the function's parameters schema.
    pub(crate) arguments: Value,
}

/// A reply's kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    /// Prose from the text generator.
    Text,
    /// The reply's content is this JSON text.
    Json(String),
    /// Tool calls.
    ToolCalls(Vec<ToolCall>),
}

impl Answer {
    /// What the model answers `input` with: tool calls while it has tools and the last message is
    /// not a tool result (the first tools, in order), else JSON when a format is asked for, else
    /// prose. `seed` makes the ids and the JSON object's text.
    pub(crate) fn compose(input: &CompatInput, seed: u64) -> Answer {
        if !input.tools.is_empty() && !input.answering_tool {
            let calls = (0u64..)
                .zip(input.tools.iter().take(MAX_PARALLEL_CALLS))
                .map(|(i, tool)| ToolCall {
                    id: call_id(splitmix(seed ^ i)),
                    name: tool.name.clone(),
                    arguments: sample(&tool.parameters),
                })
                .collect();
            return Answer::ToolCalls(calls);
        }
        match &input.format {
            Some(Format::Schema(schema)) => Answer::Json(sample(schema).to_string()),
            Some(Format::Json) => {
                let mut text = TextGenerator::new(seed);
                let words: String = (0..text.natural_length().min(24)).map(|_| text.next_token()).collect();
                Answer::Json(json!({"answer": words.trim()}).to_string())
            }
            None => Answer::Text,
        }
    }

    /// The text the model generates for a scripted answer, cut into tokens: the JSON, or the tool
    /// calls as the model writes them before Ollama's parser turns them into `tool_calls`.
    pub(crate) fn script(&self) -> Option<Vec<String>> {
        let text = match self {
            Answer::Text => return None,
            Answer::Json(text) => text.clone(),
            Answer::ToolCalls(calls) => calls
                .iter()
                .map(|c| json!({"name": c.name, "arguments": c.arguments}).to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        };
        let chars: Vec<char> = text.chars().collect();
        Some(chars.chunks(CHARS_PER_TOKEN).map(|c| c.iter().collect()).collect())
    }
}

impl ToolCall {
    /// The call on the OpenAI wire, as Ollama's `ToToolCalls` writes it (`arguments` a JSON string).
    pub(crate) fn to_openai(&self, index: usize) -> Value {
        json!({
            "id": self.id,
            "index": index,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments.to_string()},
        })
    }
}

/// `call_` and eight characters of `[a-z0-9]` (Ollama's `toolCallId`).
fn call_id(mut bits: u64) -> String {
    let mut id = String::from("call_");
    for _ in 0..8 {
        id.push(char::from(ID_ALPHABET[(bits % ID_ALPHABET.len() as u64) as usize]));
        bits /= ID_ALPHABET.len() as u64;
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::node::compat_input::FunctionTool;

    fn tool(name: &str, parameters: Value) -> FunctionTool {
        FunctionTool {
            name: name.into(),
            parameters,
        }
    }

    fn weather() -> Vec<FunctionTool> {
        vec![
            tool(
                "get_weather",
                json!({"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city", "days"]}),
            ),
            tool(
                "get_time",
                json!({"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}),
            ),
            tool("get_tide", json!({"type": "object"})),
        ]
    }

    #[test]
    fn tools_are_called_with_arguments_that_fit_their_schemas() {
        let input = CompatInput {
            tools: weather(),
            ..CompatInput::default()
        };
        let Answer::ToolCalls(calls) = Answer::compose(&input, 7) else {
            panic!("tool calls expected");
        };
        let named: Vec<(&str, &Value)> = calls.iter().map(|c| (c.name.as_str(), &c.arguments)).collect();
        assert_eq!(
            named,
            [
                ("get_weather", &json!({"city": "sample", "days": 1})),
                ("get_time", &json!({"zone": "sample"}))
            ]
        );
        assert!(calls.iter().all(|c| c.id.len() == 13 && c.id.starts_with("call_")));
        assert_ne!(calls[0].id, calls[1].id);
        assert_eq!(Answer::compose(&input, 7), Answer::compose(&input, 7), "deterministic");
        let wire = calls[1].to_openai(1);
        assert_eq!(wire["function"]["arguments"], r#"{"zone":"sample"}"#);
        assert_eq!(
            (wire["index"].clone(), wire["type"].clone()),
            (json!(1), json!("function"))
        );
        let script = Answer::ToolCalls(calls).script().expect("scripted").concat();
        let written: Vec<Value> = script.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
        assert_eq!(
            written,
            [
                json!({"name": "get_weather", "arguments": {"city": "sample", "days": 1}}),
                json!({"name": "get_time", "arguments": {"zone": "sample"}})
            ]
        );
    }

    #[test]
    fn tool_results_are_answered_in_json_or_text() {
        let schema =
            json!({"type": "object", "properties": {"forecast": {"type": "string"}}, "required": ["forecast"]});
        let mut input = CompatInput {
            tools: weather(),
            answering_tool: true,
            format: Some(Format::Schema(schema)),
            ..CompatInput::default()
        };
        let answer = Answer::compose(&input, 1);
        assert_eq!(answer, Answer::Json(r#"{"forecast":"sample"}"#.into()));
        assert_eq!(
            answer.script().map(|t| t.concat()).as_deref(),
            Some(r#"{"forecast":"sample"}"#)
        );
        input.format = Some(Format::Json);
        let Answer::Json(text) = Answer::compose(&input, 1) else {
            panic!("JSON expected");
        };
        let value: Value = serde_json::from_str(&text).expect("valid JSON");
        assert!(value["answer"].as_str().is_some_and(|a| !a.is_empty()), "{text}");
        input.format = None;
        assert_eq!(Answer::compose(&input, 1), Answer::Text);
        assert_eq!(Answer::Text.script(), None);
    }
}
