-- Time-range queries select candidates by the end of their span: in a
-- calendar that is mostly past, few objects end after a query's start.
-- Open-ended series (NULL end) are found through the same index.
CREATE INDEX objects_end ON objects(collection_id, last_end);
