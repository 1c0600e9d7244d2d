//! Chat Completions fidelity on the local route, end to end over real HTTP: tools, images and JSON
//! mode reach the simulated Ollama nodes as sent and come back in Ollama's shapes; placement
//! knows which models can serve them; a request falling back between a node and the frontier
//! keeps its tools, images and format in both directions.

mod support;

use farmhand::config::UnscannableRoute;
use farmhand::domain::Capability;
use farmhand::sim::FaultKind;
use serde_json::{Value, json};
use support::stack::{Stack, route};

/// A 1×1 PNG as a data URL (Ollama takes images as base64 data URLs only).
const PNG: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
/// A model that calls tools and sees images (pulled onto a node by the tests that need it).
const SEEING: &str = "qwen3-vl:8b";

fn weather_tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "lookup_forecast_v2", "description": "Weather of a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city", "days"]}}},
        {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object",
            "properties": {"zone": {"type": "string", "enum": ["UTC", "CET"]}}, "required": ["zone"]}}}
    ])
}

/// A `json_schema` response format whose property names are unique enough to be spotted upstream.
fn forecast_format() -> Value {
    json!({"type": "json_schema", "json_schema": {"name": "forecast", "schema": {"type": "object",
        "properties": {"forecast_summary_text": {"type": "string"}, "rain_probability": {"type": "number"}},
        "required": ["forecast_summary_text", "rain_probability"]}}})
}

fn ask(class: &str, extra: Value) -> Value {
    let mut body = json!({"model": class, "max_tokens": 256,
        "messages": [{"role": "user", "content": "What is the weather in Oslo?"}]});
    for (key, value) in extra.as_object().expect("an object") {
        body[key] = value.clone();
    }
    body
}

/// The question with an image part.
fn with_image(mut body: Value) -> Value {
    body["messages"][0]["content"] = json!([
        {"type": "text", "text": "What is the weather on this photo?"},
        {"type": "image_url", "image_url": {"url": PNG}}
    ]);
    body
}

async fn post(stack: &Stack, client: &reqwest::Client, body: Value) -> (reqwest::StatusCode, String, String, Value) {
    let response = stack.chat(client, body).await;
    let status = response.status();
    let route = route(&response);
    let decision = response
        .headers()
        .get("x-farmhand-decision")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let json: Value = response.json().await.expect("a JSON answer");
    (status, route, decision, json)
}

/// `(index, id, name, arguments)` of tool calls on the wire (OpenAI's whole replies have no index; Ollama's do).
fn calls(tool_calls: &Value) -> Vec<(Option<u64>, String, String, Value)> {
    tool_calls
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            assert_eq!(c["type"], "function", "{c}");
            let arguments = c["function"]["arguments"].as_str().expect("arguments are a string");
            (
                c["index"].as_u64(),
                c["id"].as_str().expect("an id").to_string(),
                c["function"]["name"].as_str().expect("a name").to_string(),
                serde_json::from_str(arguments).expect("arguments are JSON"),
            )
        })
        .collect()
}

/// The arguments fit `weather_tools()`: every required property, of its type.
fn assert_fits_weather_schema(name: &str, arguments: &Value) {
    match name {
        "lookup_forecast_v2" => {
            assert!(
                arguments["city"].is_string() && arguments["days"].is_i64(),
                "{arguments}"
            );
        }
        "get_time" => assert!(
            ["UTC", "CET"].contains(&arguments["zone"].as_str().unwrap_or_default()),
            "{arguments}"
        ),
        other => panic!("a call to a tool never offered: {other}"),
    }
}

/// The SSE `data:` payloads of a streamed answer, `[DONE]` last.
async fn stream(stack: &Stack, client: &reqwest::Client, body: Value) -> (String, Vec<String>) {
    let response = stack.chat(client, body).await;
    assert_eq!(response.status(), 200);
    let route = route(&response);
    let text = response.text().await.expect("a body");
    let events = text
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(String::from)
        .collect();
    (route, events)
}

