import type { Sql } from "./db.js";
import { lockMigrations } from "./locks.js";
import { sql001 } from "./migrations/001_init.js";
import { sql002 } from "./migrations/002_state_before_down.js";
import { sql003 } from "./migrations/003_node_heartbeats.js";
import { sql004 } from "./migrations/004_outbox_cursor.js";
import { sql005 } from "./migrations/005_outbox_retention.js";
import { sql006 } from "./migrations/006_claim_conflict.js";
import { sql007 } from "./migrations/007_groups_index_members_only.js";
import { sql008 } from "./migrations/008_node_identity.js";
import { sql009 } from "./migrations/009_projects_tokens.js";
import { sql010 } from "./migrations/010_catalog.js";
import { sql013 } from "./migrations/013_liveness_truth.js";
import { sql014 } from "./migrations/014_outage_truth.js";
import { sql015 } from "./migrations/015_vm_interfaces.js";
import { sql016 } from "./migrations/016_vm_truth.js";
import { sql017 } from "./migrations/017_token_expiry.js";
import { sql018 } from "./migrations/018_vm_retention.js";
import { sql019 } from "./migrations/019_group_members.js";
import { sql020 } from "./migrations/020_heard_silence.js";
import { sql021 } from "./migrations/021_network_types.js";
import { sql022 } from "./migrations/022_scheduler_certificates.js";
import { sql023 } from "./migrations/023_boot_file_sha256.js";
import { sql024 } from "./migrations/024_bulk_create.js";
import { sql027 } from "./migrations/027_vm_changes.js";
import { sql030 } from "./migrations/030_drop_outbox_events_function.js";
import { sql033 } from "./migrations/033_lost_vms_index.js";
import { sql034 } from "./migrations/034_vm_refs_check_per_node.js";
import { sql035 } from "./migrations/035_vm_changes_that_matter.js";
import { sql036 } from "./migrations/036_request_vm_counts.js";
import { sql037 } from "./migrations/037_beat_timeouts.js";
import { sql038 } from "./migrations/038_vm_inserts_waiting.js";
import { sql040 } from "./migrations/040_beat_bounds.js";
import { sql041 } from "./migrations/041_node_changed_xid.js";
import { sql042 } from "./migrations/042_vm_explanation_json.js";
import { transaction } from "./transaction.js";

interface Migration {
  version: number;
  name: string;
  sql: string;
}

// Forward-only: append new migrations, never edit applied ones.
export const migrations: readonly Migration[] = [
  { version: 1, name: "init", sql: sql001 },
  { version: 2, name: "state_before_down", sql: sql002 },
  { version: 3, name: "node_heartbeats", sql: sql003 },
  { version: 4, name: "outbox_cursor", sql: sql004 },
  { version: 5, name: "outbox_retention", sql: sql005 },
  { version: 6, name: "claim_conflict", sql: sql006 },
  { version: 7, name: "groups_index_members_only", sql: sql007 },
  { version: 8, name: "node_identity", sql: sql008 },
  { version: 9, name: "projects_tokens", sql: sql009 },
  { version: 10, name: "catalog", sql: sql010 },
  { version: 13, name: "liveness_truth", sql: sql013 },
  { version: 14, name: "outage_truth", sql: sql014 },
  { version: 15, name: "vm_interfaces", sql: sql015 },
  { version: 16, name: "vm_truth", sql: sql016 },
  { version: 17, name: "token_expiry", sql: sql017 },
  { version: 18, name: "vm_retention", sql: sql018 },
  { version: 19, name: "group_members", sql: sql019 },
  { version: 20, name: "heard_silence", sql: sql020 },
  { version: 21, name: "network_types", sql: sql021 },
  { version: 22, name: "scheduler_certificates", sql: sql022 },
  { version: 23, name: "boot_file_sha256", sql: sql023 },
  { version: 24, name: "bulk_create", sql: sql024 },
  { version: 27, name: "vm_changes", sql: sql027 },
  { version: 30, name: "drop_outbox_events_function", sql: sql030 },
  { version: 33, name: "lost_vms_index", sql: sql033 },
  { version: 34, name: "vm_refs_check_per_node", sql: sql034 },
  { version: 35, name: "vm_changes_that_matter", sql: sql035 },
  { version: 36, name: "request_vm_counts", sql: sql036 },
  { version: 37, name: "beat_timeouts", sql: sql037 },
  { version: 38, name: "vm_inserts_waiting", sql: sql038 },
  { version: 40, name: "beat_bounds", sql: sql040 },
  { version: 41, name: "node_changed_xid", sql: sql041 },
  { version: 42, name: "vm_explanation_json", sql: sql042 },
];

/**
 * Applies pending migrations in order. Safe from several replicas at once: a
 * transaction-scoped advisory lock serializes them, and each re-reads the
 * applied versions after taking it.
 */
export async function migrate(sql: Sql): Promise<number[]> {
  return transaction(sql, async (tx) => {
    await lockMigrations(tx);
    await tx`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`;
    const rows = await tx<{ version: number }[]>`SELECT version FROM schema_migrations`;
    const applied = new Set(rows.map((r) => r.version));
    const done: number[] = [];
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      await tx.unsafe(m.sql);
      await tx`INSERT INTO schema_migrations (version, name) VALUES (${m.version}, ${m.name})`;
      done.push(m.version);
    }
    return done;
  });
}
