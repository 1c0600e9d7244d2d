//! Synthetic agents for the demo: each has its own task mix, pace and bursts, and calls the
//! router over real HTTP exactly as an agent would. Some prompts carry a card number, an email
//! address or a US SSN, so the sensitivity detectors fire and keep them on the farm; some carry a
//! screenshot (unscannable, so it stays local) or confidential business text that only the on-farm
//! privacy reviewer catches.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Longest a single synthetic request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What kind of prompt an agent sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prompt {
    /// A short routine task.
    Short,
    /// A document to summarise, a few thousand characters.
    Document,
    /// A document too long for the routine token budget.
    LongDocument,
    /// Multi-step reasoning.
    Reasoning,
    /// Planning and delegation.
    Plan,
    /// Declared sensitive by the agent.
    Sensitive,
    /// Routine, left to the router to classify.
    Auto,
    /// Routine, but carrying a Luhn-valid card number.
    Card,
    /// Routine, but carrying an email address.
    Email,
    /// Routine, but carrying a US SSN.
    Ssn,
    /// Routine, with a screenshot attached (an image part no detector can read).
    Screenshot,
    /// Reasoning over confidential business text: no detector fires, the privacy reviewer does.
    Confidential,
}

/// One synthetic agent.
struct Agent {
    name: &'static str,
    /// Pause between sends, in milliseconds (uniform in the range).
    pause_ms: (u64, u64),
    /// Chance that a send is a burst of several concurrent requests.
    burst_chance: f64,
    /// Size of a burst.
    burst: (u32, u32),
    /// Prompt kinds and their weights.
    mix: &'static [(Prompt, u32)],
    /// Chance that the agent rates an answer (`task_done`: it ended on its own with text).
    rates: f64,
}

const AGENTS: &[Agent] = &[
    Agent {
        name: "ticket-classifier",
        pause_ms: (150, 600),
        burst_chance: 0.2,
        burst: (3, 6),
        mix: &[
            (Prompt::Short, 66),
            (Prompt::Auto, 15),
            (Prompt::Email, 15),
            (Prompt::Screenshot, 4),
        ],
        rates: 0.3,
    },
    Agent {
        name: "summariser",
        pause_ms: (400, 1200),
        burst_chance: 0.1,
        burst: (2, 4),
        mix: &[(Prompt::Document, 70), (Prompt::LongDocument, 22), (Prompt::Card, 8)],
        rates: 0.0,
    },
    Agent {
        name: "planner",
        pause_ms: (1200, 3000),
        burst_chance: 0.05,
        burst: (2, 3),
        mix: &[(Prompt::Plan, 75), (Prompt::Reasoning, 15), (Prompt::Confidential, 10)],
        rates: 0.0,
    },
    Agent {
        name: "code-reviewer",
        pause_ms: (800, 2000),
        burst_chance: 0.15,
        burst: (2, 4),
        mix: &[(Prompt::Reasoning, 75), (Prompt::Short, 25)],
        rates: 0.0,
    },
    Agent {
        name: "hr-extractor",
        pause_ms: (500, 1500),
        burst_chance: 0.1,
        burst: (2, 3),
        mix: &[(Prompt::Sensitive, 50), (Prompt::Ssn, 30), (Prompt::Email, 20)],
        rates: 0.0,
    },
];

/// What the synthetic agents saw, counted as they go.
#[derive(Debug, Default)]
pub struct TrafficStats {
    /// Requests sent.
    pub sent: AtomicU64,
    /// Answered with a 2xx.
    pub ok: AtomicU64,
    /// Answered with another status.
    pub refused: AtomicU64,
    /// No answer (connection error or timeout).
    pub failed: AtomicU64,
}

/// Starts every agent against the router at `router_url`; they stop when `stop` turns true.
pub fn start(router_url: String, stop: watch::Receiver<bool>, seed: u64) -> (Arc<TrafficStats>, JoinSet<()>) {
    let stats = Arc::new(TrafficStats::default());
    let client = crate::net::http_client()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap_or_default();
    let mut tasks = JoinSet::new();
    for (index, agent) in AGENTS.iter().enumerate() {
        let run = run_agent(
            agent,
            client.clone(),
            router_url.clone(),
            stop.clone(),
            stats.clone(),
            seed.wrapping_add(index as u64 * 7919),
        );
        tasks.spawn(run);
    }
    (stats, tasks)
}

