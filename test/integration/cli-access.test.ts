import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status, type ServiceError } from "@grpc/grpc-js";
import { consoleLogPath, type RunningAgent } from "@drover/agent";
import { VmServiceClient, VmState, type Event } from "@drover/proto";
import { run } from "@drover/cli";
import { defaultConfig, startScheduler, type RunningScheduler } from "@drover/scheduler";
import { watchFromStart } from "../support/auth-clients.js";
import { apiClient, bearer } from "../support/clients.js";
import { vmSpec } from "../support/requests.js";
import { startSecureCluster, type SecureCluster } from "../support/secure-cluster.js";
import { waitFor } from "../support/wait.js";

const SCHEDULER_MAIN = fileURLToPath(new URL("../../packages/scheduler/dist/main.js", import.meta.url));

// The drover CLI's token, project and join-token commands, run against a real
// TLS scheduler with tokens checked (and a second replica on the same database
// for what must reach every replica: revocation ending streams).
describe("drover token / project / node join-token on a secure cluster", () => {
  let cluster: SecureCluster;
  let replica2: RunningScheduler;
  let h1: RunningAgent;
  const stateDir = mkdtempSync(join(tmpdir(), "drover-cli-access-"));
  const extraAgents: RunningAgent[] = [];
  let caFile = "";

  beforeAll(async () => {
    cluster = await startSecureCluster([]);
    caFile = join(cluster.dir, "ca", "ca.pem");
    h1 = await cluster.startNode("h1", { stateDir });
    await h1.registered();
    replica2 = await startScheduler(
      {
        ...defaultConfig,
        databaseUrl: cluster.scheduler.databaseUrl,
        natsUrl: "",
        listen: "127.0.0.1:0",
        metricsListen: "127.0.0.1:0",
        tickMs: 50,
        tlsDir: join(cluster.dir, "ca"),
        auditDeniedPerWindow: 5,
        auditDeniedWindowMs: 2000,
      },
      () => {},
    );
  }, 60_000);
  afterAll(async () => {
    for (const a of extraAgents) await a.stop();
    await h1?.stop();
    await replica2?.stop();
    await cluster?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  async function drover(token: string | undefined, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = "";
    let err = "";
    const env = { DROVER_ADDR: cluster.scheduler.address, DROVER_CA_FILE: caFile, HOME: "/nonexistent-drover-home", ...(token ? { DROVER_TOKEN: token } : {}) };
    const code = await run(argv, env, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
    return { code, out, err };
  }
  const admin = (...argv: string[]) => drover(cluster.adminToken, ...argv);
  const json = <T>(r: { code: number; out: string; err: string }): T => {
    expect(r.code, r.err).toBe(0);
    return JSON.parse(r.out) as T;
  };
  async function newToken(...flags: string[]): Promise<{ id: string; secret: string }> {
    const r = json<{ token: { id: string }; secret: string }>(await admin("token", "create", ...flags, "-o", "json"));
    return { id: r.token.id, secret: r.secret };
  }

  it("creates, shows, lists and changes projects with quota units, and says what is wrong with bad input", async () => {
    const created = await admin("project", "create", "team-a", "--vcpus", "8", "--memory", "64G", "--vms", "10");
    expect(created.code, created.err).toBe(0);
    expect(created.out).toMatch(/Memory:\s+0MiB used \/ 64GiB quota/);
    expect(created.out).toMatch(/Disk:\s+0GiB used \/ no limit/);
    const q = json<{ project: { quota: Record<string, number> } }>(await admin("project", "get", "team-a", "-o", "json")).project.quota;
    expect(q).toEqual({ vcpus: 8, memoryMib: 65536, vms: 10 });
    // set-quota changes the limits named and keeps the others; "none" removes one.
    expect((await admin("project", "set-quota", "team-a", "--disk", "1T", "--vcpus", "none")).code).toBe(0);
    const after = json<{ project: { quota: Record<string, number> } }>(await admin("project", "get", "team-a", "-o", "json")).project.quota;
    expect(after).toEqual({ memoryMib: 65536, diskGib: 1024, vms: 10 });
    const list = await admin("project", "list");
    expect(list.out).toMatch(/^NAME\s+VCPUS\s+MEMORY\s+DISK\s+VMS$/m);
    expect(list.out).toMatch(/^team-a\s+0\/-\s+0MiB\/64GiB\s+0GiB\/1TiB\s+0\/10$/m);
    expect(list.out).toMatch(/^default\s/m);

    const badSize = await admin("project", "create", "team-b", "--memory", "12X");
    expect(badSize.code).toBe(2);
    expect(badSize.err).toContain('--memory: invalid size "12X": unknown unit "X"');
    const badName = await admin("project", "create", "Team_B");
    expect(badName.code).toBe(2);
    expect(badName.err).toContain("NAME must be 1-63 characters");
    const nothing = await admin("project", "set-quota", "team-a");
    expect(nothing.code).toBe(2);
    expect(nothing.err).toContain("give at least one of --vcpus");
    const missing = await admin("project", "get", "nope");
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^error: NOT_FOUND: project nope/);
    const twice = await admin("project", "create", "team-a");
    expect(twice.code).toBe(1);
    expect(twice.err).toMatch(/^error: ALREADY_EXISTS/);
    // Usage shows in get once a VM of the project holds a claim.
    const member = await newToken("--role", "member", "--project", "team-a");
    const vm = await drover(member.secret, "vm", "create", "q", "--vcpus", "2", "--memory", "1G");
    expect(vm.code, vm.err).toBe(0);
    const shown = await admin("project", "get", "team-a");
    expect(shown.out).toMatch(/vCPUs:\s+2 used \/ no limit/);
    expect(shown.out).toMatch(/Memory:\s+1GiB used \/ 64GiB quota/);
    expect(shown.out).toMatch(/VMs:\s+1 used \/ 10 quota/);
  });

  it("token create prints the secret once with id, role, project and expiry; list never shows secrets; revoke refuses it", async () => {
    const created = await admin("token", "create", "--role", "member", "--project", "team-a", "--description", "ci runner", "--ttl", "30d");
    expect(created.code, created.err).toBe(0);
    const secret = /^Token:\s+(drover_\S+)$/m.exec(created.out)?.[1];
    const id = /^ID:\s+(\S+)$/m.exec(created.out)?.[1];
    expect(secret).toBeDefined();
    expect(created.out).toMatch(/^Role:\s+member$/m);
    expect(created.out).toMatch(/^Project:\s+team-a$/m);
    const expires = Date.parse(/^Expires:\s+(\S+)$/m.exec(created.out)![1]!);
    expect(Math.abs(expires - (Date.now() + 30 * 86_400_000))).toBeLessThan(120_000);
    expect(created.err).toContain("shown only this once");

    expect((await drover(secret, "project", "get", "team-a")).code).toBe(0);
    const listed = await admin("token", "list");
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(/^ID\s+ROLE\s+PROJECT\s+CREATED\s+EXPIRES\s+REVOKED\s+DESCRIPTION$/m);
    expect(listed.out).toMatch(new RegExp(`^${id}\\s+member\\s+team-a\\s+\\S+\\s+\\S+Z\\s+-\\s+ci runner$`, "m"));
    expect(listed.out).not.toContain("drover_");
    const listedJson = await admin("token", "list", "--project", "team-a", "-o", "json");
    expect(listedJson.out).not.toContain(secret!.slice(-43));
    expect(listedJson.out).not.toContain("secret");
    const mine = (JSON.parse(listedJson.out) as { tokens: { id: string; expiresAt?: string; project: string }[] }).tokens;
    expect(mine.every((t) => t.project === "team-a")).toBe(true);
    expect(mine.find((t) => t.id === id)?.expiresAt).toBeDefined();

    const denied = await drover(secret, "token", "list");
    expect(denied.code).toBe(1);
    expect(denied.err).toMatch(/^error: PERMISSION_DENIED: .*needs role admin/);

    const revoked = await admin("token", "revoke", id!);
    expect(revoked.code, revoked.err).toBe(0);
    expect(revoked.out).toMatch(new RegExp(`^${id}\\s+member\\s+team-a\\s+\\S+\\s+\\S+\\s+20\\d\\d-`, "m"));
    const after = await drover(secret, "project", "get", "team-a");
    expect(after.code).toBe(1);
    expect(after.err).toContain(`error: UNAUTHENTICATED: token ${id} was revoked`);

    for (const [argv, message] of [
      [["token", "create", "--role", "root"], '--role: must be one of admin, operator, member, viewer, got "root"'],
      [["token", "create"], "--role is required"],
      [["token", "create", "--role", "viewer", "--ttl", "30"], '--ttl: invalid duration "30"'],
      [["token", "revoke", "not-a-uuid"], "ID must be a token id"],
    ] as const) {
      const r = await admin(...argv);
      expect(r.code, r.err).toBe(2);
      expect(r.err).toContain(message);
    }
    const unknownProject = await admin("token", "create", "--role", "viewer", "--project", "ghost");
    expect(unknownProject.code).toBe(1);
    expect(unknownProject.err).toMatch(/^error: NOT_FOUND: project ghost/);
  });

  it("refuses a token past its --ttl with UNAUTHENTICATED \"token expired\", counted by reason", async () => {
    const t = await newToken("--role", "viewer", "--ttl", "2s");
    expect((await drover(t.secret, "project", "list")).code).toBe(0);
    const refused = await waitFor("the token expired", async () => {
      const r = await drover(t.secret, "project", "list");
      return r.code === 1 ? r : undefined;
    }, 15_000, 200);
    expect(refused.err).toMatch(new RegExp(`^error: UNAUTHENTICATED: token expired: token ${t.id} expired at `));
    const body = await (await fetch(`http://${cluster.scheduler.metricsAddress}/metrics`)).text();
    expect(body).toMatch(/drover_auth_refusals_total\{surface="api",reason="expired-token"\} [1-9]/);
  });

  it("node join-token create (admin only) prints a one-time token a new host joins with", async () => {
    const viewer = await newToken("--role", "operator");
    const refused = await drover(viewer.secret, "node", "join-token", "create");
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/^error: PERMISSION_DENIED: .*CreateJoinToken needs role admin/);
    const tooLong = await admin("node", "join-token", "create", "--ttl", "40d");
    expect(tooLong.code).toBe(1);
    expect(tooLong.err).toMatch(/^error: INVALID_ARGUMENT: ttl_seconds/);
    expect((await admin("node", "join-token", "make")).code).toBe(2);

    const made = await admin("node", "join-token", "create", "--name", "h2", "--ttl", "10m");
    expect(made.code, made.err).toBe(0);
    const joinToken = /^Join token:\s+([0-9a-f]{8}\.[0-9a-f]{32})$/m.exec(made.out)?.[1];
    expect(joinToken).toBeDefined();
    expect(made.out).toMatch(/^Node:\s+h2$/m);
    const h2 = await cluster.startNode("h2", { joinToken: joinToken! });
    extraAgents.push(h2);
    await h2.registered();
    const nodes = await admin("node", "list", "-o", "json");
    expect((JSON.parse(nodes.out) as { nodes: { name: string }[] }).nodes.map((n) => n.name).sort()).toEqual(["h1", "h2"]);
    // Its record names the node, never the secret.
    const audit = await waitFor("the create_join_token audit event", async () => {
      const { events } = await watchFromStart(cluster.scheduler.address, cluster.serverAuthOnly(), cluster.adminToken, 600);
      return events.find((e) => e.subject === "drover.audit.create_join_token" && e.audit?.result === "OK");
    });
    expect(audit.audit).toMatchObject({ target: "h2", role: "admin" });
    expect(JSON.stringify(audit)).not.toContain(joinToken!.split(".")[1]);
  });

  it("ends a revoked token's open streams on both replicas (WatchEvents, GetConsoleLog follow) with UNAUTHENTICATED", async () => {
    // The console log is written where h1's agent reads it: the VM must land there.
    await cluster.api.cordonNode("h2").catch(() => {}); // joined by the join-token test
    const vmId = (await cluster.api.createVms({ template: vmSpec("con", 1, 64), count: 1 })).vms[0]!.id;
    await waitFor("VM RUNNING", async () => ((await cluster.api.getVm(vmId)).state === VmState.VM_STATE_RUNNING ? true : undefined));
    mkdirSync(dirname(consoleLogPath(stateDir, vmId)), { recursive: true });
    writeFileSync(consoleLogPath(stateDir, vmId), "login: ");

    const t = await newToken("--role", "operator");
    const one = new VmServiceClient(cluster.scheduler.address, cluster.serverAuthOnly());
    const two = new VmServiceClient(replica2.address, cluster.serverAuthOnly());
    const ended = (stream: NodeJS.EventEmitter) =>
      new Promise<{ code: status; details: string; at: number }>((resolve) => {
        stream.on("data", () => {});
        stream.on("error", (e: ServiceError) => resolve({ code: e.code, details: e.details, at: Date.now() }));
        stream.on("end", () => resolve({ code: status.OK, details: "ended without a status", at: Date.now() }));
      });
    try {
      const streams = [
        one.watchEvents({ afterId: 0, fromStart: false, subjectPrefix: "" }, bearer(t.secret)),
        two.watchEvents({ afterId: 0, fromStart: false, subjectPrefix: "" }, bearer(t.secret)),
        two.getConsoleLog({ id: vmId, follow: true }, bearer(t.secret)),
      ];
      let got = "";
      streams[2]!.on("data", (r: { data: Uint8Array }) => (got += Buffer.from(r.data).toString()));
      const ends = streams.map(ended);
      await waitFor("the console log", async () => (got === "login: " ? true : undefined), 10_000, 50);
      // Both replicas have the watches open (a first sweep ran with them registered).
      await new Promise((r) => setTimeout(r, 1500));
      const revokedAt = Date.now();
      expect((await admin("token", "revoke", t.id)).code).toBe(0);
      const results = await Promise.race([Promise.all(ends), new Promise<undefined>((r) => setTimeout(() => r(undefined), 10_000))]);
      expect(results, "every stream ended within 10 s").toBeDefined();
      for (const r of results!) {
        expect(r.code, r.details).toBe(status.UNAUTHENTICATED);
        expect(r.details).toBe(`token ${t.id} was revoked at ${r.details.slice(-24)}`);
        // One sweep period (1 s) plus a loaded machine's slack.
        expect(r.at - revokedAt).toBeLessThan(5000);
      }
    } finally {
      one.close();
      two.close();
    }
    // An expiring token's stream ends when it expires.
    const short = await newToken("--role", "operator", "--ttl", "2s");
    const three = new VmServiceClient(replica2.address, cluster.serverAuthOnly());
    try {
      const end = await ended(three.watchEvents({ afterId: 0, fromStart: false, subjectPrefix: "" }, bearer(short.secret)));
      expect(end.code).toBe(status.UNAUTHENTICATED);
      expect(end.details).toMatch(/^token expired: /);
    } finally {
      three.close();
    }
  });

  it("records refused calls as drover.audit.denied with method, token and peer, folding a flood past the per-window limit", async () => {
    // replica2 writes 5 records per 2 s window, then folds.
    const anonymous = apiClient(replica2.address, cluster.serverAuthOnly());
    const member = await newToken("--role", "member", "--project", "team-a");
    const asMember = apiClient(replica2.address, cluster.serverAuthOnly(), member.secret);
    let floodMs: number;
    try {
      const t0 = Date.now();
      const refusals = await Promise.allSettled(Array.from({ length: 60 }, () => anonymous.listVms()));
      floodMs = Date.now() - t0;
      expect(refusals.every((r) => r.status === "rejected" && (r.reason as ServiceError).code === status.UNAUTHENTICATED)).toBe(true);
      await asMember.listVms({ project: "default" }).catch(() => {});
    } finally {
      anonymous.close();
      asMember.close();
    }
    const denied = (events: Event[]) => events.filter((e) => e.subject === "drover.audit.denied");
    const records = await waitFor("all 60 refusals in the audit trail", async () => {
      const { events } = await watchFromStart(cluster.scheduler.address, cluster.serverAuthOnly(), cluster.adminToken, 800);
      const anon = denied(events).filter((e) => e.audit?.method === "/drover.v1.VmService/ListVms" && e.audit.result === "UNAUTHENTICATED" && e.audit.tokenId === "");
      const total = anon.reduce((n, e) => n + (e.audit?.count ?? 0), 0);
      return total >= 60 ? { anon, total, all: denied(events) } : undefined;
    }, 20_000, 500);
    expect(records.total).toBe(60);
    // At most 5 single records and one folded record per 2 s window the flood touched.
    expect(records.anon.length).toBeLessThanOrEqual(6 * (Math.ceil(floodMs / 2000) + 1));
    expect(records.anon.some((e) => (e.audit?.count ?? 0) > 1 && e.audit!.message.includes("refusals like this one"))).toBe(true);
    expect(records.anon[0]!.audit!.peer).toMatch(/127\.0\.0\.1:\d+/);
    const byMember = records.all.find((e) => e.audit?.tokenId === member.id);
    expect(byMember?.audit).toMatchObject({ result: "PERMISSION_DENIED", role: "member", method: "/drover.v1.VmService/ListVms" });
    expect(byMember!.project).toBe("team-a");
    const body = await (await fetch(`http://${replica2.metricsAddress}/metrics`)).text();
    const count = (record: string) => Number(new RegExp(`drover_audit_denials_total\\{record="${record}"\\} (\\d+)`).exec(body)?.[1] ?? 0);
    expect(count("single") + count("folded")).toBeGreaterThanOrEqual(61);
    expect(count("folded")).toBeGreaterThan(0);
  });

  it("drover-scheduler token create makes the first admin token straight in the database", () => {
    const env = { ...process.env, DROVER_DATABASE_URL: cluster.scheduler.databaseUrl, DROVER_INSECURE: "0" };
    const made = spawnSync(process.execPath, [SCHEDULER_MAIN, "token", "create", "--role", "admin", "--description", "bootstrap", "--ttl", "1h"], { env, encoding: "utf8" });
    expect(made.status, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/^drover_[0-9a-f]{32}_\S{43}\n$/);
    expect(made.stderr).toMatch(/token [0-9a-f-]{36}: role admin, project default, expires 20/);
    const bad = spawnSync(process.execPath, [SCHEDULER_MAIN, "token", "create", "--role", "root"], { env, encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stdout + bad.stderr).toContain('--role "root": expected one of admin, operator, member, viewer');
    return drover(made.stdout.trim(), "token", "list").then((r) => {
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/admin\s+default\s+\S+\s+\S+\s+-\s+bootstrap/);
    });
  });
});
