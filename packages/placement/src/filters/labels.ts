import { rejection, type Filter } from "../filter.js";
import { formatLabelExpression, matchesLabel } from "../labels.js";

const REJECT = rejection("label_constraint");

/** Every hard constraint of the VM must match the node's labels. */
export const labelFilter: Filter<"label_constraint"> = {
  name: "labels",
  reasons: {
    label_constraint: { label: "label constraint", detail: (vm) => vm.constraints.map(formatLabelExpression).join(", ") },
  },
  applies: (vm) => vm.constraints.length > 0,
  filter(node, vm) {
    const cs = vm.constraints;
    for (let i = 0; i < cs.length; i++) {
      if (!matchesLabel(cs[i]!, node.labels)) return REJECT;
    }
    return null;
  },
};
