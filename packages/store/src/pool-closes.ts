// A pool's connection closes, for transaction(): postgres.js 3.4.9 forgets a reserve() request
// waiting in the pool's queue when a connection closes (index.js onclose connects the closed
// connection again with the first queued request as its initial one, and connection.js drops an
// initial reserve request once it fetches types), so that reserve() never settles.
const waiters = new WeakMap<object, Set<() => void>>();

/** The `onclose` option of a pool, and attach(), which ties it to the pool once made. */
export function closeWatch(): { onclose: () => void; attach: (pool: object) => void } {
  const waiting = new Set<() => void>();
  return {
    onclose: () => {
      for (const wake of [...waiting]) wake();
    },
    attach: (pool) => waiters.set(pool, waiting),
  };
}

/** Settles at the pool's next connection close (never for a pool connect() did not make); cancel() forgets it. */
export function nextClose(pool: object): { closed: Promise<void>; cancel(): void } {
  const waiting = waiters.get(pool);
  let wake = () => {};
  const closed = new Promise<void>((resolve) => (wake = resolve));
  waiting?.add(wake);
  return { closed, cancel: () => waiting?.delete(wake) };
}
