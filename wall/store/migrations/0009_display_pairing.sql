-- Version 9: display pairings expire, their codes are unique while open, the approving admin
-- sees which node (address, first seen, browser); a display token made on a token's approval
-- lives no longer than that token (parent_id).
-- Pairings still open were made with 6-digit codes and no expiry: they are dropped, and their
-- nodes (whose next poll answers 404) start a new pairing.
DELETE FROM display_nodes WHERE state = 'pending';
ALTER TABLE display_nodes ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE display_nodes ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE display_nodes ADD COLUMN expires REAL NOT NULL DEFAULT 0;    -- epoch; pending only
ALTER TABLE display_nodes ADD COLUMN approved_token INTEGER;             -- tokens.id of the approver
CREATE UNIQUE INDEX display_nodes_open_code ON display_nodes(code) WHERE state = 'pending';
ALTER TABLE tokens ADD COLUMN parent_id INTEGER REFERENCES tokens(id);  -- dies with that token
