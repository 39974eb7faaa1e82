// API authorization: projects own VMs and carry quotas, tokens are stored as
// hashes. A project's used_* columns are the sum of the claims of its VMs
// with claimed = true (like a node's alloc_*), changed only by the
// conditional update in quota.ts and the releases beside the node's; existing
// VMs join the `default` project, which has no limits.
export const sql009 = /* sql */ `
CREATE TABLE projects (
  name              text PRIMARY KEY,
  quota_vcpus       integer CHECK (quota_vcpus >= 0),
  quota_memory_mib  bigint CHECK (quota_memory_mib >= 0),
  quota_disk_gib    bigint CHECK (quota_disk_gib >= 0),
  quota_vms         integer CHECK (quota_vms >= 0),
  used_vcpus        integer NOT NULL DEFAULT 0 CHECK (used_vcpus >= 0),
  used_memory_mib   bigint NOT NULL DEFAULT 0 CHECK (used_memory_mib >= 0),
  used_disk_gib     bigint NOT NULL DEFAULT 0 CHECK (used_disk_gib >= 0),
  used_vms          integer NOT NULL DEFAULT 0 CHECK (used_vms >= 0),
  created_at        timestamptz NOT NULL DEFAULT now()
);
INSERT INTO projects (name) VALUES ('default');

ALTER TABLE vms ADD COLUMN project text NOT NULL DEFAULT 'default' REFERENCES projects (name);
CREATE INDEX vms_project_created_idx ON vms (project, created_at, id);
UPDATE projects p SET
  used_vcpus = s.vcpus, used_memory_mib = s.memory_mib, used_disk_gib = s.disk_gib, used_vms = s.n
FROM (SELECT coalesce(sum(vcpus), 0) AS vcpus, coalesce(sum(memory_mib), 0) AS memory_mib,
        coalesce(sum(disk_gib), 0) AS disk_gib, count(*) AS n FROM vms WHERE claimed) s
WHERE p.name = 'default';

-- secret_hash is sha256 of the random secret; the secret itself is never stored.
CREATE TABLE api_tokens (
  id           uuid PRIMARY KEY,
  secret_hash  bytea NOT NULL,
  role         text NOT NULL CHECK (role IN ('admin', 'operator', 'member', 'viewer')),
  project      text NOT NULL REFERENCES projects (name),
  description  text NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz
);

-- Raised inside a create's one statement when a project's quota refused the claim (like DR001; DR002 is the deadline, migration 014).
CREATE FUNCTION drover_quota_exceeded(project text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RAISE EXCEPTION 'quota of project % exceeded', project USING ERRCODE = 'DR003', DETAIL = project;
END $$;
`;
