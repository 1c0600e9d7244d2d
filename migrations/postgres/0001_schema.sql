-- farmhand schema (PostgreSQL). Table and column names are a public interface shared with the
-- SQLite schema: dashboards and ad-hoc SQL point at them.

-- One row per routed request. Never any prompt or completion text.
CREATE TABLE routing_decisions (
    id                 BIGSERIAL PRIMARY KEY,
    request_id         TEXT NOT NULL UNIQUE,
    ts                 TIMESTAMPTZ NOT NULL,
    agent              TEXT NOT NULL,
    declared_class     TEXT NOT NULL CHECK (declared_class IN ('auto', 'routine', 'reasoning', 'orchestration', 'sensitive')),
    effective_class    TEXT NOT NULL CHECK (effective_class IN ('routine', 'reasoning', 'orchestration', 'sensitive')),
    sensitive          BOOLEAN NOT NULL,
    sensitivity_reason TEXT,
    endpoint           TEXT NOT NULL CHECK (endpoint IN ('local', 'frontier', 'rejected')),
    provider           TEXT,
    node               TEXT,
    model              TEXT,
    est_tokens         BIGINT NOT NULL,
    prompt_tokens      BIGINT NOT NULL,
    completion_tokens  BIGINT NOT NULL,
    cost_usd           DOUBLE PRECISION NOT NULL,
    ttfb_ms            BIGINT,
    latency_ms         BIGINT NOT NULL,
    fallback           TEXT NOT NULL CHECK (fallback IN ('none', 'node_retry', 'to_frontier', 'to_local')),
    policy_version     BIGINT NOT NULL,
    status             INTEGER NOT NULL,
    error              TEXT
);
CREATE INDEX routing_decisions_ts ON routing_decisions (ts);
CREATE INDEX routing_decisions_agent_ts ON routing_decisions (agent, ts);

-- Decisions rolled up per UTC hour, kept current as decisions land. '' for a missing provider/model.
CREATE TABLE spend_hourly (
    hour              TIMESTAMPTZ NOT NULL,
    effective_class   TEXT NOT NULL,
    endpoint          TEXT NOT NULL,
    provider          TEXT NOT NULL DEFAULT '',
    model             TEXT NOT NULL DEFAULT '',
    agent             TEXT NOT NULL,
    requests          BIGINT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cost_usd          DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (hour, effective_class, endpoint, provider, model, agent)
);

-- Operator-controlled node state; a node without a row is active.
CREATE TABLE nodes (
    name       TEXT PRIMARY KEY,
    state      TEXT NOT NULL CHECK (state IN ('active', 'draining', 'drained')),
    reason     TEXT,
    changed_by TEXT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL
);

-- Live policy overrides, validated by the router before they are stored.
CREATE TABLE policy_overrides (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL,
    reason TEXT,
    set_by TEXT NOT NULL,
    set_at TIMESTAMPTZ NOT NULL
);

-- One row per override change: the monotonic policy version and every override after it.
CREATE TABLE policy_versions (
    version    BIGINT PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL,
    created_by TEXT NOT NULL,
    snapshot   JSONB NOT NULL
);

-- Every operator action, with who did it.
CREATE TABLE audit_log (
    id     BIGSERIAL PRIMARY KEY,
    ts     TIMESTAMPTZ NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_ts ON audit_log (ts);

-- Model pulls over SSH and their progress.
CREATE TABLE pull_jobs (
    id          BIGSERIAL PRIMARY KEY,
    node        TEXT NOT NULL,
    model       TEXT NOT NULL,
    state       TEXT NOT NULL,
    progress    DOUBLE PRECISION NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    error       TEXT
);
