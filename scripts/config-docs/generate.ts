// What `npm run docs:config` writes: the README configuration tables and the example env
// files, all from the two option tables. test/docs/config-docs.test.ts fails when they differ.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { AGENT_OPTIONS } from "../../packages/agent/src/config-options.js";
import { SCHEDULER_OPTIONS } from "../../packages/scheduler/src/config-options.js";
import { emptyIsValueNames, envExample, markdownTable, replaceBetweenMarkers } from "./render.js";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

const SCHEDULER_ENV_HEADER = `# /etc/drover/scheduler.env — environment for drover-scheduler.service.
# Generated from packages/scheduler/src/config-options.ts by \`npm run docs:config\`.
# Copy to /etc/drover/scheduler.env, chmod 0600 (it may hold a DB password).
# Values shown are the built-in defaults unless marked CHANGED. An empty value keeps the
# default, except in ${emptyIsValueNames(SCHEDULER_OPTIONS).join(" and ")}, where empty turns the feature off:
# delete the line to get the default there.`;

const AGENT_ENV_HEADER = `# /etc/drover/agent.env — environment for drover-agent.service (one per KVM host).
# Generated from packages/agent/src/config-options.ts by \`npm run docs:config\`.
# Copy to /etc/drover/agent.env and adjust. An empty value keeps the default.
# Values shown are the built-in defaults unless marked CHANGED.`;

/** Every generated file, path relative to the repository root, with the text it should have. */
export function generatedConfigDocs(root = ROOT): { path: string; text: string }[] {
  const readme = readFileSync(`${root}README.md`, "utf8");
  return [
    {
      path: "README.md",
      text: replaceBetweenMarkers(
        replaceBetweenMarkers(readme, "config:scheduler", markdownTable(SCHEDULER_OPTIONS)),
        "config:agent",
        markdownTable(AGENT_OPTIONS),
      ),
    },
    {
      path: "deploy/config/scheduler.env.example",
      text: envExample(SCHEDULER_OPTIONS, SCHEDULER_ENV_HEADER, {
        DROVER_DATA_DIR: { value: "/var/lib/drover-scheduler", why: "the systemd unit's StateDirectory, so embedded PGlite survives restarts." },
        DROVER_TLS_DIR: {
          value: "/run/credentials/drover-scheduler.service",
          why: "where the unit's LoadCredential= puts /etc/drover/tls/ca.pem and ca-key.pem, readable by the service's DynamicUser only.",
        },
        DROVER_TLS_HOSTS: { value: "sched.example.com,10.0.0.1", why: "the names and addresses agents and clients dial (DROVER_SCHEDULER_ADDR, --addr)." },
      }),
    },
    {
      path: "deploy/config/agent.env.example",
      text: envExample(AGENT_OPTIONS, AGENT_ENV_HEADER, {
        DROVER_AGENT_ADVERTISE: { value: "10.0.0.11:7401", why: "REQUIRED on multi-host clusters: this host's address as the scheduler reaches it." },
        DROVER_SCHEDULER_ADDR: { value: "10.0.0.1:7400", why: "the scheduler's host; with several replicas, a VIP, load balancer or DNS name." },
        DROVER_AGENT_METRICS: { value: "0.0.0.0:9401", why: "enabled for deploy/prometheus." },
        DROVER_CA_FILE: { value: "/etc/drover/ca.pem", why: "the cluster CA certificate copied from a scheduler host (ca.pem only, never ca-key.pem)." },
      }),
    },
  ];
}
