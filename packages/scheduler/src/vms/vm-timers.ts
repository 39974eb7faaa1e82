// The VM states that end by time rather than by a report: CRASHED VMs whose restart is due, and
// graceful stops whose guest did not power off in time. Every statement is idempotent, so all
// replicas may run it. A VM these change has no new domain report to show for it (a FAILED VM's
// domain is left to destroy): the change moves its node's VM change count (migration 027), so the
// node's next beat reconciles in full on whichever replica takes it (report-memo.ts).
import { expireStops, restartDueVms, type Sql } from "@drover/store";
import type { SchedulerConfig } from "../config.js";

export async function vmTimersTick(
  sql: Sql,
  config: Pick<SchedulerConfig, "restartLimit" | "restartWindowMs" | "stopTimeoutMs">,
  log: (m: string) => void,
  wakeDispatcher: () => void,
): Promise<void> {
  const { restarted, failed } = await restartDueVms(sql, { limit: config.restartLimit, windowMs: config.restartWindowMs });
  for (const vm of restarted) log(`VM ${vm.id}: restarting on ${vm.node} (${vm.reason})`);
  for (const vm of failed) log(`VM ${vm.id}: FAILED: ${vm.reason}`);
  if (restarted.length > 0) wakeDispatcher();
  const expired = await expireStops(sql, config.stopTimeoutMs);
  for (const vm of expired) log(`VM ${vm.id}: ${vm.reason}`);
}
