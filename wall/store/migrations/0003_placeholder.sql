-- Placeholder so that this branch runs on its own: version 3 belongs to another branch.
-- DELETE THIS FILE when merging that branch's 0003_*.sql (it changes nothing).
SELECT 1;
