import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import type { CreateVmsRequest, CreateVmsResponse } from "@drover/proto";
import { connect, type Sql } from "@drover/store";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { vmSpec } from "../support/requests.js";

// A create whose commit is held up past its client's deadline (here: another
// session holds the node's row lock, as a slow disk or a long transaction
// would) must not land once the client has been told DEADLINE_EXCEEDED.
describe("a create whose client deadline passed is never committed", () => {
  let cluster: TestCluster;
  let admin: Sql;

  beforeAll(async () => {
    cluster = await startTestCluster([{ name: "h", vcpus: 8, memoryMib: 16384 }]);
    admin = connect(cluster.scheduler.databaseUrl, { max: 2 });
  });
  afterAll(async () => {
    await admin?.end();
    await cluster?.stop();
  });

  function createWithDeadline(req: Partial<CreateVmsRequest>, ms: number): Promise<CreateVmsResponse> {
    const full = { count: 1, minCount: 0, idempotencyKey: "", groups: [], dryRun: false, project: "", ...req };
    return new Promise((resolve, reject) =>
      cluster.api.vms.createVms(full, new Metadata(), { deadline: Date.now() + ms }, (err: ServiceError | null, res: CreateVmsResponse) =>
        err ? reject(err) : resolve(res),
      ),
    );
  }

  /** Holds node h's row lock for `ms` (claims wait for it), then lets go. */
  async function holdNodeLock(ms: number, during: () => Promise<void>): Promise<void> {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const tx = admin.begin(async (t) => {
      await t`SELECT name FROM nodes WHERE name = 'h' FOR UPDATE`;
      locked();
      await released;
    });
    await isLocked;
    const timer = setTimeout(release, ms);
    try {
      await during();
    } finally {
      await tx;
      clearTimeout(timer);
    }
  }

  async function vmsAndClaims(): Promise<{ vms: number; vcpus: number }> {
    const [row] = await admin<{ vms: number; vcpus: number }[]>`
      SELECT (SELECT count(*)::int FROM vms) AS vms, (SELECT alloc_vcpus::int FROM nodes WHERE name = 'h') AS vcpus`;
    return row!;
  }

  it("refuses the one-statement commit and the transaction commit alike: the client gets DEADLINE_EXCEEDED, nothing lands", async () => {
    const outcomes: PromiseSettledResult<CreateVmsResponse>[] = [];
    await holdNodeLock(2500, async () => {
      outcomes.push(
        ...(await Promise.allSettled([
          // Plain requests: the batcher's one-statement commit (the first alone, the others batched behind it).
          createWithDeadline({ template: vmSpec("plain-a", 1, 256), count: 2 }, 800),
          createWithDeadline({ template: vmSpec("plain-b", 1, 256), count: 2 }, 900),
          createWithDeadline({ template: vmSpec("plain-c", 1, 256), count: 1 }, 1000),
          // An idempotency key takes the transaction path.
          createWithDeadline({ template: vmSpec("keyed", 1, 256), count: 2, idempotencyKey: "deadline-test" }, 800),
        ])),
      );
    });
    for (const o of outcomes) {
      expect(o.status).toBe("rejected");
      expect((o as PromiseRejectedResult).reason.code).toBe(status.DEADLINE_EXCEEDED);
    }
    // The held statements went on once the lock was gone; give them time to land if they could.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await vmsAndClaims()).toEqual({ vms: 0, vcpus: 0 });

    // With time left the same requests commit.
    const ok = await createWithDeadline({ template: vmSpec("later", 1, 256), count: 2 }, 10_000);
    expect(ok.vms).toHaveLength(2);
    const keyed = await createWithDeadline({ template: vmSpec("keyed", 1, 256), count: 2, idempotencyKey: "deadline-test" }, 10_000);
    expect(keyed.vms).toHaveLength(2);
    expect(await vmsAndClaims()).toEqual({ vms: 4, vcpus: 4 });
  });
});
