// drover vm create|list|get|delete|start|stop|reboot|console-log
import { readFile } from "node:fs/promises";
import {
  CreateVmsRequest,
  CreateVmsResponse,
  DeleteVmResponse,
  GetVmResponse,
  ListVmsResponse,
  PlacementStrategy,
  RebootVmResponse,
  StartVmResponse,
  StopVmResponse,
  type Vm,
  VmState,
} from "@drover/proto";
import { unary } from "../client.js";
import {
  bool,
  callSettings,
  type Command,
  type Context,
  flag,
  GLOBAL_FLAGS_HELP,
  group,
  type Group,
  parsed,
  required,
  str,
  strs,
  UsageError,
  type Values,
} from "../command.js";
import { printAnswer } from "../output.js";
import { formatJson, vmDetail, vmTable } from "../format.js";
import { parseStrategy, parseVmState } from "../states.js";
import { parseCount, parseDiskGiB, parseMemoryMiB } from "../units.js";
import { consoleLogCommand } from "./console-log.js";
import { createWithRetries, idempotencyKeyFor } from "./create-retry.js";

const NAME_RE = /^[a-z][a-z0-9-]{0,62}$/;
const LABEL_KEY_RE = /^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$/;
const PAGE_SIZE = 100;

// ---------------------------------------------------------------- create

const RESTART_POLICIES = ["never", "on-crash", "always"];

/** --restart, checked here so a typo is a usage error (the API checks it again). */
function restartPolicyOf(value: string | undefined, cmd: string): string {
  if (value === undefined) return "";
  if (!RESTART_POLICIES.includes(value)) throw new UsageError(`--restart: expected one of ${RESTART_POLICIES.join(", ")}, got "${value}"`, cmd);
  return value;
}

const createUsage = `Usage: drover vm create NAME --vcpus N --memory SIZE [flags]

Places and creates one VM, or --count VMs named NAME-1..NAME-N.

Size:
  --vcpus N                 virtual CPUs (required, >= 1)
  --memory SIZE             memory (required): MiB, or with a unit: 512M, 4G, 1T
  --disk SIZE               disk: GiB, or with a unit: 20G, 1T (default: no disk)
  --image NAME              base image of the disk (needs --disk): a catalog
                            image (drover image list); the disk is an overlay
                            on it (default: a blank disk). Paths are refused
  --network NAME            catalog network for one virtio NIC (drover network
                            list; default: the cluster's DROVER_DEFAULT_NETWORK,
                            else no NIC)
  --ip CIDR                 a static IPv4 address for the NIC instead of DHCP,
                            e.g. 192.168.213.50/24 (with --count 1): written
                            into the seed's cloud-init network-config
  --gateway IP              its default gateway (with --ip)
  --dns IP                  a DNS server (with --ip; repeatable, at most 3)
  --user-data-file FILE     cloud-init user data, passed to the guest untouched
  --label KEY=VALUE         VM label (repeatable)
  --restart POLICY          what follows when the VM stops unasked: never,
                            on-crash (a crash or a vanished domain is started
                            again, with backoff; the default) or always (also
                            a guest that powered itself off)

Count:
  --count N                 how many VMs to create (default 1)
  --min-count N             create at least N or none (default: --count, all or nothing)

Placement:
  --strategy spread|pack    how nodes are ranked (default: the cluster default)
  --constraint EXPR         hard node-label constraint (repeatable):
                            key=value, key!=value, "key in (a,b)",
                            "key notin (a,b)", key, !key
  --prefer EXPR             soft node-label preference, same syntax (repeatable)
  --anti-affinity GROUP     members of GROUP never share a node
  --soft-anti-affinity GROUP
                            members of GROUP prefer distinct nodes (may share)
  --affinity GROUP          members of GROUP all land on one node

  --idempotency-key KEY     a retry with the same key returns the first call's VMs
                            (default: a random one, so the CLI's own retries after
                            UNAVAILABLE or DEADLINE_EXCEEDED never create twice)
  --dry-run                 show where each VM would go and why; create nothing

${GLOBAL_FLAGS_HELP}

Examples:
  drover vm create web --vcpus 2 --memory 4G --disk 20G --image debian-12
  drover vm create worker --count 10 --min-count 8 --vcpus 1 --memory 512M --strategy pack \\
      --constraint zone=a --anti-affinity workers
`;

