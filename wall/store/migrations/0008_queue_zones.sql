-- Version 7: queue zones per camera, editable at run time (seeded once from [[analytics.zones]]).
-- One row per camera that ever had zones: a row with '[]' means "zones removed", so seeding
-- from config.toml never brings back zones an operator deleted.
CREATE TABLE queue_zones (
    camera      TEXT PRIMARY KEY,          -- camera id (the registry's, or the media server's)
    zones       TEXT NOT NULL DEFAULT '[]',-- JSON: [{"id": "c1", "polygon": [[x, y], ...]}, ...]
    source      TEXT NOT NULL DEFAULT 'api',   -- api, config, demo
    updated_at  TEXT NOT NULL,             -- ISO 8601 +07:00
    updated_by  TEXT NOT NULL DEFAULT ''
);
