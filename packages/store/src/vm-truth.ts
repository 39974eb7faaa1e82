// What a node's domain reports do to its VMs, and the timers that follow (issue 11, VM truth):
// crashes with the restart policy, pauses, guests that power off, domains that vanished, graceful
// stops that never finish. Every change writes its event in the same statement.
import type postgres from "postgres";
import type { Db } from "./db.js";
import type { Vm } from "./domain.js";
import { INSERT_VM_EVENTS } from "./event-sql.js";
import { releaseClaim } from "./claims.js";
import { asManyAsReported } from "./report-rows.js";
import { vmFromRow, type VmRow } from "./rows.js";
import { updateVmsWithEvents } from "./vms.js";
import { inTransaction, transaction } from "./transaction.js";

/** A domain's state as its node reported it, with the agent's generation of that report. */
export interface DomainReportRow {
  vmId: string;
  state: "running" | "shutoff" | "paused" | "crashed";
  /** 0 from an agent that does not count: such a report is older than any counted one. */
  generation: number;
  /** How libvirt says the domain came to it, e.g. "shut off (crashed)"; "" when unknown. */
  reason: string;
}

/** A domain report row with the node that sent it: the reconcile read takes many nodes' reports in one statement. */
export type NodeDomainReportRow = DomainReportRow & { node: string };

/** How the scheduler restarts VMs on their restart policy. */
export interface RestartRules {
  /** Automatic restarts allowed within windowMs; the next crash ends the VM FAILED. */
  limit: number;
  /** The first restart waits this long; each next one twice as long, up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Restarts are counted within this window from the first; after it the count starts again. */
  windowMs: number;
}

/** The restart policy of a VM row, in SQL: the API stores one in every spec (migration 016 gave older ones the default). */
const POLICY = `coalesce(nullif(vms.spec->>'restartPolicy', ''), 'on-crash')`;

/**
 * The CTEs d (the reports, each with its node), c (each reported VM of its node with its report,
 * unless the report is older than the VM's last) and t (c with `next`, the state the report moves
 * the VM to, or null): what reconcileDomainStates writes and reconcileNeeds (reconcile-needs.ts) reads.
 */
export function domainTransitions(db: Db, domains: NodeDomainReportRow[], rules: RestartRules) {
  const windowSecs = rules.windowMs / 1000;
  return db`
    d AS (
      SELECT * FROM unnest(${domains.map((d) => d.node)}::text[], ${domains.map((d) => d.vmId)}::uuid[], ${domains.map((d) => d.state)}::text[],
        ${domains.map((d) => d.generation)}::bigint[], ${domains.map((d) => d.reason)}::text[]) AS t(node, id, state, generation, reason)
      ${asManyAsReported(db, domains)}
    ), c AS (
      SELECT d.node, vms.id, vms.state AS was, d.state AS reported, d.generation, d.reason AS libvirt_reason, ${db.unsafe(POLICY)} AS policy,
        CASE WHEN vms.crashes_since IS NULL OR vms.crashes_since < now() - make_interval(secs => ${windowSecs}) THEN 1 ELSE vms.crash_count + 1 END AS crashes,
        CASE WHEN vms.crashes_since IS NULL OR vms.crashes_since < now() - make_interval(secs => ${windowSecs}) THEN now() ELSE vms.crashes_since END AS since
      FROM vms JOIN d ON vms.id = d.id
      WHERE vms.node = d.node AND d.generation >= vms.report_generation
    ), t AS (
      SELECT c.*, CASE
          WHEN reported = 'running' AND was IN ('LOST', 'STOPPED', 'CRASHED', 'PAUSED') THEN 'RUNNING'
          WHEN reported = 'paused' AND was IN ('RUNNING', 'LOST') THEN 'PAUSED'
          WHEN reported = 'shutoff' AND was IN ('RUNNING', 'PAUSED') AND policy = 'always' AND crashes <= ${rules.limit} THEN 'SCHEDULED'
          WHEN reported = 'shutoff' AND was IN ('LOST', 'RUNNING', 'PAUSED', 'STOPPING') THEN 'STOPPED'
          WHEN reported = 'crashed' AND was IN ('RUNNING', 'PAUSED', 'STOPPING', 'LOST') THEN 'CRASHED'
        END AS next,
        least(${rules.maxBackoffMs}::float8, ${rules.backoffMs}::float8 * power(2, c.crashes - 1)) / 1000 AS backoff_secs,
        CASE WHEN c.libvirt_reason = '' THEN '' ELSE ' (libvirt: ' || c.libvirt_reason || ')' END AS how
      FROM c
    )`;
}

