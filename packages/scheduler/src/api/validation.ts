import { parseLabelExpression, type LabelExpression, type Strategy } from "@drover/placement";
import { PlacementStrategy, type CreateVmsRequest, type PlacementPolicy, type VmSpec } from "@drover/proto";
import { ValidationError } from "../errors.js";
import { validateStaticIpv4 } from "./static-address.js";

// Limits an operator can rely on; each violation names the field and the rule.
export const LIMITS = {
  maxCount: 10_000,
  maxVcpus: 1024,
  minMemoryMib: 16,
  maxMemoryMib: 16 * 1024 * 1024,
  maxDiskGib: 1024 * 1024,
  maxUserDataBytes: 64 * 1024,
  maxLabels: 64,
  maxIdempotencyKey: 128,
  maxExpression: 512,
};

const NAME = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
const LABEL_KEY = /^[A-Za-z0-9]([A-Za-z0-9._/-]{0,62})$/;
const GROUP = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,127})$/;
const NETWORK = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Catalog image names: also a file name in each agent's image directory, so no '/' and no leading '.'. */
export const IMAGE_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

function intInRange(field: string, v: number, min: number, max: number): void {
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new ValidationError(field, `must be a whole number from ${min} to ${max}, got ${v}`);
  }
}

function printable(field: string, v: string, max: number): void {
  if (v.length > max) throw new ValidationError(field, `must be at most ${max} characters, got ${v.length}`);
  if (CONTROL.test(v)) throw new ValidationError(field, "must not contain control characters");
}

export const isUuid = (s: string) => UUID.test(s);

export function validateId(field: string, id: string): string {
  if (!UUID.test(id)) throw new ValidationError(field, `must be a UUID like 0f8fad5b-d9cb-469f-a165-70867728950e, got "${id.slice(0, 80)}"`);
  return id.toLowerCase();
}

/** A project name: DNS-label style, like VM names. */
export function validateProjectName(field: string, name: string): string {
  if (!name) throw new ValidationError(field, "is required");
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(name)) throw new ValidationError(field, `must be 1-63 characters of [a-z0-9-] starting with a letter, got "${name.slice(0, 80)}"`);
  return name;
}

export function validateNodeName(field: string, name: string): string {
  if (!name) throw new ValidationError(field, "is required");
  if (!/^[A-Za-z0-9]([A-Za-z0-9._-]{0,252})$/.test(name)) {
    throw new ValidationError(field, "must be 1-253 characters of letters, digits, '.', '_' or '-', starting with a letter or digit");
  }
  return name;
}

/** A catalog image name (CreateImage, GetImage, DeleteImage). */
export function validateImageName(field: string, name: string): string {
  if (!name) throw new ValidationError(field, "is required");
  if (!IMAGE_NAME.test(name)) throw new ValidationError(field, `must be 1-63 characters of [a-z0-9._-], starting with a letter or digit, got ${JSON.stringify(name.slice(0, 80))}`);
  return name;
}

/** A libvirt network name as the catalog keeps it. */
export function validateNetworkName(field: string, name: string): string {
  if (!name) throw new ValidationError(field, "is required");
  if (!NETWORK.test(name)) throw new ValidationError(field, "must be a libvirt network name: 1-64 letters, digits, '.', '_' or '-'");
  return name;
}

// A kernel interface name: at most 15 bytes (IFNAMSIZ - 1), no '/', ':' or whitespace; a leading
// letter or digit also rules out "." and "..".
const BRIDGE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

/** A Linux bridge's device name as the catalog keeps it. */
export function validateBridgeName(field: string, name: string): string {
  if (!name) throw new ValidationError(field, "is required");
  if (!BRIDGE.test(name)) throw new ValidationError(field, `must be a Linux bridge's name: 1-15 letters, digits, '.', '_' or '-', starting with a letter or digit, got ${JSON.stringify(name.slice(0, 80))}`);
  return name;
}

