import { describe, expect, it } from 'vitest';
import { buildDashboards } from '../src/dashboards.js';
import {
  applyConditionalAll,
  defaultIntervalMs,
  expandBackendMacros,
  expandQuery,
  replaceVariables,
  UnsafeVariableError,
  type VariableValue,
} from '../src/macros.js';
import { collectQueries } from '../src/run.js';
import { catalog } from './paths.js';

/** A base-library version a client can send; Grafana offers it in the dropdown (issue 11). */
const HOSTILE = "3.9.9') OR throwIf(1,'x') OR BaseLibraryVersion IN ('x";

// Expected strings follow grafana-clickhouse-datasource v4.20.0: pkg/macros/macros.go (backend) and
// src/data/CHDatasource.ts applyConditionalAll / format (frontend).
const from = Date.UTC(2026, 10, 22, 12, 0, 0, 123);
const to = Date.UTC(2026, 10, 22, 13, 0, 0, 999);
const fs = Math.floor(from / 1000);
const ts = Math.floor(to / 1000);

describe('backend macros', () => {
  it('expands the time macros like macros.go', () => {
    const ctx = { from, to, intervalMs: 30_000 };
    expect(expandBackendMacros('$__timeFilter(Minute)', ctx)).toBe(
      `Minute >= toDateTime(${fs}) AND Minute <= toDateTime(${ts})`,
    );
    expect(expandBackendMacros('$__timeFilter_ms(Timestamp)', ctx)).toBe(
      `Timestamp >= fromUnixTimestamp64Milli(${from}) AND Timestamp <= fromUnixTimestamp64Milli(${to})`,
    );
    expect(expandBackendMacros('$__fromTime|$__toTime|$__fromTime_ms|$__toTime_ms', ctx)).toBe(
      `toDateTime(${fs})|toDateTime(${ts})|fromUnixTimestamp64Milli(${from})|fromUnixTimestamp64Milli(${to})`,
    );
    expect(expandBackendMacros('$__timeInterval(Minute)', ctx)).toBe(
      'toStartOfInterval(toDateTime(Minute), INTERVAL 30 second)',
    );
    expect(expandBackendMacros('$__timeInterval_ms(T)', ctx)).toBe(
      'toStartOfInterval(toDateTime64(T, 3), INTERVAL 30000 millisecond)',
    );
    expect(expandBackendMacros('$__interval_s', { ...ctx, intervalMs: 200 })).toBe('1');
    expect(expandBackendMacros('$__dateFilter(d)', ctx)).toBe(
      "d >= toDate('2026-11-22') AND d <= toDate('2026-11-22')",
    );
    expect(expandBackendMacros('$__timeFrom(t) AND $__timeTo(t)', ctx)).toBe(
      `t >= toDateTime(${fs}) AND t <= toDateTime(${ts})`,
    );
    expect(expandBackendMacros("$__timeGroup(t, '5m')", ctx)).toBe(
      'toStartOfInterval(toDateTime(t), INTERVAL 300 second)',
    );
    expect(expandBackendMacros('$__dt(d, t)', ctx)).toBe(
      `(d >= toDate('2026-11-22') AND d <= toDate('2026-11-22')) AND (t >= toDateTime(${fs}) AND t <= toDateTime(${ts}))`,
    );
  });
  it('leaves strings, comments and unknown macros alone; checks arity', () => {
    const ctx = { from, to, intervalMs: 1000 };
    expect(expandBackendMacros("SELECT '$__fromTime' -- $__toTime\n, $__nope(x)", ctx)).toBe(
      "SELECT '$__fromTime' -- $__toTime\n, $__nope(x)",
    );
    expect(expandBackendMacros('$__timeFilter(toDateTime(a, 3))', ctx)).toBe(
      `toDateTime(a, 3) >= toDateTime(${fs}) AND toDateTime(a, 3) <= toDateTime(${ts})`,
    );
    expect(() => expandBackendMacros('$__timeFilter(a, b)', ctx)).toThrow(/expected 1 argument/);
  });
  it('rounds the interval like Grafana', () => {
    expect(defaultIntervalMs(0, 6 * 3600_000)).toBe(20_000); // 6h / 1000 points = 21.6 s → 20 s
    expect(defaultIntervalMs(0, 15 * 60_000)).toBe(1_000);
    expect(defaultIntervalMs(0, 30 * 86400_000)).toBe(1_800_000);
  });
});

