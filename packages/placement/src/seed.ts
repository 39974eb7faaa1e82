// Deterministic tie-break. Equal scores must break the same way when a decision is replayed,
// so nothing here reads Math.random or the clock.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** 32-bit FNV-1a over UTF-16 code units; `h` continues a previous hash. */
export function fnv1a(s: string, h: number = FNV_OFFSET): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/** Hash of `seed + vm key`, computed once per VM. The NUL separator keeps ("ab","c") apart from ("a","bc"). */
export function vmHash(seed: string, vmKey: string): number {
  return fnv1a(vmKey, fnv1a("\0", fnv1a(seed)));
}

/**
 * Tie-break rank of a node for a VM: a mix of the per-VM hash and the node name's hash (hashed once
 * per batch), so the hot loop hashes no strings. murmur3's finalizer spreads the bits.
 */
export function tieBreak(vmH: number, nodeH: number): number {
  let h = (vmH ^ Math.imul(nodeH, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
