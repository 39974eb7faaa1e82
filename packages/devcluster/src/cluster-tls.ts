// The devcluster's identities, made fresh on each start: a cluster CA, one join token per
// agent (bound to its name), and the CLI's config file pointing at the CA. Nothing to do by hand.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createClusterCa, createJoinToken, type RunningScheduler } from "@drover/scheduler";

export interface DevclusterTls {
  /** DROVER_TLS_DIR of the scheduler. */
  caDir: string;
  caFile: string;
  /** Where agent `name` keeps its key and certificate. */
  agentTlsDir(name: string): string;
  joinToken(scheduler: RunningScheduler, name: string): Promise<string>;
}

/** A fresh CA in a new temp dir, or the one in `existingCaDir` (DROVER_TLS_DIR). */
export async function devclusterTls(existingCaDir?: string): Promise<DevclusterTls> {
  const root = mkdtempSync(join(tmpdir(), "drover-devcluster-tls-"));
  const caDir = existingCaDir ?? join(root, "ca");
  if (!existingCaDir) await createClusterCa(caDir);
  return {
    caDir,
    caFile: join(caDir, "ca.pem"),
    agentTlsDir: (name) => join(root, "nodes", name),
    joinToken: async (scheduler, name) => (await createJoinToken(scheduler.sql, { nodeName: name, ttlMs: 10 * 60_000 })).token,
  };
}

/** Marks a config file as the devcluster's, so a later run may replace it and never a user's own. */
const MARK = "written by npm run cluster; replaced on its next start";

/**
 * Writes the CLI's config file ($DROVER_CONFIG, else ~/.config/drover/config.json) with the
 * address, CA and admin token (mode 0600), unless a file there is not ours. Returns where it wrote, or undefined.
 */
export function writeCliConfig(addr: string, caFile: string, token: string, env: Record<string, string | undefined> = process.env): string | undefined {
  const path = env.DROVER_CONFIG || join(env.HOME || homedir(), ".config", "drover", "config.json");
  if (existsSync(path)) {
    let ours: boolean;
    try {
      ours = (JSON.parse(readFileSync(path, "utf8")) as { comment?: string }).comment === MARK;
    } catch {
      ours = false;
    }
    if (!ours) return undefined;
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify({ comment: MARK, addr, caFile, token }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600); // an older file of ours may have been 0644
  return path;
}
