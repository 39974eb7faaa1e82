// README's API section against the code: its services table lists exactly the services and
// RPCs of proto/drover/v1, and its Errors paragraph names every code grpc-status.ts returns.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/config-docs/generate.js";
import { documentedRpcs, documentedErrorCodes, protoRpcs, statusCodesIn } from "./api-docs.js";

const readme = readFileSync(`${ROOT}README.md`, "utf8");
const protoDir = `${ROOT}proto/drover/v1/`;
const protos = readdirSync(protoDir)
  .filter((f) => f.endsWith(".proto"))
  .map((f) => readFileSync(protoDir + f, "utf8"));

describe("README API section", () => {
  it("lists each service of proto/drover/v1 with exactly its RPCs", () => {
    expect(documentedRpcs(readme)).toEqual(protoRpcs(protos));
  });

  it("names every status code the scheduler's grpc-status.ts chooses", () => {
    const codes = statusCodesIn(readFileSync(`${ROOT}packages/scheduler/src/api/grpc-status.ts`, "utf8"));
    expect(codes.length).toBeGreaterThan(5);
    const documented = documentedErrorCodes(readme);
    expect(codes.filter((c) => !documented.has(c))).toEqual([]);
  });

  it("reads services and RPCs from proto text and from a README table", () => {
    const proto = "service AService {\n  rpc One(A) returns (B);\n  // rpc Gone(A) returns (B);\n  rpc Two(stream A) returns (stream B);\n}\n";
    expect(protoRpcs([proto])).toEqual({ "drover.v1.AService": ["One", "Two"] });
    const table = "| service | RPCs |\n|---|---|\n| `drover.v1.AService` | `One` (note `Spec.field`), `Two` |\n";
    expect(documentedRpcs(table)).toEqual({ "drover.v1.AService": ["One", "Two"] });
  });
});
