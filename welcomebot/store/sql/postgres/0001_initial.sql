-- welcomebot schema, PostgreSQL: the same tables as sql/sqlite/0001_initial.sql with PostgreSQL types.
-- Ids are Discord snowflakes (BIGINT); times are Unix epoch seconds (DOUBLE PRECISION).
-- No personal data beyond ids and configuration is stored.

CREATE TABLE guild_config (
    guild_id            BIGINT           PRIMARY KEY,
    welcome_channel_id  BIGINT,
    background_ref      TEXT,
    message_template    TEXT             NOT NULL,
    enabled             BOOLEAN          NOT NULL DEFAULT TRUE,
    options             JSONB            NOT NULL DEFAULT '{}',  -- card design and behaviour options
    channel_problem     TEXT,                                    -- why posting failed last, until the config changes
    updated_at          DOUBLE PRECISION NOT NULL
);

CREATE TABLE background_asset (
    content_hash  TEXT             PRIMARY KEY,
    media_type    TEXT             NOT NULL,
    size          BIGINT           NOT NULL,
    width         INTEGER          NOT NULL,
    height        INTEGER          NOT NULL,
    owner_guild   BIGINT           NOT NULL,
    created_at    DOUBLE PRECISION NOT NULL
);

-- One row per join: claimed (with an owner and a lease), then posted or failed.
CREATE TABLE welcome_log (
    guild_id     BIGINT           NOT NULL,
    user_id      BIGINT           NOT NULL,
    joined_at    TEXT             NOT NULL,
    status       TEXT             NOT NULL CHECK (status IN ('claimed', 'posted', 'failed')),
    owner        TEXT             NOT NULL,
    lease_until  DOUBLE PRECISION NOT NULL,
    attempts     INTEGER          NOT NULL DEFAULT 1,
    message_id   BIGINT,
    latency_ms   DOUBLE PRECISION,
    reason       TEXT,
    created_at   DOUBLE PRECISION NOT NULL,
    updated_at   DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (guild_id, user_id, joined_at)
);
CREATE INDEX welcome_log_unfinished ON welcome_log (status, owner) WHERE status = 'claimed';
CREATE INDEX welcome_log_created ON welcome_log (created_at);

CREATE TABLE gateway_session (
    shard_id    INTEGER          PRIMARY KEY,
    session_id  TEXT             NOT NULL,
    seq         BIGINT           NOT NULL,
    resume_url  TEXT             NOT NULL,
    updated_at  DOUBLE PRECISION NOT NULL
);

CREATE TABLE meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
