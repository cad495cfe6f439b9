-- Search over address books: one row per searchable vCard value (FN, N,
-- EMAIL, TEL, …), folded for case-insensitive matching, with an FTS5
-- trigram index so that "contains" over tens of thousands of contacts is
-- an index lookup, not a scan of every card.
CREATE TABLE card_search (
    object_id INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,
    prop      TEXT    NOT NULL,
    value     TEXT    NOT NULL
) STRICT;
CREATE INDEX card_search_object ON card_search(object_id);

CREATE VIRTUAL TABLE card_search_fts USING fts5(
    value, content = 'card_search', content_rowid = 'rowid', tokenize = 'trigram'
);
CREATE TRIGGER card_search_insert AFTER INSERT ON card_search BEGIN
    INSERT INTO card_search_fts (rowid, value) VALUES (new.rowid, new.value);
END;
CREATE TRIGGER card_search_delete AFTER DELETE ON card_search BEGIN
    INSERT INTO card_search_fts (card_search_fts, rowid, value) VALUES ('delete', old.rowid, old.value);
END;
