-- Agents' ratings of their own decisions (`POST /v1/feedback`), one value per decision and
-- metric; a new rating replaces the old. Numbers only: a boolean metric is stored as 1 or 0.
-- Joined to `routing_decisions` by request id when quality is summed per class and route.
CREATE TABLE feedback (
    request_id TEXT NOT NULL,
    metric     TEXT NOT NULL,
    value      REAL NOT NULL,
    agent      TEXT NOT NULL,
    ts         TEXT NOT NULL,
    PRIMARY KEY (request_id, metric)
);
