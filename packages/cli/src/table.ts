/** Renders rows as a plain text table (for `mp-otel query`). */
export function formatTable(rows: Record<string, unknown>[], columns?: string[]): string {
  const cols = columns ?? (rows[0] ? Object.keys(rows[0]) : []);
  if (cols.length === 0) return '(no rows)\n';
  const cell = (v: unknown) =>
    v === null || v === undefined ? 'NULL' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  const data = rows.map((r) => cols.map((c) => cell(r[c])));
  const width = cols.map((c, i) => Math.max(c.length, ...data.map((d) => (d[i] as string).length)));
  const line = (vals: string[]) => `| ${vals.map((v, i) => v.padEnd(width[i] as number)).join(' | ')} |`;
  const out = [line(cols), `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...data.map(line)];
  return `${out.join('\n')}\n${rows.length} row${rows.length === 1 ? '' : 's'}\n`;
}
