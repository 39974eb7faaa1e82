// Human output: tables, detail views and units. JSON output goes through the generated toJSON.
import { AddressSource, type Event, type GetCapacityResponse, type Node, type Resources, type Vm, type VmStateCount } from "@drover/proto";
import { nodeStateName, strategyName, vmStateName } from "./states.js";
import { dateOf, isoOf } from "./timestamps.js";

/** Rounds to at most `digits` decimals and drops trailing zeros: 1.50 -> "1.5". */
function trimNum(n: number, digits: number): string {
  return String(Number(n.toFixed(digits)));
}

/** Human memory size from MiB: 512MiB, 4GiB, 1.5GiB, 2TiB. */
export function formatMiB(mib: number): string {
  if (mib >= 1024 * 1024) return `${trimNum(mib / (1024 * 1024), 1)}TiB`;
  if (mib >= 1024) return `${trimNum(mib / 1024, 1)}GiB`;
  return `${trimNum(mib, 1)}MiB`;
}

/** Human disk size from GiB: 20GiB, 1.5TiB. */
export function formatGiB(gib: number): string {
  if (gib >= 1024) return `${trimNum(gib / 1024, 1)}TiB`;
  return `${trimNum(gib, 1)}GiB`;
}

/**
 * Left-aligned columns separated by two spaces, one line per row, no trailing
 * spaces. Empty cells print as "-".
 */
export function formatTable(headers: string[], rows: string[][]): string {
  const cells = [headers, ...rows.map((r) => headers.map((_, i) => (r[i] === undefined || r[i] === "" ? "-" : r[i])))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd()).join("\n") + "\n";
}

/** "Label:  value" lines with the values aligned; undefined values are skipped. */
export function formatFields(fields: [string, string | undefined][], indent = ""): string {
  const shown = fields.filter((f): f is [string, string] => f[1] !== undefined);
  const width = Math.max(0, ...shown.map(([k]) => k.length + 1));
  return shown.map(([k, v]) => `${indent}${`${k}:`.padEnd(width)}  ${v}`.trimEnd()).join("\n") + "\n";
}

/** Pretty JSON plus a newline. */
export function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}

/** "a=1, b=2", or "-" when empty. */
export function formatLabels(labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(", ") : "-";
}

