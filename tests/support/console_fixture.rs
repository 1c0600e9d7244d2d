//! A fixed console state (12 nodes, decisions, spend, policy, batch jobs) for view snapshots and
//! the frame benchmark.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use farmhand::console::State;
use farmhand::console::jobs::JobsRead;
use farmhand::console::state::{QualityFigures, QualityWindows, SpendWindows, StoreStatus};
use farmhand::console::theme::Theme;
use farmhand::control::ControlSnapshot;
use farmhand::domain::{
    Attempt, AttemptOutcome, DecisionRecord, DeclaredClass, DrainState, Endpoint, Fallback, MemoryPressure,
    StoredDecision, TaskClass,
};
use farmhand::fleet::{FleetSnapshot, Health, InstalledModel, LoadedModel, NodeSnapshot};
use farmhand::quality::QualityLine;
use farmhand::store::{
    AgreementRow, AuditRow, BatchRow, BatchStatus, ClassDepth, FeedbackRow, JobCounts, JobRunRow, PeriodSpend,
    QualityRow, SpendGroup, SpendLine, SpendSummary,
};
use farmhand::wire::{AgentMetrics, PowerReading, PressureReading};

pub const GIB: u64 = 1 << 30;

pub fn now() -> DateTime<Utc> {
    "2026-11-25T12:00:00Z".parse().expect("fixed time")
}

pub fn node(index: usize) -> NodeSnapshot {
    let name = format!("mini-{:02}", index + 1);
    let total = if index < 4 { 64 * GIB } else { 32 * GIB };
    let used = total / 8 * (1 + index as u64 % 6);
    let mut node = NodeSnapshot::unseen(&name, if index < 4 { 4 } else { 1 });
    node.health = match index {
        4 => Health::Degraded,
        8 => Health::Down,
        _ => Health::Up,
    };
    node.last_seen = Some(now() - TimeDelta::seconds(if index == 8 { 95 } else { 1 }));
    node.poll_latency_ms = Some(2 + index as u64);
    if index == 8 {
        node.consecutive_failures = 4;
        node.last_error = Some("timed out".into());
    }
    node.installed = vec![
        InstalledModel {
            name: "llama3.1:8b".into(),
            size_bytes: 4_900_000_000,
        },
        InstalledModel {
            name: "qwen3:14b".into(),
            size_bytes: 9_300_000_000,
        },
    ];
    if index < 3 {
        node.loaded = vec![LoadedModel {
            name: "llama3.1:8b".into(),
            size_bytes: 6_200_000_000,
            expires_at: now() + TimeDelta::seconds(252 + index as i64 * 60),
            active_at: now() - TimeDelta::seconds(48),
        }];
    }
    if index != 4 {
        node.metrics = Some(AgentMetrics {
            hostname: name.clone(),
            sampled_at: now(),
            memory_total_bytes: total,
            memory_used_bytes: used,
            memory_available_bytes: total - used,
            swap_total_bytes: 2 * GIB,
            swap_used_bytes: 0,
            cpu_percent: 12.5,
            cpu_count: 10,
            load_average: [1.25, 0.75, 0.5],
            uptime_secs: 86_400,
            ollama: None,
            pressure: Some(PressureReading {
                level: match index {
                    2 => MemoryPressure::Warn,
                    3 => MemoryPressure::Critical,
                    _ => MemoryPressure::Normal,
                },
                source: "macos".into(),
                compressor_bytes: Some(used / 10),
                psi_some_avg10: None,
                psi_full_avg10: None,
            }),
            power: Some(PowerReading {
                cpu_watts: Some(2.5),
                gpu_watts: Some(4.0 + index as f64 * 2.0),
                ane_watts: Some(0.0),
                all_watts: Some(6.5 + index as f64 * 2.0),
                sys_watts: Some(12.0 + index as f64 * 2.0),
                cpu_temp_c: Some(45.0),
                gpu_temp_c: Some(50.0 + index as f64),
            }),
        });
    }
    node
}

pub const AGENTS: [&str; 5] = [
    "ticket-classifier",
    "summariser",
    "planner",
    "code-reviewer",
    "hr-extractor",
];

