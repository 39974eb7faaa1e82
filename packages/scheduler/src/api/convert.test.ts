import { describe, expect, it } from "vitest";
import { AddressSource } from "@drover/proto";
import { interfaceFromProto, interfaceToProto } from "./convert.js";

describe("a VM's reported NICs between the wire and the store", () => {
  it("keeps where an address comes from, lower-cases the MAC and sorts the addresses", () => {
    const stored = interfaceFromProto({ mac: "52:54:00:AB:CD:EF", addresses: ["10.0.0.9/24", "10.0.0.5/24"], source: AddressSource.ADDRESS_SOURCE_STATIC });
    expect(stored).toEqual({ mac: "52:54:00:ab:cd:ef", addresses: ["10.0.0.5/24", "10.0.0.9/24"], source: "static" });
    expect(interfaceToProto(stored).source).toBe(AddressSource.ADDRESS_SOURCE_STATIC);
    expect(interfaceFromProto({ mac: "52:54:00:00:00:01", addresses: ["192.168.213.57/24"], source: AddressSource.ADDRESS_SOURCE_DHCP_LEASE }).source).toBe("dhcp");
  });

  it("reads rows from before sources were reported as DHCP leases, and no address as no source", () => {
    expect(interfaceToProto({ mac: "52:54:00:00:00:01", addresses: ["192.168.213.57/24"] }).source).toBe(AddressSource.ADDRESS_SOURCE_DHCP_LEASE);
    expect(interfaceToProto({ mac: "52:54:00:00:00:01", addresses: [] }).source).toBe(AddressSource.ADDRESS_SOURCE_UNSPECIFIED);
    expect(interfaceFromProto({ mac: "52:54:00:00:00:01", addresses: [], source: AddressSource.ADDRESS_SOURCE_UNSPECIFIED })).toEqual({ mac: "52:54:00:00:00:01", addresses: [] });
  });
});
