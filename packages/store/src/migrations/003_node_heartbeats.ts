// Heartbeats get a table of their own. On the nodes row they had to wait for
// the row lock of every claim on the node (a bulk create holds hundreds of
// them until commit), which tied up connections and delayed liveness.
export const sql003 = /* sql */ `
CREATE TABLE node_heartbeats (
  name  text PRIMARY KEY REFERENCES nodes (name) ON DELETE CASCADE,
  at    timestamptz NOT NULL DEFAULT now()
);
INSERT INTO node_heartbeats (name, at) SELECT name, last_heartbeat FROM nodes;
ALTER TABLE nodes DROP COLUMN last_heartbeat;
`;
