//! Frontier adapters over real HTTP: against the simulated frontier (both providers, streamed and
//! not, faults) and against a tiny misbehaving server (garbage, silence).

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::routing::post;
use farmhand::config::{ProviderConfig, ProviderKind, SecretRef, TokenUsage};
use farmhand::gateway::upstream::frontier::{call, call_with_retry};
use farmhand::gateway::upstream::{StreamItem, Timeouts, UpstreamError, UpstreamReply};
use farmhand::sim::{FRONTIER, FaultKind, SimFarm, SimOptions};
use farmhand::wire::openai::{ChatCompletion, ChatCompletionRequest};
use futures::StreamExt;
use serde_json::json;

const TIMEOUTS: Timeouts = Timeouts {
    first_byte: Duration::from_secs(10),
    idle: Duration::from_secs(10),
};
/// Long enough for the simulated frontier to serve it from its prompt cache.
fn long_system_prompt() -> String {
    "You route requests for a farm of Mac minis. ".repeat(120)
}

async fn farm() -> SimFarm {
    SimFarm::start(SimOptions::ephemeral(1, 0.01))
        .await
        .expect("the simulated farm starts")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn provider(kind: ProviderKind, base_url: String) -> ProviderConfig {
    ProviderConfig {
        kind,
        base_url,
        api_key: None,
    }
}

fn request(stream: bool) -> ChatCompletionRequest {
    serde_json::from_value(json!({
        "model": "reasoning",
        "messages": [
            {"role": "system", "content": long_system_prompt()},
            {"role": "user", "content": "Which node has the most free memory?"}
        ],
        "stream": stream,
        "max_tokens": 40
    }))
    .unwrap()
}

fn complete(reply: UpstreamReply) -> (ChatCompletion, TokenUsage) {
    match reply {
        UpstreamReply::Complete { body, usage, .. } => (
            serde_json::from_slice(&body).expect("an OpenAI-shaped completion"),
            usage,
        ),
        UpstreamReply::Stream(_) => panic!("expected a whole completion"),
    }
}

/// Every item of a streamed reply, the first failure included.
async fn drain(reply: UpstreamReply) -> Vec<Result<StreamItem, String>> {
    let UpstreamReply::Stream(stream) = reply else {
        panic!("expected a stream")
    };
    stream.map(|item| item.map_err(|e| e.0)).collect().await
}

/// Checks a completed stream's shape and returns its text and usage.
fn check_stream(items: Vec<Result<StreamItem, String>>) -> (String, TokenUsage) {
    let items: Vec<StreamItem> = items.into_iter().map(|i| i.expect("no mid-stream failure")).collect();
    assert_eq!(items[0].chunk.choices[0].delta.role.as_deref(), Some("assistant"));
    assert!(
        items
            .iter()
            .all(|i| i.chunk.id == items[0].chunk.id && i.chunk.model == items[0].chunk.model)
    );
    assert!(items.iter().all(|i| i.chunk.object == "chat.completion.chunk"));
    let finish = &items[items.len() - 2].chunk.choices[0].finish_reason;
    assert!(matches!(finish.as_deref(), Some("stop" | "length")), "{finish:?}");
    let last = items.last().unwrap();
    assert!(last.chunk.choices.is_empty(), "the usage chunk has no choices");
    let usage = last.usage.expect("the last chunk carries the usage");
    let wire = last.chunk.usage().expect("and OpenAI's usage object");
    assert_eq!(wire.prompt_tokens, usage.input_total());
    assert_eq!(wire.completion_tokens, usage.out);
    assert_eq!(items.iter().filter(|i| i.usage.is_some()).count(), 1);
    let text = items
        .iter()
        .filter_map(|i| i.chunk.choices.first()?.delta.content.clone())
        .collect();
    (text, usage)
}

#[tokio::test]
async fn openai_whole_and_streamed_replies_report_usage() {
    let farm = farm().await;
    let openai = provider(ProviderKind::Openai, farm.frontier_url());

    let (completion, usage) = complete(
        call(&client(), "openai", &openai, "gpt-5.4-mini", &request(false), TIMEOUTS)
            .await
            .unwrap(),
    );
    assert_eq!(completion.object, "chat.completion");
    assert_eq!(completion.model, "gpt-5.4-mini");
    assert!(
        !completion.choices[0]
            .message
            .content
            .as_deref()
            .unwrap_or_default()
            .is_empty()
    );
    let wire = completion.usage.unwrap();
    assert_eq!(usage.out, wire.completion_tokens);
    assert!(
        usage.out > 0 && usage.out <= 40,
        "max_tokens reached the provider as max_completion_tokens"
    );
    assert!(usage.cache_read > 0, "the long system prompt was served from the cache");
    assert_eq!(usage.input_total(), wire.prompt_tokens);

    let (text, usage) = check_stream(
        drain(
            call(&client(), "openai", &openai, "gpt-5.4-mini", &request(true), TIMEOUTS)
                .await
                .unwrap(),
        )
        .await,
    );
    assert!(!text.is_empty());
    assert!(
        usage.out > 0 && usage.cache_read > 0,
        "usage arrives although the agent did not ask for it"
    );

    let log = farm.frontier_log();
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|e| e.provider == "openai" && e.model == "gpt-5.4-mini"));
    assert!(farm.frontier_saw("Which node has the most free memory?"));
}

