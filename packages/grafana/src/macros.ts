// The grafana-clickhouse-datasource (4.x) query pipeline, reproduced so that panel and alert SQL can run
// outside Grafana exactly as the plugin would send it to ClickHouse:
//
//  1. frontend (src/data/CHDatasource.ts applyTemplateVariables):
//     a. `$__conditionalAll(cond, $var)` → `1=1` when $var's current value is '' or '$__all', else `cond`
//        (innermost-last: the plugin walks occurrences from the last one backwards);
//     b. template variables through Grafana's templateSrv with the plugin's formatter: a multi-value
//        variable becomes `'a','b'` (values joined with "','" inside single quotes), a single value is
//        inserted as is — unescaped, which is why the dashboards use only `${var:queryparam}` and
//        `${var:percentencode}` (percent-encoded by Grafana, decoded by ClickHouse: see query.ts), and why
//        this expander refuses any other format for a value that is not plain text;
//  2. backend (pkg/macros/macros.go, v4.20.0, via macropro): `$__timeFilter(c)` →
//     `c >= toDateTime(<from s>) AND c <= toDateTime(<to s>)`, `$__timeFilter_ms(c)` with
//     `fromUnixTimestamp64Milli(<ms>)`, `$__fromTime` / `$__toTime` → `toDateTime(<s>)`, `$__fromTime_ms` /
//     `$__toTime_ms`, `$__timeInterval(c)` → `toStartOfInterval(toDateTime(c), INTERVAL <s> second)`,
//     `$__timeInterval_ms(c)`, `$__interval_s`, `$__dateFilter(c)`, `$__timeFrom(c)`, `$__timeTo(c)`,
//     `$__timeGroup(c, 5m)`. Macros inside string literals and comments are not expanded. Unknown macros
//     are left as they are (ClickHouse then rejects the query, which the tests catch).

/** The value of a template variable: one value, several, or ALL ("All" selected). */
export type VariableValue = string | string[] | { all: string[] };

export interface MacroContext {
  /** Query time range, epoch milliseconds. */
  from: number;
  to: number;
  /** The panel's interval (Grafana computes it from the range and max data points). */
  intervalMs?: number;
  /** Template variables by name (without `$`). */
  variables?: Record<string, VariableValue>;
}

const isAll = (v: VariableValue | undefined): v is { all: string[] } =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Grafana's default interval: range / max data points, rounded the way Grafana rounds (kbn.roundInterval). */
export function defaultIntervalMs(
  from: number,
  to: number,
  maxDataPoints = 1000,
  minIntervalMs = 1000,
): number {
  const raw = Math.max((to - from) / maxDataPoints, minIntervalMs);
  // Grafana's roundInterval table (public/app/core/utils/kbn, now @grafana/data rangeutil.roundInterval).
  const steps: Array<[number, number]> = [
    [15, 10],
    [35, 20],
    [75, 50],
    [150, 100],
    [350, 200],
    [750, 500],
    [1500, 1000],
    [3500, 2000],
    [7500, 5000],
    [12500, 10000],
    [17500, 15000],
    [25000, 20000],
    [45000, 30000],
    [90000, 60000],
    [210000, 120000],
    [450000, 300000],
    [750000, 600000],
    [1050000, 900000],
    [1500000, 1200000],
    [2700000, 1800000],
    [5400000, 3600000],
    [9000000, 7200000],
    [16200000, 10800000],
    [32400000, 21600000],
    [86400000, 43200000],
    [604800000, 86400000],
    [1814400000, 604800000],
    [3628800000, 2592000000],
  ];
  for (const [limit, value] of steps) if (raw < limit) return value;
  return 31536000000;
}

/** Arguments of a call starting at `open` (index of '('), split on top-level commas; plus the index after ')'. */
function callArgs(sql: string, open: number): { args: string[]; end: number } | undefined {
  let depth = 0;
  let start = open + 1;
  const args: string[] = [];
  for (let i = open; i < sql.length; i++) {
    const ch = sql[i];
    if (ch === "'") {
      // skip a string literal (backslash escapes and doubled quotes)
      for (i++; i < sql.length; i++) {
        if (sql[i] === '\\') i++;
        else if (sql[i] === "'") {
          if (sql[i + 1] === "'") i++;
          else break;
        }
      }
      continue;
    }
    if (ch === '(') depth++;
    else if (ch === ')') {
      depth--;
      if (depth === 0) {
        args.push(sql.slice(start, i));
        return { args, end: i + 1 };
      }
    } else if (ch === ',' && depth === 1) {
      args.push(sql.slice(start, i));
      start = i + 1;
    }
  }
  return undefined;
}

