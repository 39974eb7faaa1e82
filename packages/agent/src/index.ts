// Public API of the node agent.
export { startAgent, type RunningAgent, type StartOptions } from "./agent.js";
export { type AgentConfig, configFromEnv, withDefaults, parseLabels, DEFAULTS, USAGE } from "./config.js";
export { buildDomainXml, domainName, xmlEscape, DROVER_XMLNS, type DomainPaths } from "./domain-xml.js";
export { pickDomainType, chooseDomainType, kvmUsable, isTestUri, type DomainType, type DomainTypeChoice } from "./domain-type.js";
export { type ProbeResult } from "./libvirt-probe.js";
export { createAgentService, type AgentServiceDeps } from "./agent-service.js";
export { consoleLogPath } from "./console-log.js";
export { Registration, newBootId, type RegistrationOptions } from "./registration.js";
