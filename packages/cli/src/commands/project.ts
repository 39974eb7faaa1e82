// drover project create|list|get|set-quota: projects own VMs; quotas bound what
// each may claim. Quota flags take the units of `vm create` (--memory 64G).
import { CreateProjectResponse, GetProjectResponse, ListProjectsResponse, type Project, type Quota, SetQuotaResponse } from "@drover/proto";
import { unary } from "../client.js";
import { bool, callSettings, type Command, flag, GLOBAL_FLAGS_HELP, group, type Group, type Options, str, UsageError, type Values } from "../command.js";
import { printAnswer, printList } from "../output.js";
import { formatFields, formatGiB, formatMiB, formatTable } from "../format.js";
import { isoOf } from "../timestamps.js";
import { parseCount, parseDiskGiB, parseMemoryMiB } from "../units.js";


const QUOTA_OPTIONS: Options = { vcpus: { type: "string" }, memory: { type: "string" }, disk: { type: "string" }, vms: { type: "string" } };

const QUOTA_HELP = `  --vcpus N      vCPUs its VMs may claim in all
  --memory SIZE  memory, e.g. 512M, 64G, 1T (a plain number is MiB)
  --disk SIZE    disk, e.g. 500G, 2T (a plain number is GiB)
  --vms N        number of VMs`;

type QuotaKey = keyof Quota;
const FLAG_OF: Record<QuotaKey, string> = { vcpus: "vcpus", memoryMib: "memory", diskGib: "disk", vms: "vms" };
const PARSE: Record<QuotaKey, (v: string) => number> = {
  vcpus: (v) => parseCount(v, 0),
  memoryMib: parseMemoryMiB,
  diskGib: parseDiskGiB,
  vms: (v) => parseCount(v, 0),
};

/**
 * The quota flags given: a number, or null for "none" (no limit); a flag not given
 * is absent from the answer.
 */
function quotaFlags(values: Values, command: string, allowNone: boolean): Partial<Record<QuotaKey, number | null>> {
  const out: Partial<Record<QuotaKey, number | null>> = {};
  for (const key of Object.keys(FLAG_OF) as QuotaKey[]) {
    const raw = str(values, FLAG_OF[key]);
    if (raw === undefined) continue;
    if (allowNone && raw.trim().toLowerCase() === "none") out[key] = null;
    else out[key] = flag(FLAG_OF[key], raw, PARSE[key], command);
  }
  return out;
}

function toQuota(q: Partial<Record<QuotaKey, number | null>>): Quota {
  const quota: Quota = {};
  for (const [k, v] of Object.entries(q) as [QuotaKey, number | null | undefined][]) if (v !== null && v !== undefined) quota[k] = v;
  return quota;
}

const limit = (v: number | undefined, fmt: (n: number) => string = String) => (v === undefined ? "-" : fmt(v));

function projectTable(projects: Project[]): string {
  return formatTable(
    ["NAME", "VCPUS", "MEMORY", "DISK", "VMS"],
    projects.map((p) => [
      p.name,
      `${p.used?.vcpus ?? 0}/${limit(p.quota?.vcpus)}`,
      `${formatMiB(p.used?.memoryMib ?? 0)}/${limit(p.quota?.memoryMib, formatMiB)}`,
      `${formatGiB(p.used?.diskGib ?? 0)}/${limit(p.quota?.diskGib, formatGiB)}`,
      `${p.usedVms}/${limit(p.quota?.vms)}`,
    ]),
  );
}

function projectDetail(p: Project): string {
  const row = (used: string, quota: string | undefined) => `${used} used / ${quota === undefined ? "no limit" : `${quota} quota`}`;
  const q = p.quota ?? {};
  return formatFields([
    ["Name", p.name],
    ["Created", isoOf(p.createdAt)],
    ["vCPUs", row(String(p.used?.vcpus ?? 0), q.vcpus === undefined ? undefined : String(q.vcpus))],
    ["Memory", row(formatMiB(p.used?.memoryMib ?? 0), q.memoryMib === undefined ? undefined : formatMiB(q.memoryMib))],
    ["Disk", row(formatGiB(p.used?.diskGib ?? 0), q.diskGib === undefined ? undefined : formatGiB(q.diskGib))],
    ["VMs", row(String(p.usedVms), q.vms === undefined ? undefined : String(q.vms))],
  ]);
}

