use serde_json::{Value, json};

use super::*;
use crate::wire::sse::SseParser;

fn request(json: Value) -> ChatCompletionRequest {
    serde_json::from_value(json).unwrap()
}

fn text(message: &Message) -> &str {
    match &message.content {
        Content::Text(text) => text,
        Content::Blocks(_) => panic!("expected string content"),
    }
}

#[test]
fn system_and_developer_messages_become_one_system_prompt() {
    let req = request(json!({"model":"reasoning","messages":[
        {"role":"system","content":"You route."},
        {"role":"user","content":"hi"},
        {"role":"developer","content":[{"type":"text","text":"Be brief."}]}
    ]}));
    let out = messages_request(&req, "claude-sonnet-4-6");
    assert_eq!(out.model, "claude-sonnet-4-6");
    assert_eq!(out.system, Some(Content::Text("You route.\n\nBe brief.".into())));
    assert_eq!(out.messages.len(), 1);
    assert_eq!((out.messages[0].role.as_str(), text(&out.messages[0])), ("user", "hi"));
    assert_eq!(out.stream, None);
}

#[test]
fn turns_alternate_and_open_with_the_user() {
    let req = request(json!({"model":"m","messages":[
        {"role":"assistant","content":"Ready."},
        {"role":"user","content":"one"},
        {"role":"user","content":[{"type":"text","text":"two"},{"type":"image_url","image_url":{"url":"x"}}]},
        {"role":"assistant","content":null,"tool_calls":[]},
        {"role":"tool","content":"tool says","tool_call_id":"t1"},
        {"role":"assistant","content":"done"}
    ]}));
    let out = messages_request(&req, "m");
    let turns: Vec<(&str, &str)> = out.messages.iter().map(|m| (m.role.as_str(), text(m))).collect();
    assert_eq!(
        turns,
        [
            ("user", OPENING_USER_TURN),
            ("assistant", "Ready."),
            ("user", "one\n\ntwo\n\ntool says"),
            ("assistant", "done")
        ]
    );
    assert_eq!(out.system, None);
}

#[test]
fn a_conversation_of_only_system_text_still_has_a_user_turn() {
    let out = messages_request(
        &request(json!({"model":"m","messages":[{"role":"system","content":"s"}]})),
        "m",
    );
    assert_eq!(out.messages.len(), 1);
    assert_eq!(text(&out.messages[0]), OPENING_USER_TURN);
}

#[test]
fn output_cap_sampling_and_stop_sequences() {
    let base = json!({"model":"m","messages":[{"role":"user","content":"hi"}]});
    assert_eq!(
        messages_request(&request(base.clone()), "m").max_tokens,
        Some(DEFAULT_MAX_TOKENS)
    );

    let mut with = base.clone();
    with["max_tokens"] = json!(100);
    assert_eq!(messages_request(&request(with.clone()), "m").max_tokens, Some(100));
    with["max_completion_tokens"] = json!(200);
    with["temperature"] = json!(1.7);
    with["top_p"] = json!(0.9);
    with["stop"] = json!(["\n\n", "END"]);
    with["stream"] = json!(true);
    with["tools"] = json!([]);
    let out = messages_request(&request(with.clone()), "m");
    assert_eq!(out.max_tokens, Some(200));
    assert_eq!(out.temperature, Some(1.0), "Anthropic's temperatures stop at 1");
    assert_eq!(out.stop_sequences, ["\n\n", "END"]);
    assert_eq!(out.stream, Some(true));
    let body = serde_json::to_value(&out).unwrap();
    assert_eq!(body["top_p"], json!(0.9));
    assert!(body.get("tools").is_none(), "tools are not translated");
    assert!(body.get("stop").is_none());

    with["stop"] = json!("STOP");
    assert_eq!(messages_request(&request(with), "m").stop_sequences, ["STOP"]);
}

#[test]
fn stop_reasons_map_to_finish_reasons() {
    for (stop, finish) in [
        (Some("end_turn"), "stop"),
        (Some("stop_sequence"), "stop"),
        (Some("max_tokens"), "length"),
        (Some("tool_use"), "tool_calls"),
        (Some("refusal"), "content_filter"),
        (Some("pause_turn"), "stop"),
        (None, "stop"),
    ] {
        assert_eq!(finish_reason(stop), finish, "{stop:?}");
    }
}

