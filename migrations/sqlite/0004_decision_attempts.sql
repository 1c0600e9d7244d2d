-- Every attempt of a request, in order, as JSON text: [{"target": "mini-03", "outcome": "timeout",
-- "ms": 1000}, …]. Targets are node names or provider/model; outcomes are `ok`, an HTTP status or a
-- fixed code. Rows written before this migration have none.
ALTER TABLE routing_decisions ADD COLUMN attempts TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(attempts));
