-- Version 7: per camera, whether the RTSP client may answer a Basic challenge (the password
-- then crosses the network readable). Off for every existing camera: Digest only, as before.
ALTER TABLE registry_cameras ADD COLUMN allow_basic_auth INTEGER NOT NULL DEFAULT 0;
