// The image and network catalogs: VMs name an image and a network from here, never a host path
// or an arbitrary libvirt network.
export const sql010 = /* sql */ `
CREATE TABLE images (
  name       text PRIMARY KEY,
  format     text NOT NULL CHECK (format IN ('qcow2', 'raw')),
  size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
  sha256     text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  kernel     text NOT NULL DEFAULT '',
  initrd     text NOT NULL DEFAULT '',
  cmdline    text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE networks (
  name        text PRIMARY KEY,
  description text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL DEFAULT now()
);
`;
