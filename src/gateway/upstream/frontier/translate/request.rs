//! OpenAI Chat Completions request → Anthropic Messages request.
//!
//! Every field is either carried (translated to its Anthropic equivalent) or refused with a
//! [`TranslateError`] naming it; nothing is dropped silently. The refusals keep request content
//! out of their text: only the field's path appears.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::gateway::upstream::error_token;
use crate::wire::anthropic::{
    Content, ContentBlock, ImageSource, Message, MessagesRequest, Metadata, Thinking, Tool, ToolChoice,
};
use crate::wire::openai::{ChatCompletionRequest, ChatMessage, ContentPart, MessageContent};

/// The output cap sent when the agent set none; Anthropic requires one.
pub(crate) const DEFAULT_MAX_TOKENS: u32 = 4096;
/// The user turn put first when a conversation opens with the assistant, which Anthropic refuses.
pub(crate) const OPENING_USER_TURN: &str = "Continue.";
/// Anthropic accepts temperatures up to 1; OpenAI's go to 2.
const MAX_TEMPERATURE: f64 = 1.0;
/// The tool name a `response_format` schema gets when it names none.
pub(crate) const DEFAULT_JSON_TOOL: &str = "json_response";
/// What the model is told about the tool that carries a JSON answer.
const JSON_TOOL_DESCRIPTION: &str = "Give your final answer by calling this tool; its input is the answer.";
/// Thinking budgets for `reasoning_effort` (Anthropic's minimum is 1024).
const BUDGET_LOW: u32 = 1024;
/// Thinking budget for `reasoning_effort: medium`.
const BUDGET_MEDIUM: u32 = 4096;
/// Thinking budget for `reasoning_effort: high`.
const BUDGET_HIGH: u32 = 16384;
/// Anthropic's image types.
const IMAGE_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

/// A request field the Anthropic route cannot carry faithfully; its text names the field, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` cannot be sent to Anthropic: {reason}")]
pub struct TranslateError {
    /// Where the field is: `n`, `tools[1].type`, `messages[3].content[0]`.
    pub field: String,
    /// Why it cannot be carried, and what to do instead.
    pub reason: &'static str,
}

impl TranslateError {
    fn new(field: impl Into<String>, reason: &'static str) -> Self {
        TranslateError {
            field: field.into(),
            reason,
        }
    }
}

/// A translated request, with what the reply translation needs to know about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Translation {
    /// The Messages request.
    pub request: MessagesRequest,
    /// The tool that carries a `response_format` answer: its `input` is the reply's `content`.
    pub json_tool: Option<String>,
}

/// The Messages request for an OpenAI request, sent to `model`.
pub fn messages_request(request: &ChatCompletionRequest, model: &str) -> Result<MessagesRequest, TranslateError> {
    translate(request, model).map(|t| t.request)
}