#[test]
fn whole_reply_becomes_a_completion_with_cache_usage() {
    let reply: MessageResponse = serde_json::from_value(json!({
        "id":"msg_01X","type":"message","role":"assistant","model":"claude-sonnet-4-6",
        "content":[{"type":"text","text":"mac04 has "},{"type":"tool_use","id":"t","name":"n","input":{}},{"type":"text","text":"61% free."}],
        "stop_reason":"max_tokens","stop_sequence":null,
        "usage":{"input_tokens":412,"cache_creation_input_tokens":300,"cache_read_input_tokens":2048,
                 "cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":200},"output_tokens":19}
    }))
    .unwrap();
    let (completion, usage) = completion(reply, 1_755_729_000);
    assert_eq!(
        usage,
        TokenUsage {
            uncached_in: 412,
            cache_write_5m: 100,
            cache_write_1h: 200,
            cache_read: 2048,
            out: 19
        }
    );
    assert_eq!(
        serde_json::to_value(&completion).unwrap(),
        json!({
            "id":"msg_01X","object":"chat.completion","created":1_755_729_000,"model":"claude-sonnet-4-6",
            "choices":[{"index":0,"message":{"role":"assistant","content":"mac04 has 61% free."},"finish_reason":"length"}],
            "usage":{"prompt_tokens":2760,"completion_tokens":19,"total_tokens":2779,"prompt_tokens_details":{"cached_tokens":2048}}
        })
    );
}

#[test]
fn cache_writes_without_a_split_are_five_minute_writes() {
    let usage = AnthropicUsage {
        input_tokens: 10,
        cache_creation_input_tokens: Some(50),
        output_tokens: 3,
        ..AnthropicUsage::default()
    };
    assert_eq!(
        token_usage(&usage),
        TokenUsage {
            uncached_in: 10,
            cache_write_5m: 50,
            out: 3,
            ..TokenUsage::default()
        }
    );
    let absent = AnthropicUsage {
        input_tokens: 10,
        output_tokens: 3,
        ..AnthropicUsage::default()
    };
    assert_eq!(
        token_usage(&absent),
        TokenUsage {
            uncached_in: 10,
            out: 3,
            ..TokenUsage::default()
        }
    );
}