function parseLabels(items: string[], command: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf("=");
    const key = eq < 0 ? item : item.slice(0, eq);
    if (eq < 0 || !LABEL_KEY_RE.test(key)) {
      throw new UsageError(`--label: expected KEY=VALUE with a non-empty key of letters, digits, ".", "_", "-", "/", got "${item}"`, command);
    }
    if (key in labels) throw new UsageError(`--label: key "${key}" given twice`, command);
    labels[key] = item.slice(eq + 1);
  }
  return labels;
}

/** Builds the CreateVms request from the command line; throws UsageError. */
export async function buildCreateRequest(args: string[], v: Values): Promise<CreateVmsRequest> {
  const cmd = "vm create";
  const name = args[0] ?? "";
  if (!NAME_RE.test(name)) {
    throw new UsageError(
      `NAME "${name}" is invalid: use 1-63 lowercase letters, digits and "-", starting with a letter`,
      cmd,
    );
  }
  const vcpus = required(v, "vcpus", (x) => parseCount(x, 1), cmd, "number of virtual CPUs, >= 1");

  const memoryText = str(v, "memory");
  if (memoryText === undefined) throw new UsageError("--memory is required (e.g. 512M, 4G)", cmd);
  const memoryMib = flag("memory", memoryText, parseMemoryMiB, cmd);
  if (memoryMib <= 0) throw new UsageError(`--memory: must be greater than 0, got "${memoryText}"`, cmd);

  const diskGib = parsed(v, "disk", parseDiskGiB, cmd) ?? 0;

  const count = parsed(v, "count", (x) => parseCount(x, 1), cmd) ?? 1;
  const minCount = parsed(v, "min-count", (x) => parseCount(x, 1), cmd) ?? 0;
  if (minCount > count) throw new UsageError(`--min-count (${minCount}) must not exceed --count (${count})`, cmd);

  const strategy = parsed(v, "strategy", parseStrategy, cmd) ?? PlacementStrategy.PLACEMENT_STRATEGY_UNSPECIFIED;

  const constraints = strs(v, "constraint");
  const preferences = strs(v, "prefer");
  for (const [flagName, list] of [["constraint", constraints], ["prefer", preferences]] as const) {
    for (const expr of list) {
      if (expr.trim() === "") throw new UsageError(`--${flagName}: expression must not be empty`, cmd);
    }
  }

  let userData = "";
  const userDataFile = str(v, "user-data-file");
  if (userDataFile !== undefined) {
    try {
      userData = await readFile(userDataFile, "utf8");
    } catch (e) {
      throw new Error(`--user-data-file: cannot read ${userDataFile}: ${(e as Error).message}`, { cause: e });
    }
  }

  return CreateVmsRequest.fromPartial({
    template: {
      name,
      vcpus,
      memoryMib,
      diskGib,
      image: str(v, "image") ?? "",
      userData,
      network: str(v, "network") ?? "",
      labels: parseLabels(strs(v, "label"), cmd),
      staticIpv4: staticIpv4Of(v, cmd),
      restartPolicy: restartPolicyOf(str(v, "restart"), cmd),
    },
    count,
    minCount,
    policy: {
      strategy,
      constraints,
      preferences,
      antiAffinityGroup: str(v, "anti-affinity") ?? "",
      softAntiAffinityGroup: str(v, "soft-anti-affinity") ?? "",
      affinityGroup: str(v, "affinity") ?? "",
    },
    idempotencyKey: idempotencyKeyFor(str(v, "idempotency-key"), v["dry-run"] === true),
    dryRun: v["dry-run"] === true,
  });
}