pub fn decision(id: i64) -> StoredDecision {
    let i = id as usize;
    let (class, endpoint) = match i % 5 {
        0 => (TaskClass::Routine, Endpoint::Local),
        1 => (TaskClass::Routine, Endpoint::Frontier),
        2 => (TaskClass::Orchestration, Endpoint::Frontier),
        3 => (TaskClass::Reasoning, Endpoint::Rejected),
        _ => (TaskClass::Sensitive, Endpoint::Local),
    };
    let (provider, node, model) = match endpoint {
        Endpoint::Local => (
            Some("ollama"),
            Some(format!("mini-{:02}", i % 12 + 1)),
            Some("llama3.1:8b"),
        ),
        Endpoint::Frontier => (Some("anthropic"), None, Some("claude-sonnet-4-6")),
        Endpoint::Rejected => (None, None, None),
    };
    // Every tenth decision reached its node after another timed out: the trace shows both.
    let retried = endpoint == Endpoint::Local && i.is_multiple_of(10);
    let attempt = |target: String, outcome, ms| Attempt { target, outcome, ms };
    let attempts = match (&node, provider, model) {
        (Some(node), _, _) if retried => vec![
            attempt(format!("mini-{:02}", (i + 2) % 12 + 1), AttemptOutcome::Timeout, 1000),
            attempt(node.clone(), AttemptOutcome::Ok, 212),
        ],
        (Some(node), _, _) => vec![attempt(node.clone(), AttemptOutcome::Ok, 40)],
        (None, Some(provider), Some(model)) => vec![attempt(format!("{provider}/{model}"), AttemptOutcome::Ok, 40)],
        _ => Vec::new(),
    };
    StoredDecision {
        id,
        record: DecisionRecord {
            request_id: format!("fh-test-{id:04}"),
            ts: now() - TimeDelta::seconds(60 - id),
            agent: AGENTS[i % AGENTS.len()].into(),
            declared_class: if class == TaskClass::Sensitive {
                DeclaredClass::Routine
            } else {
                class.into()
            },
            effective_class: class,
            sensitive: class == TaskClass::Sensitive,
            sensitivity_reason: (class == TaskClass::Sensitive).then(|| "detector:email".to_string()),
            endpoint,
            provider: provider.map(String::from),
            node,
            model: model.map(String::from),
            est_tokens: 120,
            prompt_tokens: if endpoint == Endpoint::Rejected { 0 } else { 100 },
            completion_tokens: if endpoint == Endpoint::Rejected { 0 } else { 40 },
            cost_usd: if endpoint == Endpoint::Frontier { 0.0021 } else { 0.0 },
            ttfb_ms: (endpoint != Endpoint::Rejected).then_some(40),
            latency_ms: 100 + id,
            fallback: if retried { Fallback::NodeRetry } else { Fallback::None },
            policy_version: 3,
            status: if endpoint == Endpoint::Rejected { 503 } else { 200 },
            error: (endpoint == Endpoint::Rejected).then(|| "no_capacity".to_string()),
            attempts,
            job_id: None,
            quality: Default::default(),
        },
    }
}

pub fn line(requests: i64, cost_usd: f64) -> SpendLine {
    SpendLine {
        requests,
        prompt_tokens: requests * 100,
        completion_tokens: requests * 40,
        cost_usd,
    }
}

pub fn summary(scale: i64) -> SpendSummary {
    let group = |name: &str, l: SpendLine| SpendGroup {
        name: name.into(),
        line: l,
    };
    SpendSummary {
        since: now() - TimeDelta::hours(24),
        until: now(),
        total: line(30 * scale, 1.26 * scale as f64),
        by_endpoint: vec![
            group("local", line(18 * scale, 0.0)),
            group("frontier", line(8 * scale, 1.26 * scale as f64)),
            group("rejected", line(4 * scale, 0.0)),
        ],
        by_class: vec![
            group("orchestration", line(4 * scale, 0.8 * scale as f64)),
            group("routine", line(20 * scale, 0.46 * scale as f64)),
            group("sensitive", line(6 * scale, 0.0)),
        ],
        by_provider: vec![
            group("anthropic", line(6 * scale, 1.0 * scale as f64)),
            group("openai", line(2 * scale, 0.26 * scale as f64)),
        ],
        by_model: vec![
            group("claude-sonnet-4-5", line(5 * scale, 0.9 * scale as f64)),
            group("gpt-5", line(2 * scale, 0.26 * scale as f64)),
            group("claude-haiku-4-5", line(scale, 0.1 * scale as f64)),
            group("llama3.1:8b", line(14 * scale, 0.0)),
            group("qwen3:14b", line(4 * scale, 0.0)),
        ],
        by_agent: AGENTS
            .iter()
            .map(|a| group(a, line(6 * scale, 0.2 * scale as f64)))
            .collect(),
        by_node: (1..=12)
            .map(|n| group(&format!("mini-{n:02}"), line((20 - n) * scale / 4, 0.0)))
            .collect(),
        quality: line(scale, 0.06 * scale as f64),
        hourly: (0..24)
            .map(|h| PeriodSpend {
                start: now() - TimeDelta::hours(23 - h),
                frontier: line(h % 5 * scale, 0.05 * (h % 7) as f64 * scale as f64),
                local: line((10 + h % 4 * 3) * scale, 0.0),
                rejected: line(h % 2, 0.0),
            })
            .collect(),
        daily: (0..30)
            .map(|d| PeriodSpend {
                start: farmhand::store::day_floor(now()) - TimeDelta::days(29 - d),
                frontier: line((d % 6 + 2) * scale, (0.6 + 0.15 * (d % 9) as f64) * scale as f64),
                local: line((40 + d % 5 * 7) * scale, 0.0),
                rejected: line(d % 3, 0.0),
            })
            .collect(),
        local_by_class: vec![
            group("routine", line(14 * scale, 0.0)),
            group("sensitive", line(4 * scale, 0.0)),
        ],
    }
}

