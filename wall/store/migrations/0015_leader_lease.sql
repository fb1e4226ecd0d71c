-- Version 15: the leader lease and the controllers that share this store (issue 19;
-- wall/cluster/). Times that decide who leads are the DATABASE's clock in epoch seconds
-- (dialect.DB_NOW), so the controllers' own clocks never matter.
-- One row per lease (name "leader"): who holds it, until when, and its fencing epoch, which
-- grows by one each time the lease changes hands. The row is created by the first controller
-- that starts (not here: `iocwall store copy` wants empty tables).
CREATE TABLE leader_lease (
    name TEXT PRIMARY KEY,
    holder TEXT,
    epoch INTEGER NOT NULL DEFAULT 0,
    expires_at REAL NOT NULL DEFAULT 0
);

-- Each running controller, written by its renew loop: seen_at (database clock) tells the
-- live ones; a clean stop removes its row.
CREATE TABLE controllers (
    id TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    url TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL,
    seen_at REAL NOT NULL
);
