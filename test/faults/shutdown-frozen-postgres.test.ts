import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { apiClient, type ApiClient } from "../support/clients.js";
import { vmSpec } from "../support/requests.js";
import { startSchedulerProcess, type SchedulerProcess } from "../support/scheduler-process.js";
import { privatePostgres } from "./services.js";

/** The grace the first case gives; the process owes its exit by this plus main.ts's 5 s margin. */
const GRACE_MS = 2000;
const MARGIN_MS = 5000;
/** Slack for a loaded 2-core machine on top of the bound. */
const SLACK_MS = 3000;
/** How long a case waits for the exit before it calls the process hung (and kills it). */
const HUNG_MS = 25_000;

// Postgres stops answering (SIGSTOP: connections stay open, statements get no answer, nothing is
// refused) while clients call; then the scheduler process gets SIGTERM. Before, its background
// loops waited for their statements for ever and the process had to be killed.
describe("SIGTERM while Postgres does not answer", () => {
  let pg: Awaited<ReturnType<typeof privatePostgres>>;
  let scheduler: SchedulerProcess | undefined;
  let api: ApiClient | undefined;

  beforeAll(async () => {
    pg = await privatePostgres();
  });
  afterEach(async () => {
    api?.close();
    await scheduler?.kill();
    pg.thaw();
  });
  afterAll(() => {
    // Dropped whatever thaw() says: a failed thaw once left a private cluster running.
    try {
      pg?.thaw();
    } finally {
      pg?.drop();
    }
  });

  /** A scheduler on the private cluster with clients calling, then Postgres frozen under them. */
  async function frozenUnderLoad(graceMs: number): Promise<SchedulerProcess> {
    const s = (scheduler = await startSchedulerProcess({ DROVER_DATABASE_URL: pg.url, DROVER_NATS_URL: "", DROVER_TICK_MS: "50", DROVER_SHUTDOWN_GRACE_MS: String(graceMs) }));
    const client = (api = apiClient(s.address));
    let calling = true;
    const load = [0, 1, 2, 3].map(async (i) => {
      for (let n = 0; calling; n++) {
        // No node: the create is refused, after a placement that reads the database.
        await (i % 2 ? client.listNodes() : client.createVms({ template: vmSpec(`w${i}-${n}`, 1, 128), count: 1 })).catch(() => {});
      }
    });
    await sleep(1000);
    pg.freeze();
    // Let the loops and the calls get stuck on statements that will not be answered.
    await sleep(1000);
    calling = false;
    void Promise.all(load);
    return s;
  }

  /** ms until the process exits after now, or undefined when it is still running after HUNG_MS. */
  async function exitWithin(s: SchedulerProcess): Promise<number | undefined> {
    const start = Date.now();
    const exited = await Promise.race([s.exited.then(() => true), sleep(HUNG_MS).then(() => false)]);
    return exited ? Date.now() - start : undefined;
  }

  /** On one line: vitest shows an assertion message's first line only. */
  const lastLines = (s: SchedulerProcess) => s.output().trim().split("\n").slice(-4).join(" | ");

  it("exits within the grace plus the margin, saying what was still open", async () => {
    const s = await frozenUnderLoad(GRACE_MS);
    process.kill(s.pid, "SIGTERM");
    const ms = await exitWithin(s);
    expect(ms, `still running ${HUNG_MS} ms after SIGTERM; its last lines: ${lastLines(s)}`).toBeDefined();
    expect(ms).toBeLessThan(GRACE_MS + MARGIN_MS + SLACK_MS);
    // Past the grace the database was cut, which let the stop end: not a hard exit, but not a
    // clean one either (work was cut off), so the status says so (it was 0).
    expect(s.output()).toMatch(/still open after the 2000 ms grace: .*loop /);
    expect(s.output()).toMatch(/stopped after cutting the database; cut off: .*loop /);
    expect(await s.exited).toEqual({ code: 1, signal: null });
  });

  it("exits 0 when Postgres answers and nothing needed the cut", async () => {
    const s = (scheduler = await startSchedulerProcess({ DROVER_DATABASE_URL: pg.url, DROVER_NATS_URL: "", DROVER_TICK_MS: "50", DROVER_SHUTDOWN_GRACE_MS: String(GRACE_MS) }));
    await apiClient(s.address).listNodes();
    process.kill(s.pid, "SIGTERM");
    const ms = await exitWithin(s);
    expect(ms, `still running ${HUNG_MS} ms after SIGTERM; its last lines: ${lastLines(s)}`).toBeDefined();
    expect(s.output()).not.toMatch(/cutting the database/);
    expect(await s.exited).toEqual({ code: 0, signal: null });
  });

  it("exits at once on a second signal", async () => {
    // A grace far longer than the case waits: only the second signal can end it in time.
    const s = await frozenUnderLoad(600_000);
    process.kill(s.pid, "SIGTERM");
    await sleep(500);
    process.kill(s.pid, "SIGINT");
    const ms = await exitWithin(s);
    expect(ms, `still running ${HUNG_MS} ms after the second signal; its last lines: ${lastLines(s)}`).toBeDefined();
    expect(ms).toBeLessThan(SLACK_MS);
    expect(await s.exited).toEqual({ code: 130, signal: null });
    expect(s.output()).toMatch(/SIGINT while stopping: exiting now; still open: .*loop /);
  });
});
