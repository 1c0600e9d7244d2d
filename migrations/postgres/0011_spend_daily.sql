-- Spend rolled up per UTC day, with the keys of `spend_hourly`: windows of several days read whole
-- days from here and only their partial first and last days from the hourly rollup. Kept current
-- with every batch of decisions; filled from the hourly rollup for what came before.
CREATE TABLE spend_daily (
    day               TIMESTAMPTZ NOT NULL,
    effective_class   TEXT NOT NULL,
    endpoint          TEXT NOT NULL,
    provider          TEXT NOT NULL DEFAULT '',
    model             TEXT NOT NULL DEFAULT '',
    agent             TEXT NOT NULL,
    requests          BIGINT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cost_usd          DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (day, effective_class, endpoint, provider, model, agent)
);
INSERT INTO spend_daily
SELECT date_trunc('day', hour, 'UTC'), effective_class, endpoint, provider, model, agent,
    sum(requests), sum(prompt_tokens), sum(completion_tokens), sum(cost_usd)
FROM spend_hourly GROUP BY 1, 2, 3, 4, 5, 6;

-- The farm's volume per node, per UTC hour and per UTC day (local decisions only: the frontier
-- has no node). Apart from the spend rollups so that nodes do not multiply their rows.
CREATE TABLE node_hourly (
    hour              TIMESTAMPTZ NOT NULL,
    node              TEXT NOT NULL,
    requests          BIGINT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    PRIMARY KEY (hour, node)
);
INSERT INTO node_hourly
SELECT date_trunc('hour', ts, 'UTC'), node, count(*), sum(prompt_tokens), sum(completion_tokens)
FROM routing_decisions WHERE endpoint = 'local' AND node IS NOT NULL GROUP BY 1, 2;

CREATE TABLE node_daily (
    day               TIMESTAMPTZ NOT NULL,
    node              TEXT NOT NULL,
    requests          BIGINT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    PRIMARY KEY (day, node)
);
INSERT INTO node_daily
SELECT date_trunc('day', hour, 'UTC'), node, sum(requests), sum(prompt_tokens), sum(completion_tokens)
FROM node_hourly GROUP BY 1, 2;

-- Ratings and shadow samples are read by time (each comes after its decision), so the summaries
-- join from the few in the window rather than from every decision in it.
CREATE INDEX feedback_ts ON feedback (ts);
CREATE INDEX quality_samples_ts ON quality_samples (ts);
