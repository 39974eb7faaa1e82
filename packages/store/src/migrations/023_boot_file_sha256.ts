// An image's direct-boot kernel and initrd carry their own sha256, checked by each agent before
// first use like the disk's. Entries made before this have '' and are refused by agents until
// registered again (nothing would vouch for the files).
export const sql023 = /* sql */ `
ALTER TABLE images ADD COLUMN kernel_sha256 text NOT NULL DEFAULT '' CHECK (kernel_sha256 = '' OR kernel_sha256 ~ '^[0-9a-f]{64}$');
ALTER TABLE images ADD COLUMN initrd_sha256 text NOT NULL DEFAULT '' CHECK (initrd_sha256 = '' OR initrd_sha256 ~ '^[0-9a-f]{64}$');
`;
