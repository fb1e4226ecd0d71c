-- Version 1: people, what they did, and small server settings.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    unit          TEXT NOT NULL DEFAULT '',
    display_name  TEXT NOT NULL DEFAULT '',
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE audit (
    id        INTEGER PRIMARY KEY,
    time      TEXT NOT NULL,          -- ISO 8601 +07:00, for people
    epoch     REAL NOT NULL,          -- seconds, for range queries
    actor     TEXT NOT NULL,
    role      TEXT NOT NULL DEFAULT '',
    unit      TEXT NOT NULL DEFAULT '',
    action    TEXT NOT NULL,
    target    TEXT NOT NULL DEFAULT '',
    before    TEXT,                   -- JSON summary or NULL
    after     TEXT,                   -- JSON summary or NULL
    client    TEXT NOT NULL DEFAULT ''
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