/** DNS-label style names, checked here too so a typo is a usage error, not a round trip. */
function checkName(name: string, command: string): string {
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(name)) {
    throw new UsageError(`NAME must be 1-63 characters of a-z, 0-9 and "-", starting with a letter, got "${name}"`, command);
  }
  return name;
}

const create: Command = {
  name: "create",
  summary: "make a project, with an optional quota (admin)",
  usage: `Usage: drover project create NAME [--vcpus N] [--memory SIZE] [--disk SIZE] [--vms N]

Makes a project. Each quota flag bounds what the project's VMs may claim in all;
a flag not given means no limit. Needs an admin token.

${QUOTA_HELP}

${GLOBAL_FLAGS_HELP}
`,
  args: ["NAME"],
  options: QUOTA_OPTIONS,
  async run(ctx, args, values) {
    const name = checkName(args[0]!, "project create");
    const quota = toQuota(quotaFlags(values, "project create", false));
    const c = ctx.clients();
    const res = await unary(c.project.createProject.bind(c.project), { name, quota }, callSettings(ctx));
    printAnswer(ctx, CreateProjectResponse.toJSON(res), () => res.project && projectDetail(res.project));
    return 0;
  },
};

const list: Command = {
  name: "list",
  summary: "list projects with usage/quota",
  usage: `Usage: drover project list

Lists projects; each resource column is used/quota ("-": no limit). Admins and
operators see every project, members and viewers their own.

${GLOBAL_FLAGS_HELP}
`,
  args: [],
  options: {},
  async run(ctx) {
    const c = ctx.clients();
    const res = await unary(c.project.listProjects.bind(c.project), {}, callSettings(ctx));
    printList(ctx, ListProjectsResponse.toJSON(res), res.projects, projectTable, "projects");
    return 0;
  },
};

const get: Command = {
  name: "get",
  summary: "show a project's quota and usage",
  usage: `Usage: drover project get NAME

Shows a project's quota and what its VMs claim now (VMs from SCHEDULED
through LOST; not FAILED or DELETED).

${GLOBAL_FLAGS_HELP}
`,
  args: ["NAME"],
  options: {},
  async run(ctx, args) {
    const name = checkName(args[0]!, "project get");
    const c = ctx.clients();
    const res = await unary(c.project.getProject.bind(c.project), { name }, callSettings(ctx));
    printAnswer(ctx, GetProjectResponse.toJSON(res), () => res.project && projectDetail(res.project));
    return 0;
  },
};

const setQuota: Command = {
  name: "set-quota",
  summary: "change a project's quota (admin)",
  usage: `Usage: drover project set-quota NAME [--vcpus N|none] [--memory SIZE|none] [--disk SIZE|none] [--vms N|none]
       drover project set-quota NAME --unlimited

Changes the limits given and keeps the others ("none" removes one limit;
--unlimited removes all). A quota below current usage is allowed: existing VMs
stay, new creates are refused until usage drops. Needs an admin token.

${QUOTA_HELP}
  --unlimited    remove every limit

${GLOBAL_FLAGS_HELP}
`,
  args: ["NAME"],
  options: { ...QUOTA_OPTIONS, unlimited: { type: "boolean" } },
  async run(ctx, args, values) {
    const name = checkName(args[0]!, "project set-quota");
    const changes = quotaFlags(values, "project set-quota", true);
    const unlimited = bool(values, "unlimited");
    if (unlimited && Object.keys(changes).length > 0) throw new UsageError("--unlimited goes alone, without --vcpus, --memory, --disk or --vms", "project set-quota");
    if (!unlimited && Object.keys(changes).length === 0) {
      throw new UsageError("give at least one of --vcpus, --memory, --disk, --vms (a value or none), or --unlimited", "project set-quota");
    }
    const c = ctx.clients();
    // SetQuota replaces the whole quota: start from the current one so unnamed limits stay.
    const current = unlimited ? {} : ((await unary(c.project.getProject.bind(c.project), { name }, callSettings(ctx))).project?.quota ?? {});
    const quota = toQuota({ ...current, ...changes });
    const res = await unary(c.project.setQuota.bind(c.project), { name, quota }, callSettings(ctx));
    printAnswer(ctx, SetQuotaResponse.toJSON(res), () => res.project && projectDetail(res.project));
    return 0;
  },
};

const commands = [create, list, get, setQuota];
export const projectGroup: Group = group({ name: "project", summary: "projects and their quotas", commands });
