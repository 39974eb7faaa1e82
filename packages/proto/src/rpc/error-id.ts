import { randomBytes } from "node:crypto";

/** A short random id that ties a client's INTERNAL status to one log line. */
export function newErrorId(): string {
  return randomBytes(6).toString("hex");
}
