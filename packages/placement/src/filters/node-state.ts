import { rejection, type Filter } from "../filter.js";

const CORDONED = rejection("cordoned");
const DRAINING = rejection("draining");
const DOWN = rejection("down");
// Defensive: a state outside the union (e.g. UNSPECIFIED leaking from the wire) is never schedulable.
const NOT_READY = rejection("node_not_ready");

/** Only READY nodes take new VMs. */
export const nodeStateFilter: Filter = {
  name: "node-state",
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
      default:
        return NOT_READY;
    }
  },
};
