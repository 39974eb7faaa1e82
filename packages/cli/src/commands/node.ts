// drover node list|get|cordon|uncordon|drain|update|join-token create
import {
  CordonNodeResponse,
  CreateJoinTokenResponse,
  DrainNodeResponse,
  GetNodeResponse,
  ListNodesResponse,
  type Node,
  NodeState,
  UncordonNodeResponse,
  UpdateNodeResponse,
} from "@drover/proto";
import { unary } from "../client.js";
import { callSettings, type Command, type Context, GLOBAL_FLAGS_HELP, group, type Group, nonBlank, parsed, UsageError } from "../command.js";
import { printAnswer, printList } from "../output.js";
import { formatFields, formatJson, nodeDetail, nodeTable } from "../format.js";
import { isoOf } from "../timestamps.js";
import { parseNodeState } from "../states.js";
import { parseCount, parseDiskGiB, parseDurationSeconds, parseMemoryMiB } from "../units.js";

const list: Command = {
  name: "list",
  summary: "list nodes",
  usage: `Usage: drover node list [--state STATE]

Lists the hosts. VCPU, MEMORY and DISK show allocated/allocatable.

  --state STATE   only nodes in STATE: ready, cordoned, draining, down, degraded

${GLOBAL_FLAGS_HELP}
`,
  args: [],
  options: { state: { type: "string" } },
  async run(ctx, _args, values) {
    const state = parsed(values, "state", parseNodeState, "node list") ?? NodeState.NODE_STATE_UNSPECIFIED;
    const c = ctx.clients();
    // page_size 0: every node in one answer.
    const res = await unary(c.node.listNodes.bind(c.node), { state, pageSize: 0, pageToken: "" }, callSettings(ctx));
    printList(ctx, ListNodesResponse.toJSON(res), res.nodes, nodeTable, "nodes");
    return 0;
  },
};

const get: Command = {
  name: "get",
  summary: "show one node",
  usage: `Usage: drover node get NAME

Shows a node: address, state, labels, capacity, reservations, allocation
ratios, allocatable and allocated resources, and its last heartbeat.

${GLOBAL_FLAGS_HELP}
`,
  args: ["NAME"],
  options: {},
  async run(ctx, args) {
    const c = ctx.clients();
    const res = await unary(c.node.getNode.bind(c.node), { name: args[0]! }, callSettings(ctx));
    printAnswer(ctx, GetNodeResponse.toJSON(res), () => res.node && nodeDetail(res.node));
    return 0;
  },
};

function action(
  name: string,
  summary: string,
  description: string,
  call: (ctx: Context, name: string) => Promise<{ node?: Node | undefined }>,
  toJSON: (res: { node?: Node | undefined }) => unknown,
  after?: (ctx: Context, node: Node) => void,
): Command {
  return {
    name,
    summary,
    usage: `Usage: drover node ${name} NAME

${description}

${GLOBAL_FLAGS_HELP}
`,
    args: ["NAME"],
    options: {},
    async run(ctx, args) {
      const res = await call(ctx, args[0]!);
      if (ctx.output === "json") {
        ctx.io.stdout(formatJson(toJSON(res)));
      } else if (res.node) {
        ctx.io.stdout(nodeTable([res.node]));
        after?.(ctx, res.node);
      }
      return 0;
    },
  };
}

const cordon = action(
  "cordon",
  "stop placing new VMs on a node",
  "Cordons a node: no new VMs land on it; running ones stay.",
  (ctx, name) => unary(ctx.clients().node.cordonNode.bind(ctx.clients().node), { name }, callSettings(ctx)),
  (r) => CordonNodeResponse.toJSON(r),
);

const uncordon = action(
  "uncordon",
  "allow placing VMs on a node again",
  "Uncordons a node: it takes new VMs again.",
  (ctx, name) => unary(ctx.clients().node.uncordonNode.bind(ctx.clients().node), { name }, callSettings(ctx)),
  (r) => UncordonNodeResponse.toJSON(r),
);

const drain = action(
  "drain",
  "cordon a node and mark it draining",
  "Drains a node: cordons it and stops placing on it. Its VMs are left running\nfor the operator to move (live migration is not built yet).",
  (ctx, name) => unary(ctx.clients().node.drainNode.bind(ctx.clients().node), { name }, callSettings(ctx)),
  (r) => DrainNodeResponse.toJSON(r),
  (ctx, node) => {
    if (node.vmCount > 0) {
      ctx.io.stderr(`${node.vmCount} VM${node.vmCount === 1 ? " is" : "s are"} still on ${node.name}; move or delete them (no live migration yet).\n`);
    }
  },
);

