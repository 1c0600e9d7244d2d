-- Quality signals measured in flight, one set per decision: how the answer ended, whether it was
-- empty or (when JSON was asked for) valid, time to first token, generation speed and time queued
-- for a slot. Never any text. Rows written before this migration have none.
ALTER TABLE routing_decisions ADD COLUMN finish_reason  TEXT CHECK (finish_reason IN ('stop', 'length', 'tool_calls', 'content_filter', 'error'));
ALTER TABLE routing_decisions ADD COLUMN empty_answer   INTEGER;
ALTER TABLE routing_decisions ADD COLUMN json_valid     INTEGER;
ALTER TABLE routing_decisions ADD COLUMN ttft_ms        INTEGER;
ALTER TABLE routing_decisions ADD COLUMN tokens_per_sec REAL;
ALTER TABLE routing_decisions ADD COLUMN queued_ms      INTEGER NOT NULL DEFAULT 0;

-- The signals rolled up per hour, class and route (`local/<model>` or `frontier/<provider>/<model>`),
-- kept current with every batch of decisions as `spend_hourly` is. Time to first token is kept as
-- a histogram (non-cumulative buckets, upper bounds in milliseconds) so that any window's
-- percentiles can be read from it.
CREATE TABLE quality_hourly (
    hour            TEXT NOT NULL,
    effective_class TEXT NOT NULL,
    route           TEXT NOT NULL,
    requests        INTEGER NOT NULL,
    errors          INTEGER NOT NULL,
    truncated       INTEGER NOT NULL,
    empty           INTEGER NOT NULL,
    json_checked    INTEGER NOT NULL,
    json_valid      INTEGER NOT NULL,
    ttft_count      INTEGER NOT NULL,
    ttft_sum_ms     INTEGER NOT NULL,
    ttft_le_100     INTEGER NOT NULL,
    ttft_le_250     INTEGER NOT NULL,
    ttft_le_500     INTEGER NOT NULL,
    ttft_le_1000    INTEGER NOT NULL,
    ttft_le_2500    INTEGER NOT NULL,
    ttft_le_5000    INTEGER NOT NULL,
    ttft_le_10000   INTEGER NOT NULL,
    ttft_le_30000   INTEGER NOT NULL,
    ttft_over       INTEGER NOT NULL,
    tps_count       INTEGER NOT NULL,
    tps_sum         REAL NOT NULL,
    queued_sum_ms   INTEGER NOT NULL,
    PRIMARY KEY (hour, effective_class, route)
);
