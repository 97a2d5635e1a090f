// Dashboards: the Grafana JSON built from @mp-otel/grafana's definitions (the very objects the generator
// writes to grafana/dashboards/), their variable and panel queries expanded by the project's macro expander
// (the grafana-clickhouse-datasource pipeline, every variable value percent-encoded) and run in-process.
import type { Catalog } from '@mp-otel/contracts';
import {
  buildDashboards,
  defaultIntervalMs,
  expandQuery,
  relativeMs,
  type VariableValue,
} from '@mp-otel/grafana';
import { HttpError, parseRange } from './http-error.js';
import type { QueryOutput, StoreReader } from './store-client.js';

type Json = Record<string, unknown>;
export interface GrafanaDashboard extends Json {
  uid: string;
  title: string;
  description?: string;
  tags?: string[];
  time?: { from: string; to: string };
  panels?: GrafanaPanel[];
  templating?: { list: GrafanaVariable[] };
  annotations?: { list: Array<{ name: string; iconColor?: string; target?: { rawSql?: string } }> };
}
export interface GrafanaPanel extends Json {
  id: number;
  type: string;
  title: string;
  timeFrom?: string;
  targets?: Array<{ refId: string; rawSql: string; format?: number }>;
}
export interface GrafanaVariable extends Json {
  type: string;
  name: string;
  label?: string;
  multi?: boolean;
  includeAll?: boolean;
  current?: { value?: string | string[] };
  query?: { rawSql?: string };
}

export interface TargetResult extends QueryOutput {
  refId: string;
  error?: string;
}

/** Most values one variable may carry in a request, and their length (bounded cost). */
const MAX_VALUES = 64;
const MAX_VALUE_LENGTH = 512;

export class Dashboards {
  readonly list: GrafanaDashboard[];
  private readonly byUid: Map<string, GrafanaDashboard>;

  constructor(
    catalog: Catalog,
    private readonly reader: StoreReader,
  ) {
    this.list = buildDashboards(catalog) as unknown as GrafanaDashboard[];
    this.byUid = new Map(this.list.map((d) => [d.uid, d]));
  }

  get(uid: string): GrafanaDashboard {
    const d = this.byUid.get(uid);
    if (!d) throw new HttpError(404, `no dashboard ${JSON.stringify(uid.slice(0, 60))}`);
    return d;
  }

  /** The variables' values from a URL (`var-NAME`, repeated for several; `$__all` or absent = All). */
  variables(d: GrafanaDashboard, q: URLSearchParams): Record<string, VariableValue> {
    const out: Record<string, VariableValue> = {};
    for (const v of d.templating?.list ?? []) {
      const given = q.getAll(`var-${v.name}`);
      if (given.length > MAX_VALUES)
        throw new HttpError(400, `var-${v.name}: more than ${MAX_VALUES} values`);
      for (const x of given)
        if (x.length > MAX_VALUE_LENGTH)
          throw new HttpError(400, `var-${v.name}: a value longer than ${MAX_VALUE_LENGTH} characters`);
      const cur = v.current?.value ?? '';
      if (v.multi) {
        const chosen = given.filter((x) => x !== '$__all' && x !== '');
        out[v.name] = chosen.length ? chosen : cur === '$__all' || cur === '' ? { all: [] } : [String(cur)];
      } else {
        out[v.name] = given.length ? given[0]! : Array.isArray(cur) ? (cur[0] ?? '') : cur;
      }
    }
    return out;
  }

  private async run(sql: string, range: { from: number; to: number }, vars: Record<string, VariableValue>) {
    const expanded = expandQuery(sql, {
      ...range,
      intervalMs: defaultIntervalMs(range.from, range.to),
      variables: vars,
    });
    return this.reader.select(expanded, {}, { unixTime: true });
  }

  /** Options of each query variable over the range (the dropdowns). */
  async variableOptions(uid: string, q: URLSearchParams, now = Date.now()) {
    const d = this.get(uid);
    const range = parseRange(q, now, d.time?.from ?? 'now-6h');
    const out: Record<string, { options: string[]; error?: string }> = {};
    for (const v of d.templating?.list ?? []) {
      if (v.type !== 'query' || !v.query?.rawSql) continue;
      try {
        const r = await this.run(v.query.rawSql, range, {});
        out[v.name] = { options: r.rows.map((row) => String(Object.values(row)[0] ?? '')) };
      } catch (e) {
        out[v.name] = { options: [], error: (e as Error).message };
      }
    }
    return out;
  }

  /** Annotation events over the dashboard range (e.g. release markers): time (epoch ms) and text. */
  async annotations(uid: string, q: URLSearchParams, now = Date.now()) {
    const d = this.get(uid);
    const range = parseRange(q, now, d.time?.from ?? 'now-6h');
    const vars = this.variables(d, q);
    const out: Array<{
      name: string;
      color: string;
      events: Array<{ time_ms: number; text: string }>;
      error?: string;
    }> = [];
    for (const a of d.annotations?.list ?? []) {
      if (!a.target?.rawSql) continue;
      try {
        const r = await this.run(a.target.rawSql, range, vars);
        out.push({
          name: a.name,
          color: a.iconColor ?? '#73BF69',
          events: r.rows.map((row) => ({ time_ms: Number(row.time) * 1000, text: String(row.text ?? '') })),
        });
      } catch (e) {
        out.push({ name: a.name, color: a.iconColor ?? '#73BF69', events: [], error: (e as Error).message });
      }
    }
    return out;
  }

  /** Runs every target of one panel over the dashboard range, or the panel's relative time. */
  async panel(uid: string, panelId: number, q: URLSearchParams, now = Date.now()) {
    const d = this.get(uid);
    const p = (d.panels ?? []).find((x) => x.id === panelId);
    if (!p) throw new HttpError(404, `dashboard ${uid} has no panel ${panelId}`);
    const dash = parseRange(q, now, d.time?.from ?? 'now-6h');
    const range = p.timeFrom ? { from: dash.to - relativeMs(p.timeFrom), to: dash.to } : dash;
    const vars = this.variables(d, q);
    const targets: TargetResult[] = [];
    for (const t of p.targets ?? []) {
      try {
        targets.push({ refId: t.refId, ...(await this.run(t.rawSql, range, vars)) });
      } catch (e) {
        if (e instanceof HttpError) throw e;
        targets.push({ refId: t.refId, columns: [], rows: [], ms: 0, error: (e as Error).message });
      }
    }
    return { uid, id: p.id, type: p.type, from: range.from, to: range.to, targets };
  }
}
