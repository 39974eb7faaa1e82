import { describe, expect, it } from "vitest";
import { strayDestroyer } from "./stray-destroyer.js";

describe("strayDestroyer", () => {
  it("logs and skips a stray named after it closed (grpc-js threw 'Channel has been shut down', an unhandled rejection)", () => {
    const logs: string[] = [];
    const strays = strayDestroyer({ identity: undefined, log: (m) => logs.push(m) }, "127.0.0.1:1");
    strays.close();
    expect(() => strays.destroy("0b5e7c1a-0000-4000-8000-000000000001")).not.toThrow();
    expect(logs).toEqual(["stray domain 0b5e7c1a-0000-4000-8000-000000000001: not destroyed, the agent is stopping"]);
  });
});
