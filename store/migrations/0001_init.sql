-- Quaver store schema, version 1. Applied once, under pg_advisory_lock, by
-- the first node to start; recorded in schema_migrations.

CREATE TABLE snapshots (
    guild_id    text PRIMARY KEY,
    version     bigint NOT NULL CHECK (version > 0),
    data        bytea NOT NULL,
    position_ns bigint,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE guild_settings (
    guild_id            text PRIMARY KEY,
    dj_role_id          text NOT NULL DEFAULT '',
    default_volume      integer NOT NULL CHECK (default_volume BETWEEN 0 AND 1000),
    vote_skip_ratio     double precision NOT NULL CHECK (vote_skip_ratio BETWEEN 0 AND 1),
    announce_channel_id text NOT NULL DEFAULT '',
    auto_leave_minutes  integer NOT NULL CHECK (auto_leave_minutes >= 0),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE entitlements (
    id        text PRIMARY KEY,
    sku_id    text NOT NULL,
    user_id   text NOT NULL DEFAULT '',
    guild_id  text NOT NULL DEFAULT '',
    starts_at timestamptz,
    ends_at   timestamptz,
    deleted   boolean NOT NULL DEFAULT false
);
CREATE INDEX entitlements_guild ON entitlements (guild_id) WHERE guild_id <> '';
CREATE INDEX entitlements_user ON entitlements (user_id) WHERE user_id <> '';

CREATE TABLE play_history (
    id        bigserial PRIMARY KEY,
    guild_id  text NOT NULL,
    played_at timestamptz NOT NULL,
    track     jsonb NOT NULL
);
CREATE INDEX play_history_guild ON play_history (guild_id, id DESC);

CREATE TABLE playlists (
    owner_id   text NOT NULL,
    name       text NOT NULL,
    tracks     jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner_id, name)
);

-- A released or expired lease keeps its row so that token only grows.
CREATE TABLE leases (
    key        text PRIMARY KEY,
    owner      text NOT NULL,
    token      bigint NOT NULL,
    expires_at timestamptz NOT NULL
);
