-- What the gateway told us about each guild (GUILD_CREATE and GUILD_UPDATE, member adds and removes), so a
-- welcome after a restart whose session RESUMEs (Discord sends no GUILD_CREATE then) still names the server
-- and counts its members right. session_id and seq name the last dispatch counted into member_count: a
-- dispatch replayed after a kill (the saved sequence lags behind) is not counted twice.
CREATE TABLE guild_snapshot (
    guild_id           INTEGER PRIMARY KEY,
    name               TEXT    NOT NULL,
    icon               TEXT,
    member_count       INTEGER,
    system_channel_id  INTEGER,
    session_id         TEXT    NOT NULL DEFAULT '',
    seq                INTEGER NOT NULL DEFAULT 0,
    updated_at         REAL    NOT NULL
);
