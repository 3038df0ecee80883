-- Where a welcome was posted and when it is to be deleted (a guild's "auto-delete after N minutes"). Kept in
-- the log, not in memory, so a restart still deletes what is due.
ALTER TABLE welcome_log ADD COLUMN channel_id INTEGER;
ALTER TABLE welcome_log ADD COLUMN delete_at REAL;
CREATE INDEX welcome_log_delete_at ON welcome_log (delete_at) WHERE delete_at IS NOT NULL;