/// The Messages request for an OpenAI request, and how to read its reply.
///
/// `response_format` has no Anthropic field, so JSON mode is a forced tool: a tool named after
/// the schema (`json_response` for `json_object` or an unnamed schema) whose `input_schema` is
/// the schema. With no callable tools of the agent's, `tool_choice` forces that tool; next to
/// the agent's tools (choice `auto`) the model must call *a* tool (`any`), so it either calls
/// one of the agent's or answers through the schema tool. The reply translation turns that
/// tool's `input` into the message `content` (a JSON string) with `finish_reason: stop`. When the
/// agent forces a tool call (`required` or a named function) the reply holds no content, so the
/// format has nothing to shape and no schema tool is added. `strict` is accepted: the schema is
/// sent, but Anthropic does not promise strict adherence to it.
///
/// `reasoning_effort` turns on extended thinking, except while a tool-use cycle goes on (the
/// conversation ends with tool results): Anthropic then wants the earlier thinking blocks back,
/// signed, and OpenAI's message shapes have no place for them.
pub fn translate(request: &ChatCompletionRequest, model: &str) -> Result<Translation, TranslateError> {
    let extra = &request.extra;
    check_fields(extra)?;
    let (system, messages) = conversation(&request.messages)?;
    let mut thinking = thinking_budget(present(extra, "reasoning_effort"))?;
    if in_tool_loop(&messages) {
        // Anthropic wants the thinking block (with its signature) back in front of the tool
        // calls it led to, and OpenAI clients cannot carry it: such a request would be a 400.
        // Anthropic allows the cycle to continue without thinking, so this turn thinks not.
        thinking = None;
    }
    let (tools, tool_choice, json_tool) = tooling(extra, thinking.is_some())?;

    let temperature = request.temperature.map(|t| t.clamp(0.0, MAX_TEMPERATURE));
    let top_p = match present(extra, "top_p") {
        None => None,
        Some(v) => Some(
            v.as_f64()
                .ok_or_else(|| TranslateError::new("top_p", "it must be a number"))?,
        ),
    };
    if thinking.is_some() {
        if temperature.is_some_and(|t| t != 1.0) {
            return Err(TranslateError::new(
                "temperature",
                "Anthropic's extended thinking (from `reasoning_effort`) needs the default temperature",
            ));
        }
        if top_p.is_some_and(|p| p < 0.95) {
            return Err(TranslateError::new(
                "top_p",
                "Anthropic's extended thinking (from `reasoning_effort`) needs top_p of 0.95 or more",
            ));
        }
    }
    let cap = request.max_completion_tokens.or(request.max_tokens);
    let max_tokens = match (thinking, cap) {
        (None, cap) => cap.unwrap_or(DEFAULT_MAX_TOKENS),
        (Some(budget), Some(cap)) if cap > budget => cap,
        (Some(budget), cap) => budget.saturating_add(cap.unwrap_or(DEFAULT_MAX_TOKENS)),
    };
    let user = present(extra, "safety_identifier")
        .and_then(Value::as_str)
        .map(String::from)
        .or_else(|| request.user.clone());
    let mut forwarded = Map::new();
    if let Some(tier) = present(extra, "service_tier") {
        let tier = match tier.as_str() {
            Some("auto") => "auto",
            Some("default") => "standard_only",
            _ => {
                return Err(TranslateError::new(
                    "service_tier",
                    "only `auto` and `default` have an Anthropic equivalent",
                ));
            }
        };
        forwarded.insert("service_tier".into(), tier.into());
    }
    let request = MessagesRequest {
        model: model.into(),
        max_tokens: Some(max_tokens),
        messages,
        system: (!system.is_empty()).then(|| Content::Text(system.join("\n\n"))),
        stream: request.is_stream().then_some(true),
        temperature,
        stop_sequences: stop_sequences(present(extra, "stop"))?,
        top_p,
        tools,
        tool_choice,
        thinking: thinking.map(|budget_tokens| Thinking::Enabled { budget_tokens }),
        metadata: user.map(|user_id| Metadata { user_id: Some(user_id) }),
        extra: forwarded,
    };
    Ok(Translation { request, json_tool })
}

/// Whether the conversation ends inside a tool-use cycle: the last user turn holds tool results.
fn in_tool_loop(messages: &[Message]) -> bool {
    messages.last().is_some_and(|m| {
        m.role == "user"
            && matches!(&m.content, Content::Blocks(blocks)
                if blocks.iter().any(|b| matches!(b, ContentBlock::ToolResult { .. })))
    })
}

/// A field of the request, `None` when absent or null.
fn present<'a>(extra: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    extra.get(key).filter(|v| !v.is_null())
}