#[tokio::test]
async fn anthropic_whole_and_streamed_replies_are_translated() {
    let farm = farm().await;
    let anthropic = provider(ProviderKind::Anthropic, farm.frontier_url());

    let (completion, usage) = complete(
        call(
            &client(),
            "anthropic",
            &anthropic,
            "claude-sonnet-4-6",
            &request(false),
            TIMEOUTS,
        )
        .await
        .unwrap(),
    );
    assert!(completion.id.starts_with("msg_"));
    assert_eq!(
        (completion.object.as_str(), completion.model.as_str()),
        ("chat.completion", "claude-sonnet-4-6")
    );
    assert!(matches!(
        completion.choices[0].finish_reason.as_deref(),
        Some("stop" | "length")
    ));
    let wire = completion.usage.unwrap();
    assert!(usage.cache_read > 0 && usage.uncached_in > 0 && usage.out > 0);
    assert_eq!(wire.prompt_tokens, usage.input_total());
    assert_eq!(wire.prompt_tokens_details.unwrap().cached_tokens, usage.cache_read);

    let (text, usage) = check_stream(
        drain(
            call(
                &client(),
                "anthropic",
                &anthropic,
                "claude-sonnet-4-6",
                &request(true),
                TIMEOUTS,
            )
            .await
            .unwrap(),
        )
        .await,
    );
    assert!(!text.is_empty());
    assert!(
        usage.out > 1,
        "the last cumulative output count, not message_start's placeholder"
    );
    assert!(usage.cache_read > 0);

    let log = farm.frontier_log();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].messages, 2, "system prompt plus one user turn");
    assert!(farm.frontier_saw(&long_system_prompt()));
}

#[tokio::test]
async fn overload_is_an_upstream_error_with_its_wait() {
    let farm = farm().await;
    farm.set_fault(FRONTIER, Some(FaultKind::Overloaded)).unwrap();
    let anthropic = provider(ProviderKind::Anthropic, farm.frontier_url());
    let err = call(
        &client(),
        "anthropic",
        &anthropic,
        "claude-opus-4-7",
        &request(true),
        TIMEOUTS,
    )
    .await
    .err()
    .unwrap();
    assert_eq!(err.status, Some(529));
    assert_eq!(err.retry_after, Some(Duration::from_secs(1)));
    assert_eq!(
        err.message, "anthropic 529 overloaded_error",
        "the provider's text is not kept"
    );

    let openai = provider(ProviderKind::Openai, farm.frontier_url());
    let err = call(&client(), "openai", &openai, "gpt-5.4", &request(false), TIMEOUTS)
        .await
        .err()
        .unwrap();
    assert_eq!((err.status, err.retry_after), (Some(503), Some(Duration::from_secs(1))));
    assert_eq!(err.message, "openai 503 server_error");
}

