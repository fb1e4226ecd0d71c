-- Version 6: video walls. Self-contained: no foreign keys to other parts' tables.
CREATE TABLE walls (
    id          TEXT PRIMARY KEY,            -- "demo", "ioc-main"
    name        TEXT NOT NULL,
    columns     INTEGER NOT NULL DEFAULT 1,  -- the matrix of monitors
    rows        INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL
);

CREATE TABLE monitors (
    wall        TEXT NOT NULL REFERENCES walls(id) ON DELETE CASCADE,
    id          TEXT NOT NULL,               -- "1", "2"
    col         INTEGER NOT NULL DEFAULT 0,  -- position in the wall's matrix
    row         INTEGER NOT NULL DEFAULT 0,
    node        TEXT NOT NULL DEFAULT '',    -- display node bound to it ('' = none)
    output      TEXT NOT NULL DEFAULT '',    -- that node's output (xrandr name)
    layout_version INTEGER NOT NULL DEFAULT 0,  -- what it should show (0 = nothing yet)
    PRIMARY KEY (wall, id)
);

-- Every saved layout of a monitor is a new version; old versions stay for undo and audit.
CREATE TABLE layouts (
    wall        TEXT NOT NULL,
    monitor     TEXT NOT NULL,
    version     INTEGER NOT NULL,
    body        TEXT NOT NULL,               -- layout JSON (layouts.Layout.to_json)
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    PRIMARY KEY (wall, monitor, version),
    FOREIGN KEY (wall, monitor) REFERENCES monitors(wall, id) ON DELETE CASCADE
);

CREATE TABLE presets (
    wall        TEXT NOT NULL REFERENCES walls(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    body        TEXT NOT NULL,               -- preset JSON (layouts.Preset.to_json)
    updated_at  TEXT NOT NULL,
    updated_by  TEXT NOT NULL,
    PRIMARY KEY (wall, name)
);

-- Display nodes: a pairing code shown on screen, approved by an admin; then a token.
CREATE TABLE display_nodes (
    id          TEXT PRIMARY KEY,            -- random, given at pairing
    name        TEXT NOT NULL,
    code        TEXT NOT NULL,               -- the code on screen; '' once approved
    poll_hash   TEXT NOT NULL,               -- sha256 of the secret the node polls with
    state       TEXT NOT NULL,               -- pending | approved | revoked
    wall        TEXT NOT NULL DEFAULT '',
    token       TEXT NOT NULL DEFAULT '',    -- the display token, handed over once, then ''
    created_at  TEXT NOT NULL,
    approved_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX display_nodes_code ON display_nodes(code);

CREATE TABLE display_sessions (
    id          TEXT PRIMARY KEY,      -- sha256 of the session id, never the id itself
    node        TEXT NOT NULL REFERENCES display_nodes(id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    expires     REAL NOT NULL,
    revoked     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE alarm_rules (
    id          INTEGER PRIMARY KEY,
    wall        TEXT NOT NULL REFERENCES walls(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    centre      TEXT NOT NULL,
    counter     TEXT NOT NULL,
    threshold   INTEGER NOT NULL,            -- more than this many people ...
    duration_s  REAL NOT NULL,               -- ... for this long
    camera      TEXT NOT NULL,               -- shown ...
    monitor     TEXT NOT NULL,               -- ... on this monitor, highlighted
    auto_clear  INTEGER NOT NULL DEFAULT 1   -- cleared when the queue falls back
);

CREATE TABLE alarms (
    id          INTEGER PRIMARY KEY,
    rule        INTEGER NOT NULL REFERENCES alarm_rules(id) ON DELETE CASCADE,
    raised_at   TEXT NOT NULL,
    count       INTEGER NOT NULL,
    restore_version INTEGER NOT NULL,        -- the monitor's layout before the alarm
    cleared_at  TEXT,
    cleared_by  TEXT
);
-- One open alarm per rule, also with several controllers racing to raise it.
CREATE UNIQUE INDEX alarms_open ON alarms(rule) WHERE cleared_at IS NULL;