/// Refuses the fields with no faithful Anthropic equivalent (at values other than their defaults).
fn check_fields(extra: &Map<String, Value>) -> Result<(), TranslateError> {
    for (key, value) in extra {
        if value.is_null() {
            continue;
        }
        let refusal = match key.as_str() {
            "top_p"
            | "stop"
            | "tools"
            | "tool_choice"
            | "parallel_tool_calls"
            | "response_format"
            | "reasoning_effort"
            | "service_tier"
            | "safety_identifier" => None,
            "n" if value.as_u64() == Some(1) => None,
            "n" => Some("Anthropic returns one choice per request; send `n: 1` or several requests"),
            "logprobs" if value == &Value::Bool(false) => None,
            "logprobs" | "top_logprobs" => Some("Anthropic does not return log probabilities"),
            "presence_penalty" | "frequency_penalty" if value.as_f64() == Some(0.0) => None,
            "presence_penalty" | "frequency_penalty" => Some("Anthropic has no repetition penalties"),
            "logit_bias" if value.as_object().is_some_and(Map::is_empty) => None,
            "logit_bias" => Some("Anthropic has no logit bias"),
            "seed" => Some("Anthropic has no seeded sampling"),
            "audio" => Some("Anthropic does not produce audio"),
            "modalities" if value.as_array().is_some_and(|m| m.iter().all(|m| m == "text")) => None,
            "modalities" => Some("Anthropic answers with text only"),
            "prediction" => Some("Anthropic has no predicted outputs"),
            "store" if value == &Value::Bool(false) => None,
            "store" => Some("Anthropic does not store completions"),
            "metadata" if value.as_object().is_some_and(Map::is_empty) => None,
            "metadata" => Some("Anthropic's metadata holds only a user id; use `user`"),
            "functions" | "function_call" => Some("the deprecated functions API is not translated; use `tools`"),
            "prompt_cache_key" => Some("Anthropic has no cache key"),
            "web_search_options" => Some("OpenAI's web search has no Anthropic equivalent here"),
            "verbosity" => Some("Anthropic has no verbosity setting"),
            _ => Some("the Anthropic route does not carry this field"),
        };
        if let Some(reason) = refusal {
            return Err(TranslateError::new(error_token(key), reason));
        }
    }
    Ok(())
}

/// OpenAI's `stop`: a string or an array of strings.
fn stop_sequences(stop: Option<&Value>) -> Result<Vec<String>, TranslateError> {
    let invalid = || TranslateError::new("stop", "it must be a string or an array of strings");
    match stop {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|s| s.as_str().map(String::from).ok_or_else(invalid))
            .collect(),
        Some(_) => Err(invalid()),
    }
}

/// The thinking budget for `reasoning_effort`; `none` asks for no thinking.
fn thinking_budget(effort: Option<&Value>) -> Result<Option<u32>, TranslateError> {
    match effort.map(|e| e.as_str()) {
        None | Some(Some("none")) => Ok(None),
        Some(Some("minimal" | "low")) => Ok(Some(BUDGET_LOW)),
        Some(Some("medium")) => Ok(Some(BUDGET_MEDIUM)),
        Some(Some("high")) => Ok(Some(BUDGET_HIGH)),
        Some(_) => Err(TranslateError::new(
            "reasoning_effort",
            "only none, minimal, low, medium and high are translated",
        )),
    }
}

/// One turn being assembled; consecutive messages of one role share a turn.
struct Turn {
    role: &'static str,
    blocks: Vec<ContentBlock>,
}

