-- Shadow agreement: for an answered request, how far its twin (the same request run on the
-- other side after the agent was answered) agreed with it. Scores only, never either answer.
-- `request_id` is the agent's decision, `twin_request_id` the twin's own (agent `shadow:<agent>`).
CREATE TABLE quality_samples (
    request_id      TEXT NOT NULL,
    twin_request_id TEXT NOT NULL,
    twin_route      TEXT NOT NULL,
    score           DOUBLE PRECISION NOT NULL CHECK (score >= 0 AND score <= 1),
    method          TEXT NOT NULL CHECK (method IN ('exact', 'json_fields', 'token_f1')),
    ts              TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (request_id, twin_route)
);
