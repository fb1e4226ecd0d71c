-- Version 15 (0016 once lease19's 0015_leader_lease is merged): rate limits in the shared store (issue 19): login guessing, own-password checks
-- and anonymous display pairing are limited across every controller of a site, not per process.
-- key: "<scope>:<kind>:" + a SHA-256 of what is counted (a typed user name may be a password
-- typed into the wrong field: it is never stored as such). state: the key's JSON (recent
-- failures, attempts being checked, blocks so far, blocked until). Times are wall-clock epoch
-- seconds; a row whose expires_at has passed says nothing any more and is deleted.
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX rate_limits_expires ON rate_limits(expires_at);
