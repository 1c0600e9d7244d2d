-- What each running router last saw of each node: the node's state as it knows it and the
-- requests it still has in flight there. A drain completes when every live router is quiet.
CREATE TABLE router_presence (
    router_id   TEXT NOT NULL,
    node        TEXT NOT NULL,
    state_seen  TEXT NOT NULL CHECK (state_seen IN ('active', 'draining', 'drained')),
    in_flight   INTEGER NOT NULL CHECK (in_flight >= 0),
    quiet       INTEGER NOT NULL,
    reported_at TEXT NOT NULL,
    PRIMARY KEY (router_id, node)
);
CREATE INDEX router_presence_node ON router_presence (node, reported_at);

-- Pulls report progress at least every few seconds; a job silent for long was abandoned.
ALTER TABLE pull_jobs ADD COLUMN updated_at TEXT NOT NULL DEFAULT '';
UPDATE pull_jobs SET updated_at = COALESCE(finished_at, started_at);
UPDATE pull_jobs SET state = 'failed', error = 'abandoned before the upgrade to one pull per node',
    finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE state IN ('queued', 'running');
-- One pull per node at a time, across every console and CLI.
CREATE UNIQUE INDEX pull_jobs_one_active ON pull_jobs (node) WHERE state IN ('queued', 'running');