/**
 * Moves VMs of a node to the state libvirt reports, in one statement. A report older than the last
 * one applied to the VM (or than the operation that last changed it) is ignored.
 * - running: LOST, STOPPED, CRASHED and PAUSED VMs are RUNNING (back, or started or resumed behind
 *   the scheduler's back); a STOPPING one stays STOPPING until the guest is off.
 * - paused: RUNNING and LOST VMs are PAUSED.
 * - shutoff: LOST, RUNNING, PAUSED and STOPPING VMs are STOPPED; under restart policy "always" a
 *   RUNNING or PAUSED one (the guest powered off) is SCHEDULED again after the backoff instead.
 * - crashed: RUNNING, PAUSED, STOPPING and LOST VMs are CRASHED, with due_at the time of their
 *   restart ('infinity' under "never"); restartDueVms acts on it.
 */
export async function reconcileDomainStates(db: Db, node: string, domains: DomainReportRow[], rules: RestartRules): Promise<Vm[]> {
  if (domains.length === 0) return [];
  const windowSecs = rules.windowMs / 1000;
  const rows = await db<VmRow[]>`
    WITH ${domainTransitions(db, domains.map((d) => ({ ...d, node })), rules)}, v AS (
      UPDATE vms SET state = t.next, updated_at = now(), report_generation = t.generation,
        reason = CASE
          WHEN t.next = 'RUNNING' AND t.was = 'LOST' THEN ''
          WHEN t.next = 'RUNNING' THEN vms.reason
          WHEN t.next = 'PAUSED' THEN 'domain paused on node ' || ${node} || t.how
          WHEN t.next = 'SCHEDULED' THEN 'domain shut off on node ' || ${node} || t.how || '; restart policy always starts it again in '
            || round(t.backoff_secs::numeric, 1) || ' s (restart ' || t.crashes || ' of ' || ${rules.limit} || ')'
          WHEN t.next = 'STOPPED' AND t.was IN ('RUNNING', 'PAUSED') AND t.policy = 'always' THEN 'domain shut off on node ' || ${node} || t.how
            || '; restart policy always gave up: ' || t.crashes || ' restarts within ' || ${windowSecs} || ' s (limit ' || ${rules.limit} || ')'
          WHEN t.next = 'STOPPED' AND t.was IN ('RUNNING', 'PAUSED') THEN 'domain shut off on node ' || ${node} || t.how || ' without a StopVm'
          WHEN t.next = 'STOPPED' THEN ''
          WHEN t.policy = 'never' THEN 'crashed on node ' || ${node} || t.how || '; restart policy never leaves it CRASHED (StartVm starts it)'
          WHEN t.crashes > ${rules.limit} THEN 'crashed on node ' || ${node} || t.how || '; ' || t.crashes || ' crashes within ' || ${windowSecs}
            || ' s, over the restart limit of ' || ${rules.limit}
          ELSE 'crashed on node ' || ${node} || t.how || '; restart policy ' || t.policy || ' starts it again in '
            || round(t.backoff_secs::numeric, 1) || ' s (restart ' || t.crashes || ' of ' || ${rules.limit} || ')'
        END,
        crash_count = CASE WHEN t.next IN ('CRASHED', 'SCHEDULED') THEN t.crashes ELSE vms.crash_count END,
        crashes_since = CASE WHEN t.next IN ('CRASHED', 'SCHEDULED') THEN t.since ELSE vms.crashes_since END,
        attempts = CASE WHEN t.next = 'SCHEDULED' THEN 0 ELSE vms.attempts END,
        lease_until = NULL,
        due_at = CASE
          WHEN t.next = 'CRASHED' AND t.policy = 'never' THEN 'infinity'::timestamptz
          WHEN t.next = 'CRASHED' AND t.crashes > ${rules.limit} THEN now()
          WHEN t.next IN ('CRASHED', 'SCHEDULED') THEN now() + make_interval(secs => t.backoff_secs)
          ELSE vms.due_at END
      FROM t
      -- Re-checked on the row as it is when locked: a change that committed meanwhile wins.
      WHERE vms.id = t.id AND t.next IS NOT NULL AND vms.state = t.was AND vms.node = ${node} AND t.generation >= vms.report_generation
      RETURNING vms.*
    ), e AS (
      ${db.unsafe(INSERT_VM_EVENTS)}
    )
    SELECT * FROM v`;
  return rows.map(vmFromRow);
}

