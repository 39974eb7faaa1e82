// ListVms and ListNodes page tokens. ListVms': an opaque base64url JSON of the keyset cursor after the
// page's last VM, its creation time in exact microseconds (decimal text) and
// its id. Anything else, or a time outside 1970..9999, is refused as
// INVALID_ARGUMENT naming page_token, never passed to Postgres.
import type { VmCursor } from "@drover/store";
import { ValidationError } from "../errors.js";
import { isUuid } from "./validation.js";

/** 9999-12-31T23:59:59.999999Z in microseconds since the epoch. */
const MAX_MICROS = 253_402_300_799_999_999n;
const MICROS = /^(0|[1-9][0-9]{0,17})$/;
const NODE_NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,252})$/;

export function encodePageToken(cursor: VmCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdMicros, cursor.id])).toString("base64url");
}

export function decodePageToken(token: string): VmCursor {
  const invalid = new ValidationError("page_token", "is not a next_page_token returned by ListVms; start again with an empty page_token");
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString());
  } catch {
    throw invalid;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw invalid;
  const [micros, id] = parsed as unknown[];
  if (typeof micros !== "string" || !MICROS.test(micros) || BigInt(micros) > MAX_MICROS) throw invalid;
  if (typeof id !== "string" || !isUuid(id)) throw invalid;
  return { createdMicros: micros, id: id.toLowerCase() };
}

/** ListNodes pages by name, which is unique: the token is the last name of the page. */
export function encodeNodePageToken(afterName: string): string {
  return Buffer.from(JSON.stringify(["node", afterName])).toString("base64url");
}

export function decodeNodePageToken(token: string): string {
  const invalid = new ValidationError("page_token", "is not a next_page_token returned by ListNodes; start again with an empty page_token");
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, "base64url").toString());
  } catch {
    throw invalid;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2 || parsed[0] !== "node") throw invalid;
  const name: unknown = parsed[1];
  if (typeof name !== "string" || !NODE_NAME.test(name)) throw invalid;
  return name;
}
