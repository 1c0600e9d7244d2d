//! Privacy test material: unique marker strings and chat requests that carry them in any field a
//! provider would receive.
#![allow(dead_code)]

use rand::Rng;
use serde_json::{Value, json};

/// Every place of a chat request a marker can be put.
pub const PLACES: &[&str] = &[
    "user",
    "system",
    "developer",
    "assistant",
    "tool_result",
    "text_part",
    "name",
    "tool_call_arguments",
    "nested_arguments",
    "tool_name",
    "tool_description",
    "tool_schema",
    "response_format",
    "stop",
    "metadata",
    "metadata_key",
    "user_field",
    "extra_field",
];

/// A marker the detectors must catch, unique to this call: an e-mail address, a card number or a US SSN.
pub fn sensitive_marker(rng: &mut impl Rng) -> String {
    match rng.random_range(0..3) {
        0 => format!("m{:012x}@customer-mail.com", rng.random::<u64>() & 0xffff_ffff_ffff),
        1 => card_number(rng),
        _ => format!(
            "{:03}-{:02}-{:04}",
            rng.random_range(100..665),
            rng.random_range(10..99),
            rng.random_range(1000..9999)
        ),
    }
}

/// A harmless token, unique to this call, that no detector fires on.
pub fn plain_marker(rng: &mut impl Rng) -> String {
    format!("plainmark{:012x}", rng.random::<u64>() & 0xffff_ffff_ffff)
}

/// A Visa-shaped card number with a valid Luhn digit, written in groups of four.
pub fn card_number(rng: &mut impl Rng) -> String {
    let mut digits: Vec<u32> = vec![4];
    digits.extend((0..14).map(|_| rng.random_range(0..10)));
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                *d
            }
        })
        .sum();
    digits.push((10 - sum % 10) % 10);
    let text: String = digits.iter().map(|d| char::from_digit(*d, 10).unwrap_or('0')).collect();
    format!("{} {} {} {}", &text[0..4], &text[4..8], &text[8..12], &text[12..16])
}

/// A chat request for `class` with `text` put at `place` (one of [`PLACES`]).
pub fn request_with(class: &str, place: &str, text: &str) -> Value {
    let sentence = format!("Please look at {text} for me");
    let mut request = json!({
        "model": class,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "Summarise the open ticket in one line."}],
    });
    let tools = |function: Value| json!([{"type": "function", "function": function}]);
    match place {
        "user" => request["messages"][0]["content"] = json!(sentence),
        "system" => {
            request["messages"] = json!([{"role": "system", "content": sentence}, {"role": "user", "content": "Go."}]);
        }
        "developer" => {
            request["messages"] =
                json!([{"role": "developer", "content": sentence}, {"role": "user", "content": "Go."}]);
        }
        "assistant" => {
            request["messages"] = json!([
                {"role": "user", "content": "What did you find?"},
                {"role": "assistant", "content": sentence},
                {"role": "user", "content": "Summarise that."}
            ]);
        }
        "tool_result" => {
            request["messages"] = json!([
                {"role": "user", "content": "Look the customer up."},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": sentence}
            ]);
        }
        "text_part" => request["messages"][0]["content"] = json!([{"type": "text", "text": sentence}]),
        "name" => request["messages"][0]["name"] = json!(text),
        "tool_call_arguments" | "nested_arguments" => {
            let arguments = json!({"customer": text}).to_string();
            let arguments = if place == "nested_arguments" {
                json!({"payload": arguments}).to_string()
            } else {
                arguments
            };
            request["messages"] = json!([
                {"role": "user", "content": "Charge the customer."},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "charge", "arguments": arguments}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "done"}
            ]);
        }
        "tool_name" => request["tools"] = tools(json!({"name": text, "parameters": {"type": "object"}})),
        "tool_description" => {
            request["tools"] =
                tools(json!({"name": "lookup", "description": sentence, "parameters": {"type": "object"}}));
        }
        "tool_schema" => {
            request["tools"] = tools(
                json!({"name": "lookup", "parameters": {"type": "object", "properties": {"id": {"type": "string", "default": text}}}}),
            );
        }
        "response_format" => {
            request["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object", "description": sentence}}});
        }
        "stop" => request["stop"] = json!(["\n\n", text]),
        "metadata" => request["metadata"] = json!({"ticket": sentence}),
        "metadata_key" => request["metadata"] = json!({ text: "yes" }),
        "user_field" => request["user"] = json!(text),
        "extra_field" => request["x_trace"] = json!({"notes": [sentence]}),
        other => panic!("unknown place {other}"),
    }
    request
}
