import { describe, expect, it } from "vitest";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { CreateVmsRequest, VmSpec } from "@drover/proto";
import { ValidationError } from "../errors.js";
import { checkWire, requestMessage } from "./wire-check.js";

// Hand-encoded requests, since the generated encoders cannot write what a foreign client can:
// 64-bit values above 2^53, strings that are not UTF-8.
const bytesOf = (build: (w: BinaryWriter) => void) => {
  const w = new BinaryWriter();
  build(w);
  return w.finish();
};
const LEN = WireType.LengthDelimited;
const VARINT = WireType.Varint;
const spec = (extra: (w: BinaryWriter) => void = () => {}) =>
  bytesOf((w) => {
    w.tag(1, LEN).string("web");
    w.tag(2, VARINT).uint32(1);
    w.tag(3, VARINT).uint64(512n);
    extra(w);
  });
const create = (template: Uint8Array, extra: (w: BinaryWriter) => void = () => {}) =>
  bytesOf((w) => {
    w.tag(1, LEN).bytes(template);
    extra(w);
  });
const label = (key: Uint8Array, value: Uint8Array) => (w: BinaryWriter) =>
  w.tag(8, LEN).bytes(bytesOf((e) => e.tag(1, LEN).bytes(key).tag(2, LEN).bytes(value)));
const utf8 = (s: string) => new TextEncoder().encode(s);
const NOT_UTF8 = Uint8Array.of(0x77, 0xff, 0x62); // "w", a lone 0xff, "b"

const CREATE = "/drover.v1.VmService/CreateVms";
const BAD: [string, string, Uint8Array, string][] = [
  ["memory_mib above 2^53", CREATE, create(spec((w) => w.tag(3, VARINT).uint64(2n ** 53n + 1n))), "template.memory_mib: must be at most 9007199254740991 in magnitude, got 9007199254740993"],
  ["disk_gib of 2^64 - 1", CREATE, create(spec((w) => w.tag(4, VARINT).uint64(2n ** 64n - 1n))), "template.disk_gib: must be at most 9007199254740991 in magnitude, got 18446744073709551615"],
  [
    "disk_gib in the second group",
    CREATE,
    bytesOf((w) => {
      w.tag(6, LEN).bytes(bytesOf((g) => g.tag(1, LEN).bytes(spec())));
      w.tag(6, LEN).bytes(bytesOf((g) => g.tag(1, LEN).bytes(spec((s) => s.tag(4, VARINT).uint64(2n ** 60n)))));
    }),
    "groups[1].template.disk_gib: must be at most 9007199254740991 in magnitude, got 1152921504606846976",
  ],
  ["after_id above 2^53", "/drover.v1.VmService/WatchEvents", bytesOf((w) => w.tag(1, VARINT).uint64(2n ** 63n)), "after_id: must be at most 9007199254740991 in magnitude, got 9223372036854775808"],
  ["user_data that is not UTF-8", CREATE, create(spec((w) => w.tag(6, LEN).bytes(NOT_UTF8))), "template.user_data: must be valid UTF-8 (protobuf strings are UTF-8)"],
  ["a NUL in user_data", CREATE, create(spec((w) => w.tag(6, LEN).string("#cloud-config\0"))), "template.user_data: must not contain NUL (\\0) characters"],
  ["a NUL in subject_prefix", "/drover.v1.VmService/WatchEvents", bytesOf((w) => w.tag(3, LEN).string("drover.\0")), "subject_prefix: must not contain NUL (\\0) characters"],
  ["a label value that is not UTF-8", CREATE, create(spec(label(utf8("k"), NOT_UTF8))), "template.labels value: must be valid UTF-8 (protobuf strings are UTF-8)"],
  ["a label key that is not UTF-8", CREATE, create(spec(label(NOT_UTF8, utf8("v")))), "template.labels key: must be valid UTF-8 (protobuf strings are UTF-8)"],
  ["an idempotency key that is not UTF-8", CREATE, create(spec(), (w) => w.tag(5, LEN).bytes(NOT_UTF8)), "idempotency_key: must be valid UTF-8 (protobuf strings are UTF-8)"],
  ["a node name that is not UTF-8", "/drover.v1.NodeRegistryService/RegisterNode", bytesOf((w) => w.tag(1, LEN).bytes(NOT_UTF8)), "name: must be valid UTF-8 (protobuf strings are UTF-8)"],
  ["a length running past the end", CREATE, Uint8Array.of(0x0a, 0x50, 0x01), "request: is not a valid drover.v1.CreateVmsRequest message"],
];

describe("checkWire, before the generated decoders", () => {
  it.each(BAD)("refuses %s, naming the field", (_what, path, bytes, message) => {
    const check = () => checkWire(requestMessage(path), bytes);
    expect(check).toThrow(ValidationError);
    expect(check).toThrow(message.startsWith("request:") ? new RegExp(`^${message.replace(/\./g, "\\.")}`) : message);
  });

  it("passes what the generated encoder writes, unknown fields included, and the decoder reads it as sent", () => {
    const req = CreateVmsRequest.fromPartial({
      template: VmSpec.fromPartial({ name: "web", vcpus: 2, memoryMib: 2 ** 53 - 1, diskGib: 10, userData: "héllo ✓", labels: { zone: "a", "é": "ü" } }),
      count: 3,
      idempotencyKey: "k",
    });
    const bytes = bytesOf((w) => {
      w.raw(CreateVmsRequest.encode(req).finish());
      w.tag(99, LEN).bytes(NOT_UTF8); // a field this version does not know is skipped, as protobuf says
    });
    expect(() => checkWire(requestMessage(CREATE), bytes)).not.toThrow();
    expect(CreateVmsRequest.decode(bytes)).toEqual(req);
  });

  it("knows every method of the scheduler's services", () => {
    expect(requestMessage("/drover.v1.NodeService/UpdateNode").typeName).toBe("drover.v1.UpdateNodeRequest");
    expect(() => requestMessage("/drover.v1.VmService/Nope")).toThrow(/no method/);
  });
});
