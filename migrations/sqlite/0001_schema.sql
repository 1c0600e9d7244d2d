-- farmhand schema (SQLite). Table and column names are a public interface shared with the
-- PostgreSQL schema. Timestamps are TEXT in RFC 3339 UTC with microseconds
-- (`2026-05-01T12:34:56.789000Z`): fixed width, so they sort and compare as text.

-- One row per routed request. Never any prompt or completion text.
CREATE TABLE routing_decisions (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id         TEXT NOT NULL UNIQUE,
    ts                 TEXT NOT NULL,
    agent              TEXT NOT NULL,
    declared_class     TEXT NOT NULL CHECK (declared_class IN ('auto', 'routine', 'reasoning', 'orchestration', 'sensitive')),
    effective_class    TEXT NOT NULL CHECK (effective_class IN ('routine', 'reasoning', 'orchestration', 'sensitive')),
    sensitive          INTEGER NOT NULL CHECK (sensitive IN (0, 1)),
    sensitivity_reason TEXT,
    endpoint           TEXT NOT NULL CHECK (endpoint IN ('local', 'frontier', 'rejected')),
    provider           TEXT,
    node               TEXT,
    model              TEXT,
    est_tokens         INTEGER NOT NULL,
    prompt_tokens      INTEGER NOT NULL,
    completion_tokens  INTEGER NOT NULL,
    cost_usd           REAL NOT NULL,
    ttfb_ms            INTEGER,
    latency_ms         INTEGER NOT NULL,
    fallback           TEXT NOT NULL CHECK (fallback IN ('none', 'node_retry', 'to_frontier', 'to_local')),
    policy_version     INTEGER NOT NULL,
    status             INTEGER NOT NULL,
    error              TEXT
);
CREATE INDEX routing_decisions_ts ON routing_decisions (ts);
CREATE INDEX routing_decisions_agent_ts ON routing_decisions (agent, ts);

-- Decisions rolled up per UTC hour, kept current as decisions land. '' for a missing provider/model.
CREATE TABLE spend_hourly (
    hour              TEXT NOT NULL,
    effective_class   TEXT NOT NULL,
    endpoint          TEXT NOT NULL,
    provider          TEXT NOT NULL DEFAULT '',
    model             TEXT NOT NULL DEFAULT '',
    agent             TEXT NOT NULL,
    requests          INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd          REAL NOT NULL,
    PRIMARY KEY (hour, effective_class, endpoint, provider, model, agent)
);

-- Operator-controlled node state; a node without a row is active.
CREATE TABLE nodes (
    name       TEXT PRIMARY KEY,
    state      TEXT NOT NULL CHECK (state IN ('active', 'draining', 'drained')),
    reason     TEXT,
    changed_by TEXT NOT NULL,
    changed_at TEXT NOT NULL
);

-- Live policy overrides, validated by the router before they are stored.
CREATE TABLE policy_overrides (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL,
    reason TEXT,
    set_by TEXT NOT NULL,
    set_at TEXT NOT NULL
);

-- One row per override change: the monotonic policy version and every override after it (JSON).
CREATE TABLE policy_versions (
    version    INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    snapshot   TEXT NOT NULL
);

-- Every operator action, with who did it.
CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    ts     TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_ts ON audit_log (ts);

-- Model pulls over SSH and their progress.
CREATE TABLE pull_jobs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    node        TEXT NOT NULL,
    model       TEXT NOT NULL,
    state       TEXT NOT NULL,
    progress    REAL NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    error       TEXT
);
