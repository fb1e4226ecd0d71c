-- Version 3: no live secret in clear in the database.
-- Sessions are looked up by the sha256 of their id (the id itself is only in the signed
-- cookie). Ids stored in clear by version 2 cannot be hashed here and may have been read by
-- other local accounts (older releases left the file world-readable): they are dropped,
-- together with the session signing secret, which now lives in <data_dir>/session.key.
DELETE FROM sessions;
ALTER TABLE sessions RENAME COLUMN id TO id_hash;
DELETE FROM settings WHERE key = 'session_secret';

-- Bearer tokens: an expiry, the account that made them (a token dies with it), unique labels.
ALTER TABLE tokens ADD COLUMN expires REAL;              -- epoch seconds
ALTER TABLE tokens ADD COLUMN created_by_id INTEGER;     -- users.id; NULL = made by the server
UPDATE tokens SET created_by_id = (SELECT u.id FROM users u WHERE u.username = tokens.created_by);
-- Tokens made before there were expiries get 90 days (the default) from this upgrade; tokens
-- whose maker is no longer a user (e.g. minted by another token) are revoked.
UPDATE tokens SET expires = CAST(strftime('%s', 'now') AS REAL) + 90 * 86400;
UPDATE tokens SET revoked_at = strftime('%Y-%m-%dT%H:%M:%S', 'now', '+7 hours') || '+07:00'
    WHERE created_by_id IS NULL AND created_by != '' AND revoked_at IS NULL;
UPDATE tokens SET label = label || ' #' || id
    WHERE id NOT IN (SELECT MIN(id) FROM tokens GROUP BY label COLLATE NOCASE);
CREATE UNIQUE INDEX tokens_label ON tokens(label COLLATE NOCASE);
