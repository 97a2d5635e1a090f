// Scoring a diagnosis against what was injected.

/** F1 of two sets of dimension=value pairs. */
export function culpritF1(
  predicted: Record<string, string> | undefined,
  expected: Record<string, string> | undefined,
): number {
  const p = Object.entries(predicted ?? {}).map(([k, v]) => `${k}=${v}`);
  const e = new Set(Object.entries(expected ?? {}).map(([k, v]) => `${k}=${v}`));
  if (p.length === 0 && e.size === 0) return 1;
  const hit = p.filter((x) => e.has(x)).length;
  if (hit === 0) return 0;
  const precision = hit / p.length;
  const recall = hit / e.size;
  return (2 * precision * recall) / (precision + recall);
}
