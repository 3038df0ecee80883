-- Who runs each gateway shard (DESIGN.md "Owners are processes"): one row per shard id, held by one process
-- (owner: its unique id) until lease_until, renewed every few seconds. token goes up by one whenever another
-- owner takes the shard, so a process that lost it (paused, cut off) can tell and stops. Not part of dumps:
-- a lease describes running processes, not data.
CREATE TABLE shard_lease (
    shard_id     INTEGER PRIMARY KEY,
    shard_count  INTEGER NOT NULL,
    owner        TEXT    NOT NULL,
    token        BIGINT  NOT NULL,
    lease_until  REAL NOT NULL
);
