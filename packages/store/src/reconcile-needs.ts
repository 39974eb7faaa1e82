// What a node's report would change, read in one statement: a heartbeat's reconcile writes only
// what this says needs writing. Most reconciles change nothing (a node's new domain is a VM already
// RUNNING), and each write statement costs even when it writes no row: it runs the vms statement
// triggers of migrations 024 and 027 and a heavier plan (bench:api: ~0.45 ms of Postgres CPU for
// the domain-state update of a 10-VM node, against one read for all of it).
import type { Db } from "./db.js";
import type { VmInterface } from "./domain.js";
import { asManyAsReported } from "./report-rows.js";
import { domainTransitions, vanishedCandidatesOfNodes, vanishedReasons, type DomainReportRow, type NodeDomainReportRow, type RestartRules } from "./vm-truth.js";
import { interfaceReports, interfacesChanged, strayDomainsOf, type NodeInterfaceReport } from "./work.js";

export interface NodeReport {
  node: string;
  /** The domains whose state the scheduler acts on (reconcileDomainStates). */
  domains: DomainReportRow[];
  /** The NICs of the domains that report them (recordVmInterfaces). */
  interfaces: { vmId: string; interfaces: VmInterface[] }[];
  /** Every domain of ours the report lists (handleVanishedDomains, strayDomains). */
  reportedVmIds: string[];
}

export interface ReconcileNeeds {
  /** Some domain's state moves its VM: reconcileDomainStates would change rows. */
  states: boolean;
  /** Some VM's NICs differ from the report: recordVmInterfaces would change rows. */
  interfaces: boolean;
  /** VMs the report lacks, unchanged for the grace: handleVanishedDomains acts on them. */
  vanishedDue: number;
  /** VMs the report lacks that are still within the grace. */
  vanishedWaiting: number;
  /** The domains the node must destroy (strayDomains). */
  strays: string[];
}

/**
 * Reads, in one statement, what reconcileDomainStates, recordVmInterfaces, handleVanishedDomains
 * and strayDomains would find for this report; each asks the same of the rows as the statement it
 * stands for (the same SQL fragments).
 */
export async function reconcileNeeds(db: Db, report: NodeReport, rules: RestartRules, graceMs: number): Promise<ReconcileNeeds> {
  return (await reconcileNeedsOfNodes(db, [report], rules, graceMs)).get(report.node)!;
}

/**
 * reconcileNeeds of many nodes' reports (one each) in one statement, the same statement whatever
 * their number: the heartbeat full checks of a fleet go together (one read a node every 30 s was
 * most of what an unchanged fleet's beats cost the scheduler). By node.
 */
export async function reconcileNeedsOfNodes(db: Db, reports: NodeReport[], rules: RestartRules, graceMs: number): Promise<Map<string, ReconcileNeeds>> {
  const nodes = reports.map((r) => r.node);
  if (new Set(nodes).size !== nodes.length) throw new Error(`reconcileNeedsOfNodes: one report per node (${nodes.join(", ")})`);
  const domains: NodeDomainReportRow[] = [];
  const nics: NodeInterfaceReport[] = [];
  const reportedNodes: string[] = [];
  const reportedIds: string[] = [];
  for (const { node, ...r } of reports) {
    for (const d of r.domains) domains.push({ ...d, node });
    for (const i of r.interfaces) nics.push({ node, vmId: i.vmId, interfaces: i.interfaces });
    for (const id of r.reportedVmIds) {
      reportedNodes.push(node);
      reportedIds.push(id);
    }
  }
  const rows = await db<{ node: string; states: boolean; interfaces: boolean; vanished_due: number; vanished_waiting: number; strays: string[] }[]>`
    WITH n AS (
      SELECT * FROM unnest(${nodes}::text[], ${nodes.map((node) => vanishedReasons(node).stoppedWhy)}::text[]) AS n(node, stopped_why)
      ${asManyAsReported(db, nodes)}
    ), r AS (
      SELECT * FROM unnest(${reportedNodes}::text[], ${reportedIds}::uuid[]) AS r(node, id) ${asManyAsReported(db, reportedIds)}
    ), ${domainTransitions(db, domains, rules)}, ${interfaceReports(db, nics)},
    gone AS (${vanishedCandidatesOfNodes(db, graceMs)})
    SELECT n.node,
      EXISTS (SELECT 1 FROM t WHERE t.node = n.node AND t.next IS NOT NULL) AS states,
      EXISTS (SELECT 1 FROM vms, nics WHERE nics.node = n.node AND ${interfacesChanged(db)}) AS interfaces,
      (SELECT count(*) FILTER (WHERE due) FROM gone WHERE gone.node = n.node)::int AS vanished_due,
      (SELECT count(*) FILTER (WHERE NOT due) FROM gone WHERE gone.node = n.node)::int AS vanished_waiting,
      ARRAY(${strayDomainsOf(db, db`n.node`, db`SELECT r.id FROM r WHERE r.node = n.node`)})::text[] AS strays
    FROM n`;
  return new Map(
    rows.map((row) => [row.node, { states: row.states, interfaces: row.interfaces, vanishedDue: row.vanished_due, vanishedWaiting: row.vanished_waiting, strays: row.strays }]),
  );
}
