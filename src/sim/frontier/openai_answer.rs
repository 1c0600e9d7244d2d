//! What the simulated OpenAI model answers a request that offers tools or asks for a format: the
//! simulated models' own answers (calls whose arguments fit the tools' schemas, JSON of the
//! schema), shaped by OpenAI's `tool_choice` and `parallel_tool_calls`, and put on OpenAI's wire.

use serde_json::{Value, json};

use crate::sim::node::answer::{Answer, ToolCall};
use crate::sim::node::compat_input;
use crate::wire::openai::ChatCompletionRequest;

/// Characters of arguments per streamed fragment.
const ARGUMENT_FRAGMENT: usize = 8;

/// The answer to `request`: `tool_choice: "none"` offers no tool, a named function only that one,
/// and `parallel_tool_calls: false` allows one call. `seed` makes the ids and the JSON text.
pub(super) fn compose(request: &ChatCompletionRequest, seed: u64) -> Answer {
    let Ok(mut input) = compat_input::read(request) else {
        return Answer::Text;
    };
    match request.extra.get("tool_choice") {
        Some(Value::String(choice)) if choice == "none" => input.tools.clear(),
        Some(Value::Object(choice)) => {
            let named = choice
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str);
            if let Some(name) = named {
                input.tools.retain(|tool| tool.name == name);
            }
        }
        _ => {}
    }
    let mut answer = Answer::compose(&input, seed);
    if let Answer::ToolCalls(calls) = &mut answer
        && request.extra.get("parallel_tool_calls") == Some(&Value::Bool(false))
    {
        calls.truncate(1);
    }
    answer
}

/// The calls as a whole message's `tool_calls` (OpenAI puts no `index` there).
pub(super) fn message_calls(calls: &[ToolCall]) -> Value {
    calls
        .iter()
        .map(|call| {
            json!({
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments.to_string()},
            })
        })
        .collect()
}

/// The streamed `tool_calls` deltas, in order: each call opens with its id, type, name and empty
/// arguments, then its arguments come in fragments.
pub(super) fn stream_deltas(calls: &[ToolCall]) -> Vec<Value> {
    let mut deltas = Vec::new();
    for (index, call) in calls.iter().enumerate() {
        deltas.push(json!([{"index": index, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}]));
        let arguments: Vec<char> = call.arguments.to_string().chars().collect();
        for fragment in arguments.chunks(ARGUMENT_FRAGMENT) {
            let text: String = fragment.iter().collect();
            deltas.push(json!([{"index": index, "function": {"arguments": text}}]));
        }
    }
    deltas
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(extra: Value) -> ChatCompletionRequest {
        let mut body = json!({"model": "gpt-5.4-mini", "messages": [{"role": "user", "content": "weather and time?"}],
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
            {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}}
        ]});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        serde_json::from_value(body).expect("a valid request")
    }

    fn names(answer: &Answer) -> Vec<String> {
        match answer {
            Answer::ToolCalls(calls) => calls.iter().map(|c| c.name.clone()).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn tool_choice_and_parallel_calls_shape_the_answer() {
        assert_eq!(names(&compose(&request(json!({})), 1)), ["get_weather", "get_time"]);
        assert_eq!(
            names(&compose(&request(json!({"parallel_tool_calls": false})), 1)),
            ["get_weather"]
        );
        assert_eq!(
            names(&compose(
                &request(json!({"tool_choice": {"type": "function", "function": {"name": "get_time"}}})),
                1
            )),
            ["get_time"]
        );
        assert_eq!(compose(&request(json!({"tool_choice": "none"})), 1), Answer::Text);
    }

    #[test]
    fn streamed_fragments_rebuild_the_arguments() {
        let Answer::ToolCalls(calls) = compose(&request(json!({})), 3) else {
            panic!("tool calls expected");
        };
        let deltas = stream_deltas(&calls);
        let rebuilt: String = deltas
            .iter()
            .filter(|d| d[0]["index"] == 1)
            .filter_map(|d| d[0]["function"]["arguments"].as_str())
            .collect();
        assert_eq!(rebuilt, calls[1].arguments.to_string());
        assert_eq!(deltas[0][0]["id"], calls[0].id.as_str());
        assert!(calls[0].id.starts_with("call_"));
        assert_eq!(message_calls(&calls)[1]["function"]["name"], "get_time");
    }
}
