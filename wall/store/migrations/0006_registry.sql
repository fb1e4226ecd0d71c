-- Version 4: the camera registry. Provinces' connection profiles, their cameras, test results.
CREATE TABLE registry_profiles (
    province    TEXT PRIMARY KEY,          -- code of one of the 34 units, e.g. HA-NOI
    data        TEXT NOT NULL,             -- JSON: centre, contacts, system, path, transmission, IOC
    updated_at  TEXT NOT NULL,
    updated_by  TEXT NOT NULL DEFAULT ''
);

CREATE TABLE registry_cameras (
    id          TEXT PRIMARY KEY,          -- stable id, a-z0-9_- (cam1, ha-noi-3 ...)
    province    TEXT NOT NULL,
    centre      TEXT NOT NULL DEFAULT '',
    name        TEXT NOT NULL,
    location    TEXT NOT NULL DEFAULT '',
    onvif       TEXT NOT NULL DEFAULT '',  -- host:port of the ONVIF service, '' = none
    rtsp_main   TEXT NOT NULL DEFAULT '',  -- never with credentials
    rtsp_sub    TEXT NOT NULL DEFAULT '',
    transport   TEXT NOT NULL DEFAULT 'auto',
    secret      BLOB,                      -- Fernet token of {user, password}; NULL = none
    tags        TEXT NOT NULL DEFAULT '[]',
    source      TEXT NOT NULL DEFAULT 'api',   -- api, config, demo, import
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX registry_cameras_province ON registry_cameras(province, id);

CREATE TABLE registry_tests (
    id          INTEGER PRIMARY KEY,
    camera      TEXT NOT NULL REFERENCES registry_cameras(id) ON DELETE CASCADE,
    time        TEXT NOT NULL,             -- ISO 8601 +07:00
    status      TEXT NOT NULL,             -- PASS WARN FAIL SKIP (the smoke test's verdict)
    result      TEXT NOT NULL              -- JSON summary + the smoke report's rows
);
CREATE INDEX registry_tests_camera ON registry_tests(camera, id);
