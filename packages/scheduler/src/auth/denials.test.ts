import { describe, expect, it } from "vitest";
import type { AuditEntry } from "@drover/store";
import { DenialLog } from "./denials.js";

const denial = (method = "/drover.v1.VmService/ListVms") => ({ method, peer: "ipv4:127.0.0.1:5000", result: "UNAUTHENTICATED" as const, message: "no token" });

describe("DenialLog", () => {
  it("writes the first refusals of a window one each and folds the rest into one counted record per method and result", () => {
    const written: AuditEntry[] = [];
    let now = 1_000_000;
    const log = new DenialLog(async (e) => void written.push(...e), () => {}, { perWindow: 3, windowMs: 10_000 }, () => now);
    for (let i = 0; i < 1000; i++) log.note(denial());
    for (let i = 0; i < 10; i++) log.note(denial("/drover.v1.VmService/DeleteVm"));
    expect(written).toHaveLength(3);
    expect(written.every((e) => e.verb === "denied" && e.count === 1 && e.peer === "ipv4:127.0.0.1:5000")).toBe(true);
    now += 10_000;
    log.note(denial());
    // The window's end wrote the folded ones (997 ListVms, 10 DeleteVm), then the new window's first.
    expect(written.map((e) => [e.method, e.count])).toEqual([
      ...Array.from({ length: 3 }, () => ["/drover.v1.VmService/ListVms", 1]),
      ["/drover.v1.VmService/ListVms", 997],
      ["/drover.v1.VmService/DeleteVm", 10],
      ["/drover.v1.VmService/ListVms", 1],
    ]);
    expect(written[3]!.message).toContain("997 refusals like this one past the first 3 of a 10 s window");
    log.flush();
  });

  it("bounds the folded records of a window even over many methods", () => {
    const written: AuditEntry[] = [];
    const log = new DenialLog(async (e) => void written.push(...e), () => {}, { perWindow: 0, windowMs: 10_000 }, () => 5);
    for (let i = 0; i < 500; i++) log.note(denial(`/x.Service/M${i}`));
    log.flush();
    expect(written.length).toBeLessThanOrEqual(65);
    expect(written.reduce((n, e) => n + (e.count ?? 0), 0)).toBe(500);
    expect(written.at(-1)).toMatchObject({ method: "*", count: 500 - 64 });
  });
});
