//! Tool use in the simulated Anthropic API: the checks Anthropic makes on tools and tool blocks,
//! and the `tool_use` blocks the sim answers with (pure; no I/O).

use serde_json::Value;

use crate::sim::schema::sample;

use crate::wire::anthropic::{Content, ContentBlock, MessagesRequest, Thinking, ToolChoice};

/// Anthropic's smallest thinking budget.
const MIN_THINKING_BUDGET: u32 = 1024;
/// Most tool calls the sim makes in one reply.
const MAX_PARALLEL_CALLS: usize = 2;

/// Checks tools, tool choice, thinking and content blocks as Anthropic does; the error is the
/// message of a 400 `invalid_request_error`.
pub(crate) fn validate(request: &MessagesRequest) -> Result<(), String> {
    for (i, tool) in request.tools.iter().enumerate() {
        let valid_name = (1..=64).contains(&tool.name.len())
            && tool
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid_name {
            return Err(format!(
                "tools.{i}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
            ));
        }
        if tool.input_schema.get("type").and_then(Value::as_str) != Some("object") {
            return Err(format!("tools.{i}.input_schema.type: Input should be 'object'"));
        }
    }
    if let Some(ToolChoice::Tool { name, .. }) = &request.tool_choice
        && !request.tools.iter().any(|t| &t.name == name)
    {
        return Err("tool_choice.name: the named tool is not in tools".into());
    }
    if let Some(Thinking::Enabled { budget_tokens }) = request.thinking {
        if budget_tokens < MIN_THINKING_BUDGET {
            return Err("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024".into());
        }
        if request.max_tokens.is_some_and(|max| max <= budget_tokens) {
            return Err("`max_tokens` must be greater than `thinking.budget_tokens`".into());
        }
    }
    let mut pending: Vec<String> = Vec::new();
    for (i, message) in request.messages.iter().enumerate() {
        let blocks = match &message.content {
            Content::Text(_) => Vec::new(),
            Content::Blocks(blocks) => blocks.clone(),
        };
        if message.role == "user" {
            let answered: Vec<&str> = blocks
                .iter()
                .filter_map(|b| match b {
                    ContentBlock::ToolResult { tool_use_id, .. } => Some(tool_use_id.as_str()),
                    _ => None,
                })
                .collect();
            if let Some(missing) = pending.iter().find(|id| !answered.contains(&id.as_str())) {
                return Err(format!(
                    "messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: {missing}"
                ));
            }
        } else if !pending.is_empty() {
            return Err(format!(
                "messages.{i}: `tool_use` blocks must be followed by a user turn with their `tool_result` blocks"
            ));
        }
        pending.clear();
        for (j, block) in blocks.iter().enumerate() {
            let at = format!("messages.{i}.content.{j}");
            match (message.role.as_str(), block) {
                (_, ContentBlock::Other) => return Err(format!("{at}.type: unknown content block type")),
                (_, ContentBlock::Text { text }) if text.is_empty() => {
                    return Err(format!("{at}: text content blocks must be non-empty"));
                }
                ("assistant", ContentBlock::ToolUse { id, input, .. }) => {
                    if !input.is_object() {
                        return Err(format!("{at}.input: Input should be a valid dictionary"));
                    }
                    pending.push(id.clone());
                }
                (_, ContentBlock::ToolUse { .. }) => {
                    return Err(format!("{at}: tool_use blocks are only allowed in assistant turns"));
                }
                ("user", ContentBlock::ToolResult { .. }) => {}
                (_, ContentBlock::ToolResult { .. }) => {
                    return Err(format!("{at}: tool_result blocks are only allowed in user turns"));
                }
                ("assistant", ContentBlock::Image { .. }) => {
                    return Err(format!("{at}: image blocks are only allowed in user turns"));
                }
                _ => {}
            }
        }
    }
    if !pending.is_empty() {
        return Err("the last assistant turn has `tool_use` blocks without their `tool_result` blocks".into());
    }
    Ok(())
}

