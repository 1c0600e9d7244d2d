-- PostgreSQL's migration 0007 drops the unique (batch_id, custom_id) index on jobs and the foreign
-- key from job_runs to jobs, which every row rewrite of its queue paid for. SQLite keeps both: it
-- rewrites rows in place, with one writer at a time, so they cost little here, and dropping them
-- would mean rebuilding both tables. `custom_id`s are checked distinct by the store on both
-- backends before a batch is inserted. This migration keeps both backends at the same version.
SELECT 1;