/** Seconds, minutes, hours or days since `then`: "12s ago". */
export function formatAge(then: Date | undefined, now: Date = new Date()): string {
  if (!then) return "never";
  const s = Math.max(0, Math.round((now.getTime() - then.getTime()) / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.floor(s / 60)}m ago`;
  if (s < 172800) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

function score(n: number): string {
  return trimNum(n, 4);
}

// ---------------------------------------------------------------- VMs

export const VM_HEADERS = ["ID", "NAME", "STATE", "NODE", "VCPUS", "MEMORY", "ADDRESS"];

/** The VM's first IP address, without its prefix length ("" while it has none). */
export function firstAddress(vm: Vm): string {
  const cidr = (vm.interfaces ?? []).flatMap((i) => i.addresses)[0] ?? "";
  return cidr.split("/")[0]!;
}

const SOURCE_WORDS: Record<AddressSource, string> = {
  [AddressSource.ADDRESS_SOURCE_UNSPECIFIED]: "",
  [AddressSource.ADDRESS_SOURCE_DHCP_LEASE]: " (DHCP lease)",
  [AddressSource.ADDRESS_SOURCE_STATIC]: " (static, configured)",
  [AddressSource.UNRECOGNIZED]: "",
};

/** Each NIC as "MAC address, address (source)": what `vm get` prints. */
function interfaceLines(vm: Vm): string | undefined {
  const nics = vm.interfaces ?? [];
  if (nics.length === 0) return undefined;
  return nics.map((i) => `${i.mac} ${i.addresses.length ? `${i.addresses.join(", ")}${SOURCE_WORDS[i.source] ?? ""}` : "(no address yet)"}`).join("; ");
}

export function vmRow(vm: Vm): string[] {
  return [
    vm.id,
    vm.spec?.name ?? "",
    vmStateName(vm.state),
    vm.node,
    String(vm.spec?.vcpus ?? ""),
    vm.spec ? formatMiB(vm.spec.memoryMib) : "",
    firstAddress(vm),
  ];
}

export function vmTable(vms: Vm[]): string {
  return formatTable(VM_HEADERS, vms.map(vmRow));
}

function policyLines(vm: Vm): [string, string | undefined][] {
  const p = vm.policy;
  if (!p) return [];
  return [
    ["Strategy", p.strategy ? strategyName(p.strategy) : "default"],
    ["Constraints", p.constraints.length ? p.constraints.join(", ") : undefined],
    ["Preferences", p.preferences.length ? p.preferences.join(", ") : undefined],
    ["Anti-affinity", p.antiAffinityGroup || undefined],
    ["Soft anti-affinity", p.softAntiAffinityGroup || undefined],
    ["Affinity", p.affinityGroup || undefined],
  ];
}

/** `vm get`: every field, then why the VM landed where it did. */
export function vmDetail(vm: Vm): string {
  const s = vm.spec;
  let out = formatFields([
    ["ID", vm.id],
    ["Name", s?.name ?? ""],
    ["State", vmStateName(vm.state)],
    ["Reason", vm.reason || undefined],
    ["Node", vm.node || "-"],
    ["vCPUs", String(s?.vcpus ?? 0)],
    ["Memory", formatMiB(s?.memoryMib ?? 0)],
    ["Disk", s?.diskGib ? formatGiB(s.diskGib) : "none"],
    ["Image", s?.image || undefined],
    ["Network", s?.network || undefined],
    ["Interfaces", interfaceLines(vm)],
    ["User data", s?.userData ? `${Buffer.byteLength(s.userData)} bytes` : undefined],
    ["Labels", formatLabels(s?.labels)],
    ["Restart", s?.restartPolicy || "on-crash"],
    ...policyLines(vm),
    ["Attempts", String(vm.attempts)],
    ["Created", isoOf(vm.createdAt)],
    ["Updated", isoOf(vm.updatedAt)],
    ["Placement", vm.placement ? undefined : "not placed yet"],
  ]);
  const p = vm.placement;
  if (p) {
    out += "Placement:\n";
    out += formatFields(
      [
        ["Node", p.node || "-"],
        ["Total score", score(p.totalScore)],
        ["Feasible nodes", `${p.feasibleNodes} of ${p.evaluatedNodes} evaluated`],
      ],
      "  ",
    );
    const scores = Object.entries(p.scores).sort(([a], [b]) => a.localeCompare(b));
    if (scores.length) {
      out += "  Scores:\n";
      out += formatFields(
        scores.map(([k, v]) => [k, score(v)]),
        "    ",
      );
    }
  }
  return out;
}

// ---------------------------------------------------------------- nodes

function ratio(allocated: number, allocatable: number, unit: (n: number) => string = String): string {
  return `${unit(allocated)}/${unit(allocatable)}`;
}

export const NODE_HEADERS = ["NAME", "STATE", "ADDRESS", "VCPU", "MEMORY", "DISK", "VMS", "HEARTBEAT"];

export function nodeRow(n: Node, now?: Date): string[] {
  const a = n.allocated;
  const t = n.allocatable;
  return [
    n.name,
    nodeStateName(n.state),
    n.address,
    ratio(a?.vcpus ?? 0, t?.vcpus ?? 0),
    ratio(a?.memoryMib ?? 0, t?.memoryMib ?? 0, formatMiB),
    ratio(a?.diskGib ?? 0, t?.diskGib ?? 0, formatGiB),
    String(n.vmCount),
    formatAge(dateOf(n.lastHeartbeat), now),
  ];
}

/** Node table; VCPU, MEMORY and DISK are allocated/allocatable. */
export function nodeTable(nodes: Node[], now?: Date): string {
  return formatTable(NODE_HEADERS, nodes.map((n) => nodeRow(n, now)));
}

function resources(r: Resources | undefined): string {
  if (!r) return "-";
  return `${r.vcpus} vCPU, ${formatMiB(r.memoryMib)} memory, ${formatGiB(r.diskGib)} disk`;
}

export function nodeDetail(n: Node, now?: Date): string {
  return formatFields([
    ["Name", n.name],
    ["Address", n.address],
    ["State", nodeStateName(n.state)],
    ["Labels", formatLabels(n.labels)],
    ["Capacity", resources(n.capacity)],
    ["Reserved", resources(n.reserved)],
    [
      "Allocation ratios",
      `cpu ${trimNum(n.cpuAllocationRatio, 2)}, memory ${trimNum(n.memoryAllocationRatio, 2)}, disk ${trimNum(n.diskAllocationRatio, 2)}`,
    ],
    ["Allocatable", resources(n.allocatable)],
    ["Allocated", resources(n.allocated)],
    ["VMs", String(n.vmCount)],
    ["Last heartbeat", n.lastHeartbeat ? `${isoOf(n.lastHeartbeat)} (${formatAge(dateOf(n.lastHeartbeat), now)})` : "never"],
    ["Generation", String(n.generation)],
  ]);
}

// ---------------------------------------------------------------- capacity

/** "RUNNING=3 STOPPED=1", or "-" when there are none. */
export function formatVmCounts(counts: VmStateCount[]): string {
  const shown = counts.filter((c) => c.count > 0);
  return shown.length ? shown.map((c) => `${vmStateName(c.state)}=${c.count}`).join(" ") : "-";
}

export const CAPACITY_HEADERS = ["NODE", "STATE", "VCPU", "MEMORY", "DISK", "FREE VCPU", "FREE MEMORY", "FREE DISK", "VMS"];

/** Cluster totals, then one row per node (VCPU, MEMORY, DISK are allocated/allocatable). */
export function capacityReport(c: GetCapacityResponse): string {
  const ready = c.nodes.filter((n) => nodeStateName(n.state) === "READY").length;
  const line = (label: string, alloc: number, allocatable: number, free: number, cap: number, unit: (n: number) => string) =>
    `${label}${unit(alloc)} allocated / ${unit(allocatable)} allocatable, ${unit(free)} free (raw capacity ${unit(cap)})`;
  let out = `Cluster: ${c.nodes.length} node${c.nodes.length === 1 ? "" : "s"}, ${ready} ready\n`;
  out += line("  vCPU:    ", c.allocated?.vcpus ?? 0, c.allocatable?.vcpus ?? 0, c.free?.vcpus ?? 0, c.capacity?.vcpus ?? 0, String) + "\n";
  out +=
    line("  Memory:  ", c.allocated?.memoryMib ?? 0, c.allocatable?.memoryMib ?? 0, c.free?.memoryMib ?? 0, c.capacity?.memoryMib ?? 0, formatMiB) +
    "\n";
  out +=
    line("  Disk:    ", c.allocated?.diskGib ?? 0, c.allocatable?.diskGib ?? 0, c.free?.diskGib ?? 0, c.capacity?.diskGib ?? 0, formatGiB) + "\n";
  out += `  VMs:     ${formatVmCounts(c.vms)}\n`;
  out += "  (allocatable and free count READY nodes only)\n";
  if (c.nodes.length) {
    out += "\n";
    out += formatTable(
      CAPACITY_HEADERS,
      c.nodes.map((n) => [
        n.name,
        nodeStateName(n.state),
        ratio(n.allocated?.vcpus ?? 0, n.allocatable?.vcpus ?? 0),
        ratio(n.allocated?.memoryMib ?? 0, n.allocatable?.memoryMib ?? 0, formatMiB),
        ratio(n.allocated?.diskGib ?? 0, n.allocatable?.diskGib ?? 0, formatGiB),
        String(n.free?.vcpus ?? 0),
        formatMiB(n.free?.memoryMib ?? 0),
        formatGiB(n.free?.diskGib ?? 0),
        formatVmCounts(n.vms),
      ]),
    );
  }
  return out;
}

// ---------------------------------------------------------------- events

/** One line per event: time, id, subject, then whatever the event carries. */
export function eventLine(e: Event): string {
  const parts = [isoOf(e.time) ?? "-", `#${e.id}`, e.subject || e.type];
  if (e.vmId) parts.push(`vm=${e.vmId}`);
  if (e.node) parts.push(`node=${e.node}`);
  if (e.vmState) parts.push(`vm_state=${vmStateName(e.vmState)}`);
  if (e.nodeState) parts.push(`node_state=${nodeStateName(e.nodeState)}`);
  if (e.reason) parts.push(`reason=${JSON.stringify(e.reason)}`);
  return parts.join("  ");
}