/// A full console state with fixed data and no clocks.
/// Quality signals of one route: `scale` requests with the given error, truncation and JSON
/// shares in thousandths, and a time-to-first-token histogram.
fn quality_row(class: TaskClass, route: &str, scale: i64, per_mille: (i64, i64, i64), ttft: [i64; 9]) -> QualityRow {
    let (errors, truncated, json_invalid) = per_mille;
    let json_checked = scale / 4;
    QualityRow {
        class,
        route: route.into(),
        line: QualityLine {
            requests: scale,
            errors: scale * errors / 1000,
            truncated: scale * truncated / 1000,
            empty: scale / 200,
            json_checked,
            json_valid: json_checked - json_checked * json_invalid / 1000,
            ttft_count: ttft.iter().sum(),
            ttft_sum_ms: 0,
            ttft_buckets: ttft,
            tps_count: scale,
            tps_sum: scale as f64 * if route.starts_with("local/") { 38.0 } else { 71.0 },
            queued_sum_ms: 0,
        },
    }
}

/// The suggestion `farmhand recommend` makes from a week of reasoning twins agreeing with the frontier.
pub fn suggestion() -> farmhand::quality::recommend::Recommendation {
    farmhand::quality::recommend::Recommendation {
        class: TaskClass::Reasoning,
        key: "class.reasoning.local_under_tokens".into(),
        value: "2000".into(),
        under_tokens: 2000,
        requests: 412,
        samples: 412,
        agreement: 0.93,
        agreement_low: 0.90,
        agreement_high: 0.95,
        usd_per_day: 3.1,
        summary: "reasoning requests under 2,000 estimated tokens: local agreement 0.93 (n = 412, 95 % CI 0.90–0.95) and no SLO breach; moving them local saves about $3.10/day".into(),
    }
}

/// Quality over the last hour, 24 h and 7 d: local routine truncates more than the frontier.
pub fn quality_windows() -> QualityWindows {
    let figures = |scale: i64| QualityFigures {
        rows: vec![
            quality_row(
                TaskClass::Reasoning,
                "frontier/anthropic/claude-sonnet-4-6",
                40 * scale,
                (5, 10, 0),
                [0, 0, 2, 9, 14, 5, 0, 0, 0],
            ),
            quality_row(
                TaskClass::Reasoning,
                "local/qwen3:14b",
                6 * scale,
                (0, 60, 80),
                [0, 1, 2, 3, 0, 0, 0, 0, 0],
            ),
            quality_row(
                TaskClass::Routine,
                "frontier/anthropic/claude-sonnet-4-6",
                12 * scale,
                (0, 0, 0),
                [0, 0, 4, 6, 1, 0, 0, 0, 0],
            ),
            quality_row(
                TaskClass::Routine,
                "local/llama3.1:8b",
                412 * scale,
                (4, 45, 30),
                [180, 160, 40, 12, 6, 2, 0, 0, 0],
            ),
            quality_row(
                TaskClass::Sensitive,
                "local/qwen3:14b",
                30 * scale,
                (0, 20, 0),
                [4, 10, 8, 2, 0, 0, 0, 0, 0],
            ),
        ],
        feedback: vec![
            FeedbackRow {
                class: TaskClass::Routine,
                route: "local/llama3.1:8b".into(),
                metric: "task_done".into(),
                count: 41 * scale,
                mean: 0.93,
            },
            FeedbackRow {
                class: TaskClass::Reasoning,
                route: "frontier/anthropic/claude-sonnet-4-6".into(),
                metric: "task_done".into(),
                count: 12 * scale,
                mean: 0.97,
            },
        ],
        agreement: vec![
            AgreementRow {
                class: TaskClass::Routine,
                route: "local/llama3.1:8b".into(),
                n: 21 * scale,
                mean: 0.91,
                mean_square: 0.85,
            },
            AgreementRow {
                class: TaskClass::Reasoning,
                route: "frontier/anthropic/claude-sonnet-4-6".into(),
                n: 8 * scale,
                mean: 0.74,
                mean_square: 0.6,
            },
        ],
    };
    QualityWindows {
        hour: figures(1),
        day: figures(20),
        week: figures(130),
    }
}

