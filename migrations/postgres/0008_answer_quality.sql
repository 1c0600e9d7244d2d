-- Quality signals measured in flight, one set per decision: how the answer ended, whether it was
-- empty or (when JSON was asked for) valid, time to first token, generation speed and time queued
-- for a slot. Never any text. Rows written before this migration have none.
ALTER TABLE routing_decisions
    ADD COLUMN finish_reason  TEXT CHECK (finish_reason IN ('stop', 'length', 'tool_calls', 'content_filter', 'error')),
    ADD COLUMN empty_answer   BOOLEAN,
    ADD COLUMN json_valid     BOOLEAN,
    ADD COLUMN ttft_ms        BIGINT,
    ADD COLUMN tokens_per_sec DOUBLE PRECISION,
    ADD COLUMN queued_ms      BIGINT NOT NULL DEFAULT 0;

-- The signals rolled up per hour, class and route (`local/<model>` or `frontier/<provider>/<model>`),
-- kept current with every batch of decisions as `spend_hourly` is. Time to first token is kept as
-- a histogram (non-cumulative buckets, upper bounds in milliseconds) so that any window's
-- percentiles can be read from it.
CREATE TABLE quality_hourly (
    hour            TIMESTAMPTZ NOT NULL,
    effective_class TEXT NOT NULL,
    route           TEXT NOT NULL,
    requests        BIGINT NOT NULL,
    errors          BIGINT NOT NULL,
    truncated       BIGINT NOT NULL,
    empty           BIGINT NOT NULL,
    json_checked    BIGINT NOT NULL,
    json_valid      BIGINT NOT NULL,
    ttft_count      BIGINT NOT NULL,
    ttft_sum_ms     BIGINT NOT NULL,
    ttft_le_100     BIGINT NOT NULL,
    ttft_le_250     BIGINT NOT NULL,
    ttft_le_500     BIGINT NOT NULL,
    ttft_le_1000    BIGINT NOT NULL,
    ttft_le_2500    BIGINT NOT NULL,
    ttft_le_5000    BIGINT NOT NULL,
    ttft_le_10000   BIGINT NOT NULL,
    ttft_le_30000   BIGINT NOT NULL,
    ttft_over       BIGINT NOT NULL,
    tps_count       BIGINT NOT NULL,
    tps_sum         DOUBLE PRECISION NOT NULL,
    queued_sum_ms   BIGINT NOT NULL,
    PRIMARY KEY (hour, effective_class, route)
);
