// An agent may start before its scheduler: JoinNode is retried with backoff while nobody
// answers, and the agent joins once the scheduler is up. A refused token is final: the agent
// stops at once and says how to get a new one.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type RunningAgent } from "@drover/agent";
import { testHostUri } from "@drover/agent/testing";
import { createClusterCa, createJoinToken, defaultConfig, startScheduler, type RunningScheduler } from "@drover/scheduler";
import { openTestDatabase } from "@drover/store/testing";
import { freePort } from "../support/ports.js";

const quiet = process.env.DROVER_TEST_LOG ? (m: string) => console.log(m) : () => {};

describe("agent join", () => {
  let db: Awaited<ReturnType<typeof openTestDatabase>>;
  let dir: string;
  let scheduler: RunningScheduler | undefined;
  const agents: RunningAgent[] = [];

  beforeAll(async () => {
    db = await openTestDatabase();
    dir = mkdtempSync(join(tmpdir(), "drover-join-"));
    await createClusterCa(join(dir, "ca"));
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await scheduler?.stop();
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const agentConfig = (name: string, schedulerAddress: string, joinToken: string) => ({
    nodeName: name,
    libvirtUri: testHostUri({ vcpus: 4, memoryMib: 4096 }),
    listen: "127.0.0.1:0",
    schedulerAddress,
    heartbeatIntervalMs: 200,
    diskGib: 100,
    caFile: join(dir, "ca", "ca.pem"),
    tlsDir: join(dir, "nodes", name),
    joinToken,
  });

  it("keeps trying JoinNode while the scheduler is not up, and joins once it is", async () => {
    const { token } = await createJoinToken(db.sql, { nodeName: "early", ttlMs: 120_000 });
    const address = `127.0.0.1:${await freePort()}`;
    const log: string[] = [];
    let settled = false;
    const starting = startAgent(agentConfig("early", address, token), { log: (m) => log.push(m) }).finally(() => (settled = true));
    // Before, the first refused connection ended startAgent with "JoinNode ... failed".
    await sleep(2500);
    expect(settled).toBe(false);
    expect(log.join("\n")).toMatch(/JoinNode with .* failed \(UNAVAILABLE.*retrying with backoff/);
    scheduler = await startScheduler(
      { ...defaultConfig, databaseUrl: db.url, natsUrl: "", listen: address, metricsListen: "", tickMs: 50, heartbeatIntervalMs: 1000, tlsDir: join(dir, "ca") },
      quiet,
    );
    const agent = await starting;
    agents.push(agent);
    await agent.registered();
    const [node] = await db.sql<{ name: string }[]>`SELECT name FROM nodes WHERE name = 'early'`;
    expect(node?.name).toBe("early");
    expect(log.join("\n")).toMatch(/JoinNode with .* succeeded after \d+ attempts/);
  }, 60_000);

  it("stops at once with a clear message when the scheduler refuses the token", async () => {
    expect(scheduler).toBeDefined();
    const t0 = Date.now();
    const err = (await startAgent(agentConfig("refused", scheduler!.address, "0123abcd.0123456789abcdef0123456789abcdef"), { log: quiet }).then(
      () => undefined,
      (e: unknown) => e as Error,
    ))!;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain("was refused (UNAUTHENTICATED)");
    expect(err.message).toContain("join_token: unknown");
    expect(err.message).toContain("drover-scheduler join-token create --name refused");
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});
