// A create request without an idempotency key no longer lists its VMs (vm_ids stays empty):
// nothing replays it, and a bulk's 10,000 ids were about a tenth of its commit's Postgres time
// (the array's parse and TOAST compression). Retention (retention.ts) finds when such a request's
// last VM is gone by a count instead: vms_left, set to the VMs it created and lowered as they are
// purged (each VM names its request in vms.request_id). Requests with a key keep vm_ids, which
// replays read, and the count too. Rows from before this migration have no count (NULL) and go by
// their vm_ids as before. create_requests_empty_idx (requests with no VM left, by age) follows.
export const sql036 = /* sql */ `
ALTER TABLE create_requests ADD COLUMN vms_left integer CHECK (vms_left >= 0);
DROP INDEX create_requests_empty_idx;
CREATE INDEX create_requests_empty_idx ON create_requests (created_at) WHERE coalesce(vms_left, cardinality(vm_ids)) = 0;
`;