export function validateLabels(field: string, labels: Record<string, string>): void {
  const entries = Object.entries(labels);
  if (entries.length > LIMITS.maxLabels) throw new ValidationError(field, `at most ${LIMITS.maxLabels} labels`);
  for (const [k, v] of entries) {
    if (!LABEL_KEY.test(k)) throw new ValidationError(`${field}["${k.slice(0, 80)}"]`, "key must be 1-63 characters of letters, digits, '.', '_', '/' or '-'");
    printable(`${field}["${k}"]`, v, 256);
    // printable() lets tab and newline through (for user-facing text); a label value is one token.
    if (/[\t\n\r]/.test(v)) throw new ValidationError(`${field}["${k}"]`, "value must not contain tabs or line breaks");
  }
}

/** What RegisterNode may report: a real host's size, and what the database's columns hold (vcpus is an integer). */
export const NODE_LIMITS = {
  maxVcpus: 65_536,
  maxMemoryMib: 2 ** 32, // 4 PiB
  maxDiskGib: 2 ** 32, // 4 EiB
};

export function validateNodeCapacity(field: string, cap: { vcpus: number; memoryMib: number; diskGib: number } | undefined): void {
  if (!cap) throw new ValidationError(field, "is required: the host's vcpus, memory_mib and disk_gib");
  intInRange(`${field}.vcpus`, cap.vcpus, 1, NODE_LIMITS.maxVcpus);
  intInRange(`${field}.memory_mib`, cap.memoryMib, 1, NODE_LIMITS.maxMemoryMib);
  intInRange(`${field}.disk_gib`, cap.diskGib, 0, NODE_LIMITS.maxDiskGib);
}

const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9._-]{0,252})):(\d{1,5})$/;

/** host:port (IPv6 in brackets) where an agent listens, the port from 1 to 65535. */
export function validateAddress(field: string, address: string): string {
  const m = HOST_PORT.exec(address);
  const port = m ? Number(m[3]) : 0;
  if (!m || port < 1 || port > 65_535) {
    throw new ValidationError(field, `must be host:port with a port from 1 to 65535 (IPv6 in brackets), got "${address.slice(0, 80)}"`);
  }
  return address;
}

/** WatchEvents' subject_prefix: the start of an event subject, e.g. "drover.vm.". */
export function validateSubjectPrefix(field: string, prefix: string): string {
  if (prefix && !/^[A-Za-z0-9_.-]{1,256}$/.test(prefix)) {
    throw new ValidationError(field, `must be up to 256 letters, digits, '.', '_' or '-', e.g. "drover.vm.", got "${prefix.slice(0, 80)}"`);
  }
  return prefix;
}

/** What happens when a VM's domain stops without being asked to (VmSpec.restart_policy). */
export const RESTART_POLICIES = ["never", "on-crash", "always"] as const;
/**
 * on-crash: a crash (or a domain that vanished) is never what the VM's owner wanted, so it is
 * brought back, as a host would reboot after a power cut; a guest that powers itself off did so on
 * purpose and stays off. "always" would fight that, "never" leaves a crashed service down until
 * someone notices.
 */
export const DEFAULT_RESTART_POLICY = "on-crash";

function validateRestartPolicy(field: string, policy: string): string {
  if (policy === "") return DEFAULT_RESTART_POLICY;
  if (!(RESTART_POLICIES as readonly string[]).includes(policy)) {
    throw new ValidationError(field, `must be one of ${RESTART_POLICIES.join(", ")} (empty: ${DEFAULT_RESTART_POLICY}), got ${JSON.stringify(policy.slice(0, 40))}`);
  }
  return policy;
}

