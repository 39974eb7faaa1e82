// The harness that starts scheduler processes for integration tests: a process that cannot start
// fails its test at once and says why (CI lost a whole suite waiting 30 s on one that had exited
// with EADDRINUSE), and leaves nothing running.
import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "@drover/store/testing";
import { startSchedulerProcess } from "./scheduler-process.js";

describe("startSchedulerProcess", () => {
  let taken: Server;
  let port: number;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase();
    taken = createServer((socket) => socket.destroy()); // the harness's probe connects to it too
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    port = (taken.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise<void>((r) => taken.close(() => r()));
    await db?.drop();
  });

  it("fails at once, with the process's own error, when the process exits", async () => {
    const started = Date.now();
    const err = await startSchedulerProcess({ DROVER_LISTEN: `127.0.0.1:${port}`, DROVER_DATABASE_URL: db.url, DROVER_NATS_URL: "" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/exited 1/);
    expect((err as Error).message).toMatch(/EADDRINUSE/);
    expect(Date.now() - started).toBeLessThan(25_000);
  }, 60_000);
});
