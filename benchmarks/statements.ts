// Where a benchmark database's Postgres time goes, by statement: deltas of pg_stat_statements
// (and of the vms table's update counters and the trigger functions' times) between two snapshots.
// Needs a server with shared_preload_libraries = 'pg_stat_statements' (and track_functions = all
// for the trigger times); on another server snapshot() answers undefined and nothing is reported.
import type { Sql } from "@drover/store";

interface Statement {
  query: string;
  calls: number;
  /** Executing; planning is in planMs (0 unless pg_stat_statements.track_planning is on). */
  ms: number;
  planMs: number;
  rows: number;
}

export interface StatementsSnapshot {
  statements: Map<string, Statement>;
  /** Trigger (and other plpgsql) functions: calls and self time. */
  functions: Map<string, { calls: number; ms: number }>;
  vms: { upd: number; hot: number; ins: number };
  outbox: { ins: number };
  vmChanges: { ins: number };
}

/** Makes the extension visible in this database; false when the server did not preload it. */
export async function enableStatements(sql: Sql): Promise<boolean> {
  try {
    await sql`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`;
    await sql`SELECT 1 FROM pg_stat_statements LIMIT 1`;
    return true;
  } catch {
    return false;
  }
}

export async function snapshot(sql: Sql): Promise<StatementsSnapshot> {
  const rows = await sql<{ id: string; query: string; calls: number; ms: number; plan_ms: number; rows: number }[]>`
    SELECT queryid::text AS id, query, calls::float8 AS calls, total_exec_time AS ms, total_plan_time AS plan_ms, rows::float8 AS rows
    FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`;
  const fns = await sql<{ name: string; calls: number; ms: number }[]>`
    SELECT funcname AS name, calls::float8 AS calls, self_time AS ms FROM pg_stat_user_functions`;
  const tables = await sql<{ name: string; upd: number; hot: number; ins: number }[]>`
    SELECT relname AS name, n_tup_upd::float8 AS upd, n_tup_hot_upd::float8 AS hot, n_tup_ins::float8 AS ins
    FROM pg_stat_user_tables WHERE relname IN ('vms', 'outbox', 'vm_changes')`;
  const t = (name: string) => tables.find((r) => r.name === name) ?? { upd: 0, hot: 0, ins: 0 };
  return {
    statements: new Map(rows.map((r) => [r.id, { query: r.query, calls: r.calls, ms: r.ms, planMs: r.plan_ms, rows: r.rows }])),
    functions: new Map(fns.map((f) => [f.name, { calls: f.calls, ms: f.ms }])),
    vms: t("vms"),
    outbox: { ins: t("outbox").ins },
    vmChanges: { ins: t("vm_changes").ins },
  };
}

/** Counters of tables and functions lag (they are sent at a backend's transaction end, at most every 0.5 s). */
export async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 1500));
}

const oneLine = (q: string, max = 110) => {
  const s = q.replace(/\s+/g, " ").trim();
  return s.length > max ? `${s.slice(0, max)}…` : s;
};

/** A markdown table of the statements' time per VM (`vms` created between the snapshots), dearest first. */
export function report(a: StatementsSnapshot, b: StatementsSnapshot, vms: number, top = 25): string {
  const out: string[] = [];
  const deltas = [...b.statements].map(([id, s]) => {
    const p = a.statements.get(id) ?? { calls: 0, ms: 0, planMs: 0, rows: 0 };
    return { query: s.query, calls: s.calls - p.calls, ms: s.ms - p.ms, planMs: s.planMs - p.planMs, rows: s.rows - p.rows };
  });
  const live = deltas.filter((d) => d.calls > 0).sort((x, y) => y.ms + y.planMs - (x.ms + x.planMs));
  const totalMs = live.reduce((t, d) => t + d.ms, 0);
  const planMs = live.reduce((t, d) => t + d.planMs, 0);
  const totalCalls = live.reduce((t, d) => t + d.calls, 0);
  out.push(`statements: ${totalCalls} calls (${(totalCalls / vms).toFixed(2)} per VM), ${(totalMs / vms).toFixed(3)} ms exec per VM${planMs > 0 ? `, ${(planMs / vms).toFixed(3)} ms planning` : ""}`);
  out.push("| µs per VM | calls per VM | µs per call | of which planning | rows per call | statement |");
  out.push("|---|---|---|---|---|---|");
  for (const d of live.slice(0, top)) {
    out.push(
      `| ${(((d.ms + d.planMs) * 1000) / vms).toFixed(1)} | ${(d.calls / vms).toFixed(3)} | ${(((d.ms + d.planMs) * 1000) / d.calls).toFixed(1)} | ${((d.planMs * 1000) / d.calls).toFixed(1)} | ${(d.rows / d.calls).toFixed(1)} | \`${oneLine(d.query).replace(/\|/g, "\\|")}\` |`,
    );
  }
  const fns = [...b.functions]
    .map(([name, f]) => {
      const p = a.functions.get(name) ?? { calls: 0, ms: 0 };
      return { name, calls: f.calls - p.calls, ms: f.ms - p.ms };
    })
    .filter((f) => f.calls > 0)
    .sort((x, y) => y.ms - x.ms);
  out.push(
    `functions (self time, µs per VM; calls per VM): ${fns.map((f) => `${f.name} ${((f.ms * 1000) / vms).toFixed(1)} (${(f.calls / vms).toFixed(2)})`).join(", ")}`,
  );
  const upd = b.vms.upd - a.vms.upd;
  const hot = b.vms.hot - a.vms.hot;
  out.push(
    `vms: ${(upd / vms).toFixed(2)} row updates per VM, ${upd > 0 ? ((hot / upd) * 100).toFixed(0) : "–"}% HOT; ` +
      `${((b.vms.ins - a.vms.ins) / vms).toFixed(2)} inserts; outbox rows per VM ${((b.outbox.ins - a.outbox.ins) / vms).toFixed(2)}; ` +
      `vm_changes rows per VM ${((b.vmChanges.ins - a.vmChanges.ins) / vms).toFixed(2)}`,
  );
  return out.join("\n");
}
