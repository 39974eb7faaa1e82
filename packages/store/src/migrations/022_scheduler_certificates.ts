// The scheduler's own certificates are kept with the nodes' (kind 'scheduler', no node name),
// so one can be revoked by serial like a node's, and agents are told which serials are revoked.
export const sql022 = /* sql */ `
ALTER TABLE node_certificates ADD COLUMN kind text NOT NULL DEFAULT 'node' CHECK (kind IN ('node', 'scheduler'));
ALTER TABLE node_certificates ALTER COLUMN node_name DROP NOT NULL;
ALTER TABLE node_certificates ADD CONSTRAINT node_certificates_name_by_kind CHECK ((kind = 'node') = (node_name IS NOT NULL));
-- The revoked serials still worth telling (unexpired: an expired certificate fails the handshake anyway).
CREATE INDEX node_certificates_revoked_idx ON node_certificates (not_after) WHERE revoked_at IS NOT NULL;
`;
