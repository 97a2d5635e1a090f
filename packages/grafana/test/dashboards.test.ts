// Every panel, variable and annotation query of every generated dashboard, and every alert rule, runs on
// chDB (the embedded store) against telemetry from the real SDK and Node preset: the seed incident
// (iOS + base library 3.5.0 uploads get HTTP 400), shortened to 12 simulated minutes, fault from minute 6.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateAlerts, formatAlerts } from '../src/alerts.js';
import { type QueryResult, runDashboard } from '../src/run.js';
import { type Embedded, simulateInto } from './helpers.js';
import { catalog, GRAFANA_DIR } from './paths.js';

const load = (uid: string) =>
  JSON.parse(readFileSync(join(GRAFANA_DIR, 'dashboards', `${uid}.json`), 'utf8')) as dashboard.Dashboard;
const UIDS = [
  'mp-overview',
  'mp-trend',
  'mp-code-errors',
  'mp-slow-routes',
  'mp-route-detail',
  'mp-crawler',
  'mp-exceptions',
  'mp-traces',
  'mp-image',
  'mp-slo',
  'mp-path',
];

let emb: Embedded;
let close: () => Promise<void>;
let end: number;
let start: number;
let faultFrom: number;
const results = new Map<string, QueryResult[]>();
const panel = (uid: string, title: string) => {
  const r = results.get(uid)?.find((q) => q.title === title);
  if (!r) throw new Error(`${uid}: no query "${title}"`);
  return r;
};
const cols = (r: QueryResult) => r.columns.map((c) => c.name);

