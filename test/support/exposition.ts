// Reads Prometheus text exposition: the family of every sample and its type.

const SUFFIXES: Record<string, readonly string[]> = {
  counter: ["_total", "_created", ""],
  histogram: ["_bucket", "_sum", "_count", "_created"],
  summary: ["_sum", "_count", "_created", ""],
};

/** Metric family name → type ("untyped" for samples no # TYPE line covers). */
export function metricTypes(text: string): Map<string, string> {
  const types = new Map<string, string>();
  const lines = text.split("\n");
  for (const line of lines) {
    const m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (m) types.set(m[1]!, m[2]!);
  }
  const covered = (sample: string) =>
    [...types].some(([family, type]) => (SUFFIXES[type] ?? [""]).some((s) => sample === family + s));
  for (const line of lines) {
    if (!line || line.startsWith("#")) continue;
    const sample = /^[^{\s]+/.exec(line)![0];
    if (!covered(sample)) types.set(sample, "untyped");
  }
  return types;
}
