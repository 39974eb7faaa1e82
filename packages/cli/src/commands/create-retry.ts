// CreateVms is the one call whose retry could do harm (a second set of VMs),
// so every real create carries an idempotency key: the scheduler answers a
// repeat of a key with the first call's VMs. With the key, retrying after
// UNAVAILABLE or DEADLINE_EXCEEDED (the request may or may not have been
// committed) is safe, and the CLI does it.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import type { CreateVmsRequest, CreateVmsResponse } from "@drover/proto";
import { isServiceError, unary, type CallSettings, type UnaryMethod } from "../client.js";

/** Attempts in all, and the wait before each retry. */
export const CREATE_ATTEMPTS = 3;
const BACKOFF_MS = [250, 1000];
const RETRYABLE = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]);

/** The key a create is sent with: the user's, or a new random one (none for a dry run, which refuses keys). */
export function idempotencyKeyFor(given: string | undefined, dryRun: boolean): string {
  return dryRun ? (given ?? "") : given || randomUUID();
}

/**
 * Sends the create, retrying with the same key after UNAVAILABLE or DEADLINE_EXCEEDED. When
 * the last attempt fails so, `warn` says how to find out what was created without creating twice.
 */
export async function createWithRetries(
  method: UnaryMethod<CreateVmsRequest, CreateVmsResponse>,
  req: CreateVmsRequest,
  settings: CallSettings,
  warn: (message: string) => void,
): Promise<CreateVmsResponse> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await unary(method, req, settings);
    } catch (err) {
      const retryable = !req.dryRun && isServiceError(err) && RETRYABLE.has(err.code) && !settings.signal?.aborted;
      if (!retryable) throw err;
      if (attempt >= CREATE_ATTEMPTS) {
        warn(`the VMs may have been created; run the same command with --idempotency-key ${req.idempotencyKey} to get them without creating more\n`);
        throw err;
      }
      await sleep(BACKOFF_MS[attempt - 1] ?? 1000);
    }
  }
}
