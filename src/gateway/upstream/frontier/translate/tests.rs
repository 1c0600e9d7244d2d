use serde_json::{Value, json};

use super::*;
use crate::wire::anthropic::{Content, Message};
use crate::wire::openai::ChatCompletionRequest;
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
    let out = messages_request(&req, "claude-sonnet-4-6").unwrap();
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
        {"role":"user","content":[{"type":"text","text":"two"}]},
        {"role":"assistant","content":"done"}
    ]}));
    let out = messages_request(&req, "m").unwrap();
    let turns: Vec<(&str, Value)> = out
        .messages
        .iter()
        .map(|m| (m.role.as_str(), serde_json::to_value(&m.content).unwrap()))
        .collect();
    assert_eq!(
        turns,
        [
            ("user", json!(OPENING_USER_TURN)),
            ("assistant", json!("Ready.")),
            (
                "user",
                json!([{"type":"text","text":"one"},{"type":"text","text":"two"}])
            ),
            ("assistant", json!("done"))
        ]
    );
    assert_eq!(out.system, None);
}

#[test]
fn a_conversation_of_only_system_text_still_has_a_user_turn() {
    let out = messages_request(
        &request(json!({"model":"m","messages":[{"role":"system","content":"s"}]})),
        "m",
    )
    .unwrap();
    assert_eq!(out.messages.len(), 1);
    assert_eq!(text(&out.messages[0]), OPENING_USER_TURN);
}

#[test]
fn output_cap_sampling_and_stop_sequences() {
    let base = json!({"model":"m","messages":[{"role":"user","content":"hi"}]});
    assert_eq!(
        messages_request(&request(base.clone()), "m").unwrap().max_tokens,
        Some(DEFAULT_MAX_TOKENS)
    );

    let mut with = base.clone();
    with["max_tokens"] = json!(100);
    assert_eq!(
        messages_request(&request(with.clone()), "m").unwrap().max_tokens,
        Some(100)
    );
    with["max_completion_tokens"] = json!(200);
    with["temperature"] = json!(1.7);
    with["top_p"] = json!(0.9);
    with["stop"] = json!(["\n\n", "END"]);
    with["stream"] = json!(true);
    with["tools"] = json!([]);
    let out = messages_request(&request(with.clone()), "m").unwrap();
    assert_eq!(out.max_tokens, Some(200));
    assert_eq!(out.temperature, Some(1.0), "Anthropic's temperatures stop at 1");
    assert_eq!(out.stop_sequences, ["\n\n", "END"]);
    assert_eq!(out.stream, Some(true));
    let body = serde_json::to_value(&out).unwrap();
    assert_eq!(body["top_p"], json!(0.9));
    assert!(body.get("tools").is_none(), "no tools, no tools field");
    assert!(body.get("stop").is_none());

    with["stop"] = json!("STOP");
    assert_eq!(messages_request(&request(with), "m").unwrap().stop_sequences, ["STOP"]);
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
    let (completion, usage) = completion(reply, 1_755_729_000, None);
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
            "choices":[{"index":0,"message":{"role":"assistant","content":"mac04 has 61% free.","tool_calls":[{"id":"t","type":"function","function":{"name":"n","arguments":"{}"}}]},"finish_reason":"length"}],
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
    let mut decoder = AnthropicStream::new(1_700_000_000, None);
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
        AnthropicStream::new(0, None).truncated().message,
        "stream ended without message_stop"
    );
}