/// The reference's stream, with a repeated cumulative `message_delta`, an unknown event and CRLF line ends.
const STREAM: &str = "event: message_start\r\n\
data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01Ab\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":35,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":2048,\"output_tokens\":1}}}\r\n\r\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
event: ping\n\
data: {\"type\":\"ping\"}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"All 12 nodes \u{1F7E2}\"}}\n\n\
event: brand_new_event\n\
data: {\"type\":\"brand_new_event\",\"x\":1}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" are online.\"}}\n\n\
event: content_block_stop\n\
data: {\"type\":\"content_block_stop\",\"index\":0}\n\n\
event: message_delta\n\
data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":null,\"stop_sequence\":null},\"usage\":{\"output_tokens\":5}}\n\n\
event: message_delta\n\
data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":9,\"input_tokens\":36}}\n\n\
event: message_stop\n\
data: {\"type\":\"message_stop\"}\n\n";

/// Feeds `input` in pieces of `piece` bytes through the SSE parser and the translator.
fn translate_in_pieces(input: &[u8], piece: usize) -> (Vec<Result<StreamItem, StreamFailure>>, bool) {
    let mut parser = SseParser::new();
    let mut decoder = AnthropicStream::new(1_700_000_000);
    let mut out = Vec::new();
    for bytes in input.chunks(piece) {
        for event in parser.feed(bytes).unwrap() {
            match decoder.decode(&event) {
                Ok(items) => out.extend(items.into_iter().map(Ok)),
                Err(failure) => out.push(Err(failure)),
            }
        }
    }
    (out, decoder.is_complete())
}

fn expected_chunks() -> Vec<Value> {
    let chunk = |choices: Value, usage: Value| json!({"id":"msg_01Ab","object":"chat.completion.chunk","created":1_700_000_000,"model":"claude-haiku-4-5","choices":choices,"usage":usage});
    let delta = |delta: Value, finish: Value| json!([{"index":0,"delta":delta,"finish_reason":finish}]);
    vec![
        chunk(
            delta(json!({"role":"assistant","content":""}), Value::Null),
            Value::Null,
        ),
        chunk(
            delta(json!({"content":"All 12 nodes \u{1F7E2}"}), Value::Null),
            Value::Null,
        ),
        chunk(delta(json!({"content":" are online."}), Value::Null), Value::Null),
        chunk(delta(json!({}), json!("stop")), Value::Null),
        chunk(
            json!([]),
            json!({"prompt_tokens":2084,"completion_tokens":9,"total_tokens":2093,"prompt_tokens_details":{"cached_tokens":2048}}),
        ),
    ]
}

#[test]
fn stream_translates_to_the_exact_chunk_sequence_at_any_byte_boundary() {
    let input = STREAM.as_bytes();
    for piece in [1, 2, 3, 5, 7, 64, 333, input.len()] {
        let (items, complete) = translate_in_pieces(input, piece);
        assert!(complete, "piece {piece}");
        let items: Vec<StreamItem> = items.into_iter().map(Result::unwrap).collect();
        let chunks: Vec<Value> = items.iter().map(|i| serde_json::to_value(&i.chunk).unwrap()).collect();
        assert_eq!(chunks, expected_chunks(), "piece {piece}");
        let usages: Vec<Option<TokenUsage>> = items.iter().map(|i| i.usage).collect();
        let last = TokenUsage {
            uncached_in: 36,
            cache_read: 2048,
            out: 9,
            ..TokenUsage::default()
        };
        assert_eq!(usages, [None, None, None, None, Some(last)], "piece {piece}");
    }
}

#[test]
fn error_event_fails_the_stream_with_its_status() {
    let input = STREAM.split("event: content_block_stop").next().unwrap().to_string()
        + "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    let (items, complete) = translate_in_pieces(input.as_bytes(), 11);
    assert!(!complete);
    assert_eq!(items.len(), 4);
    assert_eq!(
        items[3],
        Err(StreamFailure {
            status: Some(529),
            message: "stream error overloaded_error".into()
        })
    );
}

#[test]
fn stream_without_message_stop_is_incomplete() {
    let input = STREAM.split("event: message_stop").next().unwrap();
    let (items, complete) = translate_in_pieces(input.as_bytes(), 9);
    assert!(!complete);
    assert_eq!(items.len(), 3, "no finish chunk and no usage without message_stop");
    assert_eq!(
        AnthropicStream::new(0).truncated().message,
        "stream ended without message_stop"
    );
}

#[test]
fn content_before_message_start_is_refused() {
    let mut decoder = AnthropicStream::new(0);
    let delta = SseEvent {
        event: Some("content_block_delta".into()),
        data: r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}"#.into(),
        id: None,
    };
    assert!(
        decoder
            .decode(&delta)
            .unwrap_err()
            .message
            .contains("before message_start")
    );
    let garbage = SseEvent {
        event: Some("message_start".into()),
        data: "{not json".into(),
        id: None,
    };
    assert_eq!(
        decoder.decode(&garbage).unwrap_err().message,
        "sent an unreadable message_start event"
    );
}

#[test]
fn absurd_usage_counts_saturate_instead_of_overflowing() {
    // Caught by the `anthropic_translation` fuzz target: counts summing past u64::MAX panicked
    // (debug) or wrapped to a tiny total (release).
    let reply: MessageResponse = serde_json::from_value(json!({
        "usage":{"input_tokens":u64::MAX,"cache_read_input_tokens":1,"output_tokens":1}
    }))
    .unwrap();
    let (completion, usage) = completion(reply, 0);
    assert_eq!(usage.input_total(), u64::MAX);
    let reported = completion.usage.unwrap();
    assert_eq!((reported.prompt_tokens, reported.total_tokens), (u64::MAX, u64::MAX));

    let mut decoder = AnthropicStream::new(0);
    let body = concat!(
        "data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n",
        "data: {\"type\":\"message_delta\",\"delta\":{},\"usage\":{\"output_tokens\":18446744073709551615}}\n\n",
        "data: {\"type\":\"message_stop\"}\n\n",
    );
    let items: Vec<StreamItem> = SseParser::new()
        .feed(body.as_bytes())
        .unwrap()
        .iter()
        .flat_map(|event| decoder.decode(event).unwrap())
        .collect();
    let last = items.last().unwrap().chunk.usage().unwrap();
    assert_eq!(last.total_tokens, u64::MAX);
}
