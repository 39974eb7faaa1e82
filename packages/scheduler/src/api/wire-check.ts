// What the generated decoders cannot say about a request's bytes, checked
// before them and answered as INVALID_ARGUMENT naming the field:
// - a 64-bit integer above 2^53 − 1 (ts-proto's forceLong=number decoder
//   throws, and grpc-js answered INTERNAL "Error deserializing request");
// - a string that is not valid UTF-8 (the decoder silently put U+FFFD in), or
//   holds NUL (no Postgres text can, and no Drover field means it);
// - bytes that are no protobuf message at all.
// The walk follows the descriptor set the reflection service serves, so a
// new field needs nothing here.
import { readFileSync } from "node:fs";
import { createFileRegistry, fromBinary, ScalarType, type DescField, type DescMessage, type Registry } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { descriptorSetPath } from "@drover/proto";
import { ValidationError } from "../errors.js";

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const SIXTY_FOUR = new Set([ScalarType.UINT64, ScalarType.INT64, ScalarType.SINT64, ScalarType.FIXED64, ScalarType.SFIXED64]);
const utf8 = new TextDecoder("utf-8", { fatal: true });

let registry: Registry | undefined;
const loadRegistry = () => (registry ??= createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(descriptorSetPath))));

/** The request message of a method path like "/drover.v1.VmService/CreateVms". */
export function requestMessage(path: string): DescMessage {
  const [, service, method] = /^\/([^/]+)\/([^/]+)$/.exec(path) ?? [];
  const m = loadRegistry().getService(service ?? "")?.methods.find((x) => x.name === method);
  if (!m) throw new Error(`no method ${path} in the descriptor set`);
  return m.input;
}

/** Throws ValidationError naming the first field the generated decoder would get wrong. */
export function checkWire(message: DescMessage, bytes: Uint8Array): void {
  const reader = new BinaryReader(bytes);
  try {
    walk(message, reader, bytes.length, "");
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    throw new ValidationError("request", `is not a valid ${message.typeName} message (${(err as Error).message})`);
  }
}

function walk(message: DescMessage, reader: BinaryReader, end: number, prefix: string): void {
  const seen = new Map<number, number>();
  while (reader.pos < end) {
    const [no, wireType] = reader.tag();
    const field = message.fields.find((f) => f.number === no);
    if (!field) {
      reader.skip(wireType, no);
      continue;
    }
    const index = seen.get(no) ?? 0;
    seen.set(no, index + 1);
    const name = prefix + field.name + (field.fieldKind === "list" ? `[${index}]` : "");
    checkField(field, wireType, reader, name);
  }
}

function checkField(field: DescField, wireType: WireType, reader: BinaryReader, name: string): void {
  if (field.fieldKind === "map") return checkMapEntry(field, reader, name);
  const scalar = field.fieldKind === "scalar" || (field.fieldKind === "list" && field.listKind === "scalar") ? field.scalar : undefined;
  const message = field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message") ? field.message : undefined;
  if (message && wireType === WireType.LengthDelimited) {
    const len = reader.uint32();
    return walk(message, reader, reader.pos + len, `${name}.`);
  }
  if (scalar === ScalarType.STRING && wireType === WireType.LengthDelimited) return checkString(reader.bytes(), name);
  if (scalar !== undefined && SIXTY_FOUR.has(scalar)) return check64(scalar, wireType, reader, name);
  reader.skip(wireType);
}

function checkString(bytes: Uint8Array, name: string): void {
  if (bytes.includes(0)) throw new ValidationError(name, "must not contain NUL (\\0) characters");
  try {
    utf8.decode(bytes);
  } catch {
    throw new ValidationError(name, "must be valid UTF-8 (protobuf strings are UTF-8)");
  }
}

function check64(scalar: ScalarType, wireType: WireType, reader: BinaryReader, name: string): void {
  const read = (): bigint => {
    switch (scalar) {
      case ScalarType.UINT64:
        return BigInt(reader.uint64());
      case ScalarType.INT64:
        return BigInt(reader.int64());
      case ScalarType.SINT64:
        return BigInt(reader.sint64());
      case ScalarType.FIXED64:
        return BigInt(reader.fixed64());
      default:
        return BigInt(reader.sfixed64());
    }
  };
  // A packed repeated field holds several values in one length-delimited run.
  const end = wireType === WireType.LengthDelimited ? reader.uint32() + reader.pos : -1;
  do {
    const v = read();
    if (v > SAFE || v < -SAFE) throw new ValidationError(name, `must be at most ${Number.MAX_SAFE_INTEGER} in magnitude, got ${v}`);
  } while (reader.pos < end);
}

/** A map entry is a message of key (1) and value (2); only string keys and values can be wrong here. */
function checkMapEntry(field: DescField & { fieldKind: "map" }, reader: BinaryReader, name: string): void {
  const end = reader.uint32() + reader.pos;
  while (reader.pos < end) {
    const [no, wireType] = reader.tag();
    if (no === 1 && field.mapKey === ScalarType.STRING && wireType === WireType.LengthDelimited) checkString(reader.bytes(), `${name} key`);
    else if (no === 2 && field.mapKind === "scalar" && field.scalar === ScalarType.STRING && wireType === WireType.LengthDelimited) {
      checkString(reader.bytes(), `${name} value`);
    } else if (no === 2 && field.mapKind === "message" && wireType === WireType.LengthDelimited) {
      const len = reader.uint32();
      walk(field.message, reader, reader.pos + len, `${name}.`);
    } else reader.skip(wireType);
  }
}