/// The `tool_use` blocks the sim answers with, or `None` when it answers with text: it calls
/// tools when it has some, may call them, and the last user turn is not tool results. It calls
/// the forced tool, else the first tool, or the first two when parallel calls are allowed.
/// `turn` makes the ids (`toolu_…`) unique in a conversation and deterministic.
pub(crate) fn tool_calls(request: &MessagesRequest) -> Option<Vec<ContentBlock>> {
    if request.tools.is_empty() || matches!(request.tool_choice, Some(ToolChoice::None)) {
        return None;
    }
    let last_user = request.messages.iter().rev().find(|m| m.role == "user")?;
    let answered = matches!(&last_user.content, Content::Blocks(blocks)
        if blocks.iter().any(|b| matches!(b, ContentBlock::ToolResult { .. })));
    if answered {
        return None;
    }
    let (chosen, parallel) = match &request.tool_choice {
        Some(ToolChoice::Tool { name, .. }) => (request.tools.iter().position(|t| &t.name == name)?, false),
        Some(ToolChoice::Auto {
            disable_parallel_tool_use,
        })
        | Some(ToolChoice::Any {
            disable_parallel_tool_use,
        }) => (0, *disable_parallel_tool_use != Some(true)),
        _ => (0, true),
    };
    let count = if parallel { MAX_PARALLEL_CALLS } else { 1 };
    let turn = request.messages.len();
    let calls = request
        .tools
        .iter()
        .skip(chosen)
        .take(count)
        .enumerate()
        .map(|(i, tool)| ContentBlock::ToolUse {
            id: format!("toolu_01Sim{turn:04}{i:02}"),
            name: tool.name.clone(),
            input: sample(&tool.input_schema),
        })
        .collect();
    Some(calls)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(json: Value) -> MessagesRequest {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn calls_tools_until_results_come_back() {
        let tools = json!([{"name":"a","input_schema":{"type":"object"}},{"name":"b","input_schema":{"type":"object"}},{"name":"c","input_schema":{"type":"object"}}]);
        let ask = json!([{"role":"user","content":"go"}]);
        let names = |req: MessagesRequest| -> Vec<String> {
            tool_calls(&req)
                .unwrap_or_default()
                .into_iter()
                .map(|b| match b {
                    ContentBlock::ToolUse { name, .. } => name,
                    _ => unreachable!(),
                })
                .collect()
        };
        assert_eq!(names(request(json!({"messages":ask,"tools":tools}))), ["a", "b"]);
        assert_eq!(
            names(request(
                json!({"messages":ask,"tools":tools,"tool_choice":{"type":"auto","disable_parallel_tool_use":true}})
            )),
            ["a"]
        );
        assert_eq!(
            names(request(
                json!({"messages":ask,"tools":tools,"tool_choice":{"type":"tool","name":"c"}})
            )),
            ["c"]
        );
        assert!(
            names(request(
                json!({"messages":ask,"tools":tools,"tool_choice":{"type":"none"}})
            ))
            .is_empty()
        );
        let answered = json!([{"role":"user","content":"go"},
            {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"a","input":{}}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"}]}]);
        let req = request(json!({"messages":answered,"tools":tools}));
        assert!(names(req.clone()).is_empty());
        assert_eq!(validate(&req), Ok(()));
    }

    #[test]
    fn malformed_tool_turns_are_refused() {
        let unanswered = request(json!({"messages":[{"role":"user","content":"go"},
            {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"a","input":{}}]},
            {"role":"user","content":"no result"}]}));
        assert!(validate(&unanswered).unwrap_err().contains("without `tool_result`"));
        let misplaced = request(
            json!({"messages":[{"role":"user","content":[{"type":"tool_use","id":"t","name":"a","input":{}}]}]}),
        );
        assert!(validate(&misplaced).is_err());
        let bad_schema = request(
            json!({"messages":[{"role":"user","content":"x"}],"tools":[{"name":"a","input_schema":{"type":"array"}}]}),
        );
        assert!(validate(&bad_schema).is_err());
        let unknown = request(json!({"messages":[{"role":"user","content":[{"type":"mystery"}]}]}));
        assert!(validate(&unknown).is_err());
        let thinking = request(
            json!({"max_tokens":1000,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"x"}]}),
        );
        assert!(validate(&thinking).is_err());
    }
}
