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

/** Columns (subject, payload) for a node row aliased `n`. */
export const NODE_EVENT = `
  'drover.node.' || lower(n.state),
  jsonb_build_object(
    'subject', 'drover.node.' || lower(n.state),
    'type', 'node.' || lower(n.state),
    'node', n.name,
    'nodeState', 'NODE_STATE_' || n.state,
    'time', to_jsonb(now()))`;