/// The system prompt parts and the alternating user/assistant turns, opening with the user.
fn conversation(messages: &[ChatMessage]) -> Result<(Vec<String>, Vec<Message>), TranslateError> {
    let mut system = Vec::new();
    let mut turns: Vec<Turn> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let at = |field: &str| format!("messages[{i}].{field}");
        check_message_fields(message, i)?;
        let (role, blocks) = match message.role.as_str() {
            "system" | "developer" => {
                let text = text_only(message, i)?;
                if !text.is_empty() {
                    system.push(text);
                }
                continue;
            }
            "user" => ("user", user_blocks(message.content.as_ref(), i)?),
            "assistant" => ("assistant", assistant_blocks(message, i)?),
            "tool" => {
                let id = message
                    .extra
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| TranslateError::new(at("tool_call_id"), "a tool message needs one"))?;
                let text = text_only(message, i)?;
                let is_error = match message.extra.get("is_error") {
                    None | Some(Value::Null) => None,
                    Some(Value::Bool(b)) => b.then_some(true),
                    Some(_) => return Err(TranslateError::new(at("is_error"), "it must be a boolean")),
                };
                let block = ContentBlock::ToolResult {
                    tool_use_id: tool_id(id).ok_or_else(|| TranslateError::new(at("tool_call_id"), "it is empty"))?,
                    content: (!text.is_empty()).then_some(Content::Text(text)),
                    is_error,
                };
                ("user", vec![block])
            }
            _ => {
                return Err(TranslateError::new(
                    at("role"),
                    "only system, developer, user, assistant and tool messages are translated",
                ));
            }
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some(last) if last.role == role => last.blocks.extend(blocks),
            _ => turns.push(Turn { role, blocks }),
        }
    }
    if turns.first().is_none_or(|t| t.role != "user") {
        turns.insert(
            0,
            Turn {
                role: "user",
                blocks: vec![ContentBlock::text(OPENING_USER_TURN)],
            },
        );
    }
    let messages = turns
        .into_iter()
        .map(|turn| {
            let content = match <[ContentBlock; 1]>::try_from(turn.blocks) {
                Ok([ContentBlock::Text { text }]) => Content::Text(text),
                Ok(one) => Content::Blocks(one.into()),
                Err(blocks) => Content::Blocks(blocks),
            };
            Message {
                role: turn.role.into(),
                content,
            }
        })
        .collect();
    Ok((system, messages))
}

/// Refuses message fields with no Anthropic equivalent.
fn check_message_fields(message: &ChatMessage, i: usize) -> Result<(), TranslateError> {
    for (key, value) in &message.extra {
        if value.is_null() {
            continue;
        }
        let allowed = match key.as_str() {
            "tool_calls" | "refusal" => message.role == "assistant",
            "tool_call_id" | "is_error" => message.role == "tool",
            _ => false,
        };
        if !allowed {
            let reason = match key.as_str() {
                "name" => "Anthropic messages have no participant names",
                "audio" => "Anthropic does not take audio",
                _ => "the Anthropic route does not carry this message field",
            };
            return Err(TranslateError::new(
                format!("messages[{i}].{}", error_token(key)),
                reason,
            ));
        }
    }
    Ok(())
}

/// The parts of a content (a string is one text part).
fn parts(content: Option<&MessageContent>) -> Vec<ContentPart> {
    match content {
        None => Vec::new(),
        Some(MessageContent::Text(text)) => vec![ContentPart {
            kind: "text".into(),
            text: Some(text.clone()),
            extra: Map::new(),
        }],
        Some(MessageContent::Parts(parts)) => parts.clone(),
    }
}

/// The text of a system, developer or tool message, whose parts must all be text.
fn text_only(message: &ChatMessage, i: usize) -> Result<String, TranslateError> {
    let mut texts = Vec::new();
    for (j, part) in parts(message.content.as_ref()).into_iter().enumerate() {
        match (part.kind.as_str(), part.text) {
            ("text", Some(text)) => texts.push(text),
            _ => {
                return Err(TranslateError::new(
                    format!("messages[{i}].content[{j}]"),
                    "only text parts are translated in system, developer and tool messages",
                ));
            }
        }
    }
    Ok(texts.join("\n"))
}

/// A non-empty text block (Anthropic refuses empty ones).
fn text_block(text: String) -> Option<ContentBlock> {
    (!text.is_empty()).then(|| ContentBlock::text(text))
}

