// @drover/agent/testing: simulated hosts for tests and the dev cluster, kept out of the production entry point.
export { TEST_DISK_GIB } from "./capacity.js";
export { testHostUri, type TestHostSize } from "./test-host.js";