#[test]
fn content_before_message_start_is_refused() {
    let mut decoder = AnthropicStream::new(0, None);
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
    let (completion, usage) = completion(reply, 0, None);
    assert_eq!(usage.input_total(), u64::MAX);
    let reported = completion.usage.unwrap();
    assert_eq!((reported.prompt_tokens, reported.total_tokens), (u64::MAX, u64::MAX));

    let mut decoder = AnthropicStream::new(0, None);
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

/// The translated request as JSON, as it goes on the wire.
fn wire(json: Value) -> Value {
    serde_json::to_value(messages_request(&request(json), "claude-sonnet-4-6").unwrap()).unwrap()
}

/// The refused field of a request that cannot be translated.
fn refused(json: Value) -> TranslateError {
    messages_request(&request(json), "m").unwrap_err()
}

fn weather_tool() -> Value {
    json!({"type":"function","function":{"name":"get_weather","description":"Weather of a city",
        "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}})
}

#[test]
fn tools_become_anthropic_tools_and_parameters_default_to_an_object() {
    let body = wire(json!({"model":"m","messages":[{"role":"user","content":"hi"}],
        "tools":[weather_tool(), {"type":"function","function":{"name":"now"}}]}));
    assert_eq!(
        body["tools"],
        json!([
            {"name":"get_weather","description":"Weather of a city",
             "input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},
            {"name":"now","input_schema":{"type":"object"}}
        ])
    );
    assert!(body.get("tool_choice").is_none(), "auto is Anthropic's default");
}

#[test]
fn tool_choice_and_parallel_tool_calls_map_to_anthropic_tool_choice() {
    let base = json!({"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[weather_tool()]});
    let with = |changes: Value| {
        let mut req = base.clone();
        for (key, value) in changes.as_object().unwrap() {
            req[key] = value.clone();
        }
        wire(req)["tool_choice"].clone()
    };
    assert_eq!(with(json!({"tool_choice":"auto"})), json!({"type":"auto"}));
    assert_eq!(with(json!({"tool_choice":"required"})), json!({"type":"any"}));
    assert_eq!(with(json!({"tool_choice":"none"})), json!({"type":"none"}));
    assert_eq!(
        with(json!({"tool_choice":{"type":"function","function":{"name":"get_weather"}}})),
        json!({"type":"tool","name":"get_weather"})
    );
    assert_eq!(
        with(json!({"parallel_tool_calls":false})),
        json!({"type":"auto","disable_parallel_tool_use":true})
    );
    assert_eq!(
        with(json!({"tool_choice":"required","parallel_tool_calls":false})),
        json!({"type":"any","disable_parallel_tool_use":true})
    );
    assert_eq!(with(json!({"parallel_tool_calls":true})), Value::Null);

    let mut unknown = base.clone();
    unknown["tool_choice"] = json!({"type":"function","function":{"name":"missing"}});
    assert_eq!(refused(unknown).field, "tool_choice");
    let mut no_tools = base.clone();
    no_tools["tools"] = json!([]);
    no_tools["tool_choice"] = json!("required");
    assert_eq!(refused(no_tools.clone()).field, "tool_choice");
    no_tools["tool_choice"] = json!("auto");
    assert_eq!(wire(no_tools).get("tool_choice"), None);
    let mut custom = base.clone();
    custom["tools"] = json!([{"type":"custom","custom":{"name":"x"}}]);
    assert_eq!(refused(custom).field, "tools[0].type");
}

#[test]
fn tool_calls_and_tool_results_keep_their_turns_and_order() {
    let body = wire(json!({"model":"m","messages":[
        {"role":"system","content":"You help."},
        {"role":"user","content":"Weather in Oslo and Rome?"},
        {"role":"assistant","content":"Checking.","tool_calls":[
            {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}},
            {"id":"call.2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
        {"role":"tool","tool_call_id":"call_1","content":"4 C"},
        {"role":"tool","tool_call_id":"call.2","content":[{"type":"text","text":"no data"}],"is_error":true},
        {"role":"user","content":"And tomorrow?"},
        {"role":"assistant","content":null,"tool_calls":[
            {"id":"call_3","type":"function","function":{"name":"now","arguments":""}}]},
        {"role":"tool","tool_call_id":"call_3","content":""}
    ]}));
    assert_eq!(body["system"], json!("You help."));
    assert_eq!(
        body["messages"],
        json!([
            {"role":"user","content":"Weather in Oslo and Rome?"},
            {"role":"assistant","content":[
                {"type":"text","text":"Checking."},
                {"type":"tool_use","id":"call_1","name":"get_weather","input":{"city":"Oslo"}},
                {"type":"tool_use","id":"call_2","name":"get_weather","input":{"city":"Rome"}}]},
            {"role":"user","content":[
                {"type":"tool_result","tool_use_id":"call_1","content":"4 C"},
                {"type":"tool_result","tool_use_id":"call_2","content":"no data","is_error":true},
                {"type":"text","text":"And tomorrow?"}]},
            {"role":"assistant","content":[{"type":"tool_use","id":"call_3","name":"now","input":{}}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"call_3"}]}
        ])
    );
}

#[test]
fn tool_call_arguments_that_are_not_an_object_are_refused() {
    for arguments in ["[1,2]", "{not json", "\"text\""] {
        let err = refused(json!({"model":"m","messages":[
            {"role":"user","content":"hi"},
            {"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":arguments}}]}
        ]}));
        assert_eq!(err.field, "messages[1].tool_calls[0].function.arguments");
        assert!(!err.to_string().contains(arguments), "no request content in the error");
    }
    let err = refused(json!({"model":"m","messages":[{"role":"tool","content":"x"}]}));
    assert_eq!(err.field, "messages[0].tool_call_id");
}

#[test]
fn images_become_base64_or_url_blocks() {
    let body = wire(json!({"model":"m","messages":[{"role":"user","content":[
        {"type":"text","text":"What is this?"},
        {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"low"}},
        {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}}
    ]}]}));
    assert_eq!(
        body["messages"][0]["content"],
        json!([
            {"type":"text","text":"What is this?"},
            {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},
            {"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}
        ])
    );
    for url in [
        "http://example.com/a.png",
        "data:image/tiff;base64,AAAA",
        "data:image/png,raw",
    ] {
        let err = refused(json!({"model":"m","messages":[{"role":"user","content":[
            {"type":"image_url","image_url":{"url":url}}]}]}));
        assert_eq!(err.field, "messages[0].content[0]", "{url}");
        assert!(!err.to_string().contains(url));
    }
}

#[test]
fn sampling_stop_cap_and_user_are_carried() {
    let body = wire(json!({"model":"m","messages":[{"role":"user","content":"hi"}],
        "temperature":0.3,"top_p":0.5,"stop":"END","max_completion_tokens":77,"max_tokens":5,
        "user":"agent-7","n":1,"logprobs":false,"presence_penalty":0,"store":false,"metadata":{},
        "modalities":["text"],"service_tier":"auto","seed":null}));
    assert_eq!(body["temperature"], json!(0.3));
    assert_eq!(body["top_p"], json!(0.5));
    assert_eq!(body["stop_sequences"], json!(["END"]));
    assert_eq!(body["max_tokens"], json!(77));
    assert_eq!(body["metadata"], json!({"user_id":"agent-7"}));
    assert_eq!(body["service_tier"], json!("auto"));
}

#[test]
fn fields_without_an_anthropic_equivalent_are_refused_by_name() {
    let base = json!({"model":"m","messages":[{"role":"user","content":"secret words"}]});
    for (field, value) in [
        ("n", json!(2)),
        ("logprobs", json!(true)),
        ("top_logprobs", json!(3)),
        ("audio", json!({"voice":"alloy","format":"wav"})),
        ("modalities", json!(["text", "audio"])),
        ("seed", json!(7)),
        ("presence_penalty", json!(0.5)),
        ("frequency_penalty", json!(0.5)),
        ("logit_bias", json!({"50256":-100})),
        ("prediction", json!({"type":"content","content":"x"})),
        ("store", json!(true)),
        ("metadata", json!({"k":"v"})),
        ("functions", json!([])),
        ("function_call", json!("auto")),
        ("service_tier", json!("flex")),
        ("prompt_cache_key", json!("k")),
        ("some_future_field", json!(1)),
    ] {
        let mut req = base.clone();
        req[field] = value;
        let err = refused(req);
        assert_eq!(err.field, field);
        let text = err.to_string();
        assert!(
            text.contains(&format!("`{field}`")) && !text.contains("secret"),
            "{text}"
        );
    }
    for (part, field) in [
        (
            json!({"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}),
            "messages[0].content[1]",
        ),
        (json!({"type":"file","file":{"file_id":"f"}}), "messages[0].content[1]"),
    ] {
        let err =
            refused(json!({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"}, part]}]}));
        assert_eq!(err.field, field);
    }
    let err = refused(json!({"model":"m","messages":[{"role":"user","content":"a","name":"bob"}]}));
    assert_eq!(err.field, "messages[0].name");
    let err = refused(json!({"model":"m","messages":[{"role":"function","content":"a"}]}));
    assert_eq!(err.field, "messages[0].role");
}

#[test]
fn json_schema_and_json_object_become_a_forced_tool() {
    let schema = json!({"type":"object","properties":{"node":{"type":"string"}},"required":["node"]});
    let req = request(json!({"model":"m","messages":[{"role":"user","content":"hi"}],
        "response_format":{"type":"json_schema","json_schema":{"name":"pick","schema":schema,"strict":true}}}));
    let out = translate(&req, "m").unwrap();
    assert_eq!(out.json_tool.as_deref(), Some("pick"));
    let body = serde_json::to_value(&out.request).unwrap();
    assert_eq!(body["tools"][0]["name"], json!("pick"));
    assert_eq!(body["tools"][0]["input_schema"], schema);
    assert_eq!(
        body["tool_choice"],
        json!({"type":"tool","name":"pick","disable_parallel_tool_use":true})
    );

    let req = request(json!({"model":"m","messages":[{"role":"user","content":"hi"}],
        "response_format":{"type":"json_object"},"tools":[weather_tool()]}));
    let out = translate(&req, "m").unwrap();
    assert_eq!(out.json_tool.as_deref(), Some(DEFAULT_JSON_TOOL));
    let body = serde_json::to_value(&out.request).unwrap();
    assert_eq!(
        body["tools"][1],
        json!({"name":DEFAULT_JSON_TOOL,"description":body["tools"][1]["description"],"input_schema":{"type":"object"}})
    );
    assert_eq!(
        body["tool_choice"],
        json!({"type":"any"}),
        "a tool of the agent's or the answer"
    );

    let req = request(json!({"model":"m","messages":[{"role":"user","content":"hi"}],
        "response_format":{"type":"json_object"},"tools":[weather_tool()],"tool_choice":"required"}));
    let out = translate(&req, "m").unwrap();
    assert_eq!(out.json_tool, None, "a forced tool call has no content to shape");
    assert_eq!(out.request.tools.len(), 1);

    let text = translate(
        &request(json!({"model":"m","messages":[{"role":"user","content":"hi"}],
        "response_format":{"type":"text"}})),
        "m",
    )
    .unwrap();
    assert_eq!((text.json_tool, text.request.tools.len()), (None, 0));
    assert_eq!(
        refused(json!({"model":"m","messages":[{"role":"user","content":"hi"}],
            "response_format":{"type":"json_schema","json_schema":{"name":"a","schema":{"type":"array"}}}}))
        .field,
        "response_format.json_schema.schema"
    );
}

#[test]
fn reasoning_effort_enables_thinking_within_the_output_cap() {
    let base = json!({"model":"m","messages":[{"role":"user","content":"hi"}]});
    for (effort, budget) in [("minimal", 1024), ("low", 1024), ("medium", 4096), ("high", 16384)] {
        let mut req = base.clone();
        req["reasoning_effort"] = json!(effort);
        let body = wire(req.clone());
        assert_eq!(body["thinking"], json!({"type":"enabled","budget_tokens":budget}));
        assert!(body["max_tokens"].as_u64().unwrap() > budget, "{effort}");
        req["max_completion_tokens"] = json!(500);
        assert_eq!(wire(req.clone())["max_tokens"], json!(budget + 500));
        req["max_completion_tokens"] = json!(40_000);
        assert_eq!(wire(req)["max_tokens"], json!(40_000));
    }
    let looping = json!({"model":"m","reasoning_effort":"high","messages":[
        {"role":"user","content":"hi"},
        {"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},
        {"role":"tool","tool_call_id":"c","content":"ok"}]});
    assert!(
        wire(looping).get("thinking").is_none(),
        "a tool cycle goes on without thinking"
    );
    let mut req = base.clone();
    req["reasoning_effort"] = json!("none");
    assert!(wire(req.clone()).get("thinking").is_none());
    req["reasoning_effort"] = json!("high");
    req["temperature"] = json!(0.2);
    assert_eq!(refused(req.clone()).field, "temperature");
    req["temperature"] = json!(1);
    req["response_format"] = json!({"type":"json_object"});
    assert_eq!(refused(req).field, "response_format");
}

#[test]
fn whole_reply_with_tool_calls_and_thinking() {
    let reply: MessageResponse = serde_json::from_value(json!({
        "id":"msg_2","type":"message","role":"assistant","model":"claude-sonnet-4-6",
        "content":[
            {"type":"thinking","thinking":"private musing","signature":"sig"},
            {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Oslo"}},
            {"type":"redacted_thinking","data":"xyz"},
            {"type":"tool_use","id":"toolu_2","name":"get_weather","input":{"city":"Rome","days":[1,2]}}
        ],
        "stop_reason":"tool_use","stop_sequence":null,
        "usage":{"input_tokens":10,"cache_creation_input_tokens":20,"cache_read_input_tokens":30,"output_tokens":5}
    }))
    .unwrap();
    let (completion, usage) = completion(reply, 7, None);
    let choice = serde_json::to_value(&completion.choices[0]).unwrap();
    assert_eq!(
        choice,
        json!({"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,"tool_calls":[
            {"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}},
            {"id":"toolu_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\",\"days\":[1,2]}"}}
        ]}})
    );
    assert!(!serde_json::to_string(&completion).unwrap().contains("musing"));
    assert_eq!(
        (usage.uncached_in, usage.cache_write_5m, usage.cache_read),
        (10, 20, 30)
    );
    let wire = completion.usage.unwrap();
    assert_eq!(wire.prompt_tokens, 60);
    assert_eq!(wire.prompt_tokens_details.unwrap().cached_tokens, 30);
}

#[test]
fn whole_reply_through_the_json_tool_is_content() {
    let reply: MessageResponse = serde_json::from_value(json!({
        "id":"msg_3","type":"message","role":"assistant","model":"m",
        "content":[{"type":"tool_use","id":"toolu_9","name":"pick","input":{"node":"mac04"}}],
        "stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":1}
    }))
    .unwrap();
    let (completion, _) = completion(reply, 0, Some("pick"));
    let message = &completion.choices[0].message;
    assert_eq!(message.content.as_deref(), Some(r#"{"node":"mac04"}"#));
    assert_eq!(message.tool_calls, None);
    assert_eq!(completion.choices[0].finish_reason.as_deref(), Some("stop"));
}

/// A streamed reply that thinks, talks, calls a tool, talks again and calls a second tool.
const TOOL_STREAM: &str = concat!(
    "event: message_start\n",
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_T\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-6\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":50,\"output_tokens\":1}}}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"hidden plan\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"signature_delta\",\"signature\":\"c2ln\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Checking \u{1F326}\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_A\",\"name\":\"get_weather\",\"input\":{}}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\":\"}}\n\n",
    "event: ping\n",
    "data: {\"type\":\"ping\"}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\" \\\"Oslo\\\"}\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":2}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":3,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":\"text_delta\",\"text\":\" and\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":3}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":4,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_B\",\"name\":\"now\",\"input\":{}}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":4,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":4}\n\n",
    "event: message_delta\n",
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":42}}\n\n",
    "event: message_stop\n",
    "data: {\"type\":\"message_stop\"}\n\n",
);

/// Feeds `input` in pieces through the parser and a translator with `json_tool`.
fn translate_stream(input: &[u8], piece: usize, json_tool: Option<&str>) -> Vec<StreamItem> {
    let mut parser = SseParser::new();
    let mut decoder = AnthropicStream::new(5, json_tool.map(String::from));
    let mut out = Vec::new();
    for bytes in input.chunks(piece) {
        for event in parser.feed(bytes).unwrap() {
            out.extend(decoder.decode(&event).unwrap());
        }
    }
    assert!(decoder.is_complete());
    out
}

#[test]
fn streamed_tool_calls_interleaved_with_text_at_any_byte_boundary() {
    let chunk = |choices: Value, usage: Value| json!({"id":"msg_T","object":"chat.completion.chunk","created":5,"model":"claude-sonnet-4-6","choices":choices,"usage":usage});
    let delta = |delta: Value| chunk(json!([{"index":0,"delta":delta,"finish_reason":null}]), Value::Null);
    let expected = vec![
        delta(json!({"role":"assistant","content":""})),
        delta(json!({"content":"Checking \u{1F326}"})),
        delta(
            json!({"tool_calls":[{"index":0,"id":"toolu_A","type":"function","function":{"name":"get_weather","arguments":""}}]}),
        ),
        delta(json!({"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]})),
        delta(json!({"tool_calls":[{"index":0,"function":{"arguments":" \"Oslo\"}"}}]})),
        delta(json!({"content":" and"})),
        delta(
            json!({"tool_calls":[{"index":1,"id":"toolu_B","type":"function","function":{"name":"now","arguments":""}}]}),
        ),
        delta(json!({"tool_calls":[{"index":1,"function":{"arguments":"{}"}}]})),
        chunk(
            json!([{"index":0,"delta":{},"finish_reason":"tool_calls"}]),
            Value::Null,
        ),
        chunk(
            json!([]),
            json!({"prompt_tokens":50,"completion_tokens":42,"total_tokens":92,"prompt_tokens_details":{"cached_tokens":0}}),
        ),
    ];
    let input = TOOL_STREAM.as_bytes();
    for piece in 1..=input.len().min(97) {
        let items = translate_stream(input, piece, None);
        let chunks: Vec<Value> = items.iter().map(|i| serde_json::to_value(&i.chunk).unwrap()).collect();
        assert_eq!(chunks, expected, "piece {piece}");
    }
    let items = translate_stream(input, input.len(), None);
    assert!(
        !serde_json::to_string(&items.iter().map(|i| &i.chunk).collect::<Vec<_>>())
            .unwrap()
            .contains("hidden plan")
    );

    // An OpenAI client's reassembly: concatenate arguments by index.
    let mut calls: Vec<(String, String, String)> = Vec::new();
    for item in &items {
        let Some(choice) = item.chunk.choices.first() else {
            continue;
        };
        for call in choice.delta.tool_calls.iter().flat_map(|c| c.as_array().unwrap()) {
            let index = usize::try_from(call["index"].as_u64().unwrap()).unwrap();
            if index == calls.len() {
                calls.push(Default::default());
            }
            let entry = &mut calls[index];
            if let Some(id) = call["id"].as_str() {
                entry.0 = id.into();
            }
            if let Some(name) = call["function"]["name"].as_str() {
                entry.1 = name.into();
            }
            entry
                .2
                .push_str(call["function"]["arguments"].as_str().unwrap_or_default());
        }
    }
    assert_eq!(
        calls,
        [
            ("toolu_A".into(), "get_weather".into(), r#"{"city": "Oslo"}"#.into()),
            ("toolu_B".into(), "now".into(), "{}".into())
        ]
    );
}

#[test]
fn streamed_json_tool_input_is_content_and_finishes_with_stop() {
    let input = TOOL_STREAM
        .replace("\"name\":\"get_weather\"", "\"name\":\"pick\"")
        .replace(
            ",\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_B\",\"name\":\"now\",\"input\":{}}",
            ",\"content_block\":{\"type\":\"text\",\"text\":\"\"}",
        )
        .replace(
            "\"index\":4,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}",
            "\"index\":4,\"delta\":{\"type\":\"text_delta\",\"text\":\".\"}",
        );
    let items = translate_stream(input.as_bytes(), 13, Some("pick"));
    let content: String = items
        .iter()
        .filter_map(|i| i.chunk.choices.first()?.delta.content.clone())
        .collect();
    assert_eq!(content, "Checking \u{1F326}{\"city\": \"Oslo\"} and.");
    assert!(
        items
            .iter()
            .all(|i| i.chunk.choices.first().is_none_or(|c| c.delta.tool_calls.is_none()))
    );
    assert_eq!(
        items[items.len() - 2].chunk.choices[0].finish_reason.as_deref(),
        Some("stop")
    );
}
