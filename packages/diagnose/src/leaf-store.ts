// A leaf table read from ClickHouse (`mp-otel rca --table`): names travel as Identifier query parameters and
// values as typed parameters, never spliced into the SQL; the columns are checked against system.columns first.
import type { ClickHouseClient } from '@clickhouse/client';
import {
  LEAF_LIMITS,
  type LeafColumns,
  type LeafLimits,
  type LeafRow,
  type LeafTable,
  RcaInputError,
} from './leaf.js';
import { queryRows } from './query.js';

export interface LeafTableSource extends LeafColumns {
  client: ClickHouseClient;
  /** the default database when `table` is not qualified */
  database: string;
  /** table or database.table */
  table: string;
  /** rows up to this unix second (default: the newest) */
  at?: number;
  /** how far back to read, in seconds before `at` (default 3 hours) */
  historySeconds?: number;
  limits?: LeafLimits;
}

const NUMERIC = /^(Nullable\()?(U?Int\d+|Float\d+|Decimal.*)\)?$/;
const TIME = /^(Nullable\()?(DateTime(64)?(\(.*\))?|Date(32)?|U?Int\d+)\)?$/;

export async function readLeafTable(o: LeafTableSource): Promise<LeafTable> {
  const limits = o.limits ?? LEAF_LIMITS;
  const parts = o.table.split('.');
  if (parts.length > 2 || parts.some((p) => p === '' || p.length > 128))
    throw new RcaInputError(`--table "${o.table}": expected TABLE or DATABASE.TABLE`);
  const [db, tbl] = parts.length === 2 ? [parts[0]!, parts[1]!] : [o.database, parts[0]!];
  const columns = await queryRows<{ name: string; type: string }>(
    o.client,
    'SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {tbl:String} ORDER BY position',
    { db, tbl },
  );
  if (columns.length === 0) throw new RcaInputError(`no table ${db}.${tbl}`);
  const type = (name: string, what: string) => {
    const c = columns.find((x) => x.name === name);
    if (!c)
      throw new RcaInputError(
        `${what} column "${name}" is not in ${db}.${tbl} (${columns.map((x) => x.name).join(', ')})`,
      );
    return c.type;
  };
  if (!TIME.test(type(o.time, '--time')))
    throw new RcaInputError(`--time column "${o.time}" is not a time or an integer`);
  if (!NUMERIC.test(type(o.bad, '--bad'))) throw new RcaInputError(`--bad column "${o.bad}" is not numeric`);
  if (!NUMERIC.test(type(o.total, '--total')))
    throw new RcaInputError(`--total column "${o.total}" is not numeric`);
  const dims =
    o.dims ?? columns.map((c) => c.name).filter((n) => n !== o.time && n !== o.bad && n !== o.total);
  if (dims.length === 0) throw new RcaInputError('no dimension columns: the table needs at least one');
  if (dims.length + 3 > limits.maxColumns) throw new RcaInputError(`more than ${limits.maxColumns} columns`);
  for (const d of dims) type(d, 'dimension');
  const params: Record<string, unknown> = { db, tbl, time: o.time, bad: o.bad, total: o.total };
  dims.forEach((d, i) => {
    params[`d${i}`] = d;
  });
  const t = 'toUInt64(toUnixTimestamp(toDateTime({time:Identifier})))';
  const tNum =
    TIME.test(type(o.time, '--time')) && /Int/.test(type(o.time, '--time'))
      ? 'toUInt64({time:Identifier})'
      : t;
  const at =
    o.at ??
    Number(
      (
        await queryRows<{ t: number }>(
          o.client,
          `SELECT max(${tNum}) AS t FROM {db:Identifier}.{tbl:Identifier}`,
          params,
        )
      )[0]?.t ?? 0,
    );
  params.at = Math.floor(at);
  params.from = Math.max(0, Math.floor(at - (o.historySeconds ?? 3 * 3600)));
  params.limit = limits.maxRows + 1;
  const raw = await queryRows<Record<string, string | number>>(
    o.client,
    `SELECT ${tNum} AS t, ${dims.map((_, i) => `substring(toString({d${i}:Identifier}), 1, ${limits.maxValueLength}) AS d${i}`).join(', ')},
            sum(toFloat64({bad:Identifier})) AS bad, sum(toFloat64({total:Identifier})) AS total
       FROM {db:Identifier}.{tbl:Identifier}
      WHERE ${tNum} <= {at:UInt64} AND ${tNum} > {from:UInt64}
      GROUP BY ${['t', ...dims.map((_, i) => `d${i}`)].join(', ')}
      ORDER BY t
      LIMIT {limit:UInt64}`,
    params,
  );
  if (raw.length > limits.maxRows)
    throw new RcaInputError(
      `more than ${limits.maxRows} rows in the 3 hours before ${at}: pass --at or a smaller table`,
    );
  const rows: LeafRow[] = raw.map((r) => {
    const bad = Number(r.bad);
    const total = Number(r.total);
    if (!(bad >= 0 && total >= 0 && bad <= total))
      throw new RcaInputError(`at ${r.t}: ${o.bad} (${bad}) must be between 0 and ${o.total} (${total})`);
    return { t: Number(r.t), values: dims.map((_, i) => String(r[`d${i}`])), bad, total };
  });
  return { dims, rows };
}