describe('frontend template handling', () => {
  it('$__conditionalAll is 1=1 for All or empty, the condition otherwise', () => {
    const sql =
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
      'WHERE $__conditionalAll(Route IN ($route), $route) AND $__conditionalAll(OsName IN (${os}), ${os})';
    expect(applyConditionalAll(sql, { route: { all: ['a', 'b'] }, os: '' })).toBe('WHERE 1=1 AND 1=1');
    expect(applyConditionalAll(sql, { route: ['a'], os: 'ios' })).toBe(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
      'WHERE Route IN ($route) AND OsName IN (${os})',
    );
  });
  it('formats variables like the plugin (multi → quoted list, single → as is) when the values are plain', () => {
    expect(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
      replaceVariables("Route IN ($route) AND x = '${one}' AND y IN (${m:singlequote})", {
        route: ['a', 'b'],
        one: 'v',
        m: ['3.5.0'],
      }),
    ).toBe("Route IN ('a','b') AND x = 'v' AND y IN ('3.5.0')");
    expect(replaceVariables('$__timeFilter(x) $unknown', {})).toBe('$__timeFilter(x) $unknown');
  });
  it('percentencode and queryparam encode like Grafana (encodeURIComponentStrict): nothing can leave a literal', () => {
    expect(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
      replaceVariables("'${v:percentencode}' '${m:queryparam}' '${m:percentencode}'", {
        v: HOSTILE,
        m: ['ios', "a b'\\"],
      }),
    ).toBe(
      "'3.9.9%27%29%20OR%20throwIf%281%2C%27x%27%29%20OR%20BaseLibraryVersion%20IN%20%28%27x' 'var-m=ios&var-m=a%20b%27%5C' '%7Bios%2Ca%20b%27%5C%7D'",
    );
  });
  it('refuses a hostile value in any format that Grafana does not escape for ClickHouse', () => {
    for (const fmt of ['', ':raw', ':csv', ':singlequote', ':sqlstring', ':doublequote'])
      for (const value of [HOSTILE, [HOSTILE], "x\\' OR 1 --", 'a--', '1 OR 1'])
        expect(() => replaceVariables(`x IN (\${v${fmt}})`, { v: value }), `${fmt} ${value}`).toThrow(
          UnsafeVariableError,
        );
  });
  it('every variable of every dashboard reaches SQL percent-encoded (the hostile value stays inside one literal)', () => {
    for (const d of buildDashboards(catalog))
      for (const q of collectQueries(d)) {
        const vars: Record<string, VariableValue> = {};
        for (const v of d.templating?.list ?? []) vars[v.name] = v.multi ? [HOSTILE, 'ios'] : HOSTILE;
        const sql = expandQuery(q.rawSql, { from, to, variables: vars });
        expect(sql, `${d.uid} / ${q.title}`).not.toMatch(/throwIf\(/);
        // each value arrives as ClickHouse decodes it back: decodeURLFormComponent over one plain literal
        for (const lit of sql.matchAll(/decodeURLFormComponent\('([^']*)'\)|splitByChar\('&', '([^']*)'\)/g))
          expect(lit[1] ?? lit[2]).toMatch(/^[A-Za-z0-9_.~%&=-]*$/);
      }
  });
  it('runs the whole pipeline', () => {
    const out = expandQuery(
      'SELECT 1 FROM t WHERE $__timeFilter(Minute) AND $__conditionalAll(Route IN ($route), $route)',
      { from, to, variables: { route: ['upload.image'] } },
    );
    expect(out).toBe(
      `SELECT 1 FROM t WHERE Minute >= toDateTime(${fs}) AND Minute <= toDateTime(${ts}) AND Route IN ('upload.image')`,
    );
  });
});
