// How the simulated fleets spread their nodes' beats over an interval: `slots` slots, one every
// periodMs / slots, each visiting its share of the nodes. Slots are counted by the clock, not by
// timer ticks: a tick that comes late (the fleet's one thread busy, or the machine loaded) runs
// every slot due since, so the fleet still beats at the rate asked, in bursts, as independent
// agents would. Counted by ticks, a busy fleet of 10,000 nodes sent under half its beats.

/** Calls `visit(slot)` for slots 0 … slots − 1 in turn, by the clock; returns the stop function. */
export function slotClock(slots: number, periodMs: number, visit: (slot: number) => void, now = () => performance.now()): () => void {
  const slotMs = periodMs / slots;
  const start = now();
  let done = 0;
  const timer = setInterval(() => {
    const due = Math.floor((now() - start) / slotMs);
    // More than a period behind: visit each slot once, not a flood of the backlog.
    if (due - done > slots) done = due - slots;
    while (done < due) visit(done++ % slots);
  }, slotMs);
  return () => clearInterval(timer);
}
