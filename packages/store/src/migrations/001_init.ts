// Initial schema. A node's alloc_* columns are the sum of the claims of its
// VMs with claimed = true; claims only ever change through the conditional
// updates in claims.ts, which refuse to go past allocatable.
export const sql001 = /* sql */ `
CREATE TABLE nodes (
  name                 text PRIMARY KEY,
  address              text NOT NULL,
  state                text NOT NULL DEFAULT 'READY'
                       CHECK (state IN ('READY', 'CORDONED', 'DRAINING', 'DOWN')),
  vcpus                integer NOT NULL CHECK (vcpus >= 0),
  memory_mib           bigint  NOT NULL CHECK (memory_mib >= 0),
  disk_gib             bigint  NOT NULL CHECK (disk_gib >= 0),
  reserved_vcpus       integer NOT NULL DEFAULT 0 CHECK (reserved_vcpus >= 0),
  reserved_memory_mib  bigint  NOT NULL DEFAULT 0 CHECK (reserved_memory_mib >= 0),
  reserved_disk_gib    bigint  NOT NULL DEFAULT 0 CHECK (reserved_disk_gib >= 0),
  cpu_ratio            double precision NOT NULL CHECK (cpu_ratio > 0),
  memory_ratio         double precision NOT NULL CHECK (memory_ratio > 0),
  disk_ratio           double precision NOT NULL CHECK (disk_ratio > 0),
  alloc_vcpus          integer NOT NULL DEFAULT 0 CHECK (alloc_vcpus >= 0),
  alloc_memory_mib     bigint  NOT NULL DEFAULT 0 CHECK (alloc_memory_mib >= 0),
  alloc_disk_gib       bigint  NOT NULL DEFAULT 0 CHECK (alloc_disk_gib >= 0),
  labels               jsonb NOT NULL DEFAULT '{}',
  last_heartbeat       timestamptz NOT NULL DEFAULT now(),
  generation           bigint NOT NULL DEFAULT 0,
  created_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE create_requests (
  id               uuid PRIMARY KEY,
  idempotency_key  text UNIQUE,
  request_hash     text NOT NULL,
  vm_ids           uuid[] NOT NULL,
  unplaced         integer NOT NULL DEFAULT 0,
  unplaced_reason  text NOT NULL DEFAULT '',
  created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE vms (
  id             uuid PRIMARY KEY,
  name           text NOT NULL,
  spec           jsonb NOT NULL,
  policy         jsonb NOT NULL,
  vcpus          integer NOT NULL,
  memory_mib     bigint NOT NULL,
  disk_gib       bigint NOT NULL,
  -- Members of these groups count for (anti-)affinity while claimed.
  groups         text[] NOT NULL DEFAULT '{}',
  node           text REFERENCES nodes (name),
  -- True while the VM's resources are counted in its node's alloc_* columns.
  claimed        boolean NOT NULL DEFAULT false,
  state          text NOT NULL CHECK (state IN ('PENDING', 'SCHEDULED', 'PROVISIONING', 'RUNNING',
                   'STOPPED', 'DELETING', 'DELETED', 'FAILED', 'LOST')),
  reason         text NOT NULL DEFAULT '',
  placement      jsonb,
  attempts       integer NOT NULL DEFAULT 0,
  -- Nodes where dispatch already failed; the next attempt avoids them.
  failed_nodes   text[] NOT NULL DEFAULT '{}',
  -- Background work (dispatch, delete) is due at this time.
  due_at         timestamptz NOT NULL DEFAULT now(),
  -- A dispatcher holds the VM until this time; after it, another may take over.
  lease_until    timestamptz,
  request_id     uuid REFERENCES create_requests (id),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX vms_node_idx ON vms (node) WHERE claimed;
CREATE INDEX vms_state_idx ON vms (state, due_at);
CREATE INDEX vms_groups_idx ON vms USING gin (groups) WHERE claimed;
CREATE INDEX vms_created_idx ON vms (created_at, id);

-- One row: this cluster's id. It prefixes Nats-Msg-Id, so two clusters (or a
-- rebuilt database) sharing a NATS stream never look like duplicates.
CREATE TABLE cluster_identity (id uuid NOT NULL);
INSERT INTO cluster_identity VALUES (gen_random_uuid());

-- Transactional outbox. seq is assigned by the single active sequencer after
-- commit, so readers following seq never skip a row that committed late.
CREATE SEQUENCE outbox_seq;
CREATE TABLE outbox (
  id          bigserial PRIMARY KEY,
  seq         bigint UNIQUE,
  subject     text NOT NULL,
  payload     jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  sent_at     timestamptz
);
CREATE INDEX outbox_unsequenced_idx ON outbox (id) WHERE seq IS NULL;
CREATE INDEX outbox_unsent_idx ON outbox (seq) WHERE seq IS NOT NULL AND sent_at IS NULL;
`;
