-- The shard count a saved gateway session was identified with: a session of another sharding is discarded
-- (IDENTIFY, not RESUME), since its guilds are not the ones this shard now serves. 0: saved by an older
-- version, before the count was recorded.
ALTER TABLE gateway_session ADD COLUMN shard_count INTEGER NOT NULL DEFAULT 0;