#[tokio::test]
async fn retry_waits_out_a_short_overload() {
    let farm = farm().await;
    farm.set_fault(FRONTIER, Some(FaultKind::Overloaded)).unwrap();
    let anthropic = provider(ProviderKind::Anthropic, farm.frontier_url());
    let (client, request) = (client(), request(false));
    let retrying = call_with_retry(&client, "anthropic", &anthropic, "claude-opus-4-7", &request, TIMEOUTS);
    let clear = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        farm.set_fault(FRONTIER, None).unwrap();
    };
    let (reply, ()) = tokio::join!(retrying, clear);
    let (_, usage) = complete(reply.expect("the retry after the server's 1 s wait succeeds"));
    assert!(usage.out > 0);
    assert_eq!(farm.frontier_log().len(), 2, "one refused attempt, one retry");
}

#[tokio::test]
async fn retry_gives_up_after_two_retries_with_the_last_error() {
    let farm = farm().await;
    farm.set_fault(FRONTIER, Some(FaultKind::Error500)).unwrap();
    let openai = provider(ProviderKind::Openai, farm.frontier_url());
    let err = call_with_retry(&client(), "openai", &openai, "gpt-5.4", &request(false), TIMEOUTS)
        .await
        .err()
        .unwrap();
    assert_eq!(err.status, Some(500));
    assert_eq!(farm.frontier_log().len(), 3);
}

#[tokio::test]
async fn dropped_connections_fail_mid_stream() {
    let farm = farm().await;
    farm.set_fault(FRONTIER, Some(FaultKind::Drop)).unwrap();
    for (name, kind, model) in [
        ("anthropic", ProviderKind::Anthropic, "claude-haiku-4-5"),
        ("openai", ProviderKind::Openai, "gpt-5.4-nano"),
    ] {
        let config = provider(kind, farm.frontier_url());
        let items = drain(
            call(&client(), name, &config, model, &request(true), TIMEOUTS)
                .await
                .unwrap(),
        )
        .await;
        assert!(items[0].is_ok(), "{name}: the first chunk arrived before the cut");
        let failure = items
            .last()
            .unwrap()
            .as_ref()
            .err()
            .unwrap_or_else(|| panic!("{name}: the stream must fail"));
        assert!(failure.starts_with(&format!("{name} ")), "{failure}");
        assert!(
            items.iter().all(|i| i.as_ref().map_or(true, |i| i.usage.is_none())),
            "{name}: no usage from a cut stream"
        );

        let err = call(&client(), name, &config, model, &request(false), TIMEOUTS)
            .await
            .err()
            .unwrap();
        assert_eq!(
            err.status, None,
            "{name}: a cut whole reply is a transport failure: {}",
            err.message
        );
    }
}

