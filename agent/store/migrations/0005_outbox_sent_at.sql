-- When the step under way was last sent to the ERP. After a lost answer the ERP may still be
-- working on the request: the poster looks the step up only once the connector's
-- in_doubt_seconds have passed since then, so a lookup never races the request it checks.
ALTER TABLE outbox ADD COLUMN sent_at TEXT;
