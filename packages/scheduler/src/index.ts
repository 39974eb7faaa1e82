export * from "./config.js";
export * from "./server.js";
export { splitHostPort } from "./metrics.js";