/// A user message's blocks: text and images.
fn user_blocks(content: Option<&MessageContent>, i: usize) -> Result<Vec<ContentBlock>, TranslateError> {
    let mut blocks = Vec::new();
    for (j, part) in parts(content).into_iter().enumerate() {
        let at = format!("messages[{i}].content[{j}]");
        match part.kind.as_str() {
            "text" => blocks.extend(text_block(part.text.unwrap_or_default())),
            "image_url" => blocks.push(image_block(&part, at)?),
            "input_audio" => return Err(TranslateError::new(at, "Anthropic does not take audio input")),
            "file" => {
                return Err(TranslateError::new(
                    at,
                    "file parts are not translated; send the text or images instead",
                ));
            }
            _ => return Err(TranslateError::new(at, "this content part type is not translated")),
        }
    }
    Ok(blocks)
}

/// An `image_url` part as an `image` block: a base64 `data:` URL inline, an `https` URL by reference.
fn image_block(part: &ContentPart, at: String) -> Result<ContentBlock, TranslateError> {
    let url = match part.extra.get("image_url") {
        Some(Value::String(url)) => url.as_str(),
        Some(Value::Object(image)) => image.get("url").and_then(Value::as_str).unwrap_or_default(),
        _ => "",
    };
    let source = if let Some(data_url) = url.strip_prefix("data:") {
        let (header, data) = data_url.split_once(',').unwrap_or_default();
        let media_type = header.strip_suffix(";base64").unwrap_or_default();
        if !IMAGE_TYPES.contains(&media_type) || data.is_empty() {
            return Err(TranslateError::new(
                at,
                "a data URL must be base64 of a JPEG, PNG, GIF or WebP image",
            ));
        }
        ImageSource::Base64 {
            media_type: media_type.into(),
            data: data.into(),
        }
    } else if url.starts_with("https://") {
        ImageSource::Url { url: url.into() }
    } else {
        return Err(TranslateError::new(
            at,
            "an image must be an https URL or a base64 data URL",
        ));
    };
    Ok(ContentBlock::Image { source })
}

/// An OpenAI `tool_calls[]` entry.
#[derive(Deserialize)]
struct ToolCall {
    id: String,
    function: FunctionCall,
}

/// `tool_calls[].function`.
#[derive(Deserialize)]
struct FunctionCall {
    name: String,
    #[serde(default)]
    arguments: String,
}

/// An assistant message's blocks: its text, then a `tool_use` block per tool call.
fn assistant_blocks(message: &ChatMessage, i: usize) -> Result<Vec<ContentBlock>, TranslateError> {
    let mut blocks = Vec::new();
    for (j, part) in parts(message.content.as_ref()).into_iter().enumerate() {
        let text = match part.kind.as_str() {
            "text" => part.text,
            "refusal" => part.extra.get("refusal").and_then(Value::as_str).map(String::from),
            _ => {
                return Err(TranslateError::new(
                    format!("messages[{i}].content[{j}]"),
                    "assistant messages carry text and refusal parts only",
                ));
            }
        };
        blocks.extend(text_block(text.unwrap_or_default()));
    }
    if let Some(refusal) = message.extra.get("refusal").and_then(Value::as_str) {
        blocks.extend(text_block(refusal.into()));
    }
    let Some(calls) = message.extra.get("tool_calls").filter(|v| !v.is_null()) else {
        return Ok(blocks);
    };
    let calls = calls
        .as_array()
        .ok_or_else(|| TranslateError::new(format!("messages[{i}].tool_calls"), "it must be an array"))?;
    for (j, call) in calls.iter().enumerate() {
        let at = |field: &str| format!("messages[{i}].tool_calls[{j}]{field}");
        if call.get("type").is_some_and(|t| t != "function") {
            return Err(TranslateError::new(
                at(".type"),
                "only function tool calls are translated",
            ));
        }
        let call = ToolCall::deserialize(call)
            .map_err(|_| TranslateError::new(at(""), "a tool call needs an id and a function name"))?;
        let input: Value = if call.function.arguments.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(&call.function.arguments).unwrap_or(Value::Null)
        };
        if !input.is_object() {
            return Err(TranslateError::new(
                at(".function.arguments"),
                "the arguments must be a JSON object",
            ));
        }
        blocks.push(ContentBlock::ToolUse {
            id: tool_id(&call.id).ok_or_else(|| TranslateError::new(at(".id"), "it is empty"))?,
            name: call.function.name,
            input,
        });
    }
    Ok(blocks)
}