/** --ip, --gateway and --dns; the scheduler checks them (its message names the field). */
function staticIpv4Of(v: Values, cmd: string) {
  const address = str(v, "ip");
  const gateway = str(v, "gateway") ?? "";
  const dns = strs(v, "dns");
  if (!address) {
    if (gateway || dns.length > 0) throw new UsageError("--gateway and --dns need --ip (DHCP brings its own)", cmd);
    return undefined;
  }
  return { address, gateway, dns };
}

const create: Command = {
  name: "create",
  summary: "create one or more VMs",
  usage: createUsage,
  args: ["NAME"],
  options: {
    vcpus: { type: "string" },
    memory: { type: "string" },
    disk: { type: "string" },
    image: { type: "string" },
    count: { type: "string" },
    "min-count": { type: "string" },
    strategy: { type: "string" },
    constraint: { type: "string", multiple: true },
    prefer: { type: "string", multiple: true },
    "anti-affinity": { type: "string" },
    "soft-anti-affinity": { type: "string" },
    affinity: { type: "string" },
    label: { type: "string", multiple: true },
    network: { type: "string" },
    ip: { type: "string" },
    gateway: { type: "string" },
    dns: { type: "string", multiple: true },
    "user-data-file": { type: "string" },
    restart: { type: "string" },
    "idempotency-key": { type: "string" },
    "dry-run": { type: "boolean" },
  },
  async run(ctx, args, values) {
    const req = await buildCreateRequest(args, values);
    const c = ctx.clients();
    const res = await createWithRetries(c.vm.createVms.bind(c.vm), req, callSettings(ctx), ctx.io.stderr);
    if (ctx.output === "json") {
      ctx.io.stdout(formatJson(CreateVmsResponse.toJSON(res)));
      return 0;
    }
    ctx.io.stdout(vmTable(res.vms));
    if (res.dryRun) {
      for (const vm of res.vms) {
        const scores = Object.entries(vm.placement?.scores ?? {}).map(([k, s]) => `${k}=${s.toFixed(1)}`).join(" ");
        ctx.io.stdout(`${vm.spec?.name} → ${vm.node}: score ${vm.placement?.totalScore.toFixed(1)} (${scores}), ${vm.placement?.feasibleNodes} feasible nodes\n`);
      }
      ctx.io.stdout("dry run: nothing was created\n");
    }
    if (res.unplaced > 0) {
      ctx.io.stdout(`${res.unplaced} of ${res.vms.length + res.unplaced} VMs not placed: ${res.unplacedReason || "no reason given"}\n`);
    }
    return 0;
  },
};

// ---------------------------------------------------------------- list

const listUsage = `Usage: drover vm list [--state STATE] [--node NODE] [--all]

Lists VMs, ${PAGE_SIZE} per page.

  --state STATE   only VMs in STATE: pending, scheduled, provisioning, running,
                  stopping, stopped, paused, crashed, deleting, deleted, failed,
                  lost
  --node NODE     only VMs on NODE
  --all           follow page tokens and list every VM (default: first page)

${GLOBAL_FLAGS_HELP}
`;

const list: Command = {
  name: "list",
  summary: "list VMs",
  usage: listUsage,
  args: [],
  options: { state: { type: "string" }, node: { type: "string" }, all: { type: "boolean" } },
  async run(ctx, _args, values) {
    const state = parsed(values, "state", parseVmState, "vm list") ?? VmState.VM_STATE_UNSPECIFIED;
    const node = str(values, "node") ?? "";
    const all = bool(values, "all");
    const c = ctx.clients();
    const vms: Vm[] = [];
    let pageToken = "";
    let nextPageToken: string;
    do {
      const res = await unary(c.vm.listVms.bind(c.vm), { state, node, pageSize: PAGE_SIZE, pageToken, project: "" }, callSettings(ctx));
      vms.push(...res.vms);
      nextPageToken = res.nextPageToken;
      pageToken = nextPageToken;
    } while (all && pageToken !== "");
    if (ctx.output === "json") {
      ctx.io.stdout(formatJson(ListVmsResponse.toJSON({ vms, nextPageToken })));
      return 0;
    }
    if (vms.length === 0) ctx.io.stderr("No VMs found.\n");
    else ctx.io.stdout(vmTable(vms));
    if (nextPageToken !== "") ctx.io.stderr(`More VMs exist beyond these ${vms.length}; use --all to list them all.\n`);
    return 0;
  },
};

