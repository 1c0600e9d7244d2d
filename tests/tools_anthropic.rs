//! Chat Completions fidelity through the Anthropic route, end to end: an OpenAI-shaped request
//! with tools, tool results, images or JSON mode goes through the router to the simulated
//! Anthropic API and comes back in OpenAI's shape (`orchestration` goes to Anthropic by default).

mod support;

use farmhand::config::UnscannableRoute;
use serde_json::{Value, json};
use support::stack::{Stack, route};

fn weather_tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city", "days"]}}},
        {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object",
            "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}}
    ])
}

fn ask(extra: Value) -> Value {
    let mut body = json!({"model": "orchestration", "max_tokens": 64,
        "messages": [{"role": "user", "content": "What is the weather in Oslo?"}]});
    for (key, value) in extra.as_object().expect("an object") {
        body[key] = value.clone();
    }
    body
}

async fn post(stack: &Stack, client: &reqwest::Client, body: Value) -> (String, Value) {
    let response = stack.chat(client, body).await;
    let status = response.status();
    let route = route(&response);
    let json: Value = response.json().await.expect("a JSON answer");
    assert_eq!(status, 200, "{json}");
    (route, json)
}

/// `(id, name, arguments)` of a completion's tool calls.
fn calls(completion: &Value) -> Vec<(String, String, Value)> {
    completion["choices"][0]["message"]["tool_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            assert_eq!(c["type"], "function");
            let arguments = c["function"]["arguments"].as_str().expect("arguments are a string");
            (
                c["id"].as_str().expect("an id").to_string(),
                c["function"]["name"].as_str().expect("a name").to_string(),
                serde_json::from_str(arguments).expect("arguments are JSON"),
            )
        })
        .collect()
}