/**
 * CRASHED VMs whose restart is due: within the restart limit they go back to SCHEDULED on their
 * node, claim kept, and the dispatcher starts the domain again (EnsureDomain starts an existing
 * domain that is off, or re-creates a missing one from the spec). Over the limit they are FAILED
 * with the reason, and their claim is released. Returns the VMs changed.
 */
export async function restartDueVms(db: Db, rules: Pick<RestartRules, "limit" | "windowMs">): Promise<{ restarted: Vm[]; failed: Vm[] }> {
  const restarted = await updateVmsWithEvents(
    db,
    db`
      UPDATE vms SET state = 'SCHEDULED', due_at = now(), attempts = 0, lease_until = NULL, updated_at = now()
      WHERE state = 'CRASHED' AND due_at <= now() AND crash_count <= ${rules.limit}`,
  );
  const failed = await failWithClaimReleased(
    db,
    () => db`state = 'CRASHED' AND due_at <= now() AND crash_count > ${rules.limit}`,
    db`'restart policy gave up: ' || crash_count || ' crashes within ' || ${rules.windowMs / 1000} || ' s (limit ' || ${rules.limit} || '); last: ' || reason`,
  );
  return { restarted, failed };
}

/**
 * A graceful stop whose guest did not power off by its deadline (due_at): the VM is RUNNING again,
 * with the reason (and its drover.vm.running event). A report that the guest is off after all makes
 * it STOPPED then.
 */
export async function expireStops(db: Db, timeoutMs: number): Promise<Vm[]> {
  return updateVmsWithEvents(
    db,
    db`
      UPDATE vms SET state = 'RUNNING', updated_at = now(),
        reason = 'the guest did not power off within ' || ${timeoutMs / 1000} || ' s of the ACPI shutdown (StopVm); it still runs: stop it with force'
      WHERE state = 'STOPPING' AND due_at <= now()`,
  );
}

/**
 * The VM rows (of vms) of the node `node` names (SQL) that should have a domain and are not among
 * the reported ones, `reported` (SQL: a relation r of the node's reported ids, r.id).
 */
function missingDomainsOf(db: Db, node: postgres.Fragment, reported: postgres.Fragment) {
  return db`vms.node = ${node}
    AND vms.state IN ('RUNNING', 'STOPPED', 'STOPPING', 'PAUSED', 'CRASHED', 'LOST')
    -- An anti-join, not id <> ALL(array): that compares every row with every id (a node of
    -- thousands of domains made it millions of comparisons per beat).
    AND NOT EXISTS (SELECT 1 FROM ${reported} WHERE r.id = vms.id)`;
}

/** The VM rows of `node` that should have a domain and are not among `reportedVmIds`. */
function missingDomains(db: Db, node: string, reportedVmIds: string[]) {
  return missingDomainsOf(db, db`${node}`, db`unnest(${reportedVmIds}::uuid[]) AS r(id)`);
}

/** A VM row unchanged for `graceMs`: a domain that vanished since is gone, not yet to be listed. */
function unchangedFor(db: Db, graceMs: number) {
  return db`vms.updated_at < now() - make_interval(secs => ${graceMs / 1000})`;
}

/** What handleVanishedDomains writes in the reason of a VM whose domain vanished from `node` (stoppedWhy: one left STOPPED). */
export function vanishedReasons(node: string): { why: string; stoppedWhy: string } {
  const why = `domain vanished from node ${node} (destroyed and undefined outside Drover, or its host or agent lost it)`;
  return { why, stoppedWhy: `${why}; StartVm re-creates it from its spec` };
}

/**
 * The VMs of `node` its report lacks and handleVanishedDomains has not acted on yet (at most
 * 1,000), each `due` when unchanged for `graceMs`: a query (id, due), also a part of reconcileNeeds.
 */
function vanishedCandidates(db: Db, node: string, reportedVmIds: string[], graceMs: number) {
  return db`
    SELECT id, ${unchangedFor(db, graceMs)} AS due FROM vms
    WHERE ${missingDomains(db, node, reportedVmIds)} AND vms.reason <> ${vanishedReasons(node).stoppedWhy} LIMIT 1000`;
}

/**
 * vanishedCandidates of every node of the CTE n (node, stopped_why: its vanishedReasons), its
 * reported ids in the CTE r (node, id): a query (node, due), a part of reconcileNeeds.
 */
