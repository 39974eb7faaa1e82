import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { ClaimConflictError, StoreUnavailableError, TransactionAbortedError } from "@drover/store";
import {
  AgentCallError,
  ClaimConflictsExhaustedError,
  EventsPrunedError,
  IdempotencyKeyReusedError,
  NodeDownError,
  NotFoundError,
  PlacementExhaustedError,
  ValidationError,
  WrongStateError,
} from "../errors.js";
import { toStatus } from "./grpc-status.js";

const refused = () => Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5433"), { code: "ECONNREFUSED", syscall: "connect" });

// Every domain error kind of the scheduler and the store, with the status a client gets.
const TABLE: [string, unknown, status, string][] = [
  ["invalid argument", new ValidationError("groups[2].template.name", "is required"), status.INVALID_ARGUMENT, "groups[2].template.name: is required"],
  ["VM not found", new NotFoundError("vm", "0f8fad5b-d9cb-469f-a165-70867728950e"), status.NOT_FOUND, "vm 0f8fad5b-d9cb-469f-a165-70867728950e not found"],
  ["node not found, with a hint", new NotFoundError("node", "h1", "register it first"), status.NOT_FOUND, "node h1 (register it first) not found"],
  ["wrong state", new WrongStateError("vm x is STOPPED; this needs it to be RUNNING"), status.FAILED_PRECONDITION, "vm x is STOPPED; this needs it to be RUNNING"],
  ["node down", new NodeDownError("h1"), status.UNAVAILABLE, "node h1 is DOWN; retry when its agent is back"],
  ["agent: no such domain", new AgentCallError("h1", "not-found", "agent on h1: no domain"), status.NOT_FOUND, "agent on h1: no domain"],
  ["agent: image missing", new AgentCallError("h1", "wrong-state", "agent on h1: image gone"), status.FAILED_PRECONDITION, "agent on h1: image gone"],
  ["agent unreachable", new AgentCallError("h1", "unreachable", "agent on h1: No connection established"), status.UNAVAILABLE, "agent on h1: No connection established"],
  [
    "placement exhausted",
    new PlacementExhaustedError(0, 1, 1, [{ reason: "cordoned", nodes: 1, detail: "" }], "1 node: cordoned"),
    status.RESOURCE_EXHAUSTED,
    "can place 0 of 1 VMs, min_count is 1: 1 node: cordoned",
  ],
  ["placement with no nodes", new PlacementExhaustedError(0, 2, 2, [], ""), status.RESOURCE_EXHAUSTED, "can place 0 of 2 VMs, min_count is 2: no nodes registered"],
  [
    "claim conflicts exhausted",
    new ClaimConflictsExhaustedError(9),
    status.ABORTED,
    "placement conflicted with concurrent requests 9 times; nothing was created, retry the request",
  ],
  [
    "idempotency key reused",
    new IdempotencyKeyReusedError("deploy-42"),
    status.FAILED_PRECONDITION,
    'idempotency_key "deploy-42" was already used for a different request; use a new key for a new request',
  ],
  [
    "events pruned",
    new EventsPrunedError(40, 7, 604_800_000),
    status.FAILED_PRECONDITION,
    "events up to id 40 were deleted (DROVER_EVENT_RETENTION_MS=604800000); cannot resume after 7: re-read state with ListVms/ListNodes, then watch with from_start or after_id ≥ 40",
  ],
  ["store claim conflict", new ClaimConflictError(["h1"]), status.ABORTED, "claim conflict on h1: capacity changed since the snapshot"],
  ["a raw deadlock of the driver", Object.assign(new Error("deadlock detected"), { code: "40P01" }), status.ABORTED, "conflict with a concurrent transaction; nothing was written, retry"],
  ["a raw serialization failure", Object.assign(new Error("could not serialize access"), { code: "40001" }), status.ABORTED, "conflict with a concurrent transaction; nothing was written, retry"],
  [
    "a transaction Postgres rolled back at COMMIT",
    new TransactionAbortedError({ cause: Object.assign(new Error('duplicate key value violates unique constraint "vms_pkey"'), { code: "23505" }) }),
    status.ABORTED,
    "transaction aborted: one of its statements failed, so Postgres rolled it back at COMMIT; nothing was written, retry",
  ],
  ["store unavailable", new StoreUnavailableError({ cause: refused() }), status.UNAVAILABLE, "database unavailable; retry"],
  ["a raw connection failure of the driver", refused(), status.UNAVAILABLE, "database unavailable; retry"],
];

describe("the scheduler's gRPC status mapping", () => {
  it.each(TABLE)("%s", (_what, err, code, details) => {
    expect(toStatus(err)).toEqual({ code, details });
  });

  it.each([
    ["a plain Error", new Error("relation \"vms\" does not exist")],
    ["a query error with an SQLSTATE", Object.assign(new Error("syntax error"), { code: "42601" })],
    ["a file's ENOENT (not a socket)", Object.assign(new Error("ENOENT: no such file"), { code: "ENOENT", syscall: "open" })],
    ["a thrown string", "boom"],
  ])("leaves %s unmapped, for the adapter to answer INTERNAL with an id", (_what, err) => {
    expect(toStatus(err)).toBeUndefined();
  });
});
