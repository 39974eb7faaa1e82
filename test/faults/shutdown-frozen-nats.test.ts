import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "@drover/store/testing";
import { apiClient, type ApiClient } from "../support/clients.js";
import { vmSpec } from "../support/requests.js";
import { startSchedulerProcess, type SchedulerProcess } from "../support/scheduler-process.js";
import { privateNats } from "./services.js";

/** The grace the case gives; the process owes its exit by about then (main.ts's margin is 5 s more). */
const GRACE_MS = 2000;
/** Slack for a loaded 2-core machine on top of the grace. */
const SLACK_MS = 2500;
/** How long the case waits for the exit before it calls the process hung (and kills it). */
const HUNG_MS = 25_000;

// NATS stops answering (SIGSTOP: the connection stays open, nothing is answered or refused) while
// the relay publishes; then the scheduler gets SIGTERM. The events are in the outbox (Postgres) and
// go out later from any replica, so the relay's close may be cut at the end of the grace.
describe("SIGTERM while NATS does not answer", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let nats: Awaited<ReturnType<typeof privateNats>>;
  let scheduler: SchedulerProcess | undefined;
  let api: ApiClient | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    nats = await privateNats();
  });
  afterEach(async () => {
    api?.close();
    await scheduler?.kill();
    nats.thaw();
  });
  afterAll(async () => {
    nats?.thaw();
    await nats?.stop();
    await db?.drop();
  });

  it("exits within the grace, naming the relay as cut off", async () => {
    const s = (scheduler = await startSchedulerProcess({ DROVER_DATABASE_URL: db.url, DROVER_NATS_URL: nats.url, DROVER_TICK_MS: "50", DROVER_SHUTDOWN_GRACE_MS: String(GRACE_MS) }));
    const client = (api = apiClient(s.address));
    await client.listNodes();
    await sleep(500);
    nats.freeze();
    // Refused creates (no node) are audited: events for the relay to publish to the frozen server.
    for (let i = 0; i < 5; i++) await client.createVms({ template: vmSpec(`n${i}`, 1, 128), count: 1 }).catch(() => {});
    await sleep(1500);
    const start = Date.now();
    process.kill(s.pid, "SIGTERM");
    const exited = await Promise.race([s.exited.then(() => true), sleep(HUNG_MS).then(() => false)]);
    const ms = Date.now() - start;
    const last = s.output().trim().split("\n").slice(-4).join(" | ");
    expect(exited, `still running ${HUNG_MS} ms after SIGTERM; its last lines: ${last}`).toBe(true);
    expect(ms).toBeLessThan(GRACE_MS + SLACK_MS);
    // The relay's publish waited on NATS and was cut with the database; its close does not wait on the server.
    expect(s.output()).toMatch(/cut off: .*loop relay/);
    expect(await s.exited).toEqual({ code: 1, signal: null });
  }, 60_000);
});
