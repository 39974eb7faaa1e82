// SQL that turns a changed row into an outbox row in the same statement, so a
// state change and its event can never be separated. The payload is the proto
// JSON of drover.v1.Event (the id is the outbox sequence, added when read).

/** Columns (subject, payload) for a VM row aliased `v`. */
const VM_EVENT = `
  'drover.vm.' || lower(v.state),
  jsonb_build_object(
    'subject', 'drover.vm.' || lower(v.state),
    'type', 'vm.' || lower(v.state),
    'vmId', v.id,
    'node', coalesce(v.node, ''),
    'vmState', 'VM_STATE_' || v.state,
    'reason', v.reason,
    'project', v.project,
    'time', to_jsonb(now()))`;

/** One outbox row per VM row of a CTE named `v` (the rows a statement changed). */
export const INSERT_VM_EVENTS = `INSERT INTO outbox (subject, payload) SELECT ${VM_EVENT} FROM v`;

/**
 * At most this many events per fan-out row: a reader (the relay takes 500 at a time) then reads
 * arrays of this size, not slices of one 10,000-element array TOASTed in 2 kB chunks, which it
 * would fetch and copy whole for every batch.
 */
export const FAN_OUT_ROW_EVENTS = 500;

/**
 * The same events for the VM rows a statement wrote (CTE `v`), as one fan-out row per state,
 * reason and project (migration 024), of up to FAN_OUT_ROW_EVENTS VMs: the payload they share, with
 * each VM's id and node in vm_ids and nodes. A bulk of 10,000 VMs writes 20 outbox rows, not 10,000; readers fan them out
 * (outbox.ts) into the events INSERT_VM_EVENTS would have written. Creates write their events so,
 * and so do the dispatcher's batches (the lease and RUNNING of ~24 VMs a statement under load: one
 * outbox row each instead of one per VM, each of which cost an insert and the sequencer's update,
 * with their index entries).
 */
export const INSERT_FAN_OUT_VM_EVENTS = `
  INSERT INTO outbox (subject, payload, vm_ids, nodes)
  SELECT 'drover.vm.' || lower(v.state),
    jsonb_build_object(
      'subject', 'drover.vm.' || lower(v.state),
      'type', 'vm.' || lower(v.state),
      'vmState', 'VM_STATE_' || v.state,
      'reason', v.reason,
      'project', v.project,
      'time', to_jsonb(now())),
    array_agg(v.id), array_agg(coalesce(v.node, ''))
  FROM (SELECT v.*, (row_number() OVER (PARTITION BY v.state, v.reason, v.project) - 1) / ${FAN_OUT_ROW_EVENTS} AS part FROM v) v
  GROUP BY v.state, v.reason, v.project, v.part`;

/** Columns (subject, payload) for a node row aliased `n`. */
export const NODE_EVENT = `
  'drover.node.' || lower(n.state),
  jsonb_build_object(
    'subject', 'drover.node.' || lower(n.state),
    'type', 'node.' || lower(n.state),
    'node', n.name,
    'nodeState', 'NODE_STATE_' || n.state,
    'time', to_jsonb(now()))`;
