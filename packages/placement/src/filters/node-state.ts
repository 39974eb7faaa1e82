import { rejection, type Filter } from "../filter.js";

type Reason = "node_not_ready" | "cordoned" | "draining" | "down" | "degraded";

// Defensive: a state outside the union (e.g. UNSPECIFIED leaking from the wire) is never schedulable.
const NOT_READY = rejection("node_not_ready");
const CORDONED = rejection("cordoned");
const DRAINING = rejection("draining");
const DOWN = rejection("down");
const DEGRADED = rejection("degraded");

/** Only READY nodes take new VMs. */
export const nodeStateFilter: Filter<Reason> = {
  name: "node-state",
  // The state is the whole story: no detail.
  reasons: {
    node_not_ready: { label: "not ready" },
    cordoned: { label: "cordoned" },
    draining: { label: "draining" },
    down: { label: "down" },
    // Heartbeating, but its agent cannot reach libvirt: nothing could be started there.
    degraded: { label: "degraded" },
  },
  filter(node) {
    switch (node.state) {
      case "READY":
        return null;
      case "CORDONED":
        return CORDONED;
      case "DRAINING":
        return DRAINING;
      case "DOWN":
        return DOWN;
      case "DEGRADED":
        return DEGRADED;
      default:
        return NOT_READY;
    }
  },
};
