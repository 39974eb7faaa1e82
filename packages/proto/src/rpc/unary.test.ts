import { credentials, Server, ServerCredentials, status, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentServiceClient, AgentServiceService, type AgentServiceServer } from "../index.js";
import { ANSWERED_BY, describeError, unaryAdapter, type RpcStatus } from "./unary.js";

class Known extends Error {}
const toStatus = (err: unknown): RpcStatus | undefined =>
  err instanceof Known ? { code: status.FAILED_PRECONDITION, details: err.message } : undefined;

// The adapter on a real grpc-js server: known errors keep their mapped status,
// anything else is INTERNAL with an id that the log line also carries.
describe("the shared unary adapter", () => {
  const log: string[] = [];
  const unary = unaryAdapter({ toStatus, program: "test", log: (m) => log.push(m) });
  let server: Server;
  let client: AgentServiceClient;

  beforeAll(async () => {
    server = new Server();
    const failing = (err: unknown) => unary(async () => Promise.reject(err));
    server.addService(AgentServiceService, {
      getHostInfo: failing(new Known("image missing")),
      listDomains: failing(new Error("connect ECONNREFUSED 10.0.0.7:5432", { cause: new Error("socket hang up") })),
      startDomain: unary(async () => ({ domain: undefined })),
    } as Partial<AgentServiceServer> as AgentServiceServer);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    client = new AgentServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  });
  afterAll(() => {
    client?.close();
    server?.forceShutdown();
  });

  const fails = (fn: (cb: (e: ServiceError | null) => void) => void) => new Promise<ServiceError>((resolve) => fn((e) => resolve(e!)));

  it("answers a mapped error with its status", async () => {
    const err = await fails((cb) => client.getHostInfo({}, cb));
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(err.details).toBe("image missing");
    expect(err.metadata.get(ANSWERED_BY)).toEqual(["test"]);
    expect(log).toEqual([]);
  });

  it("answers an unexpected error with INTERNAL and an id, and logs the error with its cause under that id", async () => {
    const err = await fails((cb) => client.listDomains({}, cb));
    expect(err.code).toBe(status.INTERNAL);
    const id = /^internal error, id ([0-9a-f]{12}); the test log has the details$/.exec(err.details)?.[1];
    expect(id, err.details).toBeDefined();
    expect(err.details).not.toContain("10.0.0.7");
    expect(log).toHaveLength(1);
    expect(log[0]).toContain(`internal error, id ${id}, in /drover.v1.AgentService/ListDomains`);
    expect(log[0]).toContain("connect ECONNREFUSED 10.0.0.7:5432");
    expect(log[0]).toContain("caused by: Error: socket hang up");
  });

  it("gives each unexpected error its own id", async () => {
    const a = await fails((cb) => client.listDomains({}, cb));
    const b = await fails((cb) => client.listDomains({}, cb));
    expect(a.details).not.toBe(b.details);
  });

  it("passes results through", async () => {
    const res = await new Promise((resolve, reject) => client.startDomain({ vmId: "x" }, (e, r) => (e ? reject(e) : resolve(r))));
    expect(res).toEqual({ domain: undefined });
  });

  it("describes a thrown non-Error too", () => {
    expect(describeError("boom")).toBe("boom");
  });
});
