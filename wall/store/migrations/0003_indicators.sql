-- Version 5: indicator values reported by provinces (or computed), every revision kept.
-- Self-contained: refers to no table of migrations 3 and 4.
CREATE TABLE indicator_values (
    id             INTEGER PRIMARY KEY,
    indicator      TEXT NOT NULL,          -- registry id
    province       TEXT NOT NULL,          -- the unit as reported (63 before 2025-07-01, 34 after)
    period         TEXT NOT NULL,          -- 2024-08, 2024-Q3, 2024, 2024-08-15
    period_start   TEXT NOT NULL,          -- ISO date, for ordering and ranges
    value          REAL NOT NULL,
    revision       INTEGER NOT NULL,       -- 1 for the first value, 2 for the first revision ...
    superseded     INTEGER NOT NULL DEFAULT 0,  -- 1 once a later revision exists
    submitted_at   TEXT NOT NULL,          -- ISO 8601 +07:00
    submitted_epoch REAL NOT NULL,
    submitted_by   TEXT NOT NULL,
    source         TEXT NOT NULL,          -- api | csv | demo
    note           TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX indicator_values_revision
    ON indicator_values(indicator, province, period, revision);
CREATE UNIQUE INDEX indicator_values_current
    ON indicator_values(indicator, province, period) WHERE superseded = 0;
CREATE INDEX indicator_values_history
    ON indicator_values(indicator, province, period_start);
