-- Placeholder in branch "indicators" only: migrations 3 and 4 come from other branches.
-- Delete this file when merging (the real 0003 replaces it).
SELECT 1;
