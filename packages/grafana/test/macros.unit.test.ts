import { describe, expect, it } from 'vitest';
import {
  applyConditionalAll,
  defaultIntervalMs,
  expandBackendMacros,
  expandQuery,
  replaceVariables,
} from '../src/macros.js';

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
  it('formats variables like the plugin (multi → quoted list, single → as is)', () => {
    expect(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax
      replaceVariables("Route IN ($route) AND x = '${one}' AND y IN (${m:singlequote})", {
        route: ['a', 'b'],
        one: 'v',
        m: ["it's"],
      }),
    ).toBe("Route IN ('a','b') AND x = 'v' AND y IN ('it\\'s')");
    expect(replaceVariables('$__timeFilter(x) $unknown', {})).toBe('$__timeFilter(x) $unknown');
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
