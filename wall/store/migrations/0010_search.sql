-- Version 10: search (issue 20). Cameras and audit entries keep a folded copy of their
-- searchable text (lower-case ASCII, no diacritics: "Quầy 3" -> "quay 3"; wall/text.py `fold`,
-- registered on every connection as iocwall_fold), written with the row, so a search is a
-- LIKE over one column instead of folding every row at query time.
-- Audit entries get the province they concern (derived when written: a camera's province, a
-- registrar's own unit); entries written before this version keep NULL there.
ALTER TABLE registry_cameras ADD COLUMN search_folded TEXT NOT NULL DEFAULT '';
UPDATE registry_cameras SET search_folded = iocwall_fold(
    id || ' ' || province || ' ' || centre || ' ' || name || ' ' || location || ' ' || tags);
CREATE INDEX registry_cameras_search ON registry_cameras(search_folded);

ALTER TABLE audit ADD COLUMN province TEXT;
ALTER TABLE audit ADD COLUMN search_folded TEXT NOT NULL DEFAULT '';
UPDATE audit SET search_folded = iocwall_fold(actor || ' ' || action || ' ' || target);
CREATE INDEX audit_search ON audit(search_folded);
CREATE INDEX audit_province ON audit(province, id);