async fn run_agent(
    agent: &'static Agent,
    client: reqwest::Client,
    url: String,
    mut stop: watch::Receiver<bool>,
    stats: Arc<TrafficStats>,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let total: u32 = agent.mix.iter().map(|(_, w)| w).sum();
    while !*stop.borrow() {
        let count = if rng.random_bool(agent.burst_chance) {
            rng.random_range(agent.burst.0..=agent.burst.1)
        } else {
            1
        };
        let mut sends = JoinSet::new();
        for _ in 0..count {
            let prompt = pick(agent.mix, rng.random_range(0..total.max(1)));
            let body = request_body(agent.name, prompt, &mut rng);
            let rates = rng.random_bool(agent.rates);
            let (client, url, stats) = (client.clone(), url.clone(), stats.clone());
            sends.spawn(async move {
                let answer = send(&client, &format!("{url}/v1/chat/completions"), body, &stats).await;
                if let Some((request_id, done)) = answer.filter(|_| rates) {
                    rate(&client, &url, agent.name, &request_id, done).await;
                }
            });
        }
        while sends.join_next().await.is_some() {}
        let pause = Duration::from_millis(rng.random_range(agent.pause_ms.0..=agent.pause_ms.1));
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => {}
        }
    }
}

fn pick(mix: &[(Prompt, u32)], mut roll: u32) -> Prompt {
    for (prompt, weight) in mix {
        if roll < *weight {
            return *prompt;
        }
        roll -= weight;
    }
    mix.first().map(|(p, _)| *p).unwrap_or(Prompt::Short)
}

/// Sends one request and reads the whole answer, as an agent would; an answered request gives
/// its request id and whether the task got done (the answer ended on its own, with text).
async fn send(
    client: &reqwest::Client,
    url: &str,
    body: serde_json::Value,
    stats: &TrafficStats,
) -> Option<(String, bool)> {
    stats.sent.fetch_add(1, Ordering::Relaxed);
    match client.post(url).json(&body).send().await {
        Ok(response) => {
            let ok = response.status().is_success();
            let request_id = response
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let answer = response.bytes().await.unwrap_or_default();
            let counter = if ok { &stats.ok } else { &stats.refused };
            counter.fetch_add(1, Ordering::Relaxed);
            let done = serde_json::from_slice::<serde_json::Value>(&answer).is_ok_and(|a| {
                a.pointer("/choices/0/finish_reason").and_then(|r| r.as_str()) == Some("stop")
                    && a.pointer("/choices/0/message/content")
                        .and_then(|c| c.as_str())
                        .is_some_and(|c| !c.trim().is_empty())
            });
            request_id.filter(|_| ok).map(|id| (id, done))
        }
        Err(err) => {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(error = %err.without_url(), "demo agent: request failed");
            None
        }
    }
}

/// Rates answer `request_id` on the demo's `task_done` metric, as the agent that asked.
async fn rate(client: &reqwest::Client, router_url: &str, agent: &str, request_id: &str, done: bool) {
    let sent = client
        .post(format!("{router_url}/v1/feedback"))
        .header(crate::gateway::AGENT_HEADER, agent)
        .json(&json!({"request_id": request_id, "metric": FEEDBACK_METRIC, "value": done}))
        .send()
        .await;
    match sent {
        Ok(response) if response.status().is_success() => {}
        Ok(response) => tracing::debug!(status = %response.status(), "demo agent: feedback refused"),
        Err(err) => tracing::debug!(error = %err.without_url(), "demo agent: feedback failed"),
    }
}

/// The feedback metric the demo declares and its ticket classifier reports.
pub const FEEDBACK_METRIC: &str = "task_done";

const TICKETS: &[&str] = &[
    "My invoice shows the wrong VAT rate for October.",
    "The export button does nothing on the reports page.",
    "Please reset two-factor authentication for our team lead.",
    "The mobile app crashes when I rotate the screen.",
    "We were charged twice for the annual plan.",
];

