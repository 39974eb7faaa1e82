// The cluster this agent serves. It is learnt from the scheduler at the first RegisterNode (or
// pinned by configuration) and kept in the state dir, so a restarted agent still knows which
// domains are its own, and an agent pointed at another cluster's scheduler refuses to join it
// instead of adopting that cluster's view of this host.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

export const CLUSTER_ID_FILE = "cluster-id";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The scheduler's cluster is not the one this node belongs to. */
export class ClusterMismatchError extends Error {
  constructor(
    readonly ours: string,
    readonly theirs: string,
    where: string,
  ) {
    super(
      `this node belongs to cluster ${ours} but the scheduler serves cluster ${theirs}; refusing to join it. ` +
        `To move the node, delete its VMs, then remove ${where} (or set DROVER_CLUSTER_ID) and restart the agent`,
    );
    this.name = "ClusterMismatchError";
  }
}

export class ClusterIdentity {
  private current: string | undefined;

  /**
   * `file` is where the id is kept (undefined: memory only, for test:// hosts whose domains die
   * with the connection anyway); `pinned` comes from configuration and wins over the file.
   */
  constructor(
    private readonly file: string | undefined,
    pinned?: string,
  ) {
    this.current = pinned ? normalize(pinned, "DROVER_CLUSTER_ID") : file ? readId(file) : undefined;
  }

  static inStateDir(stateDir: string): string {
    return join(stateDir, CLUSTER_ID_FILE);
  }

  /** The cluster id, or undefined before the first registration. */
  get id(): string | undefined {
    return this.current;
  }

  /** Takes the scheduler's cluster id: kept when new, accepted when equal, refused when different. */
  adopt(theirs: string): void {
    const id = normalize(theirs, "the scheduler's cluster_id");
    if (this.current === id) return;
    if (this.current) throw new ClusterMismatchError(this.current, id, this.file ?? "DROVER_CLUSTER_ID");
    if (this.file) writeId(this.file, id);
    this.current = id;
  }
}

function normalize(id: string, what: string): string {
  const v = id.trim().toLowerCase();
  if (!UUID.test(v)) throw new Error(`${what} must be a UUID, got ${JSON.stringify(id.slice(0, 80))}`);
  return v;
}

function readId(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  return normalize(text, file);
}

// Written to a temporary name and renamed: a crash never leaves half an id behind.
function writeId(file: string, id: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o711 });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${id}\n`, { mode: 0o644 });
  renameSync(tmp, file);
}
