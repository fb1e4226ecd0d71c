-- Version 12: notifications (issue 20). Every message is written here before it is sent
-- (wall/notify/outbox.py); a sender claims due rows, sends, and records the outcome, so a
-- restart loses nothing and a dead gateway costs rows, not memory.
-- idem_key: one row per (event, channel, recipient): the same alert event enqueued twice is
-- one message. series: bumped by an operator's resend, which is a new attempt series with a
-- new Idempotency-Key / Message-ID; retries within a series keep theirs.
-- due_epoch / claim_until: seconds, for the sender's queries; the ISO columns are for people.
CREATE TABLE notify_outbox (
    id              INTEGER PRIMARY KEY,
    channel         TEXT NOT NULL,                 -- email | webhook | sms
    recipient       TEXT NOT NULL,
    kind            TEXT NOT NULL DEFAULT 'alert', -- alert | test
    province        TEXT,
    subject_vi      TEXT NOT NULL DEFAULT '',
    subject_en      TEXT NOT NULL DEFAULT '',
    body_vi         TEXT NOT NULL DEFAULT '',
    body_en         TEXT NOT NULL DEFAULT '',
    payload         TEXT NOT NULL DEFAULT '{}',    -- JSON: the webhook's event
    idem_key        TEXT NOT NULL UNIQUE,
    series          INTEGER NOT NULL DEFAULT 1,
    state           TEXT NOT NULL DEFAULT 'pending',   -- pending | sent | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    due_epoch       REAL NOT NULL,
    claim_until     REAL,
    claim_owner     TEXT,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    sent_at         TEXT
);
CREATE INDEX notify_outbox_due ON notify_outbox(state, due_epoch);

-- Contacts for notifications: a user subscribed by role and province gets e-mail and SMS here.
ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN phone TEXT NOT NULL DEFAULT '';
