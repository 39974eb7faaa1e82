// A histogram with one label (its stages fixed up front) whose observe() is a few array writes.
// prom-client's Histogram hashes the label object and looks its child up on every observe: ~0.9 µs,
// twice a beat at 5,000 streamed beats a second (docs/benchmarks.md). This one counts into a
// preallocated array per stage and is turned into the same exposition (_bucket with le, _sum,
// _count) only when Prometheus scrapes it.
import type { Registry } from "prom-client";

/** One exposed sample, as prom-client's metrics give them to their registry. */
interface Sample {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

export class StageHistogram<Stage extends string> {
  readonly type = "histogram";
  readonly aggregator = "sum" as const;
  /** Per stage: the count of observations at most each bucket's bound (not cumulative), then those above every bound. */
  private readonly counts: Map<Stage, Float64Array>;
  private readonly sums: Map<Stage, { sum: number; count: number }>;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly stages: readonly Stage[],
    private readonly buckets: readonly number[],
    registry?: Registry,
  ) {
    if (buckets.some((b, i) => i > 0 && b <= buckets[i - 1]!)) throw new Error(`${name}: buckets must increase`);
    this.counts = new Map(stages.map((s) => [s, new Float64Array(buckets.length + 1)]));
    this.sums = new Map(stages.map((s) => [s, { sum: 0, count: 0 }]));
    // prom-client takes any object with its metrics' get() and reset() (its types name only its own classes).
    registry?.registerMetric(this as never);
  }

  /** One observation of `value` (seconds) at `stage`. */
  observe(stage: Stage, value: number): void {
    const counts = this.counts.get(stage)!;
    const b = this.buckets;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    counts[i]!++;
    const s = this.sums.get(stage)!;
    s.sum += value;
    s.count++;
  }

  /** What prom-client's Histogram#get() gives: cumulative buckets (le, +Inf last), _sum and _count per stage. */
  get(): Promise<{ name: string; help: string; type: "histogram"; aggregator: "sum"; values: Sample[] }> {
    const values: Sample[] = [];
    for (const stage of this.stages) {
      const counts = this.counts.get(stage)!;
      const { sum, count } = this.sums.get(stage)!;
      if (count === 0) continue; // as prom-client: a label set never observed is not exposed
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le, stage }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: "+Inf", stage }, value: count });
      values.push({ metricName: `${this.name}_sum`, labels: { stage }, value: sum });
      values.push({ metricName: `${this.name}_count`, labels: { stage }, value: count });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    for (const c of this.counts.values()) c.fill(0);
    for (const s of this.sums.values()) {
      s.sum = 0;
      s.count = 0;
    }
  }
}
