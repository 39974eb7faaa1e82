// drover capacity [--node NAME]
import { GetCapacityResponse } from "@drover/proto";
import { unary } from "../client.js";
import { callSettings, type Command, GLOBAL_FLAGS_HELP, str } from "../command.js";
import { capacityReport, formatJson } from "../format.js";

export const capacityCommand: Command = {
  name: "capacity",
  summary: "show what the fleet has, what is claimed and what is free",
  usage: `Usage: drover capacity [--node NAME]

Prints cluster totals (allocated, allocatable, free and raw capacity of vCPU,
memory and disk, and VM counts by state), then one row per node. In the node
table VCPU, MEMORY and DISK are allocated/allocatable.

  --node NAME   only this node

${GLOBAL_FLAGS_HELP}
`,
  args: [],
  options: { node: { type: "string" } },
  async run(ctx, _args, values) {
    const c = ctx.clients();
    const res = await unary(
      c.capacity.getCapacity.bind(c.capacity),
      { node: str(values, "node") ?? "" },
      callSettings(ctx),
    );
    ctx.io.stdout(ctx.output === "json" ? formatJson(GetCapacityResponse.toJSON(res)) : capacityReport(res));
    return 0;
  },
};
