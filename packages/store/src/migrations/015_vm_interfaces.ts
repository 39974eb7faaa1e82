// Each VM's NICs with their MAC and IP addresses, as its node's heartbeats last reported them
// (libvirt's DHCP leases): [{"mac": "52:54:00:..", "addresses": ["192.168.213.57/24"]}].
export const sql015 = /* sql */ `
ALTER TABLE vms ADD COLUMN interfaces jsonb NOT NULL DEFAULT '[]'::jsonb;
`;
