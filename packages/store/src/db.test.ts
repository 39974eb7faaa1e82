import { describe, expect, it } from "vitest";
import { connect, unixSocket } from "./index.js";
import { TEST_SERVER_URL } from "./testing.js";

describe("database URLs", () => {
  it("reads libpq's host=/dir as a Unix-socket path and leaves TCP URLs alone", () => {
    expect(unixSocket("postgres://drover@db.example:6432/drover?sslmode=disable")).toEqual({
      url: "postgres://drover@db.example:6432/drover?sslmode=disable",
    });
    expect(unixSocket("postgres://drover@localhost/drover?host=/var/run/postgresql/")).toEqual({
      url: "postgres://drover@localhost/drover",
      path: "/var/run/postgresql/.s.PGSQL.5432",
    });
    expect(unixSocket("postgres://drover@localhost:6432/drover?host=%2Frun%2Fpg&application_name=x").path).toBe("/run/pg/.s.PGSQL.6432");
  });

  it("connects to the local Postgres through its Unix socket", async () => {
    const url = new URL(TEST_SERVER_URL);
    url.searchParams.set("host", process.env.DROVER_TEST_SOCKET_DIR ?? "/var/run/postgresql");
    const sql = connect(url.toString(), { max: 1 });
    try {
      // inet_server_addr() is NULL on a Unix-socket connection, an address over TCP.
      const [row] = await sql<{ addr: string | null }[]>`SELECT inet_server_addr()::text AS addr`;
      expect(row!.addr).toBeNull();
    } finally {
      await sql.end();
    }
  });
});