const TOPICS: &[&str] = &[
    "the quarterly infrastructure review",
    "the incident on the payments queue",
    "the customer interview notes",
    "the vendor security questionnaire",
];

/// A sentence of filler for documents.
const FILLER: &str = "The team reviewed the figures, noted the open questions and agreed on next steps. ";

fn request_body(agent: &str, prompt: Prompt, rng: &mut StdRng) -> serde_json::Value {
    let ticket = TICKETS[rng.random_range(0..TICKETS.len())];
    let topic = TOPICS[rng.random_range(0..TOPICS.len())];
    let (class, text, max_tokens) = match prompt {
        Prompt::Short => ("routine", format!("Classify this support ticket: {ticket}"), 160),
        Prompt::Auto => ("auto", format!("Label the urgency of: {ticket}"), 128),
        Prompt::Email => (
            "routine",
            format!("Classify this ticket from jane.doe@example.com: {ticket}"),
            160,
        ),
        Prompt::Document => (
            "routine",
            format!("Summarise {topic}: {}", FILLER.repeat(rng.random_range(10..30))),
            160,
        ),
        Prompt::LongDocument => (
            "routine",
            format!(
                "Summarise {topic} in full: {}",
                FILLER.repeat(rng.random_range(220..320))
            ),
            256,
        ),
        Prompt::Card => (
            "routine",
            format!("Summarise this refund request: card 4111 1111 1111 1111, {ticket}"),
            96,
        ),
        Prompt::Reasoning => (
            "reasoning",
            format!("Review this change and reason about its failure modes: {topic}, retry logic, timeouts."),
            320,
        ),
        Prompt::Plan => (
            "orchestration",
            format!("Plan the work for {topic}: split it into tasks and assign agents."),
            256,
        ),
        Prompt::Sensitive => (
            "sensitive",
            "Extract name, grade and start date from this employment contract.".to_string(),
            96,
        ),
        Prompt::Ssn => (
            "routine",
            "Extract the fields from this onboarding form: SSN 123-45-6789, start date 2026-12-01.".to_string(),
            64,
        ),
        Prompt::Confidential => (
            "reasoning",
            format!("Reason about the risks in the confidential board minutes on {topic}."),
            256,
        ),
        Prompt::Screenshot => {
            return json!({
                "model": "routine",
                "user": agent,
                "max_tokens": 48,
                "messages": [{"role": "user", "content": [
                    {"type": "text", "text": format!("Which error does this screenshot show? {ticket}")},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAcCBlCwAAAABJRU5ErkJggg=="}}
                ]}],
            });
        }
    };
    json!({
        "model": class,
        "user": agent,
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": text}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_pick_every_kind_by_weight() {
        for agent in AGENTS {
            let total: u32 = agent.mix.iter().map(|(_, w)| w).sum();
            let mut start = 0;
            for (prompt, weight) in agent.mix {
                assert_eq!(pick(agent.mix, start), *prompt, "{}", agent.name);
                assert_eq!(pick(agent.mix, start + weight - 1), *prompt, "{}", agent.name);
                start += weight;
            }
            assert_eq!(start, total);
        }
    }

    #[test]
    fn detector_prompts_carry_what_trips_the_detectors() {
        let mut rng = StdRng::seed_from_u64(1);
        let text = |p| request_body("a", p, &mut StdRng::seed_from_u64(1))["messages"][0]["content"].to_string();
        assert!(text(Prompt::Card).contains("4111 1111 1111 1111"));
        assert!(text(Prompt::Email).contains("@example.com"));
        assert!(text(Prompt::Ssn).contains("123-45-6789"));
        assert!(text(Prompt::Screenshot).contains("image_url"));
        let confidential = text(Prompt::Confidential).to_ascii_lowercase();
        assert!(
            crate::sim::text::SIMULATED_PRIVATE_WORDS
                .iter()
                .any(|w| confidential.contains(w)),
            "the simulated reviewer flags it: {confidential}"
        );
        let long = request_body("a", Prompt::LongDocument, &mut rng);
        let chars = long["messages"][0]["content"].as_str().map(str::len).unwrap_or(0);
        assert!(
            chars > 16_000,
            "a long document must exceed the routine budget: {chars}"
        );
    }
}
