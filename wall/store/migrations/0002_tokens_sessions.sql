-- Version 2: bearer tokens (scripts, display nodes), server-side sessions, audit indexes.
CREATE TABLE tokens (
    id          INTEGER PRIMARY KEY,
    label       TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,   -- sha256 hex of the token; the token itself is never stored
    role        TEXT NOT NULL,
    unit        TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL DEFAULT '',
    last_used   TEXT,
    revoked_at  TEXT
);

-- The cookie carries only a signed random id, so logout and "disable user" end a session at once.
CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    expires     REAL NOT NULL,          -- epoch seconds
    client      TEXT NOT NULL DEFAULT '',
    revoked     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE INDEX audit_epoch ON audit(epoch);
CREATE INDEX audit_actor ON audit(actor, epoch);
CREATE INDEX audit_action ON audit(action, epoch);
CREATE INDEX audit_unit ON audit(unit, epoch);
