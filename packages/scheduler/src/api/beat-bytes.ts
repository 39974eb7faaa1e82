// A streamed beat's bytes split at its seq. An agent's beats differ, beat after beat, only in seq
// while its domains stay as they are: a beat whose bytes equal the last decoded one's but for the
// seq field carries the same report, and needs no decode, check or conversion again (those were
// most of the handler's allocations, at 5,000 beats a second).

/** A StreamHeartbeatsRequest laid out as encoders write it, cut at its beat's seq field. */
export interface SeqSplit {
  /** The seq it carries (0 when the field is absent, as protobuf reads it). */
  seq: number;
  /** The seq field's bytes (tag and varint) are [start, end); start = end when absent. */
  start: number;
  end: number;
}

const SEQ_TAG = (4 << 3) | 0; // HeartbeatRequest.seq: field 4, varint
const BEAT_TAG = (1 << 3) | 2; // StreamHeartbeatsRequest.beat: field 1, length-delimited

/**
 * The message's seq and where it sits (written into `into`, so a beat makes no object), or
 * undefined for any other layout (then it is decoded and checked in full): one field `beat`
 * filling the message, and in it one seq of at most 2^53.
 */
export function splitAtSeq(msg: Uint8Array, into: SeqSplit = { seq: 0, start: 0, end: 0 }): SeqSplit | undefined {
  if (msg[0] !== BEAT_TAG) return undefined;
  const length = varint(msg, 1);
  if (length < 0 || varintEnd + length !== msg.length) return undefined;
  let found = false;
  let pos = varintEnd;
  while (pos < msg.length) {
    const start = pos;
    const tag = varint(msg, pos);
    if (tag < 0) return undefined;
    pos = varintEnd;
    if (tag === SEQ_TAG) {
      const seq = varint(msg, pos);
      if (seq < 0 || found || seq > Number.MAX_SAFE_INTEGER) return undefined;
      pos = varintEnd;
      found = true;
      into.seq = seq;
      into.start = start;
      into.end = pos;
      continue;
    }
    pos = skip(msg, pos, tag & 7);
    if (pos < 0) return undefined;
  }
  if (!found) {
    into.seq = 0;
    into.start = into.end = msg.length;
  }
  return into;
}

/**
 * Whether `a` and `b` are the same bytes once each one's seq field is left out. A loop: a beat is
 * a couple of hundred bytes, and Buffer.compare with offsets (argument checks, a call into C++)
 * cost more than that, twice a beat.
 */
export function sameButSeq(a: Uint8Array, as: SeqSplit, b: Uint8Array, bs: SeqSplit): boolean {
  if (as.start !== bs.start || a.length - as.end !== b.length - bs.end) return false;
  for (let i = 0; i < as.start; i++) if (a[i] !== b[i]) return false;
  for (let i = as.end, j = bs.end; i < a.length; i++, j++) if (a[i] !== b[j]) return false;
  return true;
}

/** Where the last varint read ended (a module variable, not an object per varint: a dozen a beat). */
let varintEnd = 0;

/** A varint at `pos` (exact up to 2^53, larger ones only known to be larger), its end in varintEnd; -1 when truncated or over 10 bytes. */
function varint(buf: Uint8Array, pos: number): number {
  let value = 0;
  let scale = 1;
  for (let i = pos; i < buf.length && i < pos + 10; i++) {
    const b = buf[i]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      varintEnd = i + 1;
      return value;
    }
    scale *= 128;
  }
  return -1;
}

/** Past a field's value of this wire type; -1 for groups (no field of ours is one) and truncation. */
function skip(buf: Uint8Array, pos: number, wireType: number): number {
  switch (wireType) {
    case 0:
      return varint(buf, pos) < 0 ? -1 : varintEnd;
    case 1:
      return pos + 8 <= buf.length ? pos + 8 : -1;
    case 2: {
      const len = varint(buf, pos);
      return len >= 0 && varintEnd + len <= buf.length ? varintEnd + len : -1;
    }
    case 5:
      return pos + 4 <= buf.length ? pos + 4 : -1;
  }
  return -1;
}
