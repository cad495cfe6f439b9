-- Skjold's SQLite schema, version 1.
-- Append-only: later changes go into new numbered files.

CREATE TABLE principals (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,      -- the URL segment and login name, lower case
    display_name  TEXT,
    email         TEXT,
    password_hash TEXT    NOT NULL,             -- argon2id PHC string
    quota_bytes   INTEGER,                      -- NULL: the configured default
    used_bytes    INTEGER NOT NULL DEFAULT 0,   -- sum of the sizes of the user's objects
    created       INTEGER NOT NULL,             -- unix seconds
    disabled      INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Homes (parent_id NULL), calendars, address books and plain folders.
-- AUTOINCREMENT: ids are never reused, because sync tokens name them.
CREATE TABLE collections (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id    INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    parent_id   INTEGER REFERENCES collections(id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    components  TEXT,                            -- calendars: supported component names, comma-separated
    revision    INTEGER NOT NULL DEFAULT 0,      -- sync counter: bumped by every change of a member
    created     INTEGER NOT NULL,
    modified    INTEGER NOT NULL,
    UNIQUE (parent_id, name)
) STRICT;
CREATE UNIQUE INDEX collections_home ON collections(owner_id, kind) WHERE parent_id IS NULL;

-- Calendar objects, address objects and plain files. The body is the last
-- column so that metadata reads never touch its overflow pages.
CREATE TABLE objects (
    id            INTEGER PRIMARY KEY,
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    etag          TEXT    NOT NULL,
    content_type  TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    uid           TEXT,
    component     TEXT,
    first_start   INTEGER,                       -- UTC unix seconds, over the whole recurrence set
    last_end      INTEGER,                       -- NULL: open-ended
    recurring     INTEGER NOT NULL DEFAULT 0,
    created       INTEGER NOT NULL,
    modified      INTEGER NOT NULL,
    revision      INTEGER NOT NULL,
    body          BLOB    NOT NULL,
    UNIQUE (collection_id, name)
) STRICT;
CREATE UNIQUE INDEX objects_uid ON objects(collection_id, uid) WHERE uid IS NOT NULL;
CREATE INDEX objects_time ON objects(collection_id, first_start);

-- The sync log: the latest change of every member name, tombstones included.
-- One row per name keeps a sync after N changes at O(N).
CREATE TABLE changes (
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    revision      INTEGER NOT NULL,
    deleted       INTEGER NOT NULL,
    is_collection INTEGER NOT NULL DEFAULT 0,   -- its href ends in '/'
    PRIMARY KEY (collection_id, name)
) STRICT, WITHOUT ROWID;
CREATE INDEX changes_revision ON changes(collection_id, revision);

-- Dead properties, each stored as a self-contained XML element.
CREATE TABLE properties (
    collection_id INTEGER REFERENCES collections(id) ON DELETE CASCADE,
    object_id     INTEGER REFERENCES objects(id) ON DELETE CASCADE,
    namespace     TEXT NOT NULL,
    name          TEXT NOT NULL,
    xml           TEXT NOT NULL,
    CHECK ((collection_id IS NULL) <> (object_id IS NULL))
) STRICT;
CREATE UNIQUE INDEX properties_collection ON properties(collection_id, namespace, name) WHERE collection_id IS NOT NULL;
CREATE UNIQUE INDEX properties_object ON properties(object_id, namespace, name) WHERE object_id IS NOT NULL;

-- Per-device passwords: revocable without changing the account password.
CREATE TABLE app_passwords (
    id            INTEGER PRIMARY KEY,
    principal_id  INTEGER NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    label         TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    created       INTEGER NOT NULL,
    last_used     INTEGER,
    UNIQUE (principal_id, label)
) STRICT;
