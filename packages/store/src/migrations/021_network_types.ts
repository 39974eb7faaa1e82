// Catalog networks are libvirt networks or Linux bridges (issue 12): the agent attaches a NIC with
// <interface type='network'> or <interface type='bridge'>. Entries made before are libvirt networks.
export const sql021 = /* sql */ `
ALTER TABLE networks ADD COLUMN type text NOT NULL DEFAULT 'libvirt' CHECK (type IN ('libvirt', 'bridge'));
`;