/// The fixed state with a farm of `count` nodes (`mini-001`… from 100 on, as the simulator names
/// them).
pub fn farm_of(count: usize) -> State {
    let mut state = state();
    state.fleet.nodes = (0..count)
        .map(|index| {
            let mut n = node(index);
            if count >= 100 {
                n.name = format!("mini-{:03}", index + 1);
            }
            n
        })
        .collect();
    state
}

pub fn state() -> State {
    let mut state = State::new(now(), Theme::load("dark", None).expect("dark theme"));
    state.fleet = FleetSnapshot {
        nodes: (0..12).map(node).collect(),
    };
    state.control = Arc::new(ControlSnapshot {
        version: 3,
        overrides: vec![
            ("frontier.enabled".into(), "true".into()),
            ("budget.daily_usd".into(), "20".into()),
        ],
        node_states: HashMap::from([
            ("mini-07".to_string(), DrainState::Draining),
            ("mini-12".to_string(), DrainState::Drained),
        ]),
        read_at: Some(now()),
        store_error: None,
    });
    farmhand::console::update::apply(
        &mut state,
        farmhand::console::event::Event::Decisions((1..=60).map(decision).collect()),
    );
    state.spend = Some(SpendWindows {
        today: summary(1),
        day: summary(2),
        week: summary(9),
        month: summary(30),
        limits: Vec::new(),
        quality: quality_windows(),
    });
    state.quality.slo.insert(
        "routine".into(),
        farmhand::config::SloConfig {
            error_rate: Some(0.02),
            truncation_rate: Some(0.08),
            json_valid_rate: Some(0.9),
            ttft_p95_ms: Some(1500),
        },
    );
    state.audit = vec![
        AuditRow {
            id: 2,
            ts: now() - TimeDelta::minutes(5),
            actor: "ops@farm".into(),
            action: "node.draining".into(),
            target: "mini-07".into(),
            detail: "active -> draining (memory pressure)".into(),
        },
        AuditRow {
            id: 1,
            ts: now() - TimeDelta::hours(2),
            actor: "lead@farm".into(),
            action: "policy.set".into(),
            target: "budget.daily_usd".into(),
            detail: "(unset) -> 20 (quarter end)".into(),
        },
    ];
    state.budget_usd = 20.0;
    let config = farmhand::config::FleetConfig::default();
    state.policy_base = farmhand::console::settings::base_values(&config);
    state.frontier_prices = config.frontier_prices(now().date_naive());
    state.store = StoreStatus::Connected;
    state.store_label = "sqlite://farm.db".into();
    state.in_flight = Some(
        (0..12)
            .map(|i| (format!("mini-{:02}", i + 1), (i % 3) as u32))
            .collect(),
    );
    for read in jobs_reads() {
        farmhand::console::update::apply(&mut state, farmhand::console::event::Event::Jobs(Ok(Box::new(read))));
    }
    state
}

/// A batch of `total` jobs created `age` before [`now`], with a 24 h window.
pub fn batch(id: &str, agent: &str, status: BatchStatus, age: TimeDelta, counts: [i64; 4]) -> BatchRow {
    let [completed, failed, running, total] = counts;
    let created = now() - age;
    BatchRow {
        id: id.into(),
        agent: agent.into(),
        input_file_id: format!("file-{}", &id[6..14]),
        endpoint: "/v1/chat/completions".into(),
        completion_window: "24h".into(),
        status,
        paused: false,
        created_at: created,
        expires_at: created + TimeDelta::hours(24),
        in_progress_at: Some(created),
        finalizing_at: None,
        completed_at: (status == BatchStatus::Completed).then_some(created + TimeDelta::minutes(40)),
        failed_at: (status == BatchStatus::Failed).then_some(created),
        expired_at: (status == BatchStatus::Expired).then_some(created + TimeDelta::hours(24)),
        cancelling_at: (status == BatchStatus::Cancelling).then_some(now() - TimeDelta::seconds(20)),
        cancelled_at: None,
        metadata: None,
        errors: None,
        counts: JobCounts {
            total,
            completed,
            failed,
            queued: if status.is_terminal() || status == BatchStatus::Cancelling {
                0
            } else {
                total - completed - failed - running
            },
            running,
        },
    }
}

