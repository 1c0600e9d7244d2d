//! The router's edge under hostile and careless clients, over real sockets: slow half-open
//! connections, connection and in-flight caps, authentication before the body, body and idle
//! timeouts, clients that stop reading a stream, and a bounded graceful shutdown.

mod support;

use std::time::{Duration, Instant};

use farmhand::domain::StoredDecision;
use serde_json::{Value, json};
use support::stack::Stack;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The address part of a stack's URL (`127.0.0.1:40123`).
fn addr(stack: &Stack) -> String {
    stack.url.trim_start_matches("http://").to_string()
}

/// A connection that sent the start of a request's headers and then nothing.
async fn half_open(addr: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("the router accepts");
    stream
        .write_all(b"POST /v1/chat/completions HTTP/1.1\r\nhost: farm\r\ncontent-type: appl")
        .await
        .expect("a partial head is sent");
    stream
}

/// Reads until the peer closes the connection; `None` if it stays open for `wait`.
async fn read_to_close(stream: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(wait, async {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| seen)
}

/// Sends `head` (and `body`) raw, and returns the whole answer once the router closes or `wait` passes.
async fn raw_exchange(addr: &str, head: &str, body: &[u8], wait: Duration) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("the router accepts");
    stream.write_all(head.as_bytes()).await.expect("head sent");
    stream.write_all(body).await.expect("body sent");
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    let _ = tokio::time::timeout(wait, async {
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            if complete_response(&answer) {
                break;
            }
        }
    })
    .await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// Whether `bytes` hold a whole response with a `content-length` body.
fn complete_response(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    head.lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_string)
        })
        .and_then(|n| n.trim().parse::<usize>().ok())
        .is_some_and(|n| body.len() >= n)
}