#[tokio::test]
async fn missing_key_is_a_clear_error_and_keys_never_appear_in_errors() {
    let farm = farm().await;
    let mut anthropic = provider(ProviderKind::Anthropic, farm.frontier_url());
    anthropic.api_key = Some(SecretRef::Env("FARMHAND_TEST_FRONTIER_KEY_UNSET".into()));
    let err = call(
        &client(),
        "anthropic",
        &anthropic,
        "claude-sonnet-4-6",
        &request(false),
        TIMEOUTS,
    )
    .await
    .err()
    .unwrap();
    assert_eq!(
        err,
        UpstreamError::unconfigured(
            "frontier key for anthropic (env:FARMHAND_TEST_FRONTIER_KEY_UNSET) unavailable: environment variable FARMHAND_TEST_FRONTIER_KEY_UNSET is not set"
        )
    );
    let err = call_with_retry(
        &client(),
        "anthropic",
        &anthropic,
        "claude-sonnet-4-6",
        &request(false),
        TIMEOUTS,
    )
    .await
    .err()
    .unwrap();
    assert!(err.message.contains("unavailable"));
    assert!(
        farm.frontier_log().is_empty(),
        "nothing is sent without the key, and a missing key is not retried"
    );

    // PATH is set in every test environment: it stands in for a real key.
    let key = std::env::var("PATH").unwrap();
    farm.set_fault(FRONTIER, Some(FaultKind::RateLimited)).unwrap();
    for kind in [ProviderKind::Anthropic, ProviderKind::Openai] {
        let config = ProviderConfig {
            kind,
            base_url: farm.frontier_url(),
            api_key: Some(SecretRef::Env("PATH".into())),
        };
        let err = call(&client(), "p", &config, "m", &request(false), TIMEOUTS)
            .await
            .err()
            .unwrap();
        assert_eq!(err.status, Some(429), "the key was accepted: {}", err.message);
        assert!(!err.message.contains(&key) && !format!("{err:?}").contains(&key));
    }
}

