-- welcomebot schema, SQLite. Ids are Discord snowflakes (INTEGER, 64-bit); times are Unix epoch seconds.
-- No personal data beyond ids and configuration is stored.

CREATE TABLE guild_config (
    guild_id            INTEGER PRIMARY KEY,
    welcome_channel_id  INTEGER,
    background_ref      TEXT,
    message_template    TEXT    NOT NULL,
    enabled             INTEGER NOT NULL DEFAULT 1,
    options             TEXT    NOT NULL DEFAULT '{}',  -- JSON: card design and behaviour options
    channel_problem     TEXT,                           -- why posting failed last, until the config changes
    updated_at          REAL    NOT NULL
);

CREATE TABLE background_asset (
    content_hash  TEXT    PRIMARY KEY,
    media_type    TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    owner_guild   INTEGER NOT NULL,
    created_at    REAL    NOT NULL
);

-- One row per join: claimed (with an owner and a lease), then posted or failed.
CREATE TABLE welcome_log (
    guild_id     INTEGER NOT NULL,
    user_id      INTEGER NOT NULL,
    joined_at    TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('claimed', 'posted', 'failed')),
    owner        TEXT    NOT NULL,
    lease_until  REAL    NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 1,
    message_id   INTEGER,
    latency_ms   REAL,
    reason       TEXT,
    created_at   REAL    NOT NULL,
    updated_at   REAL    NOT NULL,
    PRIMARY KEY (guild_id, user_id, joined_at)
);
CREATE INDEX welcome_log_unfinished ON welcome_log (status, owner) WHERE status = 'claimed';
CREATE INDEX welcome_log_created ON welcome_log (created_at);

CREATE TABLE gateway_session (
    shard_id    INTEGER PRIMARY KEY,
    session_id  TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    resume_url  TEXT    NOT NULL,
    updated_at  REAL    NOT NULL
);

CREATE TABLE meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