/// A tool call id as Anthropic accepts it (`[A-Za-z0-9_-]+`): other characters become `_`, the
/// same way for the call and its result; `None` when empty.
fn tool_id(id: &str) -> Option<String> {
    let id: String = id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
        .collect();
    (!id.is_empty()).then_some(id)
}

/// An OpenAI `tools[]` entry.
#[derive(Deserialize)]
struct FunctionTool {
    function: FunctionDefinition,
}

/// `tools[].function`.
#[derive(Deserialize)]
struct FunctionDefinition {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Value>,
}

/// The agent's `tool_choice`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Choice {
    Auto,
    Required,
    Nothing,
    Function(String),
}

/// The JSON answer a `response_format` asks for.
struct JsonAnswer {
    name: String,
    schema: Value,
}

/// Anthropic tools and tool choice, and the name of the tool that carries a JSON answer.
type Tooling = (Vec<Tool>, Option<ToolChoice>, Option<String>);

/// `tools`, `tool_choice`, `parallel_tool_calls` and `response_format` as Anthropic tools and
/// tool choice, and the name of the tool that carries a JSON answer.
fn tooling(extra: &Map<String, Value>, thinking: bool) -> Result<Tooling, TranslateError> {
    let mut tools = agent_tools(present(extra, "tools"))?;
    let choice = choice(present(extra, "tool_choice"))?;
    let parallel = match present(extra, "parallel_tool_calls") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(TranslateError::new("parallel_tool_calls", "it must be a boolean")),
    };
    let json = json_answer(present(extra, "response_format"))?;
    if let Some(Choice::Function(name)) = &choice
        && !tools.iter().any(|t| &t.name == name)
    {
        return Err(TranslateError::new(
            "tool_choice",
            "it names a function that is not in `tools`",
        ));
    }
    if tools.is_empty() && matches!(choice, Some(Choice::Required | Choice::Function(_))) {
        return Err(TranslateError::new(
            "tool_choice",
            "it forces a tool call but `tools` is empty",
        ));
    }
    if thinking && matches!(choice, Some(Choice::Required | Choice::Function(_))) {
        return Err(TranslateError::new(
            "tool_choice",
            "Anthropic's extended thinking (from `reasoning_effort`) cannot force a tool call",
        ));
    }
    let forced = matches!(choice, Some(Choice::Required | Choice::Function(_)));
    let disable_parallel = (parallel == Some(false)).then_some(true);
    let mut json_tool = None;
    let tool_choice = match (json, choice) {
        (Some(json), choice) if !forced => {
            if thinking {
                return Err(TranslateError::new(
                    "response_format",
                    "it is carried as a forced tool call, which Anthropic's extended thinking (from `reasoning_effort`) refuses",
                ));
            }
            if tools.iter().any(|t| t.name == json.name) {
                return Err(TranslateError::new(
                    "response_format",
                    "its schema name is also the name of a tool",
                ));
            }
            let agent_tools_callable = !tools.is_empty() && choice != Some(Choice::Nothing);
            tools.push(Tool {
                name: json.name.clone(),
                description: Some(JSON_TOOL_DESCRIPTION.into()),
                input_schema: json.schema,
            });
            json_tool = Some(json.name.clone());
            Some(if agent_tools_callable {
                ToolChoice::Any {
                    disable_parallel_tool_use: disable_parallel,
                }
            } else {
                ToolChoice::Tool {
                    name: json.name,
                    disable_parallel_tool_use: Some(true),
                }
            })
        }
        _ if tools.is_empty() => None,
        (_, None) => disable_parallel.map(|_| ToolChoice::Auto {
            disable_parallel_tool_use: disable_parallel,
        }),
        (_, Some(Choice::Auto)) => Some(ToolChoice::Auto {
            disable_parallel_tool_use: disable_parallel,
        }),
        (_, Some(Choice::Required)) => Some(ToolChoice::Any {
            disable_parallel_tool_use: disable_parallel,
        }),
        (_, Some(Choice::Nothing)) => Some(ToolChoice::None),
        (_, Some(Choice::Function(name))) => Some(ToolChoice::Tool {
            name,
            disable_parallel_tool_use: disable_parallel,
        }),
    };
    Ok((tools, tool_choice, json_tool))
}