function parseRatio(v: string): number {
  const n = Number(v);
  if (!(n > 0 && n <= 1000)) throw new Error(`must be a number above 0 and at most 1000, got ${JSON.stringify(v)}`);
  return n;
}

const update: Command = {
  name: "update",
  summary: "set a node's allocation ratios and reservations",
  usage: `Usage: drover node update NAME [--cpu-ratio X] [--memory-ratio X] [--disk-ratio X]
    [--reserved-vcpus N --reserved-memory SIZE --reserved-disk SIZE]

Sets how much of the host may be claimed: allocatable = capacity x ratio - reserved.
Lowering them below what is claimed keeps the VMs; new ones wait for room.
The three --reserved-* flags go together (unset ones mean 0).

${GLOBAL_FLAGS_HELP}
`,
  args: ["NAME"],
  options: {
    "cpu-ratio": { type: "string" },
    "memory-ratio": { type: "string" },
    "disk-ratio": { type: "string" },
    "reserved-vcpus": { type: "string" },
    "reserved-memory": { type: "string" },
    "reserved-disk": { type: "string" },
  },
  async run(ctx, args, v) {
    const opt = <T>(name: string, parse: (s: string) => T): T | undefined => parsed(v, name, parse, "node update");
    const reservedVcpus = opt("reserved-vcpus", (s) => parseCount(s, 0));
    const reservedMemory = opt("reserved-memory", parseMemoryMiB);
    const reservedDisk = opt("reserved-disk", parseDiskGiB);
    const anyReserved = [reservedVcpus, reservedMemory, reservedDisk].some((x) => x !== undefined);
    const c = ctx.clients();
    const res = await unary(
      c.node.updateNode.bind(c.node),
      {
        name: args[0]!,
        cpuAllocationRatio: opt("cpu-ratio", parseRatio),
        memoryAllocationRatio: opt("memory-ratio", parseRatio),
        diskAllocationRatio: opt("disk-ratio", parseRatio),
        reserved: anyReserved ? { vcpus: reservedVcpus ?? 0, memoryMib: reservedMemory ?? 0, diskGib: reservedDisk ?? 0 } : undefined,
      },
      callSettings(ctx),
    );
    printAnswer(ctx, UpdateNodeResponse.toJSON(res), () => res.node && nodeDetail(res.node));
    return 0;
  },
};

const joinToken: Command = {
  name: "join-token",
  summary: "create a one-time join token for a new host (admin)",
  usage: `Usage: drover node join-token create [--name NODE] [--ttl DURATION]

Makes a one-time join token and prints it this once. Give it to the new host's
agent as DROVER_JOIN_TOKEN (with DROVER_CA_FILE); the agent trades it for its
node certificate at its first start and needs it no more. Needs an admin token.
On a scheduler host, 'drover-scheduler join-token create' does the same without
the API.

  --name NODE       only this node name may join with it (needed to replace a
                    host whose name the cluster knows)
  --ttl DURATION    how long it may be used, e.g. 30m, 24h, 7d (default 24h, at
                    most 30d)

${GLOBAL_FLAGS_HELP}
`,
  args: ["ACTION"],
  options: { name: { type: "string" }, ttl: { type: "string" } },
  async run(ctx, args, values) {
    if (args[0] !== "create") throw new UsageError(`unknown command "node join-token ${args[0]}"; expected "node join-token create"`, "node join-token");
    const ttlSeconds = parsed(values, "ttl", parseDurationSeconds, "node join-token") ?? 0;
    const nodeName = nonBlank(values, "name", "node join-token");
    const c = ctx.clients();
    const res = await unary(c.access.createJoinToken.bind(c.access), { nodeName, ttlSeconds }, callSettings(ctx));
    printAnswer(ctx, CreateJoinTokenResponse.toJSON(res), () => formatFields([["Join token", res.joinToken], ["ID", res.id], ["Node", res.nodeName || "any new name"], ["Expires", isoOf(res.expiresAt)]]));
    ctx.io.stderr("The token is shown only this once and works for one join.\n");
    return 0;
  },
};

const commands = [list, get, cordon, uncordon, drain, update, joinToken];

export const nodeGroup: Group = group({ name: "node", summary: "list, inspect, cordon and drain hosts", commands });
