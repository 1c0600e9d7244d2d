-- Every attempt of a request, in order: [{"target": "mini-03", "outcome": "timeout", "ms": 1000}, …].
-- Targets are node names or provider/model; outcomes are `ok`, an HTTP status or a fixed code.
-- Rows written before this migration have none. A constant default adds the column without
-- rewriting the table.
ALTER TABLE routing_decisions ADD COLUMN attempts JSONB NOT NULL DEFAULT '[]'::jsonb;
