export * from "./config.js";
export * from "./server.js";
export { splitHostPort } from "./metrics.js";
export { createClusterCa, loadClusterCa } from "./tls/cluster-ca.js";
export { createJoinToken, type CreatedJoinToken } from "./tls/join-tokens.js";
export { runTlsCommand } from "./tls/commands.js";
export { VANISHED_GRACE_MS } from "./liveness/heartbeat.js";
export { issueToken } from "./auth/issue-token.js";
export { ensureCatalogImage, ensureCatalogNetwork } from "./catalog-seed.js";
