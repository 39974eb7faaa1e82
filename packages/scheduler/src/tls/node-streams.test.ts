import { describe, expect, it } from "vitest";
import { NodeIdentityError } from "../errors.js";
import { NodeStreams, type NodeStream } from "./node-streams.js";

function stream(node: string, serial: string, notAfter = new Date(Date.now() + 3_600_000)) {
  const seen = { ended: [] as string[], shutdown: 0, lists: [] as string[][] };
  const s: NodeStream = {
    node,
    serial,
    notAfter,
    end: (err) => seen.ended.push(err.message),
    shutdown: () => seen.shutdown++,
    revokedChanged: (serials) => seen.lists.push(serials),
  };
  return { s, seen };
}

const refusals = {
  revoked: (serial: string, node: string) => new NodeIdentityError("unauthenticated", "revoked", `revoked ${serial} ${node}`),
  expired: (serial: string, node: string) => new NodeIdentityError("unauthenticated", "expired", `expired ${serial} ${node}`),
};

describe("NodeStreams", () => {
  it("ends the streams of revoked and expired certificates, and tells the others a changed list once", async () => {
    let revoked = ["0a"];
    const sizes: number[] = [];
    const streams = new NodeStreams(async () => revoked, refusals, (n) => sizes.push(n));
    const a = stream("a", "a1");
    const b = stream("b", "b1");
    const c = stream("c", "c1", new Date(Date.now() - 1));
    const releaseA = streams.add(a.s);
    streams.add(b.s);
    streams.add(c.s);
    await streams.sweep();
    expect(c.seen.ended).toEqual(["expired c1 c"]);
    // The first list counts as a change: every stream is told it.
    expect(a.seen.lists).toEqual([["0a"]]);
    await streams.sweep();
    expect(a.seen.lists).toHaveLength(1);
    revoked = ["0a", "B1"];
    await streams.sweep();
    // Serials compare normalized (lower case).
    expect(b.seen.ended).toEqual(["revoked b1 b"]);
    expect(a.seen.lists).toEqual([["0a"], ["0a", "B1"]]);
    releaseA();
    expect(sizes).toEqual([1, 2, 3, 2]);
  });

  it("ends every stream when the replica stops, and any opened after at once", () => {
    const streams = new NodeStreams(async () => [], refusals);
    const a = stream("a", "a1");
    streams.add(a.s);
    streams.endAll();
    expect(a.seen.shutdown).toBe(1);
    // An agent reopening while the replica drains would hold the server's shutdown for ever.
    const late = stream("b", "b1");
    streams.add(late.s);
    expect(late.seen.shutdown).toBe(1);
    expect(streams.size).toBe(1);
  });
});
