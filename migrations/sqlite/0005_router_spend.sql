-- Each router's own frontier spend per UTC day and agent, written about twice a second, so that
-- every router can enforce one daily budget for the whole fleet. Rows of routers that stopped stay:
-- their spend still counts for the day. `reported_at` tells live routers from gone ones.
-- `leased_usd`, on the row with the empty agent, is the share of the day's budget the router may
-- spend in total; live routers' leases never add up to more than the budget.
-- For an agent with limits, the router also reports what it counts now (requests and tokens in
-- the last minute, requests in flight) and the limits it enforces (NULL: none).
CREATE TABLE router_spend (
    day          TEXT    NOT NULL,
    router_id    TEXT    NOT NULL,
    agent        TEXT    NOT NULL,
    cost_usd     REAL    NOT NULL DEFAULT 0,
    leased_usd   REAL    NOT NULL DEFAULT 0,
    requests_1m  INTEGER  NOT NULL DEFAULT 0,
    tokens_1m    INTEGER  NOT NULL DEFAULT 0,
    in_flight    INTEGER  NOT NULL DEFAULT 0,
    rpm_limit    INTEGER,
    tpm_limit    INTEGER,
    max_in_flight_limit INTEGER,
    daily_usd_limit REAL,
    reported_at  TEXT    NOT NULL,
    PRIMARY KEY (day, router_id, agent)
);
