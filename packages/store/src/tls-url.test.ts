import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "./db.js";
import { createTestDatabase } from "./testing.js";
import { DatabaseTlsError, tlsFromUrl } from "./tls-url.js";

describe("TLS parameters of DROVER_DATABASE_URL", () => {
  const dir = mkdtempSync(join(tmpdir(), "drover-pg-tls-"));
  const ca = join(dir, "ca.pem");
  writeFileSync(ca, "-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("verify-full: the root certificate is trusted and the host name checked; the file parameters leave the URL", () => {
    const { url, ssl } = tlsFromUrl(`postgres://u@db.example:5432/drover?sslmode=verify-full&sslrootcert=${ca}&application_name=x`);
    expect(url).toBe("postgres://u@db.example:5432/drover?application_name=x");
    expect(ssl).toMatchObject({ rejectUnauthorized: true, servername: "db.example" });
    expect(typeof ssl === "object" && ssl && String(ssl.ca)).toContain("not checked here");
    expect(typeof ssl === "object" && ssl && ssl.checkServerIdentity).toBeUndefined();
  });

  it("verify-ca and require with a root certificate check the chain only, as libpq does", () => {
    for (const mode of ["verify-ca", "require"]) {
      const { ssl } = tlsFromUrl(`postgres://db/drover?sslmode=${mode}&sslrootcert=${ca}`);
      expect(typeof ssl === "object" && ssl && ssl.checkServerIdentity?.("db", {} as never)).toBeUndefined();
      expect(ssl).toMatchObject({ rejectUnauthorized: true });
    }
  });

  it("leaves a URL without certificate files to postgres.js, and names a file it cannot read", () => {
    expect(tlsFromUrl("postgres://db/drover?sslmode=require")).toEqual({ url: "postgres://db/drover?sslmode=require", ssl: undefined });
    expect(() => tlsFromUrl("postgres://db/drover?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")).toThrow(DatabaseTlsError);
    expect(() => tlsFromUrl("postgres://db/drover?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")).toThrow(/sslrootcert=\/nonexistent\/ca.pem/);
  });

  it("asks a real Postgres for TLS: this server has none, so the connection is refused rather than made in plain text", async () => {
    const db = await createTestDatabase();
    try {
      const plain = connect(db.url, { max: 1 });
      expect(await plain`SELECT 1 AS one`).toEqual([{ one: 1 }]);
      await plain.end();
      const u = new URL(db.url);
      u.searchParams.set("sslmode", "verify-full");
      u.searchParams.set("sslrootcert", ca);
      const tls = connect(u.toString(), { max: 1 });
      await expect(tls`SELECT 1`).rejects.toThrow(/SSL|TLS/i);
      await tls.end();
    } finally {
      await db.drop();
    }
  });
});
