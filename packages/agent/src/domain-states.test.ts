import { describe, expect, it } from "vitest";
import { DomainState } from "@drover/proto";
import { DomainStates } from "./domain-states.js";

const RUNNING = DomainState.DOMAIN_STATE_RUNNING;
const SHUTOFF = DomainState.DOMAIN_STATE_SHUTOFF;
const snap = (uuid: string, state: DomainState) => ({ uuid, name: `d-${uuid}`, state });

describe("DomainStates", () => {
  it("gives every change the agent makes a higher generation, starting above any earlier boot's", () => {
    const earlier = new DomainStates(1_000);
    for (let i = 0; i < 500; i++) earlier.made(snap("a", RUNNING));
    const states = new DomainStates(2_000);
    const first = states.made(snap("a", RUNNING));
    const second = states.made(snap("a", RUNNING));
    expect(first.generation).toBeGreaterThan(earlier.list()[0]!.generation);
    expect(second.generation).toBeGreaterThan(first.generation);
    expect(states.list()).toEqual([second]);
  });

  it("applies a listing: a changed state is a new generation, an unchanged one keeps its own, a missing domain is gone", () => {
    const states = new DomainStates(1);
    const a = states.made(snap("a", RUNNING));
    const b = states.made(snap("b", RUNNING));
    states.replaceAll([snap("a", RUNNING), snap("c", SHUTOFF)], states.mark());
    const byId = new Map(states.list().map((d) => [d.vmId, d]));
    expect(byId.get("a")).toEqual(a);
    expect(byId.has("b")).toBe(false);
    expect(byId.get("c")!.generation).toBeGreaterThan(b.generation);
    states.replaceAll([snap("a", SHUTOFF), snap("c", SHUTOFF)], states.mark());
    expect(states.list().find((d) => d.vmId === "a")).toMatchObject({ state: SHUTOFF });
  });

  it("keeps what the agent did while a listing ran over what the listing read before", () => {
    const states = new DomainStates(1);
    states.made(snap("a", RUNNING));
    states.made(snap("b", RUNNING));
    const since = states.mark();
    // Meanwhile: a stopped, b destroyed, c created.
    states.made(snap("a", SHUTOFF));
    states.gone("b");
    states.made(snap("c", RUNNING));
    states.replaceAll([snap("a", RUNNING), snap("b", RUNNING)], since);
    expect(states.list().map((d) => [d.vmId, d.state]).sort()).toEqual([
      ["a", SHUTOFF],
      ["c", RUNNING],
    ]);
    // A listing begun after the destroy may add b again: it was recreated behind the agent's back.
    states.replaceAll([snap("a", SHUTOFF), snap("b", RUNNING), snap("c", RUNNING)], states.mark());
    expect(states.size).toBe(3);
  });

  it("keeps a held VM (an ACPI reboot) RUNNING through listings that find its domain off or missing", () => {
    const states = new DomainStates(1);
    const before = states.made(snap("a", RUNNING));
    const release = states.hold("a");
    states.replaceAll([snap("a", SHUTOFF)], states.mark());
    expect(states.list()).toEqual([before]);
    states.replaceAll([], states.mark());
    expect(states.list()).toEqual([before]);
    release();
    release(); // twice is once
    states.replaceAll([snap("a", SHUTOFF)], states.mark());
    expect(states.list()).toMatchObject([{ vmId: "a", state: SHUTOFF }]);
  });
});
