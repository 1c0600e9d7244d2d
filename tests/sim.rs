//! The simulated farm over real HTTP on loopback: Ollama fidelity, frontier APIs, faults, config.

use std::time::Duration;

use farmhand::config::{FleetConfig, PullTransport};
use farmhand::sim::{FaultKind, SimError, SimFarm, SimOptions};
use farmhand::wire::ollama::{BUSY_TEXT, ChatChunk, GenerateChunk, PsResponse, PullProgress, TagsResponse};
use farmhand::wire::openai::{ChatCompletion, ChatCompletionChunk, ModelList};
use farmhand::wire::{AgentMetrics, SseEvent, SseParser};
use futures::StreamExt;
use serde_json::{Value, json};

async fn farm(nodes: u16, time_scale: f64) -> SimFarm {
    SimFarm::start(SimOptions::ephemeral(nodes, time_scale))
        .await
        .expect("the farm starts")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap()
}

fn lines(body: &str) -> Vec<Value> {
    body.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn content_type(response: &reqwest::Response) -> String {
    response.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string()
}

async fn post(url: String, body: Value) -> reqwest::Response {
    client().post(url).json(&body).send().await.unwrap()
}

fn sse(body: &str) -> Vec<SseEvent> {
    SseParser::new().feed(body.as_bytes()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_streams_progress_in_order_and_installs_the_model() {
    let farm = farm(2, 0.01).await;
    let node = farm.node_url("mini-02").unwrap();
    let response = post(format!("{node}/api/pull"), json!({"model": "mistral:7b"})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(content_type(&response), "application/x-ndjson");
    let progress: Vec<PullProgress> = response
        .text()
        .await
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(progress.first().unwrap().status, "pulling manifest");
    assert_eq!(progress.last().unwrap(), &PullProgress::status("success"));
    let statuses: Vec<&str> = progress.iter().map(|p| p.status.as_str()).collect();
    let verify = statuses.iter().position(|s| *s == "verifying sha256 digest").unwrap();
    assert_eq!(statuses[verify + 1], "writing manifest");
    let layers: Vec<&PullProgress> = progress
        .iter()
        .filter(|p| p.status.starts_with("pulling ") && p.digest.is_some())
        .collect();
    assert!(
        layers.len() > 10,
        "progress lines while the weights download: {}",
        layers.len()
    );
    for line in &layers {
        let digest = line.digest.as_deref().unwrap();
        assert!(digest.starts_with("sha256:") && digest.len() == 71);
        assert_eq!(line.status, format!("pulling {}", &digest[7..19]));
        assert!(line.completed.is_none_or(|c| c > 0 && c <= line.total.unwrap()));
    }
    assert!(
        layers
            .windows(2)
            .all(|w| w[0].digest != w[1].digest || w[0].completed <= w[1].completed)
    );
    assert!(layers.iter().any(|l| l.completed == l.total), "every layer completes");

    let tags: TagsResponse = client()
        .get(format!("{node}/api/tags"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        tags.models
            .iter()
            .any(|m| m.name == "mistral:7b" && m.size > 4_000_000_000 && m.digest.len() == 64)
    );

    let again = post(
        format!("{node}/api/pull"),
        json!({"model": "mistral:7b", "stream": false}),
    )
    .await;
    assert_eq!(again.json::<Value>().await.unwrap(), json!({"status": "success"}));
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_pulls_end_with_an_error_line_or_status() {
    let farm = farm(1, 0.01).await;
    let node = &farm.node_urls()[0];
    let response = post(format!("{node}/api/pull"), json!({"model": "no-such-model:1b"})).await;
    assert_eq!(response.status(), 200, "the error comes after `pulling manifest`");
    let body = lines(&response.text().await.unwrap());
    assert_eq!(
        body,
        [
            json!({"status": "pulling manifest"}),
            json!({"error": "pull model manifest: file does not exist"})
        ]
    );

    let whole = post(
        format!("{node}/api/pull"),
        json!({"model": "no-such-model:1b", "stream": false}),
    )
    .await;
    assert_eq!(whole.status(), 500);
    let invalid = post(format!("{node}/api/pull"), json!({"model": "x; rm -rf ~"})).await;
    assert_eq!(invalid.status(), 400);
    assert!(invalid.json::<Value>().await.unwrap()["error"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn streamed_chat_ends_with_done_and_real_counters() {
    let farm = farm(1, 0.01).await;
    let node = &farm.node_urls()[0];
    let request = json!({"model": "llama3.1:8b", "messages": [{"role": "user", "content": "Summarise the node states please."}], "options": {"num_predict": 7}});
    let response = post(format!("{node}/api/chat"), request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(content_type(&response), "application/x-ndjson");
    let raw = lines(&response.text().await.unwrap());
    let (last, tokens) = raw.split_last().unwrap();
    assert_eq!(tokens.len(), 7);
    for chunk in tokens {
        assert_eq!(chunk["done"], false);
        assert_eq!(chunk["model"], "llama3.1:8b");
        assert!(
            chunk.get("eval_count").is_none() && chunk.get("done_reason").is_none(),
            "{chunk}"
        );
    }
    let last: ChatChunk = serde_json::from_value(last.clone()).unwrap();
    assert!(last.done);
    assert_eq!(last.done_reason.as_deref(), Some("length"));
    assert_eq!(last.message.content, "");
    let m = last.metrics;
    assert_eq!(m.eval_count, Some(7));
    assert_eq!(m.prompt_eval_count, Some(9), "33 characters ≈ 9 tokens");
    assert!(
        m.load_duration.unwrap() > 50_000_000,
        "cold load of 6.2 GB at 1.5 s/GB × 0.01"
    );
    assert!(m.total_duration.unwrap() >= m.load_duration.unwrap() + m.eval_duration.unwrap());
    assert!(m.prompt_eval_duration.unwrap() > 0 && m.eval_duration.unwrap() > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn non_streamed_chat_and_generate_are_one_object() {
    let farm = farm(1, 0.01).await;
    let node = &farm.node_urls()[0];
    let chat = post(
        format!("{node}/api/chat"),
        json!({"model": "llama3.1:8b", "stream": false, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert!(content_type(&chat).starts_with("application/json"));
    let chat: ChatChunk = chat.json().await.unwrap();
    assert!(chat.done && chat.message.content.len() > 20 && chat.message.role == "assistant");
    assert_eq!(chat.done_reason.as_deref(), Some("stop"));
    assert!(chat.metrics.eval_count.unwrap() >= 24);
    assert!(
        chat.metrics.load_duration.unwrap() > 50_000_000,
        "first use is a cold load: {:?}",
        chat.metrics
    );

    let generate = post(
        format!("{node}/api/generate"),
        json!({"model": "llama3.1:8b", "prompt": "Why?", "stream": false}),
    )
    .await;
    assert!(content_type(&generate).starts_with("application/json"));
    let generate: GenerateChunk = generate.json().await.unwrap();
    assert!(generate.done && !generate.response.is_empty() && generate.model == "llama3.1:8b");
    assert!(
        generate.metrics.load_duration.unwrap() < 20_000_000,
        "second use is warm: {:?}",
        generate.metrics
    );
    let untagged = post(
        format!("{node}/api/generate"),
        json!({"model": "llama3.1", "prompt": "Why?"}),
    )
    .await;
    assert_eq!(
        untagged.status(),
        404,
        "llama3.1 means llama3.1:latest, which is not installed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ps_shows_loaded_models_and_keep_alive_zero_unloads() {
    let farm = farm(1, 0.01).await;
    let node = &farm.node_urls()[0];
    let ps = || async {
        client()
            .get(format!("{node}/api/ps"))
            .send()
            .await
            .unwrap()
            .json::<PsResponse>()
            .await
            .unwrap()
    };
    assert!(ps().await.models.is_empty());

    let load = post(
        format!("{node}/api/chat"),
        json!({"model": "qwen3:14b", "messages": []}),
    )
    .await;
    let load: Value = load.json().await.unwrap();
    assert_eq!(load["done_reason"], "load");
    assert_eq!(load["message"], json!({"role": "assistant", "content": ""}));
    assert!(load.get("eval_count").is_none());

    let models = ps().await.models;
    assert_eq!(models.len(), 1);
    let model = &models[0];
    assert_eq!((model.name.as_str(), model.size_vram), ("qwen3:14b", model.size));
    assert!(model.size > 9_000_000_000);
    assert!(model.expires_at > chrono::Utc::now() + chrono::Duration::minutes(4));

    let unload: Value = post(
        format!("{node}/api/generate"),
        json!({"model": "qwen3:14b", "keep_alive": 0}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(unload["done_reason"], "unload");
    assert_eq!(unload["response"], "");
    assert!(ps().await.models.is_empty());

    let bad = post(
        format!("{node}/api/generate"),
        json!({"model": "qwen3:14b", "keep_alive": "300"}),
    )
    .await;
    assert_eq!(bad.status(), 400, "a bare number string is not a duration");
}

#[tokio::test(flavor = "multi_thread")]
async fn full_slots_and_queue_answer_503_with_the_exact_text() {
    // A slow cold load (1.9 s) holds the only slot long enough; generation itself is quick.
    let options = SimOptions {
        max_queue: 2,
        tokens_per_sec: 400.0,
        ..SimOptions::ephemeral(12, 0.2)
    };
    let farm = SimFarm::start(options).await.unwrap();
    let node = farm.node_url("mini-12").unwrap();
    assert_eq!(farm.fleet_config().nodes[11].parallel, Some(1));
    let request = json!({"model": "llama3.1:8b", "stream": false, "messages": [{"role": "user", "content": "hello"}]});
    let mut waiting = Vec::new();
    for _ in 0..3 {
        waiting.push(tokio::spawn(post(format!("{node}/api/chat"), request.clone())));
    }
    let queue = || {
        farm.node_summaries()
            .into_iter()
            .find(|n| n.name == "mini-12")
            .map(|n| (n.in_flight, n.queued))
    };
    wait_until("one request runs and two wait", async || queue() == Some((1, 2))).await;

    let busy = post(format!("{node}/api/chat"), request.clone()).await;
    assert_eq!(busy.status(), 503);
    assert_eq!(busy.text().await.unwrap(), format!("{{\"error\":\"{BUSY_TEXT}\"}}"));
    assert!(BUSY_TEXT.contains("again.  maximum"));
    let compat = post(
        format!("{node}/v1/chat/completions"),
        json!({"model": "llama3.1:8b", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(compat.status(), 503);
    let envelope: Value = compat.json().await.unwrap();
    assert_eq!(envelope["error"]["type"], "api_error");
    assert_eq!(envelope["error"]["message"], BUSY_TEXT);

    for handle in waiting {
        assert_eq!(
            handle.await.unwrap().status(),
            200,
            "queued requests are served in turn"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_compat_streams_with_usage_and_done() {
    let farm = farm(1, 0.01).await;
    let node = &farm.node_urls()[0];
    let request = json!({"model": "llama3.1:8b", "stream": true, "stream_options": {"include_usage": true}, "max_tokens": 4, "messages": [{"role": "user", "content": "abcdefgh"}]});
    let response = post(format!("{node}/v1/chat/completions"), request).await;
    assert_eq!(content_type(&response), "text/event-stream");
    let body = response.text().await.unwrap();
    assert!(!body.contains("event:"));
    let events = sse(&body);
    assert!(events.last().unwrap().is_done());
    let chunks: Vec<ChatCompletionChunk> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect();
    assert_eq!(chunks.len(), 4 + 2);
    assert_eq!(chunks[0].choices[0].delta.role.as_deref(), Some("assistant"));
    assert!(chunks[1].choices[0].delta.role.is_none());
    assert!(
        chunks
            .iter()
            .all(|c| c.id == chunks[0].id && c.created == chunks[0].created && c.object == "chat.completion.chunk")
    );
    assert_eq!(chunks[4].choices[0].finish_reason.as_deref(), Some("length"));
    assert!(
        chunks[..5].iter().all(|c| c.usage.is_none()),
        "Ollama sends no usage key on other chunks"
    );
    let usage = chunks[5].usage().unwrap();
    assert!(chunks[5].choices.is_empty());
    assert_eq!(
        (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens),
        (2, 4, 6)
    );

    let plain = post(
        format!("{node}/v1/chat/completions"),
        json!({"model": "llama3.1:8b", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert!(
        content_type(&plain).starts_with("application/json"),
        "default is not streaming"
    );
    let completion: ChatCompletion = plain.json().await.unwrap();
    assert_eq!(completion.object, "chat.completion");
    assert!(completion.id.starts_with("chatcmpl-"));
    assert_eq!(completion.choices[0].finish_reason.as_deref(), Some("stop"));
    assert!(completion.usage.unwrap().completion_tokens > 0);

    let no_usage = post(
        format!("{node}/v1/chat/completions"),
        json!({"model": "llama3.1:8b", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    let events = sse(&no_usage.text().await.unwrap());
    assert!(events.iter().all(|e| !e.data.contains("usage")));
    let empty = post(
        format!("{node}/v1/chat/completions"),
        json!({"model": "llama3.1:8b", "messages": []}),
    )
    .await;
    assert_eq!(empty.status(), 400);
    assert_eq!(
        empty.json::<Value>().await.unwrap()["error"]["message"],
        "[] is too short - 'messages'"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn v1_models_lists_installed_and_is_null_when_empty() {
    let farm = farm(1, 0.01).await;
    let node = &farm.node_urls()[0];
    let list: ModelList = client()
        .get(format!("{node}/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let data = list.data.unwrap();
    assert!(
        data.iter()
            .any(|m| m.id == "llama3.1:8b" && m.owned_by == "library" && m.object == "model" && m.created > 0)
    );
    for model in &data {
        let deleted = client()
            .delete(format!("{node}/api/delete"))
            .json(&json!({"model": model.id}))
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), 200);
        assert!(deleted.text().await.unwrap().is_empty());
    }
    let raw: Value = client()
        .get(format!("{node}/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(raw, json!({"object": "list", "data": null}));
    let tags: Value = client()
        .get(format!("{node}/api/tags"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tags, json!({"models": []}));
    let gone = client()
        .delete(format!("{node}/api/delete"))
        .json(&json!({"model": "llama3.1:8b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_models_are_404_in_each_shape() {
    let farm = farm(1, 0.01).await;
    let node = &farm.node_urls()[0];
    let chat = post(
        format!("{node}/api/chat"),
        json!({"model": "nope:1b", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(chat.status(), 404);
    assert_eq!(
        chat.json::<Value>().await.unwrap(),
        json!({"error": "model 'nope:1b' not found"})
    );
    let show = post(format!("{node}/api/show"), json!({"model": "nope:1b"})).await;
    assert_eq!(show.status(), 404);
    let compat = post(
        format!("{node}/v1/chat/completions"),
        json!({"model": "nope:1b", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(compat.status(), 404);
    assert_eq!(
        compat.json::<Value>().await.unwrap(),
        json!({"error": {"message": "model 'nope:1b' not found", "type": "not_found_error", "param": null, "code": null}})
    );
    let empty = client().post(format!("{node}/api/chat")).send().await.unwrap();
    assert_eq!(empty.status(), 400);
    assert_eq!(
        empty.json::<Value>().await.unwrap(),
        json!({"error": "missing request body"})
    );
    let show: Value = post(format!("{node}/api/show"), json!({"model": "qwen3:14b"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(show["model_info"]["qwen3.context_length"], 40960);
    let root = client().get(node.to_string()).send().await.unwrap();
    assert_eq!(root.text().await.unwrap(), "Ollama is running");
    let version: Value = client()
        .get(format!("{node}/api/version"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(version["version"].is_string());
}

async fn wait_until<F: AsyncFn() -> bool>(what: &str, check: F) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test(flavor = "multi_thread")]
async fn down_refuses_connections_then_recovers_on_the_same_port() {
    let farm = farm(2, 0.01).await;
    let node = farm.node_url("mini-02").unwrap();
    let admin = farm.frontier_url();
    let set = post(
        format!("{admin}/_sim/faults"),
        json!({"target": "mini-02", "kind": "down"}),
    )
    .await;
    assert_eq!(
        set.json::<Value>().await.unwrap(),
        json!({"faults": [{"target": "mini-02", "kind": "down"}]})
    );
    wait_until("mini-02 refuses", async || {
        client().get(node.clone()).send().await.is_err_and(|e| e.is_connect())
    })
    .await;
    assert!(
        client().get(farm.node_url("mini-01").unwrap()).send().await.is_ok(),
        "other nodes unaffected"
    );
    post(
        format!("{admin}/_sim/faults"),
        json!({"target": "mini-02", "kind": "none"}),
    )
    .await;
    wait_until("mini-02 is back", async || {
        client().get(node.clone()).send().await.is_ok()
    })
    .await;
    let faults: Value = client()
        .get(format!("{admin}/_sim/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(faults, json!({"faults": []}));
    let unknown = post(
        format!("{admin}/_sim/faults"),
        json!({"target": "mini-99", "kind": "down"}),
    )
    .await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn drop_cuts_the_stream_before_done() {
    let farm = farm(1, 0.01).await;
    farm.set_fault("mini-01", Some(FaultKind::Drop)).unwrap();
    let node = &farm.node_urls()[0];
    let response = post(
        format!("{node}/api/chat"),
        json!({"model": "llama3.1:8b", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    let mut failed = false;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => body.extend_from_slice(&bytes),
            Err(_) => failed = true,
        }
    }
    assert!(failed, "the connection closed mid-body");
    let text = String::from_utf8(body).unwrap();
    assert!(!text.contains("\"done\":true"), "{text}");
    assert!(text.lines().count() >= 1, "a few chunks arrive first: {text:?}");

    let compat = post(
        format!("{node}/v1/chat/completions"),
        json!({"model": "llama3.1:8b", "stream": true, "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    let text = compat.text().await.unwrap_or_default();
    assert!(!text.contains("[DONE]"));
}

#[tokio::test(flavor = "multi_thread")]
async fn node_faults_answer_in_the_endpoint_shape() {
    let farm = farm(1, 0.01).await;
    let node = &farm.node_urls()[0];
    let chat = json!({"model": "llama3.1:8b", "stream": false, "messages": [{"role": "user", "content": "x"}]});
    farm.set_fault("mini-01", Some(FaultKind::Error500)).unwrap();
    let failed = post(format!("{node}/api/chat"), chat.clone()).await;
    assert_eq!(failed.status(), 500);
    assert!(failed.json::<Value>().await.unwrap()["error"].is_string());
    farm.set_fault("mini-01", Some(FaultKind::RateLimited)).unwrap();
    let limited = post(format!("{node}/v1/chat/completions"), chat.clone()).await;
    assert_eq!(
        (
            limited.status().as_u16(),
            limited.headers()["retry-after"].to_str().unwrap()
        ),
        (429, "1")
    );
    assert!(limited.json::<Value>().await.unwrap()["error"]["message"].is_string());
    let metrics = client().get(format!("{node}/v1/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200, "the agent is not the faulty Ollama");
    farm.set_fault("mini-01", Some(FaultKind::Slow)).unwrap();
    let started = std::time::Instant::now();
    assert_eq!(post(format!("{node}/api/chat"), chat).await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(30));
    assert!(matches!(farm.set_fault("nowhere", None), Err(SimError::Fault(_))));
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_metrics_follow_loaded_models() {
    let farm = farm(1, 0.01).await;
    let node = &farm.node_urls()[0];
    let sample = || async {
        client()
            .get(format!("{node}/v1/metrics"))
            .send()
            .await
            .unwrap()
            .json::<AgentMetrics>()
            .await
            .unwrap()
    };
    let before = sample().await;
    assert_eq!(before.hostname, "mini-01");
    assert_eq!(before.memory_total_bytes, 64 << 30);
    assert_eq!(
        before.memory_used_bytes + before.memory_available_bytes,
        before.memory_total_bytes
    );
    post(format!("{node}/api/generate"), json!({"model": "llama3.1:8b"})).await;
    let after = sample().await;
    assert_eq!(after.memory_used_bytes - before.memory_used_bytes, 6_200_000_000);
    let text = client()
        .get(format!("{node}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("farmhand_node_memory_total_bytes 68719476736"));
}

#[tokio::test(flavor = "multi_thread")]
async fn frontier_anthropic_streams_the_exact_event_sequence_and_logs_hashes() {
    let farm = farm(1, 0.01).await;
    let url = format!("{}/v1/messages", farm.frontier_url());
    let body = json!({"model": "claude-sonnet-4-6", "max_tokens": 50, "stream": true, "system": "be terse", "messages": [{"role": "user", "content": "the quarterly plan"}]});
    let response = client()
        .post(&url)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(content_type(&response), "text/event-stream");
    let events = sse(&response.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|e| e.event.as_deref().unwrap()).collect();
    assert_eq!(&names[..3], ["message_start", "content_block_start", "ping"]);
    assert_eq!(
        &names[names.len() - 3..],
        ["content_block_stop", "message_delta", "message_stop"]
    );
    assert!(names[3..names.len() - 3].iter().all(|n| *n == "content_block_delta"));
    for event in &events {
        let data: Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(data["type"], event.event.as_deref().unwrap());
    }
    let start: Value = serde_json::from_str(&events[0].data).unwrap();
    assert_eq!(start["message"]["stop_reason"], Value::Null);
    assert_eq!(start["message"]["usage"]["cache_read_input_tokens"], 0);
    let delta: Value = serde_json::from_str(&events[names.len() - 2].data).unwrap();
    assert!(delta["usage"]["output_tokens"].as_u64().unwrap() > 0);

    let plain =
        json!({"model": "claude-haiku-4-5", "max_tokens": 3, "messages": [{"role": "user", "content": "short"}]});
    let reply: Value = client()
        .post(&url)
        .header("anthropic-version", "2023-06-01")
        .header("x-api-key", "k")
        .json(&plain)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["stop_reason"], "max_tokens");
    assert_eq!(reply["usage"]["output_tokens"], 3);
    assert_eq!(reply["content"][0]["type"], "text");

    let no_version = client().post(&url).json(&plain).send().await.unwrap();
    assert_eq!(no_version.status(), 400);
    assert_eq!(
        no_version.json::<Value>().await.unwrap()["error"]["type"],
        "invalid_request_error"
    );
    let empty_key = client()
        .post(&url)
        .header("anthropic-version", "2023-06-01")
        .header("x-api-key", "")
        .json(&plain)
        .send()
        .await
        .unwrap();
    assert_eq!(empty_key.status(), 401);

    let log = farm.frontier_log();
    assert_eq!(log.len(), 2, "rejected requests never reached a model");
    assert_eq!(
        (log[0].provider.as_str(), log[0].messages, log[0].stream),
        ("anthropic", 2, true)
    );
    assert!(farm.frontier_saw("the quarterly plan") && !farm.frontier_saw("quarterly"));
    let seen: Value = post(
        format!("{}/_sim/frontier/seen", farm.frontier_url()),
        json!({"text": "short"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(seen, json!({"seen": true}));
    let log_json = client()
        .get(format!("{}/_sim/frontier/log", farm.frontier_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!log_json.contains("quarterly"), "the log never holds text");
}

#[tokio::test(flavor = "multi_thread")]
async fn frontier_openai_streams_usage_null_then_usage() {
    let farm = farm(1, 0.01).await;
    let url = format!("{}/v1/chat/completions", farm.frontier_url());
    let body = json!({"model": "gpt-5.4-mini", "stream": true, "stream_options": {"include_usage": true}, "max_completion_tokens": 5, "messages": [{"role": "user", "content": "hello"}]});
    let events = sse(&post(url.clone(), body).await.text().await.unwrap());
    assert!(events.last().unwrap().is_done());
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect();
    let (usage, rest) = chunks.split_last().unwrap();
    assert!(rest.iter().all(|c| c.get("usage") == Some(&Value::Null)));
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 5);
    assert_eq!(rest.last().unwrap()["choices"][0]["finish_reason"], "length");
    let reply: Value = post(
        url,
        json!({"model": "gpt-5.4-mini", "messages": [{"role": "user", "content": "hello"}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(reply["object"], "chat.completion");
    assert_eq!(reply["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn frontier_openai_answers_n_choices_and_refuses_a_bad_n() {
    let farm = farm(1, 0.01).await;
    let url = format!("{}/v1/chat/completions", farm.frontier_url());
    let ask = |extra: Value| {
        let mut body = json!({"model": "gpt-5.4-mini", "max_completion_tokens": 4, "messages": [{"role": "user", "content": "hello"}]});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };

    let reply: Value = post(url.clone(), ask(json!({"n": 3}))).await.json().await.unwrap();
    let indices: Vec<u64> = reply["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, [0, 1, 2]);
    assert!(
        reply["choices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["message"]["content"].as_str().is_some_and(|t| !t.is_empty()))
    );
    assert_eq!(reply["usage"]["completion_tokens"], 12, "every choice's tokens count");

    // Streamed: each choice's chunks carry its index and end with its own finish reason.
    let events = sse(&post(
        url.clone(),
        ask(json!({"n": 2, "stream": true, "stream_options": {"include_usage": true}})),
    )
    .await
    .text()
    .await
    .unwrap());
    assert!(events.last().unwrap().is_done());
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect();
    for index in [0, 1] {
        let mine: Vec<&Value> = chunks.iter().filter(|c| c["choices"][0]["index"] == index).collect();
        assert_eq!(mine.first().unwrap()["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(mine.last().unwrap()["choices"][0]["finish_reason"], "length");
    }
    assert_eq!(chunks.last().unwrap()["usage"]["completion_tokens"], 8);

    for bad in [json!(0), json!(129), json!("2")] {
        let response = post(url.clone(), ask(json!({"n": bad}))).await;
        assert_eq!(response.status(), 400, "n = {bad}");
        let error: Value = response.json().await.unwrap();
        assert!(error["error"]["message"].as_str().unwrap().contains("'n'"), "{error}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn frontier_faults_529_retry_after_and_down_closes_connections() {
    let farm = farm(1, 0.01).await;
    let admin = farm.frontier_url();
    post(
        format!("{admin}/_sim/faults"),
        json!({"target": "frontier", "kind": "529"}),
    )
    .await;
    let anthropic =
        json!({"model": "claude-sonnet-4-6", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
    let overloaded = client()
        .post(format!("{admin}/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .json(&anthropic)
        .send()
        .await
        .unwrap();
    assert_eq!(overloaded.status().as_u16(), 529);
    assert_eq!(overloaded.headers()["retry-after"], "1");
    let body: Value = overloaded.json().await.unwrap();
    assert_eq!(
        (body["type"].as_str(), body["error"]["type"].as_str()),
        (Some("error"), Some("overloaded_error"))
    );
    let openai = post(
        format!("{admin}/v1/chat/completions"),
        json!({"model": "gpt-5.4-mini", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(openai.status(), 503);
    assert!(openai.headers().contains_key("retry-after"));
    assert!(openai.json::<Value>().await.unwrap()["error"]["message"].is_string());

    farm.set_fault("frontier", Some(FaultKind::Down)).unwrap();
    let refused = client()
        .post(format!("{admin}/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .json(&anthropic)
        .send()
        .await;
    assert!(refused.is_err(), "no answer while the frontier is down");
    let nodes: Value = client()
        .get(format!("{admin}/_sim/nodes"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(nodes["nodes"][0]["name"], "mini-01", "the admin API stays up");
    farm.set_fault("frontier", None).unwrap();
    let ok = client()
        .post(format!("{admin}/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .json(&anthropic)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn written_config_parses_and_describes_the_farm() {
    let farm = farm(12, 0.01).await;
    let text = farm.fleet_config().to_toml();
    let config = FleetConfig::parse(&text, std::path::Path::new("sim-fleet.toml")).unwrap();
    assert_eq!(config.nodes.len(), 12);
    let nodes = config.resolved_nodes();
    assert_eq!(
        nodes.iter().map(|n| n.ollama_url.clone()).collect::<Vec<_>>(),
        farm.node_urls()
    );
    assert!(
        nodes
            .iter()
            .all(|n| n.pull == PullTransport::Http && n.agent_url == n.ollama_url)
    );
    assert_eq!(nodes.iter().filter(|n| n.parallel == 4).count(), 5);
    assert!(
        config
            .frontier
            .providers
            .values()
            .all(|p| p.base_url == farm.frontier_url() && p.api_key.is_none())
    );
    assert_eq!(config.store, FleetConfig::default().store);
    let summaries = farm.node_summaries();
    assert_eq!(
        summaries.iter().map(|s| s.parallel).collect::<Vec<_>>(),
        nodes.iter().map(|n| n.parallel).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_port_in_use_is_one_clear_error() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = taken.local_addr().unwrap().port();
    let options = SimOptions {
        base_port: port,
        frontier_port: 0,
        ..SimOptions::ephemeral(1, 0.01)
    };
    let error = SimFarm::start(options).await.unwrap_err();
    assert_eq!(error.to_string(), format!("port {port} is in use (mini-01)"));
}
