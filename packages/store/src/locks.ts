import type { Tx } from "./db.js";

// Every advisory lock Drover takes, so no two uses can share an id by accident.
// All are transaction-scoped: they end with the transaction, never leak past a
// crash. The fixed ids can be anything, as long as every replica uses the same.
const MIGRATION_LOCK = 7_246_001;
const SEQUENCER_LOCK = 7_246_002;
const PUBLISHER_LOCK = 7_246_003;
const VM_RETENTION_LOCK = 7_246_004;
const VM_CHANGES_LOCK = 7_246_005;
// (Anti-)affinity groups take no lock: their statements check them (groups.ts).

/** Waits until no other replica is migrating, for the rest of the transaction. */
export async function lockMigrations(tx: Tx): Promise<void> {
  await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
}

/** Becomes the one event sequencer for the rest of the transaction; false if another replica is. */
export async function tryLockSequencer(tx: Tx): Promise<boolean> {
  return tryLock(tx, SEQUENCER_LOCK);
}

/** Becomes the one NATS publisher for the rest of the transaction; false if another replica is. */
export async function tryLockPublisher(tx: Tx): Promise<boolean> {
  return tryLock(tx, PUBLISHER_LOCK);
}

/** Becomes the one replica purging old VMs for the rest of the transaction; false if another replica is. */
export async function tryLockVmRetention(tx: Tx): Promise<boolean> {
  return tryLock(tx, VM_RETENTION_LOCK);
}

/** Becomes the one replica folding the VM change counts (vm-changes.ts) for the rest of the transaction; false if another replica is. */
export async function tryLockVmChanges(tx: Tx): Promise<boolean> {
  return tryLock(tx, VM_CHANGES_LOCK);
}

async function tryLock(tx: Tx, id: number): Promise<boolean> {
  const [row] = await tx<{ ok: boolean }[]>`SELECT pg_try_advisory_xact_lock(${id}) AS ok`;
  return row?.ok === true;
}
