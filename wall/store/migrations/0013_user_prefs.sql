-- Version 13: each user's own settings (My settings): the page they land on after login, the
-- language of the pages, the province and the wall the leader view, registry and console open
-- with. '' means "the role's default". One row per user, written on the first change.
CREATE TABLE user_prefs (
    user_id     INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    landing     TEXT NOT NULL DEFAULT '',      -- a page path the user's role may open
    lang        TEXT NOT NULL DEFAULT '',      -- vi | en
    province    TEXT NOT NULL DEFAULT '',      -- a unit code (HA-NOI), one of the 34
    wall        TEXT NOT NULL DEFAULT '',      -- walls.id
    updated_at  TEXT NOT NULL
);