/// A conversation that called `lookup_forecast_v2` and carries its result.
fn answered(class: &str, extra: Value) -> Value {
    let mut body = ask(class, extra);
    body["messages"] = json!([
        {"role": "user", "content": "What is the weather in Oslo?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_4f2k9x1a", "type": "function",
            "function": {"name": "lookup_forecast_v2", "arguments": "{\"city\":\"Oslo\",\"days\":1}"}}]},
        {"role": "tool", "tool_call_id": "call_4f2k9x1a", "content": "Rain, 9 °C"}
    ]);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_call_tools_whole_streamed_and_across_turns() {
    let stack = Stack::start(1, None, |_| {}).await;
    let client = reqwest::Client::new();

    // Routine work stays local on llama3.1:8b, which calls tools: both offered tools, in order.
    let (status, route, _, reply) = post(&stack, &client, ask("routine", json!({"tools": weather_tools()}))).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(route, "local/mini-01/llama3.1:8b");
    let choice = &reply["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(
        choice["message"]["content"], "",
        "Ollama's tool-call reply has empty content"
    );
    let made = calls(&choice["message"]["tool_calls"]);
    let names: Vec<&str> = made.iter().map(|(_, _, n, _)| n.as_str()).collect();
    assert_eq!(names, ["lookup_forecast_v2", "get_time"]);
    for (i, (index, id, name, arguments)) in made.iter().enumerate() {
        assert_eq!(*index, Some(i as u64));
        assert!(id.starts_with("call_") && id.len() == 13, "{id}");
        assert_fits_weather_schema(name, arguments);
    }
    let usage = &reply["usage"];
    assert!(usage["completion_tokens"].as_u64() > Some(0), "{usage}");

    // Streamed: one delta with every call (index, id, type, name, arguments), then the finish
    // chunk, the usage chunk asked for, and [DONE].
    let (route, events) = stream(
        &stack,
        &client,
        ask(
            "routine",
            json!({"tools": weather_tools(), "stream": true, "stream_options": {"include_usage": true}}),
        ),
    )
    .await;
    assert!(route.starts_with("local/"), "{route}");
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).expect("a JSON chunk"))
        .collect();
    let with_calls: Vec<&Value> = chunks
        .iter()
        .filter(|c| c["choices"][0]["delta"].get("tool_calls").is_some())
        .collect();
    assert_eq!(with_calls.len(), 1, "{chunks:?}");
    let delta = &with_calls[0]["choices"][0]["delta"];
    assert_eq!(delta["role"], "assistant");
    let streamed = calls(&delta["tool_calls"]);
    assert_eq!(
        streamed.iter().map(|(i, _, n, _)| (*i, n.as_str())).collect::<Vec<_>>(),
        [(Some(0), "lookup_forecast_v2"), (Some(1), "get_time")]
    );
    let finish: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["finish_reason"].as_str().map(|_| c))
        .collect();
    assert_eq!(finish.len(), 1);
    assert_eq!(finish[0]["choices"][0]["finish_reason"], "tool_calls");
    let last = chunks.last().expect("chunks");
    assert!(
        last["choices"].as_array().is_some_and(Vec::is_empty) && last["usage"]["total_tokens"].as_u64() > Some(0),
        "{last}"
    );

    // The tool's result comes back: the model answers in text.
    let (status, _, _, reply) = post(&stack, &client, answered("routine", json!({"tools": weather_tools()}))).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["choices"][0]["finish_reason"], "stop");
    assert!(
        reply["choices"][0]["message"]["content"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert!(reply["choices"][0]["message"].get("tool_calls").is_none());

    // `tool_choice: "none"`: the node is not offered the tools, so it answers in text.
    let (status, _, _, reply) = post(
        &stack,
        &client,
        ask("routine", json!({"tools": weather_tools(), "tool_choice": "none"})),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["choices"][0]["finish_reason"], "stop", "{reply}");

    let seen = stack.farm.node_requests("mini-01");
    let tools: Vec<usize> = seen.iter().map(|r| r.tools).collect();
    assert_eq!(tools, [2, 2, 2, 0], "what the node was offered, request by request");
    assert!(seen.iter().all(|r| r.model == "llama3.1:8b"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_mode_is_honoured_on_a_node() {
    let stack = Stack::start(1, None, |_| {}).await;
    let client = reqwest::Client::new();

    let (status, route, _, reply) = post(
        &stack,
        &client,
        ask("routine", json!({"response_format": forecast_format()})),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert!(route.starts_with("local/"), "{route}");
    let content = reply["choices"][0]["message"]["content"].as_str().expect("content");
    let value: Value = serde_json::from_str(content).expect("the content is JSON");
    assert!(
        value["forecast_summary_text"].is_string() && value["rain_probability"].is_number(),
        "{value}"
    );

    let (_, events) = stream(
        &stack,
        &client,
        ask(
            "routine",
            json!({"response_format": {"type": "json_object"}, "stream": true}),
        ),
    )
    .await;
    let text: String = events
        .iter()
        .filter(|e| *e != "[DONE]")
        .map(|e| serde_json::from_str::<Value>(e).expect("a chunk"))
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str().map(String::from))
        .collect();
    assert!(
        serde_json::from_str::<Value>(&text).is_ok_and(|v| v.is_object()),
        "{text}"
    );

    // After a tool round, the format still holds.
    let (status, _, _, reply) = post(
        &stack,
        &client,
        answered(
            "routine",
            json!({"tools": weather_tools(), "response_format": forecast_format()}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let content = reply["choices"][0]["message"]["content"].as_str().expect("content");
    let value: Value = serde_json::from_str(content).expect("the content is JSON");
    assert!(value["forecast_summary_text"].is_string(), "{value}");
    let formats: Vec<Option<&str>> = stack.farm.node_requests("mini-01").iter().map(|r| r.format).collect();
    assert_eq!(formats, [Some("json_schema"), Some("json_object"), Some("json_schema")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_go_only_to_models_that_see() {
    let stack = Stack::start(1, None, |config| {
        config.models.sensitive = SEEING.into();
    })
    .await;
    let client = reqwest::Client::new();

    // Images stay on the farm (policy.unscannable = local): sensitive work, on the vision model.
    stack.pull("mini-01", SEEING).await;
    let (status, route, decision, reply) = post(&stack, &client, with_image(ask("routine", json!({})))).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(route, format!("local/mini-01/{SEEING}"));
    assert!(decision.contains("sensitive=unscannable:image_url"), "{decision}");
    let seen = stack.farm.node_requests("mini-01");
    assert_eq!(seen.last().map(|r| (r.model.as_str(), r.images)), Some((SEEING, 1)));

    // Tools and an image together, on the model that does both.
    let (status, _, _, reply) = post(
        &stack,
        &client,
        with_image(ask("sensitive", json!({"tools": weather_tools()}))),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["choices"][0]["finish_reason"], "tool_calls");

    // An image URL cannot reach Ollama (it takes data URLs only): refused, naming the part.
    let mut remote = with_image(ask("sensitive", json!({})));
    remote["messages"][0]["content"][1]["image_url"]["url"] = json!("https://photos.example.com/oslo.png");
    let (status, _, _, error) = post(&stack, &client, remote).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["code"], "unsupported_field");
    assert_eq!(error["error"]["param"], "messages[0].content[1].image_url");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("data URLs")),
        "{error}"
    );
    assert!(!stack.farm.frontier_received_containing("photos.example.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_for_a_farm_that_cannot_see_is_refused_naming_vision() {
    // No model on this farm sees (the node may have gemma3, which does, so the table says not).
    let stack = Stack::start(1, None, |config| {
        config
            .models
            .capabilities
            .insert("gemma3".into(), vec![Capability::Completion]);
    })
    .await;
    let client = reqwest::Client::new();
    let (status, _, _, error) = post(&stack, &client, with_image(ask("routine", json!({})))).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["code"], "unsupported_capability");
    assert_eq!(error["error"]["param"], "image_url");
    let message = error["error"]["message"].as_str().unwrap_or_default();
    for words in ["`vision`", "`sensitive`", "qwen3:14b", "never leaves the farm"] {
        assert!(message.contains(words), "{words}: {message}");
    }
    assert!(
        stack.farm.node_requests("mini-01").is_empty(),
        "nothing reached the node"
    );
    assert!(
        !stack
            .farm
            .frontier_received_containing("What is the weather on this photo?")
    );

    stack.gateway.flush().await;
    let rows = stack.store.recent_decisions(1).await.expect("decisions");
    let record = &rows[0].record;
    assert_eq!(
        (record.status, record.error.as_deref()),
        (400, Some("unsupported_capability"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_without_tools_is_refused_by_ollama_and_never_chosen_by_the_router() {
    // No model on this farm calls tools, as far as the router knows, so no other model stands in.
    let stack = Stack::start(1, None, |config| {
        config.models.routine = "phi4:14b".into();
        config.models.sensitive = "phi4:14b".into();
        for family in ["llama3.1", "qwen3", "llama3.2"] {
            config
                .models
                .capabilities
                .insert(family.into(), vec![Capability::Completion]);
        }
    })
    .await;
    stack.pull("mini-01", "phi4:14b").await;
    let client = reqwest::Client::new();

    // Ollama itself: a 400 in its own words.
    let node = stack.farm.node_url("mini-01").expect("node");
    let response = client
        .post(format!("{node}/v1/chat/completions"))
        .json(&ask("phi4:14b", json!({"tools": weather_tools()})))
        .send()
        .await
        .expect("the node answers");
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.expect("JSON");
    assert_eq!(
        error,
        json!({"error": {"message": "registry.ollama.ai/library/phi4:14b does not support tools",
            "type": "invalid_request_error", "param": null, "code": null}})
    );

    // The router never places tool work on it: routine work goes to the frontier instead…
    let (status, route, decision, reply) =
        post(&stack, &client, ask("routine", json!({"tools": weather_tools()}))).await;
    assert_eq!(status, 200, "{reply}");
    assert!(route.starts_with("frontier/"), "{route}");
    assert!(
        decision.contains("reason=capability") && decision.contains("fallback=to_frontier"),
        "{decision}"
    );
    // …plain text still runs on it…
    let (_, route, _, _) = post(&stack, &client, ask("routine", json!({}))).await;
    assert_eq!(route, "local/mini-01/phi4:14b");
    // …and sensitive tool work, which may not leave, is a clear 400.
    let (status, _, _, error) = post(&stack, &client, ask("sensitive", json!({"tools": weather_tools()}))).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(
        (error["error"]["code"].clone(), error["error"]["param"].clone()),
        (json!("unsupported_capability"), json!("tools"))
    );
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("`tools`") && message.contains("phi4:14b"), "{message}");
    assert_eq!(
        stack
            .farm
            .node_requests("mini-01")
            .iter()
            .filter(|r| r.tools > 0)
            .count(),
        1,
        "only the direct call"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_ollama_cannot_carry_never_reaches_a_node() {
    let stack = Stack::start(1, None, |_| {}).await;
    let client = reqwest::Client::new();
    for (extra, param) in [
        (
            json!({"tools": weather_tools(), "tool_choice": "required"}),
            "tool_choice",
        ),
        (
            json!({"tools": weather_tools(), "parallel_tool_calls": false}),
            "parallel_tool_calls",
        ),
        (json!({"n": 2}), "n"),
    ] {
        let (status, _, _, error) = post(&stack, &client, ask("sensitive", extra.clone())).await;
        assert_eq!(status, 400, "{extra}: {error}");
        assert_eq!(
            (error["error"]["code"].clone(), error["error"]["param"].clone()),
            (json!("unsupported_field"), json!(param))
        );
        // Work that may leave goes where it can be carried.
        let (status, route, _, _) = post(&stack, &client, ask("routine", extra.clone())).await;
        assert_eq!(status, 200, "{extra}");
        assert!(route.starts_with("frontier/"), "{extra}: {route}");
    }
    assert!(stack.farm.node_requests("mini-01").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_failing_hands_the_frontier_the_same_tools_image_and_format() {
    let stack = Stack::start(1, None, |config| {
        config.policy.unscannable = UnscannableRoute::Frontier;
        config.models.routine = SEEING.into();
        config.frontier.routine = config.frontier.reasoning.clone();
    })
    .await;
    stack.pull("mini-01", SEEING).await;
    stack
        .farm
        .set_fault("mini-01", Some(FaultKind::Error500))
        .expect("fault set");
    let client = reqwest::Client::new();

    let body = with_image(ask(
        "routine",
        json!({"tools": weather_tools(), "response_format": forecast_format()}),
    ));
    let (status, route, decision, reply) = post(&stack, &client, body).await;
    assert_eq!(status, 200, "{reply}");
    assert!(route.starts_with("frontier/anthropic/"), "{route}");
    assert!(decision.contains("fallback=to_frontier"), "{decision}");
    for carried in [
        "lookup_forecast_v2",
        "forecast_summary_text",
        &PNG["data:image/png;base64,".len()..],
    ] {
        assert!(
            stack.farm.frontier_received_containing(carried),
            "the frontier never got {carried}"
        );
    }
    let choice = &reply["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls", "{reply}");
    for (_, _, name, arguments) in calls(&choice["message"]["tool_calls"]) {
        assert_fits_weather_schema(&name, &arguments);
    }

    stack.gateway.flush().await;
    let rows = stack.store.recent_decisions(1).await.expect("decisions");
    assert_eq!(rows[0].record.fallback.as_str(), "to_frontier");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_frontier_failing_hands_a_node_the_same_tools_image_and_format() {
    let stack = Stack::start(1, None, |config| {
        config.policy.unscannable = UnscannableRoute::Frontier;
        config.models.orchestration = SEEING.into();
    })
    .await;
    stack.pull("mini-01", SEEING).await;
    stack
        .farm
        .set_fault("frontier", Some(FaultKind::Error500))
        .expect("fault set");
    let client = reqwest::Client::new();

    let body = with_image(ask(
        "orchestration",
        json!({"tools": weather_tools(), "response_format": forecast_format()}),
    ));
    let (status, route, decision, reply) = post(&stack, &client, body).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(route, format!("local/mini-01/{SEEING}"));
    assert!(decision.contains("fallback=to_local"), "{decision}");
    let seen = stack.farm.node_requests("mini-01");
    let last = seen.last().expect("the node got the request");
    assert_eq!((last.tools, last.images, last.format), (2, 1, Some("json_schema")));
    let choice = &reply["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls", "{reply}");
    for (_, _, name, arguments) in calls(&choice["message"]["tool_calls"]) {
        assert_fits_weather_schema(&name, &arguments);
    }

    // The next turn, with the tool's result: the node answers in the format asked for.
    let (status, route, _, reply) = post(
        &stack,
        &client,
        answered(
            "orchestration",
            json!({"tools": weather_tools(), "response_format": forecast_format()}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert!(route.starts_with("local/"), "{route}");
    let content = reply["choices"][0]["message"]["content"].as_str().expect("content");
    let value: Value = serde_json::from_str(content).expect("JSON content");
    assert!(value["rain_probability"].is_number(), "{value}");

    stack.gateway.flush().await;
    let rows = stack.store.recent_decisions(2).await.expect("decisions");
    assert!(
        rows.iter().all(|r| r.record.fallback.as_str() == "to_local"),
        "{rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_the_nodes_cannot_carry_gets_tool_calls_from_the_openai_kind_frontier() {
    let stack = Stack::start(1, None, |_| {}).await;
    let client = reqwest::Client::new();
    let forced = json!({"tools": weather_tools(), "tool_choice": "required", "parallel_tool_calls": false});

    // Ollama would ignore a forced choice, so routine work goes to its OpenAI-kind target, which
    // calls one tool (parallel calls were turned off) with arguments that fit its schema.
    let (status, route, _, reply) = post(&stack, &client, ask("routine", forced.clone())).await;
    assert_eq!(status, 200, "{reply}");
    assert!(route.starts_with("frontier/openai/"), "{route}");
    assert_eq!(reply["choices"][0]["finish_reason"], "tool_calls");
    let calls = reply["choices"][0]["message"]["tool_calls"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(calls.len(), 1, "{reply}");
    assert_eq!(calls[0]["function"]["name"], "lookup_forecast_v2");
    let arguments: Value =
        serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap_or("")).expect("JSON arguments");
    assert!(
        arguments["city"].is_string() && arguments["days"].is_i64(),
        "{arguments}"
    );

    // Streamed, the call opens with its id and name and its arguments follow in fragments.
    let mut streamed = ask("routine", forced);
    streamed["stream"] = json!(true);
    let (route, events) = stream(&stack, &client, streamed).await;
    assert!(route.starts_with("frontier/openai/"), "{route}");
    let chunks: Vec<Value> = events.iter().filter_map(|e| serde_json::from_str(e).ok()).collect();
    let deltas: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0))
        .collect();
    assert_eq!(deltas[0]["function"]["name"], "lookup_forecast_v2");
    assert!(deltas[0]["id"].is_string());
    let rebuilt: String = deltas
        .iter()
        .filter_map(|d| d["function"]["arguments"].as_str())
        .collect();
    let rebuilt: Value = serde_json::from_str(&rebuilt).expect("the fragments make JSON");
    assert!(rebuilt["city"].is_string(), "{rebuilt}");
    assert!(
        chunks.iter().any(|c| c["choices"][0]["finish_reason"] == "tool_calls"),
        "{events:?}"
    );
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
}