/// The SSE `data:` payloads of a streamed answer, `[DONE]` last.
async fn stream(stack: &Stack, client: &reqwest::Client, body: Value) -> Vec<String> {
    let response = stack.chat(client, body).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("a body");
    text.split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(String::from)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_calls_round_trip_whole_and_streamed() {
    let stack = Stack::start(1, None, |_| {}).await;
    let client = reqwest::Client::new();

    // One call when parallel calls are off; its arguments fill the required properties.
    let (route, single) = post(
        &stack,
        &client,
        ask(json!({"tools": weather_tools(), "parallel_tool_calls": false})),
    )
    .await;
    assert!(route.contains("anthropic"), "{route}");
    assert_eq!(single["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(single["choices"][0]["message"]["content"], Value::Null);
    let single_calls = calls(&single);
    assert_eq!(single_calls.len(), 1);
    assert_eq!(single_calls[0].1, "get_weather");
    assert_eq!(single_calls[0].2, json!({"city": "sample", "days": 1}));

    // Parallel calls: one per tool.
    let (_, parallel) = post(&stack, &client, ask(json!({"tools": weather_tools()}))).await;
    let names: Vec<String> = calls(&parallel).into_iter().map(|c| c.1).collect();
    assert_eq!(names, ["get_weather", "get_time"]);

    // A forced function.
    let (_, forced) = post(
        &stack,
        &client,
        ask(json!({"tools": weather_tools(), "tool_choice": {"type": "function", "function": {"name": "get_time"}}})),
    )
    .await;
    assert_eq!(calls(&forced)[0].2, json!({"zone": "sample"}));

    // `none`: text.
    let (_, none) = post(
        &stack,
        &client,
        ask(json!({"tools": weather_tools(), "tool_choice": "none"})),
    )
    .await;
    assert!(matches!(
        none["choices"][0]["finish_reason"].as_str(),
        Some("stop" | "length")
    ));
    assert!(
        none["choices"][0]["message"]["content"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );

    // The conversation goes on with the results, as the openai clients send it.
    let parallel_message = parallel["choices"][0]["message"].clone();
    let mut messages = vec![
        json!({"role": "system", "content": "You answer about the weather."}),
        json!({"role": "user", "content": "What is the weather in Oslo?"}),
        parallel_message,
    ];
    for (id, name, _) in calls(&parallel) {
        messages.push(json!({"role": "tool", "tool_call_id": id, "content": format!("{name}: 4 C, cloudy")}));
    }
    let (_, answer) = post(
        &stack,
        &client,
        json!({"model": "orchestration", "max_tokens": 64, "tools": weather_tools(), "messages": messages.clone()}),
    )
    .await;
    assert!(matches!(
        answer["choices"][0]["finish_reason"].as_str(),
        Some("stop" | "length")
    ));
    assert!(answer["choices"][0]["message"].get("tool_calls").is_none());
    assert!(
        answer["choices"][0]["message"]["content"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    // And once more: the user asks again, so the model may call a tool again.
    messages.push(answer["choices"][0]["message"].clone());
    messages.push(json!({"role": "user", "content": "And in Rome?"}));
    let (_, again) = post(
        &stack,
        &client,
        json!({"model": "orchestration", "max_tokens": 64, "tools": weather_tools(), "messages": messages}),
    )
    .await;
    assert_eq!(again["choices"][0]["finish_reason"], "tool_calls");

    // Streamed: reassembled from the deltas like the openai clients do.
    let events = stream(
        &stack,
        &client,
        ask(json!({"tools": weather_tools(), "stream": true, "stream_options": {"include_usage": true}})),
    )
    .await;
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).expect("a JSON chunk"))
        .collect();
    let mut assembled: Vec<(String, String, String)> = Vec::new();
    let mut finish = None;
    for chunk in &chunks {
        let Some(choice) = chunk["choices"].get(0) else {
            continue;
        };
        if let Some(reason) = choice["finish_reason"].as_str() {
            finish = Some(reason.to_string());
        }
        for call in choice["delta"]["tool_calls"].as_array().into_iter().flatten() {
            let index = call["index"].as_u64().expect("an index") as usize;
            if index == assembled.len() {
                assembled.push(Default::default());
            }
            let entry = &mut assembled[index];
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
    assert_eq!(finish.as_deref(), Some("tool_calls"));
    assert_eq!(assembled.len(), 2);
    assert!(assembled.iter().all(|c| c.0.starts_with("toolu_")));
    assert_eq!(assembled[0].1, "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(&assembled[0].2).expect("arguments reassemble to JSON"),
        json!({"city": "sample", "days": 1})
    );
    let fragments = chunks
        .iter()
        .filter(|c| {
            c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .is_some_and(|a| !a.is_empty())
        })
        .count();
    assert!(fragments > 2, "arguments arrive in several deltas ({fragments})");
    assert!(
        chunks
            .last()
            .is_some_and(|c| c["usage"]["prompt_tokens"].as_u64() > Some(0))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_schema_images_and_untranslatable_fields() {
    let stack = Stack::start(1, None, |c| c.policy.unscannable = UnscannableRoute::Frontier).await;
    let client = reqwest::Client::new();

    let schema = json!({"type": "object", "properties": {"node": {"type": "string"}, "free_gb": {"type": "number"}},
        "required": ["node", "free_gb"], "additionalProperties": false});
    let format = json!({"type": "json_schema", "json_schema": {"name": "pick", "schema": schema, "strict": true}});
    let (route, picked) = post(&stack, &client, ask(json!({"response_format": format}))).await;
    assert!(route.contains("anthropic"), "{route}");
    assert_eq!(picked["choices"][0]["finish_reason"], "stop");
    assert!(picked["choices"][0]["message"].get("tool_calls").is_none());
    let content = picked["choices"][0]["message"]["content"]
        .as_str()
        .expect("JSON content");
    assert_eq!(
        serde_json::from_str::<Value>(content).expect("content is JSON"),
        json!({"node": "sample", "free_gb": 1.5})
    );

    // Streamed JSON mode: the content deltas concatenate to the JSON answer.
    let events = stream(
        &stack,
        &client,
        ask(json!({"response_format": {"type": "json_object"}, "stream": true})),
    )
    .await;
    let content: String = events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(String::from))
        .collect();
    assert_eq!(serde_json::from_str::<Value>(&content).expect("JSON"), json!({}));

    // An image part goes as an image block (and the unscannable policy lets it leave).
    let image = json!({"model": "orchestration", "max_tokens": 32, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="}}
    ]}]});
    let (route, described) = post(&stack, &client, image).await;
    assert!(route.contains("anthropic"), "{route}");
    assert!(
        described["choices"][0]["message"]["content"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );

    // `n: 2` is the agent's error: a 400 naming the field; a fallback to a node would have answered 200.
    for (field, extra) in [
        ("n", json!({"n": 2})),
        ("logprobs", json!({"logprobs": true})),
        (
            "messages[0].content[0]",
            json!({"messages": [{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}]}),
        ),
    ] {
        let response = stack.chat(&client, ask(extra)).await;
        assert_eq!(response.status(), 400, "{field}");
        let error: Value = response.json().await.expect("an OpenAI error");
        assert_eq!(error["error"]["type"], "invalid_request_error");
        assert_eq!(error["error"]["code"], "unsupported_field");
        assert_eq!(error["error"]["param"], field);
        let message = error["error"]["message"].as_str().expect("a message");
        assert!(message.contains(&format!("`{field}`")), "{message}");
        assert!(!message.contains("Oslo"), "no request content in the error: {message}");
    }
}