// ---------------------------------------------------------------- get and actions

const get: Command = {
  name: "get",
  summary: "show one VM and why it was placed where it is",
  usage: `Usage: drover vm get ID

Shows a VM: its spec, state, reason, policy, and the placement explanation
(node, total score and each scorer's score).

${GLOBAL_FLAGS_HELP}
`,
  args: ["ID"],
  options: {},
  async run(ctx, args) {
    const c = ctx.clients();
    const res = await unary(c.vm.getVm.bind(c.vm), { id: args[0]! }, callSettings(ctx));
    printAnswer(ctx, GetVmResponse.toJSON(res), () => res.vm && vmDetail(res.vm));
    return 0;
  },
};

/** `vm delete|start|reboot ID`: one call, then the VM as it is now. */
function action(
  name: string,
  summary: string,
  call: (ctx: Context, id: string) => Promise<{ vm?: Vm | undefined }>,
  toJSON: (res: { vm?: Vm | undefined }) => unknown,
): Command {
  return {
    name,
    summary,
    usage: `Usage: drover vm ${name} ID

${summary[0]!.toUpperCase()}${summary.slice(1)}.

${GLOBAL_FLAGS_HELP}
`,
    args: ["ID"],
    options: {},
    async run(ctx, args) {
      const res = await call(ctx, args[0]!);
      if (ctx.output === "json") ctx.io.stdout(formatJson(toJSON(res)));
      else if (res.vm) ctx.io.stdout(vmTable([res.vm]));
      return 0;
    },
  };
}

const del = action(
  "delete",
  "delete a VM: destroy its domain and free its resources",
  (ctx, id) => unary(ctx.clients().vm.deleteVm.bind(ctx.clients().vm), { id }, callSettings(ctx)),
  (r) => DeleteVmResponse.toJSON(r),
);

const start = action(
  "start",
  "start a stopped VM",
  (ctx, id) => unary(ctx.clients().vm.startVm.bind(ctx.clients().vm), { id }, callSettings(ctx)),
  (r) => StartVmResponse.toJSON(r),
);

const reboot = action(
  "reboot",
  "reboot a running VM",
  (ctx, id) => unary(ctx.clients().vm.rebootVm.bind(ctx.clients().vm), { id }, callSettings(ctx)),
  (r) => RebootVmResponse.toJSON(r),
);

const stop: Command = {
  name: "stop",
  summary: "stop a VM (ACPI shutdown, or power off with --force)",
  usage: `Usage: drover vm stop ID [--force]

Stops a VM with an ACPI shutdown: the VM is STOPPING until the guest has
powered off, then STOPPED. A guest that does not power off within the
scheduler's stop timeout leaves the VM RUNNING, with the reason.

  --force   power off at once instead, whatever state the VM shows

${GLOBAL_FLAGS_HELP}
`,
  args: ["ID"],
  options: { force: { type: "boolean" } },
  async run(ctx, args, values) {
    const c = ctx.clients();
    const res = await unary(c.vm.stopVm.bind(c.vm), { id: args[0]!, force: bool(values, "force") }, callSettings(ctx));
    if (ctx.output === "json") ctx.io.stdout(formatJson(StopVmResponse.toJSON(res)));
    else if (res.vm) ctx.io.stdout(vmTable([res.vm]));
    return 0;
  },
};

const commands = [create, list, get, del, start, stop, reboot, consoleLogCommand];

export const vmGroup: Group = group({ name: "vm", summary: "create, inspect and operate VMs", commands });
