import { describe, expect, it } from "vitest";
import { parseLeases } from "./dhcp-leases.js";

describe("parseLeases", () => {
  it("maps each MAC to its addresses, from virsh net-dhcp-leases", () => {
    // As virsh 9.0 prints it (with -q, no header).
    const table = [
      " 2026-12-01 10:01:12   52:54:00:b1:94:54   ipv4       192.168.213.126/24   -          ff:00:b1:94:54:00:01:00:01",
      " 2026-12-01 10:02:00   52:54:00:AA:00:01   ipv4       192.168.213.20/24    guest-1    -",
      "",
      " not a lease line",
    ].join("\n");
    expect(Object.fromEntries(parseLeases(table))).toEqual({
      "52:54:00:b1:94:54": ["192.168.213.126/24"],
      "52:54:00:aa:00:01": ["192.168.213.20/24"],
    });
  });
});
