// What a node's report would change, read in one statement: a heartbeat's reconcile writes only
// what this says needs writing. Most reconciles change nothing (a node's new domain is a VM already
// RUNNING), and each write statement costs even when it writes no row: it runs the vms statement
// triggers of migrations 024 and 027 and a heavier plan (bench:api: ~0.45 ms of Postgres CPU for
// the domain-state update of a 10-VM node, against one read for all of it).
import type { Db } from "./db.js";
import type { VmInterface } from "./domain.js";
import { domainTransitions, vanishedCandidates, type DomainReportRow, type RestartRules } from "./vm-truth.js";
import { interfaceReports, interfacesChanged, strayDomainsQuery } from "./work.js";

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
  const { node, reportedVmIds } = report;
  const [row] = await db<{ states: boolean; interfaces: boolean; vanished_due: number; vanished_waiting: number; strays: string[] }[]>`
    WITH ${domainTransitions(db, node, report.domains, rules)}, ${interfaceReports(db, report.interfaces)},
    gone AS (${vanishedCandidates(db, node, reportedVmIds, graceMs)})
    SELECT EXISTS (SELECT 1 FROM t WHERE t.next IS NOT NULL) AS states,
      EXISTS (SELECT 1 FROM vms, nics WHERE ${interfacesChanged(db, node)}) AS interfaces,
      (SELECT count(*) FILTER (WHERE due) FROM gone)::int AS vanished_due,
      (SELECT count(*) FILTER (WHERE NOT due) FROM gone)::int AS vanished_waiting,
      ARRAY(${strayDomainsQuery(db, node, reportedVmIds)})::text[] AS strays`;
  return { states: row!.states, interfaces: row!.interfaces, vanishedDue: row!.vanished_due, vanishedWaiting: row!.vanished_waiting, strays: row!.strays };
}