/// The agent's function tools as Anthropic tools.
fn agent_tools(tools: Option<&Value>) -> Result<Vec<Tool>, TranslateError> {
    let Some(tools) = tools else {
        return Ok(Vec::new());
    };
    let tools = tools
        .as_array()
        .ok_or_else(|| TranslateError::new("tools", "it must be an array"))?;
    let mut out = Vec::with_capacity(tools.len());
    for (i, tool) in tools.iter().enumerate() {
        if tool.get("type").and_then(Value::as_str) != Some("function") {
            return Err(TranslateError::new(
                format!("tools[{i}].type"),
                "only function tools are translated",
            ));
        }
        let tool = FunctionTool::deserialize(tool)
            .map_err(|_| TranslateError::new(format!("tools[{i}].function"), "a function needs a name"))?;
        let input_schema = match tool.function.parameters {
            None | Some(Value::Null) => json!({"type": "object"}),
            Some(schema @ Value::Object(_)) => schema,
            Some(_) => {
                return Err(TranslateError::new(
                    format!("tools[{i}].function.parameters"),
                    "it must be a JSON Schema object",
                ));
            }
        };
        out.push(Tool {
            name: tool.function.name,
            description: tool.function.description,
            input_schema,
        });
    }
    Ok(out)
}

/// The agent's `tool_choice`.
fn choice(value: Option<&Value>) -> Result<Option<Choice>, TranslateError> {
    let invalid = || {
        TranslateError::new(
            "tool_choice",
            "only auto, required, none and a named function are translated",
        )
    };
    let Some(value) = value else { return Ok(None) };
    let choice = match value {
        Value::String(s) => match s.as_str() {
            "auto" => Choice::Auto,
            "required" => Choice::Required,
            "none" => Choice::Nothing,
            _ => return Err(invalid()),
        },
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("function") => {
            let name = o
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(invalid)?;
            Choice::Function(name.into())
        }
        _ => return Err(invalid()),
    };
    Ok(Some(choice))
}

/// The JSON answer `response_format` asks for; `None` for text.
fn json_answer(format: Option<&Value>) -> Result<Option<JsonAnswer>, TranslateError> {
    let Some(format) = format else { return Ok(None) };
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(JsonAnswer {
            name: DEFAULT_JSON_TOOL.into(),
            schema: json!({"type": "object"}),
        })),
        Some("json_schema") => {
            let spec = format.get("json_schema");
            let name = spec
                .and_then(|s| s.get("name"))
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .unwrap_or(DEFAULT_JSON_TOOL);
            let schema = match spec.and_then(|s| s.get("schema")) {
                None | Some(Value::Null) => json!({"type": "object"}),
                Some(schema) if schema.get("type").and_then(Value::as_str) == Some("object") => schema.clone(),
                Some(_) => {
                    return Err(TranslateError::new(
                        "response_format.json_schema.schema",
                        "Anthropic needs an object schema at the top",
                    ));
                }
            };
            Ok(Some(JsonAnswer {
                name: name.into(),
                schema,
            }))
        }
        _ => Err(TranslateError::new(
            "response_format",
            "only text, json_object and json_schema are translated",
        )),
    }
}