/// A server that misbehaves differently under each path prefix.
async fn bad_server() -> String {
    let sse = |body: &'static str| {
        move || async move {
            axum::response::Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from(body))
                .unwrap()
        }
    };
    let stalls_after_one_chunk = || async {
        let first = Bytes::from_static(
            b"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"},\"finish_reason\":null}]}\n\n",
        );
        let body =
            futures::stream::once(async move { Ok::<_, std::io::Error>(first) }).chain(futures::stream::pending());
        axum::response::Response::builder()
            .header("content-type", "text/event-stream")
            .body(Body::from_stream(body))
            .unwrap()
    };
    let thinks_before_the_first_chunk = || async {
        let body = futures::stream::once(async {
            tokio::time::sleep(Duration::from_millis(600)).await;
            Ok::<_, std::io::Error>(Bytes::from_static(
                b"data: {\"id\":\"c\",\"choices\":[]}\n\ndata: [DONE]\n\n",
            ))
        });
        axum::response::Response::builder()
            .header("content-type", "text/event-stream")
            .body(Body::from_stream(body))
            .unwrap()
    };
    let router = Router::new()
        .route("/slow-start/v1/chat/completions", post(thinks_before_the_first_chunk))
        .route("/garbage/v1/chat/completions", post(|| async { ([("content-type", "application/json")], "{\"id\": tru") }))
        .route("/garbage/v1/messages", post(|| async { axum::Json(json!({"hello": "world"})) }))
        .route("/proxy/v1/chat/completions", post(|| async { (axum::http::StatusCode::BAD_GATEWAY, "<html>bad gateway</html>") }))
        .route("/hang/v1/messages", post(|| async { std::future::pending::<String>().await }))
        .route(
            "/hang/v1/chat/completions",
            post(|| async {
                HANG_CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                std::future::pending::<String>().await
            }),
        )
        .route(
            "/no-choices/v1/chat/completions",
            post(|| async {
                axum::Json(json!({"id": "c", "object": "chat.completion", "created": 0, "model": "m", "choices": [],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}))
            }),
        )
        .route("/stall/v1/chat/completions", post(stalls_after_one_chunk))
        .route("/error-first/v1/chat/completions", post(sse("data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}\n\n")))
        .route(
            "/error-first/v1/messages",
            post(sse("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n")),
        )
        .route("/no-done/v1/chat/completions", post(sse("data: {\"id\":\"c\",\"choices\":[]}\n\n")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// Requests the hanging OpenAI-shaped endpoint received.
static HANG_CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

#[tokio::test]
async fn misbehaving_servers_fail_quickly_and_clearly() {
    let base = bad_server().await;
    let short = Timeouts {
        first_byte: Duration::from_millis(300),
        idle: Duration::from_millis(300),
    };
    let client = client();
    let at = |prefix: &str, kind| provider(kind, format!("{base}/{prefix}"));
    let fail = |prefix: &'static str, kind: ProviderKind, stream: bool| {
        let (config, client) = (at(prefix, kind), client.clone());
        async move {
            call(&client, "p", &config, "m", &request(stream), short)
                .await
                .err()
                .expect("a failure")
        }
    };

    assert_eq!(
        fail("garbage", ProviderKind::Openai, false).await,
        UpstreamError::malformed("p sent a malformed answer")
    );
    assert_eq!(
        fail("garbage", ProviderKind::Anthropic, false).await,
        UpstreamError::malformed("p sent a malformed answer")
    );
    let proxy = fail("proxy", ProviderKind::Openai, false).await;
    assert_eq!((proxy.status, proxy.message.as_str()), (Some(502), "p 502 Bad Gateway"));

    let started = Instant::now();
    let hang = fail("hang", ProviderKind::Anthropic, false).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the first-byte timeout cut the wait"
    );
    assert_eq!(hang.status, None);
    assert!(hang.message.contains("timed out"), "{}", hang.message);
    assert_eq!(
        hang.outcome,
        farmhand::domain::AttemptOutcome::TimeoutPossibleCharge,
        "a whole completion that timed out may have been billed"
    );

    let config = at("hang", ProviderKind::Openai);
    let started = Instant::now();
    let possible = call_with_retry(&client, "p", &config, "m", &request(false), short)
        .await
        .err()
        .expect("a failure");
    assert_eq!(possible.code(), "upstream_timeout_possible_charge");
    assert_eq!(
        HANG_CALLS.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "a possible charge is not retried"
    );
    assert!(started.elapsed() < Duration::from_millis(900), "no back-off either");

    let charged = fail("no-choices", ProviderKind::Openai, false).await;
    assert_eq!(charged.outcome, farmhand::domain::AttemptOutcome::Malformed);
    assert_eq!(
        charged.usage.map(|u| (u.input_total(), u.out)),
        Some((10, 5)),
        "the usage of a failed answer is kept for charging"
    );

    let openai_error = fail("error-first", ProviderKind::Openai, true).await;
    assert_eq!(openai_error, UpstreamError::transport("p stream error server_error"));
    let anthropic_error = fail("error-first", ProviderKind::Anthropic, true).await;
    assert_eq!(
        (anthropic_error.status, anthropic_error.message.as_str()),
        (Some(529), "p stream error overloaded_error")
    );
    assert!(anthropic_error.is_retryable());

    let config = at("no-done", ProviderKind::Openai);
    let items = drain(call(&client, "p", &config, "m", &request(true), short).await.unwrap()).await;
    assert_eq!(
        items.last().unwrap().as_ref().err().map(String::as_str),
        Some("p stream ended without [DONE]")
    );

    let config = at("stall", ProviderKind::Openai);
    let started = Instant::now();
    let items = drain(call(&client, "p", &config, "m", &request(true), short).await.unwrap()).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the idle timeout cut the stall"
    );
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    assert_eq!(
        items[1].as_ref().err().map(String::as_str),
        Some("p stream idle for 300 ms")
    );

    // Headers come at once, the first chunk only after the model thought: first_byte, not idle, applies.
    let config = at("slow-start", ProviderKind::Openai);
    let patient = Timeouts {
        first_byte: Duration::from_secs(5),
        ..short
    };
    let items = drain(call(&client, "p", &config, "m", &request(true), patient).await.unwrap()).await;
    assert_eq!(items.len(), 1);
    assert!(items[0].is_ok());
    let err = call(&client, "p", &config, "m", &request(true), short)
        .await
        .err()
        .unwrap();
    assert_eq!(err, UpstreamError::timeout("p stream idle for 300 ms"));
}
