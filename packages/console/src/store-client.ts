// The console reads the store in-process: every query goes straight to the embedded chDB session
// (ChdbStore.query, with ClickHouse query parameters bound by the engine), not through the HTTP endpoint.
// `readOnlyClient` gives diagnose / the alert evaluator / the report the small part of @clickhouse/client
// they use (query → json), over the same session.
import type { ClickHouseClient } from '@clickhouse/client';
import type { ChdbStore } from '@mp-otel/store';

export type Params = Record<string, string | number | boolean | ReadonlyArray<string | number>>;

export interface QueryOutput {
  columns: Array<{ name: string; type: string }>;
  rows: Array<Record<string, unknown>>;
  ms: number;
}

/** A statement the console may run: a single read (SELECT / WITH), never anything else. */
const READ = /^\s*(?:\(\s*)*(?:SELECT|WITH)\b/i;

/**
 * True when `sql` is one statement: no `;` outside string literals, quoted identifiers and comments (chDB runs
 * every statement of a multi-statement text, and the readonly setting appended applies to the last one only).
 */
export function isSingleStatement(sql: string): boolean {
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i];
    if (ch === "'" || ch === '"' || ch === '`') {
      for (i++; i < sql.length && sql[i] !== ch; i++) if (sql[i] === '\\') i++;
      if (i >= sql.length) return false;
    } else if (ch === '-' && sql[i + 1] === '-') {
      while (i < sql.length && sql[i] !== '\n') i++;
    } else if (ch === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      if (end === -1) return false;
      i = end + 1;
    } else if (ch === ';') return false;
  }
  return true;
}

/**
 * A query-parameter value as chDB's binder takes it: the value itself (no escaping: the engine never parses
 * it as SQL), an array as a literal whose strings double their quotes.
 */
function paramText(v: Params[string]): string {
  if (Array.isArray(v))
    return `[${v.map((x) => (typeof x === 'number' ? String(x) : `'${String(x).replace(/'/g, "''")}'`)).join(',')}]`;
  return String(v);
}

export class StoreReader {
  constructor(
    readonly store: ChdbStore,
    readonly database: string,
  ) {}

  /**
   * Runs one read-only SELECT with bound parameters ({name:Type} in the SQL); readonly=1 for the query.
   * `unixTime`: DateTime columns as unix seconds (the browser formats them in its own time zone).
   */
  async select(sql: string, params: Params = {}, o: { unixTime?: boolean } = {}): Promise<QueryOutput> {
    const statement = sql.replace(/;\s*$/, '');
    if (!READ.test(statement) || !isSingleStatement(statement))
      throw new Error('the console runs single SELECT statements only');
    const text: Record<string, string> = {};
    for (const [k, v] of Object.entries(params)) text[k] = paramText(v);
    const started = performance.now();
    const settings = o.unixTime ? "readonly = 1, date_time_output_format = 'unix_timestamp'" : 'readonly = 1';
    const r = await this.store.query(
      `${statement}\nSETTINGS ${settings}`,
      'JSON',
      this.database,
      text,
      'read',
    );
    const body = JSON.parse(Buffer.from(r.bytes).toString('utf8') || '{"meta":[],"data":[]}') as {
      meta: Array<{ name: string; type: string }>;
      data: Array<Record<string, unknown>>;
    };
    return { columns: body.meta ?? [], rows: body.data ?? [], ms: performance.now() - started };
  }

  /** The subset of @clickhouse/client that @mp-otel/diagnose and @mp-otel/grafana's evaluator call. */
  client(): ClickHouseClient {
    const query = async (o: { query: string; format?: string; query_params?: Params }) => {
      const out = await this.select(o.query, o.query_params ?? {});
      const format = o.format ?? 'JSON';
      return {
        json: async () =>
          format === 'JSONEachRow' ? out.rows : { meta: out.columns, data: out.rows, rows: out.rows.length },
      };
    };
    return { query } as unknown as ClickHouseClient;
  }
}
