-- Objects stored before the query indexes existed: their search rows and
-- time spans are computed again at the next start (see
-- collections::reindex_pending), which empties this table.
CREATE TABLE reindex_pending (
    object_id INTEGER PRIMARY KEY REFERENCES objects(id) ON DELETE CASCADE
) STRICT;
INSERT INTO reindex_pending (object_id)
    SELECT o.id FROM objects o JOIN collections c ON c.id = o.collection_id
    WHERE (c.kind = 'addressbook' AND NOT EXISTS (SELECT 1 FROM card_search s WHERE s.object_id = o.id))
       OR (c.kind = 'calendar' AND o.first_start IS NULL AND o.last_end IS NULL);
