// node_changed_xid: each nodes row carries the transaction that last wrote it, so the node cache
// reads only the rows changed since its last read (readNodeChanges) instead of every node twice a
// second. A trigger sets it on every insert and update, whatever statement writes the row.
// The top-level transaction's id (pg_current_xact_id, xid8: no wraparound): a read's snapshot xmin
// bounds every transaction that read could not see, so "changed_xid >= the last read's xmin" finds
// every row written after that read, including by a transaction that started before it and
// committed after a later one (a sequence or updated_at cursor would skip that row forever).
// No index: it would make every claim's update non-HOT, and the filter scans a few thousand rows.
// Rows written before this migration keep 0: the cache's first read is a full one.
export const sql041 = /* sql */ `
ALTER TABLE nodes ADD COLUMN changed_xid xid8 NOT NULL DEFAULT '0';

CREATE FUNCTION nodes_mark_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.changed_xid := pg_current_xact_id();
  RETURN NEW;
END $$;

CREATE TRIGGER nodes_mark_changed BEFORE INSERT OR UPDATE ON nodes
  FOR EACH ROW EXECUTE FUNCTION nodes_mark_changed();
`;
