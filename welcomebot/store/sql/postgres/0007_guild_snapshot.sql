-- What the gateway told us about each guild (GUILD_CREATE and GUILD_UPDATE, member adds and removes), so a
-- welcome after a restart whose session RESUMEs (Discord sends no GUILD_CREATE then) still names the server
-- and counts its members right. session_id and seq name the last dispatch counted into member_count: a
-- dispatch replayed after a kill (the saved sequence lags behind) is not counted twice.
CREATE TABLE guild_snapshot (
    guild_id           BIGINT           PRIMARY KEY,
    name               TEXT             NOT NULL,
    icon               TEXT,
    member_count       BIGINT,
    system_channel_id  BIGINT,
    session_id         TEXT             NOT NULL DEFAULT '',
    seq                BIGINT           NOT NULL DEFAULT 0,
    updated_at         DOUBLE PRECISION NOT NULL
);