/** Step 1a: the frontend's $__conditionalAll. */
export function applyConditionalAll(sql: string, variables: Record<string, VariableValue> = {}): string {
  const macro = '$__conditionalAll(';
  let at = sql.lastIndexOf(macro);
  while (at !== -1) {
    const call = callArgs(sql, at + macro.length - 1);
    if (call?.args.length !== 2) return sql;
    const [cond, varArg] = call.args as [string, string];
    const m = /(?<=\$\{)[\w\d]+(?=\})|(?<=\$)[\w\d]+/.exec(varArg.trim());
    let phrase = cond;
    if (m) {
      const v = variables[m[0]];
      const current = isAll(v) ? '$__all' : Array.isArray(v) ? v.join(',') : (v ?? '');
      if (current === '' || current === '$__all') phrase = '1=1';
    }
    sql = sql.slice(0, at) + phrase + sql.slice(call.end);
    at = sql.lastIndexOf(macro);
  }
  return sql;
}

/**
 * Grafana's `encodeURIComponentStrict` (scenes formatRegistry): RFC 3986, so `!'()*` are encoded too. The
 * result holds only `A-Za-z0-9-_.~%`: nothing in it can end a ClickHouse string literal.
 */
export function encodeURIComponentStrict(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * Values that may reach SQL through a format Grafana does not escape for ClickHouse (the plugin's default,
 * raw, csv, singlequote, sqlstring, …): `singlequote`/`sqlstring` escape the quote but not the backslash,
 * which ClickHouse treats as an escape, so `\'` ends the literal; the default inserts the value as is. Those
 * formats accept only letters, digits and `_.:@/-` (no `--` or `/*`, which open comments);
 * dashboards pass any other value through `${v:percentencode}` / `${v:queryparam}` (see query.ts).
 */
const PLAIN_VALUE = /^(?!.*--)(?!.*\/\*)[\p{L}\p{N}_.:@/-]*$/u;

export class UnsafeVariableError extends Error {
  constructor(name: string, format: string) {
    super(
      `template variable $${name}: a value with characters other than letters, digits and "_.:@/-" cannot go into SQL through the ${format} format; use \${${name}:percentencode} or \${${name}:queryparam} (values decoded by ClickHouse)`,
    );
    this.name = 'UnsafeVariableError';
  }
}

/**
 * Step 1b: template variables (`$var`, `${var}`, `${var:format}`), formatted as Grafana's formatRegistry
 * does. The escaping formats (`percentencode`, `queryparam`: only `A-Za-z0-9-_.~%&=`) take any value;
 * every other format only plain values (PLAIN_VALUE), so no variable value can change a query's structure.
 */
export function replaceVariables(sql: string, variables: Record<string, VariableValue> = {}): string {
  return sql.replace(
    /\$\{(\w+)(?::(\w+))?\}|\$(\w+)/g,
    (whole, n1: string | undefined, fmt: string | undefined, n2: string | undefined) => {
      const name = (n1 ?? n2)!;
      if (name.startsWith('__')) return whole; // a macro, not a variable
      if (!(name in variables)) return whole;
      const v = variables[name]!;
      const multi = isAll(v) || Array.isArray(v);
      const values = isAll(v) ? v.all : Array.isArray(v) ? v : [v];
      switch (fmt) {
        case 'percentencode':
          // like glob, but encoded: {a,b} for several values
          return encodeURIComponentStrict(multi ? `{${values.join(',')}}` : values[0]!);
        case 'queryparam':
          return values.map((x) => `var-${name}=${encodeURIComponentStrict(x)}`).join('&');
      }
      for (const x of values) if (!PLAIN_VALUE.test(x)) throw new UnsafeVariableError(name, fmt ?? 'default');
      switch (fmt) {
        case 'singlequote':
          return values.map((x) => `'${x.replace(/'/g, "\\'")}'`).join(',');
        case 'sqlstring':
          return values.map((x) => `'${x.replace(/'/g, "''")}'`).join(',');
        case 'csv':
        case 'raw':
          return values.join(',');
        default:
          // the plugin's formatter: arrays → 'a','b'; a single value as is
          return multi ? `'${values.join("','")}'` : values[0]!;
      }
    },
  );
}

const sec = (ms: number) => Math.floor(ms / 1000);
const dt = (ms: number) => `toDateTime(${sec(ms)})`;
const dt64 = (ms: number) => `fromUnixTimestamp64Milli(${Math.trunc(ms)})`;
const date = (ms: number) => `toDate('${new Date(ms).toISOString().slice(0, 10)}')`;

function goDurationSeconds(s: string): number {
  const units: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  let total = 0;
  let rest = s;
  while (rest.length) {
    const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (!m) throw new Error(`$__timeGroup: invalid interval "${s}"`);
    total += Number(m[1]) * units[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return total;
}

/** Step 2: the backend macros (pkg/macros/macros.go). */
export function expandBackendMacros(sql: string, ctx: MacroContext): string {
  const intervalMs = ctx.intervalMs ?? defaultIntervalMs(ctx.from, ctx.to);
  const intervalS = Math.max(Math.floor(intervalMs / 1000), 1);
  const fns: Record<string, (args: string[]) => string> = {
    timeFilter: ([c]) => `${c} >= ${dt(ctx.from)} AND ${c} <= ${dt(ctx.to)}`,
    timeFilter_ms: ([c]) => `${c} >= ${dt64(ctx.from)} AND ${c} <= ${dt64(ctx.to)}`,
    dateFilter: ([c]) => `${c} >= ${date(ctx.from)} AND ${c} <= ${date(ctx.to)}`,
    dateTimeFilter: ([d, t]) =>
      `(${d} >= ${date(ctx.from)} AND ${d} <= ${date(ctx.to)}) AND (${t} >= ${dt(ctx.from)} AND ${t} <= ${dt(ctx.to)})`,
    timeInterval: ([c]) => `toStartOfInterval(toDateTime(${c}), INTERVAL ${intervalS} second)`,
    timeInterval_ms: ([c]) =>
      `toStartOfInterval(toDateTime64(${c}, 3), INTERVAL ${Math.max(Math.trunc(intervalMs), 1)} millisecond)`,
    timeFrom: ([c]) => `${c} >= ${dt(ctx.from)}`,
    timeTo: ([c]) => `${c} <= ${dt(ctx.to)}`,
    timeGroup: ([c, p]) =>
      `toStartOfInterval(toDateTime(${c!.trim()}), INTERVAL ${Math.round(goDurationSeconds(p!.trim().replace(/^['"]|['"]$/g, '')))} second)`,
  };
  fns.dt = fns.dateTimeFilter!;
  const arity: Record<string, number> = { dateTimeFilter: 2, dt: 2, timeGroup: 2 };
  const plain: Record<string, () => string> = {
    fromTime: () => dt(ctx.from),
    toTime: () => dt(ctx.to),
    fromTime_ms: () => dt64(ctx.from),
    toTime_ms: () => dt64(ctx.to),
    interval_s: () => String(intervalS),
  };
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i]!;
    // copy string literals, quoted identifiers and comments verbatim
    if (ch === "'" || ch === '`' || ch === '"') {
      let j = i + 1;
      for (; j < sql.length; j++) {
        if (sql[j] === '\\') j++;
        else if (sql[j] === ch) break;
      }
      out += sql.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (ch === '-' && sql[i + 1] === '-') {
      const j = sql.indexOf('\n', i);
      const end = j === -1 ? sql.length : j;
      out += sql.slice(i, end);
      i = end;
      continue;
    }
    if (ch === '/' && sql[i + 1] === '*') {
      const j = sql.indexOf('*/', i + 2);
      const end = j === -1 ? sql.length : j + 2;
      out += sql.slice(i, end);
      i = end;
      continue;
    }
    if (ch === '$' && sql.startsWith('$__', i)) {
      const m = /^\$__(\w+)/.exec(sql.slice(i))!;
      const name = m[1]!;
      const after = i + m[0].length;
      if (fns[name] && sql[after] === '(') {
        const call = callArgs(sql, after);
        if (!call) throw new Error(`$__${name}: unterminated call`);
        const args = call.args.map((a) => a.trim());
        const want = arity[name] ?? 1;
        if (args.length !== want)
          throw new Error(`$__${name} expected ${want} argument(s), received ${args.length}`);
        out += fns[name]!(args);
        i = call.end;
        continue;
      }
      if (plain[name]) {
        out += plain[name]!();
        i = after;
        continue;
      }
      out += m[0];
      i = after;
      continue;
    }
    out += ch;
    i++;
  }
  return out;
}

/** The whole pipeline: what the plugin sends to ClickHouse for `rawSql` under `ctx`. */
export function expandQuery(rawSql: string, ctx: MacroContext): string {
  const vars = ctx.variables ?? {};
  return expandBackendMacros(replaceVariables(applyConditionalAll(rawSql, vars), vars), ctx);
}