beforeAll(async () => {
  ({ emb, close } = await simulateInto('seed-incident', 12, 6).then((x) => {
    start = x.sim.simStartMs;
    end = x.sim.simEndMs;
    faultFrom = x.sim.faults[0]!.fromMs;
    return x;
  }));
  // one client exception (as the SDK sends it: an OTLP log record, event name "exception")
  const ns = (ms: number) => `${BigInt(Math.round(ms)) * 1_000_000n}`;
  const attr = (key: string, v: string | number) => ({
    key,
    value: typeof v === 'number' ? { intValue: v } : { stringValue: v },
  });
  const body = {
    resourceLogs: [
      {
        resource: {
          attributes: [
            attr('service.name', 'image-miniprogram'),
            attr('mp.platform', 'wechat'),
            attr('os.name', 'ios'),
            attr('mp.base_library.version', '3.5.0'),
            attr('service.version', '1.4.2'),
          ],
        },
        scopeLogs: [
          {
            scope: { name: '@mp-otel/miniprogram' },
            logRecords: [
              {
                timeUnixNano: ns(end - 90_000),
                observedTimeUnixNano: ns(end - 90_000),
                severityNumber: 17,
                severityText: 'ERROR',
                eventName: 'exception',
                body: {
                  stringValue: "TypeError: Cannot read properties of undefined (reading 'tempFilePath')",
                },
                attributes: [
                  attr('exception.type', 'TypeError'),
                  attr('exception.message', "Cannot read properties of undefined (reading 'tempFilePath')"),
                  attr('mp.error.count', 3),
                  attr('mp.page.route', 'pages/upload/upload'),
                  attr('event.name', 'exception'),
                ],
              },
            ],
          },
        ],
      },
    ],
  };
  const res = await fetch(`${emb.otlpUrl.replace(/\/$/, '')}/v1/logs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  await emb.flush();
  // a real trace id of a failed upload, for the trace explorer
  const rs = await emb.client.query({
    query: `SELECT TraceId FROM otel_traces WHERE SpanKind = 'Client' AND SpanAttributes['mp.route_name'] = 'upload.image' AND SpanAttributes['http.response.status_code'] = '400' AND TraceId IN (SELECT TraceId FROM otel_traces WHERE SpanKind = 'Server') LIMIT 1`,
    format: 'JSONEachRow',
  });
  const [row] = (await rs.json()) as Array<{ TraceId: string }>;
  expect(row?.TraceId).toMatch(/^[0-9a-f]{32}$/);
  for (const uid of UIDS) {
    const variables: Record<string, string> =
      uid === 'mp-traces'
        ? { trace_id: row!.TraceId }
        : uid === 'mp-route-detail' || uid === 'mp-path'
          ? { route: 'upload.image' }
          : {};
    results.set(uid, await runDashboard(load(uid), { client: emb.client, to: end, variables }));
  }
}, 240_000);

afterAll(async () => {
  await close?.();
});

describe('every query of every dashboard runs on chDB', () => {
  for (const uid of UIDS) {
    it(`${uid}: no query fails`, () => {
      const rs = results.get(uid)!;
      expect(rs.length).toBeGreaterThan(0);
      const failed = rs.filter((r) => r.error).map((r) => `${r.source} ${r.title}: ${r.error}`);
      expect(failed).toEqual([]);
    });
  }

  it('variables resolve from the catalog and the data', () => {
    const ov = results.get('mp-code-errors')!;
    const vals = (name: string) =>
      ov.find((r) => r.source === 'variable' && r.title === name)!.rows.map((row) => Object.values(row)[0]);
    expect(vals('route')).toEqual(['download.image', 'upload.image']);
    expect(vals('os')).toEqual(expect.arrayContaining(['ios', 'android']));
    expect(vals('base_library')).toEqual(expect.arrayContaining(['3.4.10', '3.5.0']));
    expect(vals('platform')).toEqual(['wechat']);
    const carriers = results
      .get('mp-route-detail')!
      .find((r) => r.title === 'carrier')!
      .rows.map((row) => Object.values(row)[0]);
    expect(carriers.length).toBeGreaterThan(0);
  });
});

describe('the injected 400 spike shows', () => {
  it('Overview: upload.image has p400 far above 0.5% in the last 15 minutes; download.image none', () => {
    const r = panel('mp-overview', 'Routes (15 min)');
    expect(cols(r)).toEqual(['route', 'requests', 'error_rate', 'p400', 'slow_ratio', 'p99_ms']);
    const up = r.rows.find((x) => x.route === 'upload.image')!;
    const down = r.rows.find((x) => x.route === 'download.image')!;
    expect(Number(up.p400)).toBeGreaterThan(0.02);
    expect(Number(down.p400)).toBe(0);
    expect(Number(panel('mp-overview', 'Errors (15 min)').rows[0]!.errors)).toBeGreaterThan(0);
    expect(Number(panel('mp-overview', 'QPS (15 min)').rows[0]!.qps)).toBeGreaterThan(0);
    expect(Number(panel('mp-overview', 'UV (15 min, devices)').rows[0]!.uv)).toBeGreaterThan(10);
  });

  it('Overview: errors by route are zero before the fault and non-zero after, only on upload.image', () => {
    const r = panel('mp-overview', 'Errors by route');
    expect(cols(r)).toEqual(['time', 'Route', 'errors']);
    const t = (row: Record<string, unknown>) => Date.parse(`${String(row.time).replace(' ', 'T')}Z`);
    const before = r.rows.filter((x) => t(x) < faultFrom - 60_000).reduce((a, x) => a + Number(x.errors), 0);
    const after = r.rows
      .filter((x) => t(x) >= faultFrom && x.Route === 'upload.image')
      .reduce((a, x) => a + Number(x.errors), 0);
    const download = r.rows
      .filter((x) => x.Route === 'download.image')
      .reduce((a, x) => a + Number(x.errors), 0);
    expect(before).toBe(0);
    expect(after).toBeGreaterThan(3);
    expect(download).toBe(0);
  });

  it('Code errors: p = n400/(n200+n400) series crosses 0.5% on upload.image; the drill-down names ios + 3.5.0', () => {
    const series = panel('mp-code-errors', '400 ratio p = n400 / (n200 + n400) by route');
    expect(cols(series)).toEqual(['time', 'Route', 'p400']);
    expect(
      Math.max(...series.rows.filter((x) => x.Route === 'upload.image').map((x) => Number(x.p400 ?? 0))),
    ).toBeGreaterThan(0.005);
    const dist = panel('mp-code-errors', 'HTTP status distribution (client)');
    expect(dist.rows.map((x) => x.status)).toEqual(expect.arrayContaining(['200', '201', '400']));
    const drill = panel('mp-code-errors', '400 ratio by fingerprint dimensions');
    expect(drill.rows.length).toBeGreaterThan(0);
    for (const row of drill.rows)
      expect([row.route, row.os, row.base_library]).toEqual(['upload.image', 'ios', '3.5.0']);
  });

  it('Route detail / path view: backend nodes, regions, and the 400 at both client and backend', () => {
    const nodes = panel('mp-route-detail', 'Backend node health');
    expect(nodes.rows.map((x) => x.node).sort()).toEqual(['node-1', 'node-2']);
    expect(panel('mp-route-detail', 'By province').rows.length).toBeGreaterThan(1);
    expect(panel('mp-route-detail', 'Client IPs').rows.length).toBeGreaterThan(1);
    const outcomes = panel('mp-path', 'Outcomes by layer');
    const o400 = outcomes.rows.find((x) => x.outcome === '400')!;
    expect(Number(o400.client)).toBeGreaterThan(0);
    expect(Number(o400.backend)).toBeGreaterThan(0);
    const layers = panel('mp-path', 'Per layer').rows.map((x) => x.layer);
    expect(layers).toEqual(['client', 'backend']);
  });

  it('SLO: upload.image burns its budget, download.image does not', () => {
    const r = panel('mp-slo', 'Error budget and burn rates');
    const up = r.rows.find((x) => x.route === 'upload.image')!;
    expect(Number(up.burn_5m)).toBeGreaterThan(14.4);
    expect(Number(up.budget_remaining)).toBeLessThan(0);
    expect(Number(r.rows.find((x) => x.route === 'download.image')!.burn_1h)).toBe(0);
  });
});

describe('the other views', () => {
  it('Crawler: the scanner is the top IP, probing paths outside the catalog with 404s', () => {
    const ips = panel('mp-crawler', 'Client IP concentration');
    expect(ips.rows[0]).toMatchObject({ ip: '185.220.101.7', probe_ratio: 1 });
    expect(String(ips.rows[0]!.sample_ua)).toMatch(/Nmap/);
    const paths = panel('mp-crawler', 'Probed paths outside the catalog').rows.map((x) => x.path);
    expect(paths).toEqual(expect.arrayContaining(['/.env', '/wp-login.php']));
    expect(
      Number(panel('mp-crawler', 'Requests outside the catalog').rows[0]!.unknown_route_requests),
    ).toBeGreaterThan(0);
    const uas = panel('mp-crawler', 'User agents').rows;
    expect(uas.find((x) => String(x.ua).includes('Nmap'))?.bot_like).toBe(1);
  });

  it('Trace explorer: the trace view query returns the client span and the backend span with the trace view columns', () => {
    const t = panel('mp-traces', 'Trace');
    expect(cols(t)).toEqual([
      'traceID',
      'spanID',
      'parentSpanID',
      'serviceName',
      'operationName',
      'startTime',
      'duration',
      'tags',
      'serviceTags',
      'kind',
      'statusCode',
      'statusMessage',
    ]);
    expect(t.rows.map((x) => x.kind).sort()).toEqual(expect.arrayContaining(['Client', 'Server']));
    expect(new Set(t.rows.map((x) => x.serviceName))).toEqual(
      new Set(['image-miniprogram', 'image-service']),
    );
    const list = panel('mp-traces', 'Client requests');
    expect(list.rows).toHaveLength(1);
    expect(list.rows[0]).toMatchObject({ route: 'upload.image', status: 400 });
  });

  it('Exceptions: the exception log record is counted with its mp.error.count', () => {
    const top = panel('mp-exceptions', 'Top exceptions');
    expect(top.rows[0]).toMatchObject({ type: 'TypeError', exceptions: 3 });
    expect(panel('mp-exceptions', 'Latest exceptions').rows[0]).toMatchObject({
      type: 'TypeError',
      os: 'ios',
      base_library: '3.5.0',
    });
  });

  it('Image service: client and service views by size bucket', () => {
    const client = panel('mp-image', 'Client transfers by size bucket');
    expect(cols(client)).toEqual([
      'route',
      'size_bucket',
      'requests',
      'success_ratio',
      'p50_ms',
      'p90_ms',
      'p99_ms',
    ]);
    expect(client.rows.filter((x) => x.route === 'upload.image').length).toBeGreaterThan(1);
    const svc = panel('mp-image', 'Service transfers by size bucket (mp.image.transfer.duration)');
    expect(svc.rows.map((x) => x.direction)).toEqual(expect.arrayContaining(['upload', 'download']));
    expect(svc.rows.some((x) => x.outcome === 'rejected')).toBe(true);
  });

  it('Long-term trend: period table and release markers', () => {
    expect(
      panel('mp-trend', 'This week / month / year against the one before').rows.map((x) => x.period),
    ).toEqual(['week', 'month', 'year']);
    expect(
      panel('mp-trend', 'Releases (service.version first seen)')
        .rows.map((x) => x.text)
        .sort(),
    ).toEqual(['release 1.4.1', 'release 1.4.2']);
  });

  it('Slow routes: top 10 table has the classification column', () => {
    const r = panel('mp-slow-routes', 'Top 10 slow routes');
    expect(cols(r)).toContain('kind');
    expect(r.rows.length).toBeGreaterThan(0);
  });
});

describe('alerts on the same data', () => {
  it('upload.image: 400 ratio fires; nothing fires on download.image', async () => {
    const results = await evaluateAlerts({ catalog, client: emb.client, at: end });
    const text = formatAlerts(results);
    const byName = new Map(results.map((r) => [r.rule, r]));
    expect(byName.get('upload.image: 400 ratio')).toMatchObject({ firing: true, threshold: 0.005 });
    expect(byName.get('upload.image: 400 ratio')!.value).toBeGreaterThan(0.02);
    expect(byName.get('upload.image: burn rate 1h/5m')!.firing).toBe(true);
    // no data last week → the relative-change rule must stay quiet
    expect(byName.get('upload.image: errors vs last week')!.firing).toBe(false);
    expect(results.filter((r) => r.route === 'download.image' && r.firing)).toEqual([]);
    expect(text).toMatch(/FIRING\s+page\s+upload\.image: 400 ratio/);
    // the database option qualifies tables: same answers
    const qualified = await evaluateAlerts({ catalog, client: emb.client, at: end, database: emb.database });
    expect(qualified.map((r) => [r.rule, r.firing])).toEqual(results.map((r) => [r.rule, r.firing]));
  });

  it('before the fault nothing fires', async () => {
    const results = await evaluateAlerts({ catalog, client: emb.client, at: faultFrom - 30_000 });
    expect(results.filter((r) => r.firing)).toEqual([]);
    expect(start).toBeLessThan(faultFrom);
  });

  it('volume guards: 1 error in 3 requests does not page; 10 in 100 does; +50% vs last week fires only with last-week volume', async () => {
    // in the future of the simulated data (the cube tables have a TTL: old rows would be dropped)
    const day = 86_400_000;
    const base = Math.floor(end / 60_000) * 60_000 + 3 * day;
    const row = (ms: number, status: number, req: number) =>
      `(toDateTime(${Math.floor(ms / 1000)}), 'client', 'upload.image', 'image-miniprogram', ${status}, '${status >= 400 ? String(status) : ''}', '', ${req}, ${req}, ${status >= 400 ? req : 0}, ${status >= 400 ? 0 : req}, ${req}, 0, ${req * 100}, 100)`;
    const insert = (rows: string[]) =>
      emb.client.command({
        query: `INSERT INTO mp_sli_route_1m (Minute, Layer, Route, ServiceName, HttpStatus, ErrorType, AppErrorCode, Spans, Requests, Errors, AvailGood, AvailTotal, Slow, DurationSumMs, DurationMaxMs) VALUES ${rows.join(', ')}`,
      });
    await insert([row(base - 120_000, 201, 2), row(base - 120_000, 400, 1)]);
    const small = await evaluateAlerts({ catalog, client: emb.client, at: base });
    expect(small.find((r) => r.rule === 'upload.image: 400 ratio')).toMatchObject({
      firing: false,
      value: 0,
    });
    await insert([row(base - 60_000, 201, 88), row(base - 60_000, 400, 9)]);
    const big = await evaluateAlerts({ catalog, client: emb.client, at: base });
    expect(big.find((r) => r.rule === 'upload.image: 400 ratio')).toMatchObject({ firing: true, value: 0.1 });
    // week over week: 20 errors now; last week 10 errors in 1000 requests → +100% fires
    const wk = base + 20 * day;
    const week = 7 * 86_400_000;
    await insert([
      row(wk - 600_000, 201, 500),
      row(wk - 600_000, 500, 20),
      row(wk - week - 600_000, 201, 1000),
      row(wk - week - 600_000, 500, 10),
    ]);
    const wow = (await evaluateAlerts({ catalog, client: emb.client, at: wk })).find(
      (r) => r.rule === 'upload.image: errors vs last week',
    )!;
    expect(wow.firing).toBe(true);
    expect(wow.value).toBeCloseTo(1, 5);
    // same errors now, but no volume last week → quiet
    const wk2 = base + 40 * day;
    await insert([row(wk2 - 600_000, 201, 500), row(wk2 - 600_000, 500, 20)]);
    expect(
      (await evaluateAlerts({ catalog, client: emb.client, at: wk2 })).find(
        (r) => r.rule === 'upload.image: errors vs last week',
      )!.firing,
    ).toBe(false);
  });
});
