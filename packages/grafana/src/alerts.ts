// Alert rules, defined once: generated to Grafana file provisioning (grafana/provisioning/alerting/*.yaml)
// and evaluated by `evaluateAlerts` (what `mp-otel alerts` prints) — the same SQL, with the datasource's
// macros expanded the way the plugin expands them, over the rule's relative time range.
//
// Each rule's query returns one row per route: a string column `route` (a label) and ONE numeric column
// `value` — the shape Grafana alerting accepts from a SQL datasource as numeric data — and a threshold
// expression fires it when value > threshold.
import type { ClickHouseClient } from '@clickhouse/client';
import type * as alerting from '@grafana/grafana-foundation-sdk/alerting';
import type { Catalog } from '@mp-otel/contracts';
import { stringify } from 'yaml';
import { expandQuery } from './macros.js';
import { DATASOURCE_UID, Format, PLUGIN_VERSION } from './query.js';

export interface AlertRule {
  uid: string;
  title: string;
  route: string;
  kind: '400-ratio' | 'week-over-week' | 'burn-rate';
  /** Query range: [now - fromSeconds, now]. */
  fromSeconds: number;
  sql: string;
  threshold: number;
  severity: 'page' | 'ticket';
  summary: string;
  for: string;
}

/** Guards against paging on tiny volumes. */
export interface AlertOptions {
  /** 400 ratio: minimum n200 + n400 in the window (default 20) and minimum n400 (default 3). */
  minRequests400?: number;
  minErrors400?: number;
  /** Week over week: minimum requests in last week's window (default 100) and errors now (default 5). */
  minLastWeekRequests?: number;
  minErrorsNow?: number;
  /** Burn rate: minimum requests in the short window (default 10). */
  minBurnRequests?: number;
}

