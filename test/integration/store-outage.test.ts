import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { defaultConfig, startScheduler, type RunningScheduler } from "@drover/scheduler";
import { connect, type Sql } from "@drover/store";
import { createTestDatabase } from "@drover/store/testing";
import { apiClient, type ApiClient } from "../support/clients.js";
import { NATS_URL } from "../support/cluster.js";
import { rejects, vmSpec } from "../support/requests.js";
import { startTcpProxy } from "../support/tcp-proxy.js";
import { waitFor } from "../support/wait.js";
import { healthClient } from "../support/health-client.js";

// A real scheduler whose Postgres goes away: clients must get UNAVAILABLE
// without the driver's text (it names the database address), and an
// unexpected failure must be INTERNAL with an id that the log also has.
describe("errors from the database reach clients as statuses, not driver text", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  let scheduler: RunningScheduler;
  let api: ApiClient;
  let admin: Sql;
  const log: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    const url = new URL(db.url);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.port = String(proxy.port);
    scheduler = await startScheduler(
      { ...defaultConfig, insecure: true, databaseUrl: url.toString(), natsUrl: NATS_URL, listen: "127.0.0.1:0", metricsListen: "", tickMs: 50 },
      (m) => log.push(m),
    );
    api = apiClient(scheduler.address);
    admin = connect(db.url, { max: 1 });
  });
  afterAll(async () => {
    api?.close();
    await proxy?.reopen();
    await scheduler?.stop();
    await admin?.end();
    await db?.drop();
  });

  it("answers UNAVAILABLE naming no address while Postgres refuses connections, and recovers", async () => {
    await api.listVms();
    await proxy.close();
    for (const call of [() => api.listVms(), () => api.listNodes(), () => api.createVms({ template: vmSpec("a", 1, 256), count: 1 })]) {
      const err = await rejects(call());
      expect(err.code).toBe(status.UNAVAILABLE);
      expect(err.details).toBe("database unavailable; retry");
      for (const leak of ["127.0.0.1", String(proxy.port), "ECONNREFUSED", "CONNECTION"]) expect(err.details).not.toContain(leak);
    }
    await proxy.reopen();
    await waitFor("ListVms works again", async () => ((await api.listVms().catch(() => undefined)) ? true : undefined));
  });

  it("reports NOT_SERVING on grpc.health.v1 while Postgres is out of reach, and SERVING again after, by itself", async () => {
    const health = healthClient(scheduler.address);
    try {
      expect(await health.check()).toBe("SERVING");
      await proxy.close();
      await waitFor("health NOT_SERVING", async () => ((await health.check()) === "NOT_SERVING" ? true : undefined), 5000, 100);
      expect(await health.check("drover.v1.VmService")).toBe("NOT_SERVING");
      await proxy.reopen();
      await waitFor("health SERVING again", async () => ((await health.check()) === "SERVING" ? true : undefined), 5000, 100);
      expect(await health.check("drover.v1.VmService")).toBe("SERVING");
      expect(log).toContain("database reachable again: health SERVING");
    } finally {
      health.close();
    }
  });

  it("answers INTERNAL with an error id for an unexpected failure, and logs the details under that id", async () => {
    // A real query failure the scheduler does not expect: its table is gone.
    await admin`ALTER TABLE vms RENAME TO vms_hidden`;
    try {
      const err = await rejects(api.listVms());
      expect(err.code).toBe(status.INTERNAL);
      const m = /^internal error, id ([0-9a-f]{12}); the scheduler log has the details$/.exec(err.details);
      expect(m, err.details).not.toBeNull();
      const line = log.find((l) => l.includes(`id ${m![1]}`));
      expect(line).toMatch(/ListVms/);
      expect(line).toMatch(/relation "vms" does not exist/);
    } finally {
      await admin`ALTER TABLE vms_hidden RENAME TO vms`;
    }
  });
});
