import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EventPublisher } from "@drover/events";
import { createClusterCa } from "@drover/scheduler";
import { NATS_URL } from "../support/cluster.js";

// The local NATS serves no TLS: a publisher told to use TLS must refuse it, not fall back to plain text.
describe("TLS to NATS", () => {
  const dir = mkdtempSync(join(tmpdir(), "drover-nats-tls-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("connects in plain text without TLS options, and refuses a server without TLS when given a CA", async () => {
    const plain = await EventPublisher.connect(NATS_URL);
    await plain.close();
    await createClusterCa(dir);
    await expect(EventPublisher.connect(NATS_URL, 2000, { caFile: join(dir, "ca.pem") })).rejects.toThrow(/tls|TLS/);
  });
});
