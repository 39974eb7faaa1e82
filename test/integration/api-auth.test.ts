import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { NodeState, Role, VmState, type Event } from "@drover/proto";
import { adminClients, watchFromStart } from "../support/auth-clients.js";
import { apiClient, type ApiClient } from "../support/clients.js";
import { startSecureCluster, type SecureCluster } from "../support/secure-cluster.js";
import { rejects, vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";

const SECRET_USER_DATA = "#cloud-config\npassword: hunter2\n";

// The public API with tokens checked: who may do what, what each refusal
// answers, what stays hidden from other projects, and what is recorded.
describe("API authorization on a real scheduler", () => {
  let cluster: SecureCluster;
  let admin: ReturnType<typeof adminClients>;
  const tokens: Record<"memberA" | "viewerA" | "memberB" | "operator", string> = { memberA: "", viewerA: "", memberB: "", operator: "" };
  const as: Partial<Record<keyof typeof tokens | "anonymous" | "garbage" | "malformed", ApiClient>> = {};
  let vmOfA = "";

  beforeAll(async () => {
    cluster = await startSecureCluster(["h1"]);
    const tls = cluster.serverAuthOnly();
    const client = (token?: string) => apiClient(cluster.scheduler.address, tls, token);
    admin = adminClients(cluster.scheduler.address, tls, cluster.adminToken);
    await admin.createProject("a");
    await admin.createProject("b");
    tokens.memberA = (await admin.createToken(Role.ROLE_MEMBER, "a")).secret;
    tokens.viewerA = (await admin.createToken(Role.ROLE_VIEWER, "a")).secret;
    tokens.memberB = (await admin.createToken(Role.ROLE_MEMBER, "b")).secret;
    tokens.operator = (await admin.createToken(Role.ROLE_OPERATOR)).secret;
    for (const k of Object.keys(tokens) as (keyof typeof tokens)[]) as[k] = client(tokens[k]);
    as.anonymous = client();
    as.malformed = client("not-a-token");
    as.garbage = client("drover_00000000000000000000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
  }, 60_000);
  afterAll(async () => {
    for (const c of Object.values(as)) c?.close();
    admin?.close();
    await cluster?.stop();
  });

  it("answers a missing, malformed or unknown token with UNAUTHENTICATED and changes nothing", async () => {
    for (const c of [as.anonymous!, as.garbage!]) {
      for (const call of [() => c.listVms(), () => c.createVms({ template: vmSpec("x", 1, 256), count: 1 }), () => c.cordonNode("h1")]) {
        const err = await rejects(call());
        expect(err.code, err.details).toBe(status.UNAUTHENTICATED);
      }
    }
    const err = await rejects(as.malformed!.listVms());
    expect(err.code).toBe(status.UNAUTHENTICATED);
    expect(err.details).toContain("Bearer drover_<id>_<secret>");
    expect((await as.anonymous!.listVms().catch((e) => e)).details).toContain("authorization: Bearer");
    expect((await cluster.api.listVms()).vms).toEqual([]);
    expect((await cluster.api.getNode("h1")).state).toBe(NodeState.NODE_STATE_READY);
  });

  it("refuses a member the fleet and a viewer any change, with PERMISSION_DENIED naming the role needed", async () => {
    const cordon = await rejects(as.memberA!.cordonNode("h1"));
    expect(cordon.code).toBe(status.PERMISSION_DENIED);
    expect(cordon.details).toMatch(/needs role admin or operator/);
    expect(cordon.details).toContain("role member, project a");
    const create = await rejects(as.viewerA!.createVms({ template: vmSpec("v", 1, 256), count: 1 }));
    expect(create.code).toBe(status.PERMISSION_DENIED);
    expect(create.details).toMatch(/needs role admin or operator or member/);
    const token = await rejects(admin.createToken(Role.ROLE_ADMIN, "", tokens.memberA));
    expect(token.code).toBe(status.PERMISSION_DENIED);
    expect(token.details).toMatch(/CreateToken needs role admin$/);
    expect((await cluster.api.listVms()).vms).toEqual([]);
    expect((await cluster.api.getNode("h1")).state).toBe(NodeState.NODE_STATE_READY);
    // An operator runs the fleet.
    expect((await as.operator!.cordonNode("h1")).state).toBe(NodeState.NODE_STATE_CORDONED);
    expect((await as.operator!.uncordonNode("h1")).state).toBe(NodeState.NODE_STATE_READY);
  });

  it("puts a member's VM in its project and never reads user_data back", async () => {
    const res = await as.memberA!.createVms({ template: vmSpec("web", 1, 256, { userData: SECRET_USER_DATA }), count: 1 });
    expect(res.vms).toHaveLength(1);
    vmOfA = res.vms[0]!.id;
    expect(res.vms[0]!.project).toBe("a");
    expect(res.vms[0]!.spec!.userData).toBe("");
    expect((await as.memberA!.getVm(vmOfA)).spec!.userData).toBe("");
    expect((await cluster.api.getVm(vmOfA)).spec!.userData).toBe("");
    expect((await as.viewerA!.listVms()).vms.map((v) => [v.id, v.spec!.userData])).toEqual([[vmOfA, ""]]);
    // The agent still got it: the stored spec keeps it.
    const [row] = await cluster.scheduler.sql<{ user_data: string }[]>`SELECT spec->>'userData' AS user_data FROM vms WHERE id = ${vmOfA}`;
    expect(row!.user_data).toBe(SECRET_USER_DATA);
  });

  it("hides project a's VM from project b: NOT_FOUND like an id that does not exist, absent from lists", async () => {
    const missing = "0f8fad5b-d9cb-469f-a165-70867728950e";
    const notThere = await rejects(as.memberB!.getVm(missing));
    const other = await rejects(as.memberB!.getVm(vmOfA));
    expect(other.code).toBe(status.NOT_FOUND);
    expect(other.details).toBe(notThere.details.replace(missing, vmOfA));
    expect((await rejects(as.memberB!.deleteVm(vmOfA))).code).toBe(status.NOT_FOUND);
    expect((await as.memberB!.listVms()).vms).toEqual([]);
    const elsewhere = await rejects(as.memberB!.listVms({ project: "a" }));
    expect(elsewhere.code).toBe(status.PERMISSION_DENIED);
    expect(elsewhere.details).toContain("needs a token of project a");
    const into = await rejects(as.memberA!.createVms({ template: vmSpec("x", 1, 256), count: 1, project: "b" }));
    expect(into.code).toBe(status.PERMISSION_DENIED);
    expect(into.details).toContain("in project b needs a token of project b");
    expect((await cluster.api.getVm(vmOfA)).state).not.toBe(VmState.VM_STATE_DELETING);
    expect((await cluster.api.listVms()).vms.map((v) => v.id)).toEqual([vmOfA]);
    // The operator sees every project.
    expect((await as.operator!.listVms({ project: "a" })).vms.map((v) => v.id)).toEqual([vmOfA]);
  });

  it("lets a viewer read but not change its project's VMs", async () => {
    expect((await as.viewerA!.getVm(vmOfA)).id).toBe(vmOfA);
    const del = await rejects(as.viewerA!.deleteVm(vmOfA));
    expect(del.code).toBe(status.PERMISSION_DENIED);
    expect((await cluster.api.getVm(vmOfA)).state).not.toBe(VmState.VM_STATE_DELETING);
  });

  it("shows each project only its own VM events: no other project's, no node or audit events", async () => {
    await waitFor("a's VM RUNNING", async () => ((await cluster.api.getVm(vmOfA)).state === VmState.VM_STATE_RUNNING ? true : undefined));
    const seenByB = await watchFromStart(cluster.scheduler.address, cluster.serverAuthOnly(), tokens.memberB, 600);
    expect(seenByB.error).toBeUndefined();
    expect(seenByB.events).toEqual([]);
    const seenByA = await watchFromStart(cluster.scheduler.address, cluster.serverAuthOnly(), tokens.viewerA, 600);
    expect(seenByA.events.length).toBeGreaterThan(0);
    expect(seenByA.events.every((e) => e.subject.startsWith("drover.vm.") && e.vmId === vmOfA && e.project === "a")).toBe(true);
    const anonymous = await watchFromStart(cluster.scheduler.address, cluster.serverAuthOnly(), undefined, 300);
    expect(anonymous.error?.code).toBe(status.UNAUTHENTICATED);
  });

  it("records every mutating call as a drover.audit.<verb> event with who, what and the result", async () => {
    const audit = await waitFor("audit events", async () => {
      const { events } = await watchFromStart(cluster.scheduler.address, cluster.serverAuthOnly(), cluster.adminToken, 600);
      const a = events.filter((e) => e.subject.startsWith("drover.audit."));
      return a.some((e) => e.subject === "drover.audit.delete_vm") ? a : undefined;
    });
    const find = (pred: (e: Event) => boolean) => audit.find(pred);
    const created = find((e) => e.subject === "drover.audit.create_vms" && e.audit!.result === "OK" && e.project === "a");
    expect(created?.audit).toMatchObject({ role: "member", method: "/drover.v1.VmService/CreateVms", result: "OK" });
    expect(created!.audit!.tokenId).toMatch(/^[0-9a-f-]{36}$/);
    const refusedDelete = find((e) => e.subject === "drover.audit.delete_vm" && e.project === "b");
    expect(refusedDelete?.audit).toMatchObject({ role: "member", target: vmOfA, result: "NOT_FOUND" });
    const denied = find((e) => e.subject === "drover.audit.cordon_node" && e.audit!.result === "PERMISSION_DENIED");
    expect(denied?.audit).toMatchObject({ role: "member", target: "h1" });
    expect(denied!.audit!.message).toContain("needs role admin or operator");
    expect(find((e) => e.subject === "drover.audit.cordon_node" && e.audit!.result === "OK")?.audit?.role).toBe("operator");
    // Reads are not audited.
    expect(find((e) => e.subject === "drover.audit.list_vms")).toBeUndefined();
  });

  it("refuses a revoked token from the next call on", async () => {
    const { token, secret } = await admin.createToken(Role.ROLE_VIEWER, "a");
    const c = apiClient(cluster.scheduler.address, cluster.serverAuthOnly(), secret);
    try {
      expect((await c.listVms()).vms).toHaveLength(1);
      await admin.revokeToken(token.id);
      const err = await rejects(c.listVms());
      expect(err.code).toBe(status.UNAUTHENTICATED);
      expect(err.details).toContain(`token ${token.id} was revoked`);
      expect((await admin.listTokens()).find((t) => t.id === token.id)?.revokedAt?.seconds).toBeGreaterThan(0);
    } finally {
      c.close();
    }
  });

  it("enforces a project's quota with RESOURCE_EXHAUSTED naming it and the usage, and releases usage on delete", async () => {
    await admin.setQuota("a", { vms: 2, vcpus: 8 });
    expect((await admin.getProject("a", tokens.viewerA)).usedVms).toBe(1);
    await as.memberA!.createVms({ template: vmSpec("second", 1, 256), count: 1 });
    const over = await rejects(as.memberA!.createVms({ template: vmSpec("third", 1, 256), count: 1 }));
    expect(over.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(over.details).toBe("project a quota vms exceeded: 2 used + 1 requested > 2 allowed");
    // b has no quota: a's bounds only a.
    expect((await as.memberB!.createVms({ template: vmSpec("big", 9, 256), count: 1 })).vms[0]!.project).toBe("b");
    await admin.setQuota("a", { vms: 10, vcpus: 3 });
    const vcpus = await rejects(as.memberA!.createVms({ template: vmSpec("wide", 2, 256), count: 1 }));
    expect(vcpus.details).toBe("project a quota vcpus exceeded: 2 used + 2 requested > 3 allowed");
    expect((await as.memberA!.listVms()).vms).toHaveLength(2);
    await as.memberA!.deleteVm(vmOfA);
    await waitFor("usage released", async () => ((await admin.getProject("a")).usedVms === 1 ? true : undefined));
    expect((await admin.getProject("a")).used).toEqual({ vcpus: 1, memoryMib: 256, diskGib: 0 });
    expect((await as.memberA!.createVms({ template: vmSpec("wide", 2, 256), count: 1 })).vms).toHaveLength(1);
    const seen = await rejects(admin.getProject("a", tokens.memberB));
    expect(seen.code).toBe(status.PERMISSION_DENIED);
  });

  it("counts refusals in drover_auth_refusals_total by reason", async () => {
    const body = await (await fetch(`http://${cluster.scheduler.metricsAddress}/metrics`)).text();
    const count = (reason: string) => Number(new RegExp(`drover_auth_refusals_total\\{surface="api",reason="${reason}"\\} (\\d+)`).exec(body)?.[1] ?? 0);
    expect(count("missing-token")).toBeGreaterThanOrEqual(4);
    expect(count("unknown-token")).toBeGreaterThanOrEqual(3);
    expect(count("malformed-token")).toBe(1);
    expect(count("revoked-token")).toBe(1);
    expect(count("permission-denied")).toBeGreaterThanOrEqual(6);
  });
});