/** `at` is the field path of the template, e.g. "template" or "groups[2].template". */
function validateSpec(at: string, given: VmSpec | undefined, count: number, defaultNetwork: string): VmSpec {
  if (!given) throw new ValidationError(at, "is required");
  // The cluster's default network (DROVER_DEFAULT_NETWORK) for a VM that names none.
  const spec = given.network || !defaultNetwork ? given : { ...given, network: defaultNetwork };
  if (!spec.name) throw new ValidationError(`${at}.name`, "is required");
  const suffix = count > 1 ? `-${count}` : "";
  if (spec.name.length + suffix.length > 63) {
    throw new ValidationError(`${at}.name`, `must be at most ${63 - suffix.length} characters when count is ${count} (a "-<n>" suffix is added)`);
  }
  if (!NAME.test(spec.name)) {
    throw new ValidationError(`${at}.name`, "must be lowercase letters, digits and '-', start with a letter and not end with '-' (like a DNS label)");
  }
  intInRange(`${at}.vcpus`, spec.vcpus, 1, LIMITS.maxVcpus);
  intInRange(`${at}.memory_mib`, spec.memoryMib, LIMITS.minMemoryMib, LIMITS.maxMemoryMib);
  intInRange(`${at}.disk_gib`, spec.diskGib, 0, LIMITS.maxDiskGib);
  if (spec.image && !IMAGE_NAME.test(spec.image)) {
    throw new ValidationError(`${at}.image`, `must be the name of a catalog image ([a-z0-9][a-z0-9._-]{0,62}; drover image list), not a path: got ${JSON.stringify(spec.image.slice(0, 80))}`);
  }
  if (spec.image && spec.diskGib === 0) throw new ValidationError(`${at}.image`, `needs ${at}.disk_gib > 0 to hold it`);
  // Direct-boot files are names in each agent's image directory, like images: never a host path.
  for (const field of ["kernel", "initrd"] as const) {
    const value = spec[field];
    if (value && !IMAGE_NAME.test(value)) {
      throw new ValidationError(`${at}.${field}`, `must be a file name in the agents' image directory ([a-z0-9][a-z0-9._-]{0,62}), not a path: got ${JSON.stringify(value.slice(0, 80))}`);
    }
  }
  if (spec.initrd && !spec.kernel) throw new ValidationError(`${at}.initrd`, `needs ${at}.kernel`);
  if (Buffer.byteLength(spec.userData) > LIMITS.maxUserDataBytes) {
    throw new ValidationError(`${at}.user_data`, `must be at most ${LIMITS.maxUserDataBytes} bytes`);
  }
  if (spec.network && !NETWORK.test(spec.network)) {
    throw new ValidationError(`${at}.network`, "must be a catalog network's name: letters, digits, '.', '_' or '-'");
  }
  if (spec.staticIpv4) validateStaticIpv4(at, spec.staticIpv4, count, spec.network);
  validateLabels(`${at}.labels`, spec.labels);
  // Stored resolved, so reads show the policy that applies and a later default change leaves it.
  return { ...spec, restartPolicy: validateRestartPolicy(`${at}.restart_policy`, spec.restartPolicy) };
}

export interface ValidPolicy {
  proto: PlacementPolicy;
  strategy: Strategy;
  constraints: LabelExpression[];
  preferences: LabelExpression[];
  /** Every group named, for locking and for counting members per node. */
  groups: string[];
}

function parseExpressions(field: string, list: string[]): LabelExpression[] {
  return list.map((s, i) => {
    if (s.length > LIMITS.maxExpression) throw new ValidationError(`${field}[${i}]`, `must be at most ${LIMITS.maxExpression} characters, got ${s.length}`);
    try {
      return parseLabelExpression(s);
    } catch (e) {
      throw new ValidationError(`${field}[${i}]`, (e as Error).message);
    }
  });
}

/** The engine strategy a policy names; an unset one is the configured default. */
function strategyOf(strategy: PlacementStrategy, defaultStrategy: Strategy): Strategy {
  switch (strategy) {
    case PlacementStrategy.PLACEMENT_STRATEGY_UNSPECIFIED:
      return defaultStrategy;
    case PlacementStrategy.PLACEMENT_STRATEGY_SPREAD:
      return "spread";
    case PlacementStrategy.PLACEMENT_STRATEGY_PACK:
      return "pack";
    default:
      throw new ValidationError("policy.strategy", "must be SPREAD, PACK or unset");
  }
}

/** Every group the policy names, checked. */
function groupsOf(p: PlacementPolicy): string[] {
  const groups: string[] = [];
  for (const [field, g] of [
    ["policy.anti_affinity_group", p.antiAffinityGroup],
    ["policy.affinity_group", p.affinityGroup],
    ["policy.soft_anti_affinity_group", p.softAntiAffinityGroup],
  ] as const) {
    if (!g) continue;
    if (!GROUP.test(g)) throw new ValidationError(field, "must be 1-128 characters of letters, digits, '.', '_' or '-'");
    groups.push(g);
  }
  if (p.affinityGroup && p.affinityGroup === p.antiAffinityGroup) {
    throw new ValidationError("policy.affinity_group", "cannot also be the anti_affinity_group");
  }
  return groups;
}

