// Node identity: one-time join tokens (only a hash of the secret is kept, like
// kubeadm's bootstrap tokens are not) and every certificate the cluster CA issued,
// by serial, so one can be revoked before it expires.
export const sql008 = /* sql */ `
CREATE TABLE join_tokens (
  id           text PRIMARY KEY,
  secret_hash  text NOT NULL,
  -- NULL: any node name may join with it.
  node_name    text,
  expires_at   timestamptz NOT NULL,
  used_at      timestamptz,
  used_by      text,
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE node_certificates (
  serial      text PRIMARY KEY,
  node_name   text NOT NULL,
  not_after   timestamptz NOT NULL,
  issued_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
CREATE INDEX node_certificates_node_idx ON node_certificates (node_name);
`;