export function vanishedCandidatesOfNodes(db: Db, graceMs: number) {
  return db`
    SELECT n.node, g.due FROM n CROSS JOIN LATERAL (
      SELECT ${unchangedFor(db, graceMs)} AS due FROM vms
      WHERE ${missingDomainsOf(db, db`n.node`, db`(SELECT id FROM r WHERE r.node = n.node) AS r`)} AND vms.reason <> n.stopped_why LIMIT 1000
    ) g`;
}

/**
 * VMs of `node` whose domain its heartbeat's complete domain list no longer has (its agent restarted
 * on a host that lost them, someone destroyed and undefined them, or its host came back without
 * them after the VMs were LOST). Only VMs unchanged for `graceMs`: a domain created after the agent
 * listed its domains is not gone.
 * - restart policy "never": FAILED with the reason, claim released.
 * - a VM that ran (RUNNING, PAUSED, CRASHED; LOST from RUNNING): SCHEDULED on the same node, claim
 *   kept, so the dispatcher re-creates the domain from the spec.
 * - a VM that was off (STOPPED, STOPPING; LOST from STOPPED): STOPPED with the reason, claim kept;
 *   StartVm re-creates the domain.
 */
export async function handleVanishedDomains(
  db: Db,
  node: string,
  reportedVmIds: string[],
  graceMs: number,
): Promise<{ recreated: Vm[]; stopped: Vm[]; failed: Vm[]; waiting: number }> {
  const missing = () => missingDomains(db, node, reportedVmIds);
  const gone = () => db`${missing()} AND ${unchangedFor(db, graceMs)}`;
  const { why, stoppedWhy } = vanishedReasons(node);
  // The changes only when something vanished (the ids are re-checked there). Missing ones still
  // within their grace are `waiting`: a later beat with the same report must look again (the
  // heartbeat fast path does not skip it).
  const candidates = await db<{ id: string; due: boolean }[]>`${vanishedCandidates(db, node, reportedVmIds, graceMs)}`;
  const waiting = candidates.filter((r) => !r.due).length;
  const found = candidates.filter((r) => r.due);
  if (found.length === 0) return { recreated: [], stopped: [], failed: [], waiting };
  const ids = found.map((r) => r.id);
  const these = () => db`id = ANY(${ids}::uuid[]) AND ${gone()}`;
  const failed = await failWithClaimReleased(db, () => db`${these()} AND ${db.unsafe(POLICY)} = 'never'`, db`${why + "; restart policy never: not re-created"}`);
  const ran = db`(state IN ('RUNNING', 'PAUSED', 'CRASHED') OR (state = 'LOST' AND coalesce(state_before_lost, 'RUNNING') <> 'STOPPED'))`;
  const changed = await updateVmsWithEvents(
    db,
    db`
      UPDATE vms SET state = CASE WHEN ${ran} THEN 'SCHEDULED' ELSE 'STOPPED' END,
        due_at = CASE WHEN ${ran} THEN now() ELSE due_at END,
        attempts = CASE WHEN ${ran} THEN 0 ELSE attempts END,
        reason = CASE WHEN ${ran} THEN ${why + "; re-creating it from its spec"} ELSE ${stoppedWhy} END,
        lease_until = NULL, updated_at = now()
      WHERE ${these()} AND ${db.unsafe(POLICY)} <> 'never'`,
  );
  return { recreated: changed.filter((v) => v.state === "SCHEDULED"), stopped: changed.filter((v) => v.state === "STOPPED"), failed, waiting };
}

/** FAILED for the VMs `where` picks, reason from `reason` (SQL over the row), each claim released, in one transaction. */
async function failWithClaimReleased(db: Db, where: () => postgres.Fragment, reason: postgres.Fragment): Promise<Vm[]> {
  const candidates = await db<{ id: string }[]>`SELECT id FROM vms WHERE ${where()} LIMIT 500`;
  if (candidates.length === 0) return [];
  const ids = candidates.map((c) => c.id);
  const run = async (tx: Db): Promise<Vm[]> => {
    const failed = await updateVmsWithEvents(
      tx,
      tx`
        UPDATE vms SET state = 'FAILED', reason = ${reason}, lease_until = NULL, updated_at = now()
        WHERE id = ANY(${ids}::uuid[]) AND ${where()}`,
    );
    for (const vm of failed) await releaseClaim(tx, vm.id);
    return failed;
  };
  // Inside a caller's transaction as it is; else in one of its own.
  return inTransaction(db) ? run(db) : transaction(db, run);
}
