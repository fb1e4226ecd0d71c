-- Version 14: health alerts and camera availability (issue 20, health part; wall/health/).
-- Camera availability: seconds a camera was seen live and seconds it was observed at all (pulled:
-- not idle), per camera and day (YYYY-MM-DD in +07:00). The sampler adds to a row per flush.
CREATE TABLE camera_availability (
    camera TEXT NOT NULL,
    day TEXT NOT NULL,
    province TEXT NOT NULL DEFAULT '',
    up_s REAL NOT NULL DEFAULT 0,
    observed_s REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (camera, day)
);
CREATE INDEX camera_availability_day ON camera_availability(day, province);

-- Alerts: raised -> acknowledged -> resolved. open_key is "rule|subject" while the alert is
-- open and NULL once resolved, so the store itself keeps one open alert per rule and subject
-- (several controllers may evaluate the same rules).
CREATE TABLE health_alerts (
    id INTEGER PRIMARY KEY,
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    state TEXT NOT NULL,
    province TEXT NOT NULL DEFAULT '',
    severity TEXT NOT NULL,
    title_vi TEXT NOT NULL,
    title_en TEXT NOT NULL,
    detail_vi TEXT NOT NULL DEFAULT '',
    detail_en TEXT NOT NULL DEFAULT '',
    link TEXT NOT NULL DEFAULT '',
    raised_at TEXT NOT NULL,
    acknowledged_by TEXT,
    acknowledged_at TEXT,
    resolved_at TEXT,
    open_key TEXT UNIQUE
);
CREATE INDEX health_alerts_state ON health_alerts(state, id);
CREATE INDEX health_alerts_province ON health_alerts(province, id);
