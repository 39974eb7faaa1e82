import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

export interface EmbeddedPostgres {
  /** postgres:// URL that postgres.js connects to; serves one session at a time. */
  url: string;
  stop(): Promise<void>;
}

/**
 * Runs Postgres in-process (PGlite, compiled to WebAssembly) and serves it on a
 * local TCP port, so the scheduler uses the same SQL and driver as with a real server.
 * dataDir keeps the data across restarts; omit it for an in-memory database.
 */
export async function startEmbeddedPostgres(options: { dataDir?: string; port?: number } = {}): Promise<EmbeddedPostgres> {
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const db = await PGlite.create(options.dataDir);
  const port = options.port ?? 0;
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port });
  await server.start();
  const conn = server.getServerConn();
  const bound = Number(conn.split(":").pop());
  return {
    url: `postgres://postgres@127.0.0.1:${bound}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
