-- Spend rolled up per UTC day, with the keys of `spend_hourly`: windows of several days read whole
-- days from here and only their partial first and last days from the hourly rollup. Kept current
-- with every batch of decisions; filled from the hourly rollup for what came before.
CREATE TABLE spend_daily (
    day               TEXT NOT NULL,
    effective_class   TEXT NOT NULL,
    endpoint          TEXT NOT NULL,
    provider          TEXT NOT NULL DEFAULT '',
    model             TEXT NOT NULL DEFAULT '',
    agent             TEXT NOT NULL,
    requests          INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd          REAL NOT NULL,
    PRIMARY KEY (day, effective_class, endpoint, provider, model, agent)
);
INSERT INTO spend_daily
SELECT substr(hour, 1, 10) || 'T00:00:00.000000Z', effective_class, endpoint, provider, model, agent,
    sum(requests), sum(prompt_tokens), sum(completion_tokens), total(cost_usd)
FROM spend_hourly GROUP BY 1, 2, 3, 4, 5, 6;

-- The farm's volume per node, per UTC hour and per UTC day (local decisions only: the frontier
-- has no node). Apart from the spend rollups so that nodes do not multiply their rows.
CREATE TABLE node_hourly (
    hour              TEXT NOT NULL,
    node              TEXT NOT NULL,
    requests          INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    PRIMARY KEY (hour, node)
);
INSERT INTO node_hourly
SELECT substr(ts, 1, 13) || ':00:00.000000Z', node, count(*), sum(prompt_tokens), sum(completion_tokens)
FROM routing_decisions WHERE endpoint = 'local' AND node IS NOT NULL GROUP BY 1, 2;

CREATE TABLE node_daily (
    day               TEXT NOT NULL,
    node              TEXT NOT NULL,
    requests          INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    PRIMARY KEY (day, node)
);
INSERT INTO node_daily
SELECT substr(hour, 1, 10) || 'T00:00:00.000000Z', node, sum(requests), sum(prompt_tokens), sum(completion_tokens)
FROM node_hourly GROUP BY 1, 2;

-- Ratings and shadow samples are read by time (each comes after its decision), so the summaries
-- join from the few in the window rather than from every decision in it.
CREATE INDEX feedback_ts ON feedback (ts);
CREATE INDEX quality_samples_ts ON quality_samples (ts);
