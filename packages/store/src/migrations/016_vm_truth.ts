// VMs whose domains crash, pause, vanish or take their time to stop (issue 11, VM truth).
// - STOPPING (a graceful stop waits for the guest), PAUSED (the domain is suspended) and CRASHED
//   (QEMU died unasked). A STOPPING VM's due_at is its stop deadline; a CRASHED VM's due_at is when
//   its restart policy starts it again ('infinity' under "never").
// - crash_count / crashes_since: automatic restarts in the current window, for backoff and the cap
//   that ends a crash loop FAILED.
// - spec.restartPolicy: what the API now stores in every spec; older VMs get the default.
export const sql016 = /* sql */ `
ALTER TABLE vms DROP CONSTRAINT vms_state_check;
ALTER TABLE vms ADD CONSTRAINT vms_state_check
  CHECK (state IN ('PENDING', 'SCHEDULED', 'PROVISIONING', 'RUNNING', 'STOPPED', 'DELETING', 'DELETED',
    'FAILED', 'LOST', 'STOPPING', 'PAUSED', 'CRASHED'));
ALTER TABLE vms ADD COLUMN crash_count integer NOT NULL DEFAULT 0;
ALTER TABLE vms ADD COLUMN crashes_since timestamptz;
ALTER TABLE vms ADD COLUMN state_before_lost text;
-- The timers' sweeps (vm-timers.ts) read CRASHED and STOPPING VMs by due_at.
CREATE INDEX vms_timer_idx ON vms (state, due_at) WHERE state IN ('CRASHED', 'STOPPING');
UPDATE vms SET spec = spec || '{"restartPolicy": "on-crash"}'::jsonb WHERE NOT spec ? 'restartPolicy';
`;
