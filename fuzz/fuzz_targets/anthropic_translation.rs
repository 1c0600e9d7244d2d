//! OpenAI⇄Anthropic translation never panics: (a) any OpenAI request that deserializes is refused
//! with a named field or translates into a Messages request that serializes and that Anthropic
//! would accept in shape; (b) any Messages reply translates into a completion that serializes; (c) any SSE body goes through the
//! Anthropic stream decoder, whose chunks serialize and whose usage comes once, at the end.
//!
//! The first byte picks the mode; the rest is JSON for (a) and (b), an SSE body for (c).
#![no_main]

use farmhand::gateway::upstream::frontier::stream::Decoder;
use farmhand::gateway::upstream::frontier::translate::{AnthropicStream, completion, messages_request};
use farmhand::wire::anthropic::MessageResponse;
use farmhand::wire::openai::ChatCompletionRequest;
use farmhand::wire::sse::SseParser;
use libfuzzer_sys::fuzz_target;

fn request(json: &[u8]) {
    let Ok(request) = serde_json::from_slice::<ChatCompletionRequest>(json) else {
        return;
    };
    let Ok(out) = messages_request(&request, "claude-sonnet-4-6") else {
        return;
    };
    serde_json::to_vec(&out).expect("a translated request serializes");
    assert_eq!(out.messages.first().map(|m| m.role.as_str()), Some("user"));
    assert!(
        out.messages.windows(2).all(|w| w[0].role != w[1].role),
        "turns alternate"
    );
    assert!(out.max_tokens.is_some(), "Anthropic requires max_tokens");
    assert!(out.temperature.is_none_or(|t| (0.0..=1.0).contains(&t)));
}

fn reply(json: &[u8]) {
    let Ok(reply) = serde_json::from_slice::<MessageResponse>(json) else {
        return;
    };
    let (completion, usage) = completion(reply, 1_755_729_001, None);
    serde_json::to_vec(&completion).expect("a translated completion serializes");
    let reported = completion.usage.expect("a completion reports usage");
    assert_eq!(reported.prompt_tokens, usage.input_total());
    assert_eq!(reported.completion_tokens, usage.out);
}

fn stream(body: &[u8]) {
    let Ok(events) = SseParser::new().feed(body) else {
        return;
    };
    let mut decoder = AnthropicStream::new(1_755_729_001, None);
    let mut usages = 0;
    for event in events {
        if decoder.is_complete() {
            break;
        }
        let Ok(items) = decoder.decode(&event) else {
            return;
        };
        for item in items {
            assert_eq!(item.usage.is_some(), item.chunk.usage.flatten().is_some());
            usages += usize::from(item.usage.is_some());
            serde_json::to_vec(&item.chunk).expect("a translated chunk serializes");
        }
    }
    assert_eq!(
        usages,
        usize::from(decoder.is_complete()),
        "usage comes once, at message_stop"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => request(rest),
        1 => reply(rest),
        _ => stream(rest),
    }
});