const q = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const slug = (s: string) =>
  s
    .replace(/[^a-zA-Z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .toLowerCase();

export function alertRules(catalog: Catalog, o: AlertOptions = {}): AlertRule[] {
  const minReq400 = o.minRequests400 ?? 20;
  const minErr400 = o.minErrors400 ?? 3;
  const minPrev = o.minLastWeekRequests ?? 100;
  const minErrNow = o.minErrorsNow ?? 5;
  const minBurn = o.minBurnRequests ?? 10;
  const rules: AlertRule[] = [];
  for (const r of catalog.routes) {
    const route = q(r.name);
    rules.push({
      uid: `mp-400-${slug(r.name)}`.slice(0, 40),
      title: `${r.name}: 400 ratio`,
      route: r.name,
      kind: '400-ratio',
      fromSeconds: 300,
      threshold: 0.005,
      severity: 'page',
      for: '0s',
      summary: `p = n400 / (n200 + n400) of ${r.name} at the client over the last 5 minutes is above 0.5% (at least ${minReq400} requests and ${minErr400} 400s)`,
      sql: `SELECT ${route} AS route, if(n400 >= ${minErr400} AND n400 + n2xx >= ${minReq400}, n400 / (n400 + n2xx), 0) AS value
FROM (SELECT sumIf(Requests, HttpStatus = 400) AS n400, sumIf(Requests, HttpStatus >= 200 AND HttpStatus < 300) AS n2xx
  FROM mp_sli_route_1m WHERE Layer = 'client' AND Route = ${route} AND $__timeFilter(Minute))`,
    });
    rules.push({
      uid: `mp-wow-${slug(r.name)}`.slice(0, 40),
      title: `${r.name}: errors vs last week`,
      route: r.name,
      kind: 'week-over-week',
      fromSeconds: 3600,
      threshold: 0.2,
      severity: 'ticket',
      for: '0s',
      summary: `client errors of ${r.name} in the last hour are more than 20% above the same hour last week (needs ${minPrev} requests last week)`,
      sql: `SELECT ${route} AS route, if(prev_requests >= ${minPrev} AND errors >= ${minErrNow}, errors / greatest(prev_errors, 1) - 1, 0) AS value
FROM (SELECT sumIf(Errors, Minute >= $__fromTime AND Minute <= $__toTime) AS errors,
    sumIf(Errors, Minute >= $__fromTime - INTERVAL 7 DAY AND Minute <= $__toTime - INTERVAL 7 DAY) AS prev_errors,
    sumIf(Requests, Minute >= $__fromTime - INTERVAL 7 DAY AND Minute <= $__toTime - INTERVAL 7 DAY) AS prev_requests
  FROM mp_sli_route_1m WHERE Layer = 'client' AND Route = ${route}
    AND ((Minute >= $__fromTime AND Minute <= $__toTime) OR (Minute >= $__fromTime - INTERVAL 7 DAY AND Minute <= $__toTime - INTERVAL 7 DAY)))`,
    });
    const target = r.slo?.availability;
    if (typeof target === 'number' && target > 0 && target < 1) {
      const budget = +(1 - target).toPrecision(12);
      for (const [longS, shortS, factor, severity] of [
        [3600, 300, 14.4, 'page'],
        [21600, 1800, 6, 'ticket'],
      ] as const) {
        const name = `${longS / 3600}h/${shortS / 60}m`;
        rules.push({
          uid: `mp-burn-${longS / 3600}h-${slug(r.name)}`.slice(0, 40),
          title: `${r.name}: burn rate ${name}`,
          route: r.name,
          kind: 'burn-rate',
          fromSeconds: longS,
          threshold: factor,
          severity,
          for: '0s',
          summary: `${r.name} burns its error budget (SLO ${target}) faster than ${factor}× over both ${longS / 3600}h and ${shortS / 60}m`,
          sql: `SELECT ${route} AS route, if(short_total >= ${minBurn}, least(1 - long_good / long_total, 1 - short_good / short_total) / ${budget}, 0) AS value
FROM (SELECT sum(AvailGood) AS long_good, sum(AvailTotal) AS long_total,
    sumIf(AvailGood, Minute >= $__toTime - INTERVAL ${shortS} SECOND) AS short_good, sumIf(AvailTotal, Minute >= $__toTime - INTERVAL ${shortS} SECOND) AS short_total
  FROM mp_sli_route_1m WHERE Layer = 'client' AND Route = ${route} AND $__timeFilter(Minute))`,
        });
      }
    }
  }
  return rules;
}

/**
 * A rule as written in a file-provisioned group: the foundation SDK's alerting Rule (Grafana's provisioning
 * API type) less the fields the group supplies (folder, group name, org), with datasource-specific models.
 */
type ProvisionedRule = Omit<alerting.Rule, 'folderUID' | 'ruleGroup' | 'orgID' | 'data'> & {
  data: Array<Omit<alerting.Query, 'model'> & { model: Record<string, unknown> }>;
};

/** Grafana alerting file provisioning (apiVersion 1) for the rules. */
export function alertProvisioning(rules: AlertRule[]): string {
  const doc = {
    apiVersion: 1,
    groups: [
      {
        orgId: 1,
        name: 'mp-otel SLIs',
        folder: 'mp-otel',
        interval: '1m',
        rules: rules.map(
          (r): ProvisionedRule => ({
            uid: r.uid,
            title: r.title,
            condition: 'C',
            data: [
              {
                refId: 'A',
                relativeTimeRange: { from: r.fromSeconds, to: 0 },
                datasourceUid: DATASOURCE_UID,
                model: {
                  refId: 'A',
                  datasource: { type: 'grafana-clickhouse-datasource', uid: DATASOURCE_UID },
                  editorType: 'sql',
                  format: Format.Table,
                  queryType: 'table',
                  pluginVersion: PLUGIN_VERSION,
                  rawSql: r.sql,
                  intervalMs: 60000,
                  maxDataPoints: 43200,
                },
              },
              {
                refId: 'C',
                relativeTimeRange: { from: 0, to: 0 },
                datasourceUid: '__expr__',
                model: {
                  refId: 'C',
                  datasource: { type: '__expr__', uid: '__expr__' },
                  type: 'threshold',
                  expression: 'A',
                  conditions: [{ evaluator: { type: 'gt', params: [r.threshold] } }],
                },
              },
            ],
            noDataState: 'OK',
            execErrState: 'Error',
            for: r.for,
            annotations: { summary: r.summary },
            labels: { severity: r.severity, route: r.route, kind: r.kind },
            isPaused: false,
          }),
        ),
      },
    ],
  };
  return `# Generated by @mp-otel/grafana (npm run generate -w @mp-otel/grafana) from catalog/catalog.yaml. Do not edit.\n${stringify(doc, { lineWidth: 0 })}`;
}

export interface AlertResult {
  rule: string;
  route: string;
  kind: AlertRule['kind'];
  severity: AlertRule['severity'];
  value: number;
  threshold: number;
  firing: boolean;
  /** The query returned no row. */
  noData: boolean;
  /** Evaluation window, epoch ms. */
  from: number;
  to: number;
  /** The SQL as sent (macros expanded). */
  sql: string;
}

const TABLES = [
  'mp_sli_route_1m',
  'mp_sli_1m',
  'mp_sli_1h',
  'mp_errors_1m',
  'mp_routes',
  'otel_traces_trace_id_ts',
  'otel_traces',
  'otel_logs',
  'otel_metrics_histogram',
];

/** Qualifies the known tables with a database (Grafana relies on the datasource's default database). */
export function qualifyTables(sql: string, database: string): string {
  const re = new RegExp(`\\b(FROM|JOIN)\\s+(${TABLES.join('|')})\\b`, 'g');
  return sql.replace(re, (_m, kw: string, t: string) => `${kw} ${database}.${t}`);
}

/** Evaluates every rule at `at` (default now), like Grafana's scheduler would. */
export async function evaluateAlerts(
  opts: {
    client: ClickHouseClient;
    database?: string;
    at?: number;
  } & ({ rules: AlertRule[] } | { catalog: Catalog }),
): Promise<AlertResult[]> {
  const at = opts.at ?? Date.now();
  const rules = 'rules' in opts ? opts.rules : alertRules(opts.catalog);
  const out: AlertResult[] = [];
  for (const r of rules) {
    const from = at - r.fromSeconds * 1000;
    let sql = expandQuery(r.sql, { from, to: at, intervalMs: 60_000 });
    if (opts.database) sql = qualifyTables(sql, opts.database);
    const rs = await opts.client.query({ query: sql, format: 'JSONEachRow' });
    const rows = (await rs.json()) as Array<{ route?: string; value?: number | string | null }>;
    if (rows.length === 0) {
      out.push({
        rule: r.title,
        route: r.route,
        kind: r.kind,
        severity: r.severity,
        value: 0,
        threshold: r.threshold,
        firing: false,
        noData: true,
        from,
        to: at,
        sql,
      });
      continue;
    }
    for (const row of rows) {
      const value = row.value === null || row.value === undefined ? Number.NaN : Number(row.value);
      out.push({
        rule: r.title,
        route: row.route ?? r.route,
        kind: r.kind,
        severity: r.severity,
        value,
        threshold: r.threshold,
        firing: Number.isFinite(value) && value > r.threshold,
        noData: false,
        from,
        to: at,
        sql,
      });
    }
  }
  return out;
}

/** Text for `mp-otel alerts`: one line per rule, firing ones first. */
export function formatAlerts(results: AlertResult[]): string {
  const sorted = [...results].sort(
    (a, b) => Number(b.firing) - Number(a.firing) || a.rule.localeCompare(b.rule),
  );
  const fmt = (r: AlertResult) =>
    r.kind === '400-ratio'
      ? `${(r.value * 100).toFixed(2)}%`
      : r.kind === 'week-over-week'
        ? `${(r.value * 100).toFixed(0)}%`
        : `${r.value.toFixed(1)}x`;
  const fmtT = (r: AlertResult) =>
    r.kind === '400-ratio'
      ? `${(r.threshold * 100).toFixed(2)}%`
      : r.kind === 'week-over-week'
        ? `+${(r.threshold * 100).toFixed(0)}%`
        : `${r.threshold}x`;
  const rows = sorted.map((r) => [
    r.firing ? 'FIRING' : r.noData ? 'no data' : 'ok',
    r.severity,
    r.rule,
    r.noData ? '-' : fmt(r),
    `> ${fmtT(r)}`,
  ]);
  const head = ['state', 'severity', 'rule', 'value', 'threshold'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(width[i]!))
      .join('  ')
      .trimEnd();
  const firing = results.filter((r) => r.firing).length;
  return [line(head), ...rows.map(line), '', `${firing} of ${results.length} rules firing`].join('\n');
}
