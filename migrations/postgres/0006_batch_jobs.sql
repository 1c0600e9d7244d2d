-- Batch jobs (the OpenAI Batch API on the farm's idle capacity): uploaded input files, batches,
-- one job per input line, and every attempt at a job. Request bodies, results and input files are
-- the only prompt or completion text farmhand keeps; they arrive sealed (AEAD) and are removed
-- once retention has passed after their batch ended.

-- Files uploaded with purpose=batch. `content` is the sealed file; NULL once retention removed it.
CREATE TABLE batch_files (
    id         TEXT NOT NULL PRIMARY KEY,
    agent      TEXT NOT NULL,
    filename   TEXT NOT NULL,
    bytes      BIGINT NOT NULL,
    lines      BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    content    BYTEA
);
CREATE INDEX batch_files_created_at ON batch_files (created_at) WHERE content IS NOT NULL;

-- One row per batch, with OpenAI's life-cycle times. `ended_at` is when it reached a terminal
-- status (completed, failed, expired, cancelled; cleared when a retry reopens it), `purged_at`
-- when retention removed its payloads. Job counts are read from `jobs`.
CREATE TABLE batches (
    id                TEXT NOT NULL PRIMARY KEY,
    agent             TEXT NOT NULL,
    input_file_id     TEXT NOT NULL REFERENCES batch_files (id),
    endpoint          TEXT NOT NULL,
    completion_window TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('validating', 'failed', 'in_progress', 'finalizing',
                          'completed', 'expired', 'cancelling', 'cancelled')),
    paused            BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        TIMESTAMPTZ NOT NULL,
    expires_at        TIMESTAMPTZ NOT NULL,
    in_progress_at    TIMESTAMPTZ,
    finalizing_at     TIMESTAMPTZ,
    completed_at      TIMESTAMPTZ,
    failed_at         TIMESTAMPTZ,
    expired_at        TIMESTAMPTZ,
    cancelling_at     TIMESTAMPTZ,
    cancelled_at      TIMESTAMPTZ,
    ended_at          TIMESTAMPTZ,
    purged_at         TIMESTAMPTZ,
    metadata          JSONB,
    errors            JSONB
);
-- Unique, so a claim walking batches oldest first can take each one's jobs in line order.
CREATE UNIQUE INDEX batches_created_at ON batches (created_at, id);
CREATE INDEX batches_agent_created_at ON batches (agent, created_at, id);
CREATE INDEX batches_input_file_id ON batches (input_file_id);
CREATE INDEX batches_open ON batches (status) WHERE status IN ('validating', 'in_progress', 'cancelling');
CREATE INDEX batches_ended_at ON batches (ended_at) WHERE purged_at IS NULL;

-- One job per input line. A worker claims a queued job (or a running one whose lease ran out: its
-- router died) by taking its lease; `attempts` counts claims. A job backing off before a retry is
-- queued with a later `not_before`. `request` and `result` are sealed; NULL once retention removed
-- them. `claimed_at` is when the current attempt's lease was taken.
CREATE TABLE jobs (
    id          BIGSERIAL PRIMARY KEY,
    batch_id    TEXT NOT NULL REFERENCES batches (id),
    line        BIGINT NOT NULL,
    custom_id   TEXT NOT NULL,
    class       TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'expired', 'cancelled')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  TIMESTAMPTZ NOT NULL,
    lease_owner TEXT,
    lease_until TIMESTAMPTZ,
    claimed_at  TIMESTAMPTZ,
    target      TEXT,
    request     BYTEA,
    result      BYTEA,
    status_code INTEGER,
    error_code  TEXT,
    finished_at TIMESTAMPTZ,
    UNIQUE (batch_id, custom_id)
);
-- Claiming walks a batch's queued jobs by line (`not_before` in the key lets it skip jobs backing
-- off without reading the table); counts, output and error files read a batch's jobs by state.
CREATE INDEX jobs_batch_state ON jobs (batch_id, state, line, not_before);
-- Leases that ran out, and running jobs per target.
CREATE INDEX jobs_running ON jobs (lease_until) WHERE state = 'running';

-- One row per attempt at a job: where it ran, how it ended, tokens and cost. Never any text.
-- `outcome` is ok, retry, failed, expired, cancelled, or lost (its router died holding the lease).
-- `request_id` is the attempt's routing decision, when one was made.
CREATE TABLE job_runs (
    id                BIGSERIAL PRIMARY KEY,
    job_id            BIGINT NOT NULL REFERENCES jobs (id),
    batch_id          TEXT NOT NULL,
    attempt           INTEGER NOT NULL,
    router_id         TEXT NOT NULL,
    target            TEXT,
    started_at        TIMESTAMPTZ NOT NULL,
    ended_at          TIMESTAMPTZ,
    outcome           TEXT NOT NULL CHECK (outcome IN ('ok', 'retry', 'failed', 'expired', 'cancelled', 'lost')),
    status_code       INTEGER,
    error_code        TEXT,
    prompt_tokens     BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    cost_usd          DOUBLE PRECISION NOT NULL DEFAULT 0,
    request_id        TEXT
);
CREATE INDEX job_runs_batch ON job_runs (batch_id, started_at);
CREATE INDEX job_runs_job ON job_runs (job_id);
CREATE INDEX job_runs_failures ON job_runs (ended_at) WHERE outcome IN ('retry', 'failed', 'lost');

-- The batch job an attempt's routing decision ran for (NULL for live traffic), so spend and job
-- history join. No foreign key: decisions are replayed from journals and must never be refused.
ALTER TABLE routing_decisions ADD COLUMN job_id BIGINT;
CREATE INDEX routing_decisions_job_id ON routing_decisions (job_id) WHERE job_id IS NOT NULL;