/// Batches in every state worth showing, newest first, as read at `at`; `progress` is added to
/// the finished jobs of the running ones (a minute's work between two reads).
pub fn batches(progress: i64) -> Vec<BatchRow> {
    use BatchStatus::*;
    let minutes = TimeDelta::minutes;
    let mut paused = batch(
        "batch_5b20d8e6a1c347f09e8b2d11",
        "summariser",
        InProgress,
        minutes(30),
        [300, 0, 0, 1200],
    );
    paused.paused = true;
    let late = batch(
        "batch_4d71c0b9e2a64f5c8b3e1a07",
        "code-reviewer",
        InProgress,
        TimeDelta::hours(23) + minutes(50),
        [90 + progress / 12, 0, 1, 5000],
    );
    let mut refused = batch(
        "batch_1a2b3c4d5e6f47a8b9c0d1e2",
        "hr-extractor",
        Failed,
        TimeDelta::hours(3),
        [0, 0, 0, 0],
    );
    refused.errors = Some(serde_json::json!([
        {"code": "invalid_json_line", "line": 7, "message": "line 7 is not valid JSON"}
    ]));
    vec![
        batch(
            "batch_7c1e9a52f04b4e8a9d31c6f0",
            "ticket-classifier",
            InProgress,
            minutes(12),
            [780 + progress, 10 + progress / 60, 8, 2000],
        ),
        paused,
        late,
        batch(
            "batch_3f9a1c2e7d6b48a5b0c9e4f2",
            "hr-extractor",
            Cancelling,
            TimeDelta::hours(1),
            [40, 1, 2, 500],
        ),
        batch(
            "batch_2e8b7a6c5d4f43e2a1b0c9d8",
            "ticket-classifier",
            Completed,
            TimeDelta::hours(2),
            [1990, 10, 0, 2000],
        ),
        refused,
        batch(
            "batch_0f1e2d3c4b5a49687f6e5d4c",
            "summariser",
            Expired,
            TimeDelta::hours(26),
            [800, 200, 0, 1000],
        ),
    ]
}

/// A failed attempt at a job of the first batch that ended `ago` before [`now`].
pub fn failure(code: Option<&str>, outcome: &str, status: Option<i32>, ago: TimeDelta) -> JobRunRow {
    JobRunRow {
        job_id: 4242,
        batch_id: "batch_7c1e9a52f04b4e8a9d31c6f0".into(),
        attempt: 2,
        router_id: "router-a:4242".into(),
        target: Some("mini-03".into()),
        started_at: now() - ago - TimeDelta::seconds(2),
        ended_at: Some(now() - ago),
        outcome: outcome.into(),
        status_code: status,
        error_code: code.map(String::from),
        prompt_tokens: 0,
        completion_tokens: 0,
        cost_usd: 0.0,
        request_id: None,
    }
}

/// Two reads of batch jobs a minute apart, the second at [`now`].
pub fn jobs_reads() -> [JobsRead; 2] {
    let seconds = TimeDelta::seconds;
    let read = |at: DateTime<Utc>, progress: i64| JobsRead {
        at,
        batches: batches(progress),
        depth: vec![
            ClassDepth {
                class: "routine".into(),
                queued: 2318,
                running: 8,
            },
            ClassDepth {
                class: "reasoning".into(),
                queued: 12,
                running: 0,
            },
            ClassDepth {
                class: "sensitive".into(),
                queued: 0,
                running: 2,
            },
        ],
        running: vec![
            ("mini-01".into(), 2),
            ("mini-02".into(), 2),
            ("mini-03".into(), 1),
            ("mini-04".into(), 3),
            ("anthropic".into(), 2),
        ],
        failures: [
            (Some("timeout"), "retry", Some(504), 20),
            (Some("node_down"), "retry", None, 110),
            (Some("timeout"), "retry", Some(504), 130),
            (None, "lost", None, 200),
            (Some("rate_limited"), "retry", Some(429), 240),
            (Some("timeout"), "failed", Some(504), 300),
            (Some("invalid_request"), "failed", Some(400), 400),
        ]
        .into_iter()
        .map(|(code, outcome, status, ago)| failure(code, outcome, status, seconds(ago)))
        .collect(),
    };
    [read(now() - seconds(60), 0), read(now(), 120)]
}
