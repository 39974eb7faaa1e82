// @drover/cli: the drover command line, callable in-process.
export { run, USAGE, DEFAULT_ADDR, DEFAULT_TIMEOUT_SECONDS, type RunOptions } from "./run.js";
export type { IO } from "./command.js";
export { parseMemoryMiB, parseDiskGiB, parseSize } from "./units.js";
export { parseVmState, parseNodeState, parseStrategy, vmStateName, nodeStateName } from "./states.js";
