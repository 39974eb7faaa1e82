import { NodeState, PlacementStrategy, VmState } from "@drover/proto";
import { describe, expect, it } from "vitest";
import { nodeStateName, parseNodeState, parseStrategy, parseVmState, strategyName, vmStateName } from "./states.js";

describe("VM states", () => {
  it.each([
    ["running", VmState.VM_STATE_RUNNING],
    ["RUNNING", VmState.VM_STATE_RUNNING],
    ["Running", VmState.VM_STATE_RUNNING],
    ["VM_STATE_RUNNING", VmState.VM_STATE_RUNNING],
    ["pending", VmState.VM_STATE_PENDING],
    ["provisioning", VmState.VM_STATE_PROVISIONING],
    ["stopped", VmState.VM_STATE_STOPPED],
    ["failed", VmState.VM_STATE_FAILED],
    ["lost", VmState.VM_STATE_LOST],
    [" deleted ", VmState.VM_STATE_DELETED],
  ])("parses %j", (input, want) => {
    expect(parseVmState(input)).toBe(want);
  });

  it.each(["runnin", "unspecified", "UNRECOGNIZED", "", "ready"])("rejects %j with the choices", (input) => {
    expect(() => parseVmState(input)).toThrow(/unknown VM state .*expected one of: pending, scheduled, provisioning, running, stopped, deleting, deleted, failed, lost, stopping, paused, crashed$/);
  });

  it.each([
    [VmState.VM_STATE_RUNNING, "RUNNING"],
    [VmState.VM_STATE_LOST, "LOST"],
    [VmState.VM_STATE_UNSPECIFIED, "UNSPECIFIED"],
  ])("names %d as %s", (state, want) => {
    expect(vmStateName(state)).toBe(want);
  });
});

describe("node states and strategies", () => {
  it.each([
    ["ready", NodeState.NODE_STATE_READY],
    ["Cordoned", NodeState.NODE_STATE_CORDONED],
    ["DRAINING", NodeState.NODE_STATE_DRAINING],
    ["down", NodeState.NODE_STATE_DOWN],
  ])("parses node state %j", (input, want) => {
    expect(parseNodeState(input)).toBe(want);
  });

  it("rejects an unknown node state", () => {
    expect(() => parseNodeState("running")).toThrow('unknown node state "running"; expected one of: ready, cordoned, draining, down');
  });

  it("names node states without the prefix", () => {
    expect(nodeStateName(NodeState.NODE_STATE_CORDONED)).toBe("CORDONED");
  });

  it.each([
    ["spread", PlacementStrategy.PLACEMENT_STRATEGY_SPREAD],
    ["PACK", PlacementStrategy.PLACEMENT_STRATEGY_PACK],
  ])("parses strategy %j", (input, want) => {
    expect(parseStrategy(input)).toBe(want);
    expect(strategyName(want)).toBe(input.toUpperCase());
  });

  it("rejects an unknown strategy", () => {
    expect(() => parseStrategy("random")).toThrow('unknown strategy "random"; expected one of: spread, pack');
  });
});
