// Runs a generated dashboard's queries the way Grafana would: variable queries first (their results become
// the "All" options), then every annotation and panel target, each over the dashboard's time range or
// the panel's relative time (`timeFrom`), with the datasource macros expanded.
import type { ClickHouseClient } from '@clickhouse/client';
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { qualifyTables } from './alerts.js';
import { defaultIntervalMs, expandQuery, type VariableValue } from './macros.js';

export interface DashboardQuery {
  source: 'panel' | 'variable' | 'annotation';
  /** Panel title / variable name / annotation name. */
  title: string;
  panelType?: string;
  refId: string;
  rawSql: string;
  format?: number;
  /** Panel relative time, e.g. '15m'. */
  timeFrom?: string;
}

interface RawTarget {
  refId?: string;
  rawSql?: string;
  format?: number;
}

export function collectQueries(d: dashboard.Dashboard): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const v of d.templating?.list ?? []) {
    const q = (v as { query?: unknown }).query;
    if (v.type === 'query' && q && typeof q === 'object' && 'rawSql' in q) {
      out.push({
        source: 'variable',
        title: v.name,
        refId: v.name,
        rawSql: String((q as RawTarget).rawSql),
        format: (q as RawTarget).format,
      });
    }
  }
  for (const a of d.annotations?.list ?? []) {
    const t = a.target as RawTarget | undefined;
    if (t?.rawSql)
      out.push({
        source: 'annotation',
        title: a.name,
        refId: t.refId ?? 'Anno',
        rawSql: t.rawSql,
        format: t.format,
      });
  }
  for (const p of (d.panels ?? []) as dashboard.Panel[]) {
    for (const t of (p.targets ?? []) as RawTarget[]) {
      if (!t.rawSql) continue;
      out.push({
        source: 'panel',
        title: p.title ?? '',
        panelType: p.type,
        refId: t.refId ?? 'A',
        rawSql: t.rawSql,
        format: t.format,
        timeFrom: p.timeFrom,
      });
    }
  }
  return out;
}

const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  M: 2_592_000_000,
  y: 31_536_000_000,
};

/** Milliseconds of a Grafana relative time: '15m', 'now-6h', '7d'. */
export function relativeMs(s: string): number {
  const m = /^(?:now-)?(\d+)([smhdwMy])$/.exec(s.trim());
  if (!m) throw new Error(`unsupported relative time ${JSON.stringify(s)}`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

export interface QueryResult extends DashboardQuery {
  sql: string;
  from: number;
  to: number;
  columns: Array<{ name: string; type: string }>;
  rows: Array<Record<string, unknown>>;
  ms: number;
  error?: string;
}

export interface RunOptions {
  client: ClickHouseClient;
  /** Dashboard time range end (default now) and start (default: the dashboard's `time.from`). */
  to?: number;
  from?: number;
  /** Variable overrides; others: All (multi), the default value (single), '' (text box). */
  variables?: Record<string, VariableValue>;
  database?: string;
  /** Throw on the first failing query (default false: the error is reported in the result). */
  throwOnError?: boolean;
}

export async function runDashboard(d: dashboard.Dashboard, o: RunOptions): Promise<QueryResult[]> {
  const to = o.to ?? Date.now();
  const from = o.from ?? to - relativeMs(d.time?.from ?? 'now-6h');
  const vars: Record<string, VariableValue> = {};
  const results: QueryResult[] = [];
  const exec = async (q: DashboardQuery, range: { from: number; to: number }): Promise<QueryResult> => {
    let sql = expandQuery(q.rawSql, {
      ...range,
      intervalMs: defaultIntervalMs(range.from, range.to),
      variables: vars,
    });
    if (o.database) sql = qualifyTables(sql, o.database);
    const started = performance.now();
    try {
      const rs = await o.client.query({ query: sql, format: 'JSON' });
      const body = (await rs.json()) as {
        meta: Array<{ name: string; type: string }>;
        data: Array<Record<string, unknown>>;
      };
      return { ...q, sql, ...range, columns: body.meta, rows: body.data, ms: performance.now() - started };
    } catch (e) {
      if (o.throwOnError)
        throw new Error(`${q.source} "${q.title}" (${q.refId}) failed: ${(e as Error).message}\n${sql}`);
      return {
        ...q,
        sql,
        ...range,
        columns: [],
        rows: [],
        ms: performance.now() - started,
        error: (e as Error).message,
      };
    }
  };
  const queries = collectQueries(d);
  // variables: defaults first, then query variables resolve their options
  for (const v of d.templating?.list ?? []) {
    const cur = (v.current?.value ?? '') as string | string[];
    vars[v.name] = cur === '$__all' ? { all: [] } : cur;
  }
  for (const q of queries.filter((x) => x.source === 'variable')) {
    const r = await exec(q, { from, to });
    results.push(r);
    const options = r.rows.map((row) => String(Object.values(row)[0]));
    const cur = vars[q.title];
    if (typeof cur === 'object' && !Array.isArray(cur)) vars[q.title] = { all: options };
    else if (cur === '' && options.length) vars[q.title] = options[0]!;
  }
  for (const [k, v] of Object.entries(o.variables ?? {})) vars[k] = v;
  for (const q of queries.filter((x) => x.source !== 'variable')) {
    const range = q.timeFrom ? { from: to - relativeMs(q.timeFrom), to } : { from, to };
    results.push(await exec(q, range));
  }
  return results;
}
