import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Sql } from "./db.js";
import { createTestDatabase } from "./testing.js";
import { MicrosDate, microsOf, parseTimestamptz } from "./timestamps.js";

describe("timestamps keep Postgres's microseconds", () => {
  it.each([
    ["2026-12-01 09:10:00.123456+00", "2026-12-01T09:10:00.123Z", 456],
    ["2026-12-01 09:10:00.1+00", "2026-12-01T09:10:00.100Z", 0],
    ["2026-12-01 09:10:00.000999+00", "2026-12-01T09:10:00.000Z", 999],
    ["2026-12-01 14:40:00.654321+05:30", "2026-12-01T09:10:00.654Z", 321],
    ["2026-12-01 09:10:00+00", "2026-12-01T09:10:00.000Z", 0],
  ])("parses %s", (text, iso, micros) => {
    const d = parseTimestamptz(text);
    expect(d).toBeInstanceOf(MicrosDate);
    expect(d.toISOString()).toBe(iso);
    expect(microsOf(d)).toBe(micros);
  });

  describe("on a real connection", () => {
    let db: Awaited<ReturnType<typeof createTestDatabase>>;
    let sql: Sql;
    beforeAll(async () => {
      db = await createTestDatabase();
      sql = connect(db.url, { max: 1 });
    });
    afterAll(async () => {
      await sql?.end();
      await db?.drop();
    });

    it("reads every timestamptz with its microseconds, whatever the session time zone", async () => {
      await sql`SET TIME ZONE 'America/St_Johns'`;
      const [row] = await sql<{ at: Date }[]>`SELECT '2026-12-01 09:10:00.987654+00'::timestamptz AS at`;
      expect(row!.at.toISOString()).toBe("2026-12-01T09:10:00.987Z");
      expect(microsOf(row!.at)).toBe(654);
    });
  });
});
