//! Anthropic translation budget: an OpenAI request of 20 messages (every role, tool calls and
//! their results) with 10 tools, translated to a Messages request, ≤ 20 µs at the median
//! in-process. The reply direction (a completion with parallel tool calls) is timed beside it.
//! Exits 1 when the budget is missed, when nothing was measured, or when the request does not
//! translate (a refusal would time the error path instead).

use std::hint::black_box;
use std::time::{Duration, Instant};

use farmhand::gateway::upstream::frontier::translate::{completion, messages_request};
use farmhand::wire::anthropic::MessageResponse;
use farmhand::wire::openai::ChatCompletionRequest;
use serde_json::{Value, json};

/// The budget for one request translation.
const BUDGET: Duration = Duration::from_micros(20);
/// Samples per direction.
const ITERS: usize = 20_000;

/// Ten tools with small JSON schemas, as an orchestration agent offers them.
fn tools() -> Vec<Value> {
    (0..10)
        .map(|i| {
            json!({"type": "function", "function": {
                "name": format!("tool_{i}"),
                "description": format!("Looks up record kind {i} by id and returns its fields."),
                "parameters": {"type": "object", "properties": {
                    "id": {"type": "string", "description": "record id"},
                    "fields": {"type": "array", "items": {"type": "string"}},
                    "limit": {"type": "integer"}
                }, "required": ["id"]}
            }})
        })
        .collect()
}

/// Twenty messages: a system prompt, then user turns, assistant tool calls and tool results.
fn messages() -> Vec<Value> {
    let mut messages = vec![json!({"role": "system", "content": "You plan and delegate work to tools. Be brief."})];
    let mut call = 0;
    while messages.len() < 20 {
        match messages.len() % 4 {
            1 => messages.push(json!({"role": "user", "content": "Find the open tickets for the billing migration and summarise them."})),
            2 => {
                call += 1;
                messages.push(json!({"role": "assistant", "content": "Looking that up.", "tool_calls": [
                    {"id": format!("call_{call}"), "type": "function", "function": {"name": format!("tool_{}", call % 10), "arguments": "{\"id\":\"T-1042\",\"fields\":[\"status\",\"owner\"]}"}}
                ]}));
            }
            3 => messages.push(json!({"role": "tool", "tool_call_id": format!("call_{call}"), "content": "{\"status\":\"open\",\"owner\":\"platform\"}"})),
            _ => messages.push(json!({"role": "assistant", "content": "Two tickets are open; both wait on the platform team."})),
        }
    }
    messages
}

fn sample(mut f: impl FnMut()) -> Vec<Duration> {
    for _ in 0..ITERS / 10 {
        f();
    }
    let mut out: Vec<Duration> = (0..ITERS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    out.sort();
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let request: ChatCompletionRequest = match serde_json::from_value(json!({
        "model": "orchestration", "messages": messages(), "tools": tools(),
        "tool_choice": "auto", "max_tokens": 1024, "temperature": 0.2
    })) {
        Ok(request) => request,
        Err(e) => {
            println!("translate: FAIL (the bench request does not parse: {e})");
            std::process::exit(1);
        }
    };
    if let Err(e) = messages_request(&request, "claude-opus-4-7") {
        println!("translate: FAIL (the bench request is refused: {e})");
        std::process::exit(1);
    }
    let reply: MessageResponse = match serde_json::from_value(json!({
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-opus-4-7",
        "content": [
            {"type": "text", "text": "Checking both."},
            {"type": "tool_use", "id": "toolu_01", "name": "tool_1", "input": {"id": "T-1042"}},
            {"type": "tool_use", "id": "toolu_02", "name": "tool_2", "input": {"id": "T-1043", "fields": ["status"]}}
        ],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 1200, "output_tokens": 80, "cache_read_input_tokens": 1024}
    })) {
        Ok(reply) => reply,
        Err(e) => {
            println!("translate: FAIL (the bench reply does not parse: {e})");
            std::process::exit(1);
        }
    };

    let out = sample(|| {
        black_box(messages_request(black_box(&request), "claude-opus-4-7").ok());
    });
    let back = sample(|| {
        black_box(completion(black_box(reply.clone()), 0, None));
    });
    if out.is_empty() || back.is_empty() {
        println!("translate: FAIL (measured nothing)");
        std::process::exit(1);
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let p50 = percentile(&out, 0.5);
    let pass = p50 <= BUDGET;
    println!(
        "translate request (20 messages, 10 tools) to Anthropic, p50: {:.1} µs, p99: {:.1} µs (budget p50 {} µs) {}",
        us(p50),
        us(percentile(&out, 0.99)),
        BUDGET.as_micros(),
        if pass { "PASS" } else { "FAIL" }
    );
    println!(
        "translate reply (text + 2 parallel tool calls) from Anthropic, p50: {:.1} µs, p99: {:.1} µs (not budgeted; includes cloning the reply)",
        us(percentile(&back, 0.5)),
        us(percentile(&back, 0.99))
    );
    if !pass {
        std::process::exit(1);
    }
}