export function validatePolicy(policy: PlacementPolicy | undefined, defaultStrategy: Strategy): ValidPolicy {
  const p: PlacementPolicy = policy ?? {
    strategy: PlacementStrategy.PLACEMENT_STRATEGY_UNSPECIFIED,
    constraints: [],
    antiAffinityGroup: "",
    affinityGroup: "",
    preferences: [],
    softAntiAffinityGroup: "",
  };
  const strategy = strategyOf(p.strategy, defaultStrategy);
  const groups = groupsOf(p);
  if (p.constraints.length > 64) throw new ValidationError("policy.constraints", "at most 64");
  if (p.preferences.length > 64) throw new ValidationError("policy.preferences", "at most 64");
  return {
    proto: p,
    strategy,
    constraints: parseExpressions("policy.constraints", p.constraints),
    preferences: parseExpressions("policy.preferences", p.preferences),
    groups,
  };
}

export interface ValidGroup {
  spec: VmSpec;
  count: number;
}

export interface ValidCreate {
  /** One entry for a plain template + count request. */
  groups: ValidGroup[];
  /** VMs over all groups. */
  total: number;
  minCount: number;
  policy: ValidPolicy;
  idempotencyKey: string;
  dryRun: boolean;
  /** The project the VMs go into: the request's, or (set by the handler) the caller's. */
  project: string;
}

function validateGroups(req: CreateVmsRequest, defaultNetwork: string): ValidGroup[] {
  if (req.groups.length === 0) {
    const count = req.count === 0 ? 1 : req.count;
    intInRange("count", count, 1, LIMITS.maxCount);
    return [{ spec: validateSpec("template", req.template, count, defaultNetwork), count }];
  }
  if (req.template || req.count) throw new ValidationError("template", "leave template and count unset when groups is used");
  if (req.groups.length > 100) throw new ValidationError("groups", "at most 100 groups per request");
  const names = new Set<string>();
  return req.groups.map((g, i) => {
    const count = g.count === 0 ? 1 : g.count;
    intInRange(`groups[${i}].count`, count, 1, LIMITS.maxCount);
    const spec = validateSpec(`groups[${i}].template`, g.template, count, defaultNetwork);
    if (names.has(spec.name)) throw new ValidationError(`groups[${i}].template.name`, `"${spec.name}" is used by another group; names must differ`);
    names.add(spec.name);
    return { spec, count };
  });
}

/** `defaultNetwork` (DROVER_DEFAULT_NETWORK) goes into every spec that names no network. */
export function validateCreate(req: CreateVmsRequest, defaultStrategy: Strategy, defaultNetwork = ""): ValidCreate {
  const groups = validateGroups(req, defaultNetwork);
  const total = groups.reduce((s, g) => s + g.count, 0);
  if (total > LIMITS.maxCount) throw new ValidationError("groups", `at most ${LIMITS.maxCount} VMs per request, got ${total}`);
  const minCount = req.minCount === 0 ? total : req.minCount;
  if (minCount > total) throw new ValidationError("min_count", `must not exceed count (${total}), got ${minCount}`);
  const policy = validatePolicy(req.policy, defaultStrategy);
  printable("idempotency_key", req.idempotencyKey, LIMITS.maxIdempotencyKey);
  if (req.dryRun && req.idempotencyKey) throw new ValidationError("idempotency_key", "has no meaning with dry_run; leave it unset");
  if (req.project) validateProjectName("project", req.project);
  return { groups, total, minCount, policy, idempotencyKey: req.idempotencyKey, dryRun: req.dryRun, project: req.project };
}

/** UpdateNode's ratios: each unset (kept) or above 0 and at most 1000. */
export function validateAllocationRatios(ratios: Record<string, number | undefined>): void {
  for (const [field, v] of Object.entries(ratios)) {
    if (v !== undefined && !(v > 0 && v <= 1000)) throw new ValidationError(field, `must be above 0 and at most 1000, got ${v}`);
  }
}