/// The JSON body of a raw response.
fn json_body(response: &str) -> Value {
    let (_, body) = response.split_once("\r\n\r\n").expect("a response with a body");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn ask(class: &str, text: &str) -> Value {
    json!({"model": class, "messages": [{"role": "user", "content": text}], "max_tokens": 16})
}

async fn decisions(stack: &Stack) -> Vec<StoredDecision> {
    stack.gateway.flush().await;
    stack.store.recent_decisions(1000).await.expect("decisions read")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_slow_half_open_connections_do_not_keep_a_real_client_waiting() {
    let mut stack = Stack::start(2, None, |c| {
        c.router.max_connections = 2000;
        c.router.header_read_timeout_secs = 3;
        c.router.shutdown_grace_secs = 2;
    })
    .await;
    let addr = addr(&stack);
    let opened = Instant::now();
    let mut slow = Vec::with_capacity(1000);
    for _ in 0..1000 {
        slow.push(half_open(&addr).await);
    }
    eprintln!("1000 half-open connections opened in {:?}", opened.elapsed());

    let client = reqwest::Client::new();
    let asked = Instant::now();
    let response = stack
        .chat(&client, ask("routine", "Classify: printer jammed on floor 3."))
        .await;
    let served_in = asked.elapsed();
    assert_eq!(response.status(), 200);
    eprintln!("a real client was served in {served_in:?} beside 1000 half-open connections");
    assert!(
        served_in < Duration::from_secs(2),
        "served in {served_in:?} (header timeout 3 s): it waited behind the slow connections"
    );

    // The header read timeout closes them: none outlives it by much.
    let closed = Instant::now();
    for stream in slow.iter_mut().take(50) {
        assert!(
            read_to_close(stream, Duration::from_secs(10)).await.is_some(),
            "a stalled head is closed"
        );
    }
    eprintln!(
        "stalled heads closed {:?} after the check began (header timeout 3 s)",
        closed.elapsed()
    );

    // Fresh half-open connections hold open while the router shuts down within its grace.
    let mut fresh = Vec::with_capacity(1000);
    for _ in 0..1000 {
        fresh.push(half_open(&addr).await);
    }
    let stopping = Instant::now();
    stack.shut_down().await.expect("the router stops cleanly");
    let stopped_in = stopping.elapsed();
    eprintln!("shutdown beside 1000 fresh half-open connections took {stopped_in:?} (grace 2 s)");
    assert!(
        stopped_in < Duration::from_secs(4),
        "shutdown took {stopped_in:?}, grace 2 s"
    );
    assert!(read_to_close(&mut fresh[0], Duration::from_secs(2)).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_the_cap_gets_a_503_in_openais_shape() {
    let stack = Stack::start(1, None, |c| c.router.max_connections = 4).await;
    let addr = addr(&stack);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(half_open(&addr).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let answer = raw_exchange(
        &addr,
        "GET /v1/models HTTP/1.1\r\nhost: farm\r\n\r\n",
        b"",
        Duration::from_secs(5),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("retry-after: 1"), "{answer}");
    let error = json_body(&answer);
    assert_eq!(error["error"]["code"], "too_many_connections");
    assert_eq!(error["error"]["type"], "api_error");
    drop(held);
    // Slots come back as connections close.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let response = reqwest::get(format!("{}/v1/models", stack.url)).await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_in_flight_cap_get_a_503_with_retry_after() {
    let stack = Stack::start_sim(
        1,
        None,
        support::stack::fast_cadence(),
        // 0.2 s a token (the simulator's time runs at 1/100).
        |sim| sim.tokens_per_sec = 0.05,
        |c| c.router.max_in_flight = 1,
    )
    .await;
    let client = reqwest::Client::new();
    let slow = {
        let (client, url) = (client.clone(), stack.url.clone());
        tokio::spawn(async move {
            client
                .post(format!("{url}/v1/chat/completions"))
                .json(&json!({"model": "sensitive", "messages": [{"role": "user", "content": "Repeat exactly: one two three four five six"}]}))
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let over = stack.chat(&client, ask("routine", "hi")).await;
    assert_eq!(over.status(), 503);
    assert_eq!(over.headers()["retry-after"], "1");
    let error: Value = over.json().await.unwrap();
    assert_eq!(error["error"]["code"], "too_many_requests_in_flight");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("router.max_in_flight")
    );
    // Health and metrics stay reachable under the cap.
    assert_eq!(
        client
            .get(format!("{}/healthz", stack.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(slow.await.unwrap(), 200);
    assert_eq!(stack.chat(&client, ask("routine", "hi")).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_and_the_length_are_checked_before_the_body_is_read() {
    // SAFETY of the test: this variable name is unique to this test.
    unsafe { std::env::set_var("FARMHAND_TEST_EDGE_KEY", "k-edge") };
    let stack = Stack::start(1, None, |c| {
        c.router.body_read_timeout_secs = 30;
        c.agents.push(farmhand::config::AgentKey::new(
            "edge",
            farmhand::config::SecretRef::Env("FARMHAND_TEST_EDGE_KEY".into()),
        ))
    })
    .await;
    let addr = addr(&stack);
    let head = |key: &str, length: usize| {
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: farm\r\nauthorization: Bearer {key}\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n"
        )
    };
    // No body is ever sent: each answer must come from the headers alone, long before 30 s.
    let started = Instant::now();
    let wrong_key = raw_exchange(&addr, &head("k-wrong", 1000), b"", Duration::from_secs(5)).await;
    assert!(wrong_key.starts_with("HTTP/1.1 401"), "{wrong_key}");
    assert_eq!(json_body(&wrong_key)["error"]["code"], "invalid_api_key");
    let too_long = raw_exchange(&addr, &head("k-edge", 5 * 1024 * 1024), b"", Duration::from_secs(5)).await;
    assert!(too_long.starts_with("HTTP/1.1 413"), "{too_long}");
    assert_eq!(json_body(&too_long)["error"]["code"], "request_too_large");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_arriving_gets_a_408_and_an_idle_connection_is_closed() {
    let stack = Stack::start(1, None, |c| {
        c.router.body_read_timeout_secs = 1;
        c.router.keep_alive_timeout_secs = 1;
    })
    .await;
    let addr = addr(&stack);
    let head = "POST /v1/chat/completions HTTP/1.1\r\nhost: farm\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n";
    let stalled = raw_exchange(&addr, head, br#"{"model": "routine", "mess"#, Duration::from_secs(5)).await;
    assert!(stalled.starts_with("HTTP/1.1 408"), "{stalled}");
    let error = json_body(&stalled);
    assert_eq!(error["error"]["code"], "request_timeout");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("router.body_read_timeout_secs")
    );

    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: farm\r\n\r\n")
        .await
        .unwrap();
    let kept = Instant::now();
    let seen = read_to_close(&mut idle, Duration::from_secs(5))
        .await
        .expect("an idle kept-alive connection is closed");
    assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 200"));
    eprintln!(
        "an idle kept-alive connection was closed after {:?} (keep-alive 1 s)",
        kept.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_its_stream_is_cut_and_frees_its_node() {
    let stack = Stack::start(1, None, |c| c.router.client_write_timeout_secs = 1).await;
    let node = stack.gateway.in_flight.all()[0].0.clone();
    // A long answer: far more than the socket buffers hold while the client does not read.
    let words: String = (0..40_000).map(|i| format!("w{i:0>40} ")).collect();
    let body = json!({
        "model": "sensitive",
        "stream": true,
        "messages": [{"role": "user", "content": format!("Repeat exactly: {words}")}]
    })
    .to_string();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr(&stack).parse().unwrap()).await.unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: farm\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut first = [0u8; 1024];
    let n = stream.read(&mut first).await.unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    let stopped_reading = Instant::now();

    // The client now reads nothing; within the write timeout (plus the time to fill the
    // buffers) the router cuts the stream and frees the node's slot.
    let freed = async {
        while stack.gateway.in_flight.get(&node) > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), freed)
        .await
        .expect("the node slot is freed");
    eprintln!(
        "a stalled stream freed its node {:?} after the client stopped reading (timeout 1 s)",
        stopped_reading.elapsed()
    );
    let rows = decisions(&stack).await;
    let cut = rows
        .iter()
        .find(|d| d.record.error.as_deref() == Some("client_write_timeout"))
        .expect("the cut stream is recorded");
    assert_eq!(cut.record.status, 200);
    assert!(cut.record.completion_tokens > 0, "tokens relayed so far are recorded");
    assert!(cut.record.completion_tokens < 40_000);
    // The connection is closed, not left to the client.
    assert!(read_to_close(&mut stream, Duration::from_secs(10)).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_short_work_finish_and_records_what_it_cuts() {
    let mut stack = Stack::start_sim(
        1,
        None,
        support::stack::fast_cadence(),
        // 0.5 s a token (the simulator's time runs at 1/100).
        |sim| sim.tokens_per_sec = 0.02,
        |c| c.router.shutdown_grace_secs = 1,
    )
    .await;
    let client = reqwest::Client::new();
    let long = {
        let (client, url) = (client.clone(), stack.url.clone());
        tokio::spawn(async move {
            let response = client
                .post(format!("{url}/v1/chat/completions"))
                .json(&json!({"model": "sensitive", "stream": true, "messages": [{"role": "user", "content": "Repeat exactly: a b c d e f g h i j k l m n o p"}]}))
                .send()
                .await
                .unwrap();
            response.text().await.map(|t| t.contains("[DONE]")).unwrap_or(false)
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stopping = Instant::now();
    stack.shut_down().await.expect("the router stops cleanly");
    let took = stopping.elapsed();
    eprintln!("shutdown with a long stream in flight took {took:?} (grace 1 s)");
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert!(!long.await.unwrap(), "the long stream was cut, not finished");
    let rows = stack.store.recent_decisions(10).await.unwrap();
    let cut = rows
        .iter()
        .find(|d| d.record.error.as_deref() == Some("cut_at_shutdown"))
        .unwrap_or_else(|| panic!("the cut stream is recorded as cut: {rows:?}"));
    assert_eq!(cut.record.status, 503);
}
