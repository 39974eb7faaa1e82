import { randomBytes } from "node:crypto";
import { connect } from "./db.js";

/** The server the test suites use; every suite gets a database of its own on it. */
export const TEST_SERVER_URL = process.env.DROVER_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** Creates an empty database for one test suite; drop() removes it. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `drover_test_${randomBytes(6).toString("hex")}`;
  const admin = connect(TEST_SERVER_URL, { max: 1 });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(TEST_SERVER_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const a = connect(TEST_SERVER_URL, { max: 1 });
      await a.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}
