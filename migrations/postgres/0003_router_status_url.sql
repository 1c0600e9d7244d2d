-- Where each router serves its status (decisions held for the store), so a console can ask the
-- routers themselves while the store is away. NULL for routers that do not say.
ALTER TABLE router_presence ADD COLUMN status_url TEXT;
