// The cube contract on the real engine: the table the migrations create has the contract's columns, and a
// span gets the same route and the same slow verdict from the cube's materialized view as from the raw-span
// SQL (spanSql) that dashboards, the report and diagnosis use — for every fallback the derivation has.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CUBE_COLUMNS, CUBE_MEASURES, cubeViewSql, spanSql } from '@mp-otel/contracts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Embedded, startEmbedded } from '../src/index.js';

let emb: Embedded;
const dataDir = join(tmpdir(), `mp-otel-cube-contract-${process.pid}`);

beforeAll(async () => {
  emb = await startEmbedded({ dataDir, otlpPort: 0, httpPort: 0, geo: false, log: () => {} });
}, 120_000);
afterAll(async () => {
  await emb?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function select<T>(query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  return (await (
    await emb.client.query({ query, query_params: params, format: 'JSONEachRow' })
  ).json()) as T[];
}

describe('the cube table', () => {
  test('has exactly the columns of the contract, measures with the contract types', async () => {
    const cols = await select<{ name: string; type: string }>(`DESCRIBE TABLE ${emb.database}.mp_sli_1m`);
    expect(cols.map((c) => c.name)).toEqual(CUBE_COLUMNS);
    for (const m of CUBE_MEASURES) expect(cols.find((c) => c.name === m.column)?.type).toBe(m.type);
  });

  test("the view's SELECT is the contract's (cubeViewSql)", async () => {
    const [view] = await select<{ as_select: string }>(
      `SELECT as_select FROM system.tables WHERE database = '${emb.database}' AND name = 'mp_sli_1m_mv'`,
    );
    // the engine's own normal form of the contract's SELECT: a view made from it
    await emb.client.command({
      query: `CREATE VIEW ${emb.database}.contract_check AS ${cubeViewSql(emb.database)}`,
    });
    const [expected] = await select<{ q: string }>(
      `SELECT as_select AS q FROM system.tables WHERE database = '${emb.database}' AND name = 'contract_check'`,
    );
    await emb.client.command({ query: `DROP VIEW ${emb.database}.contract_check` });
    const normal = (s: string) => s.replace(/\s+/g, ' ').trim();
    expect(normal(view!.as_select)).toBe(normal(expected!.q));
  });
});

describe('route and slow verdict: the cube view and the raw-span SQL agree', () => {
  // One span per case, each in its own ServiceName so its cube row is its own. upload.image: POST /upload,
  // SLO 3000 ms; download.image: GET /images/{id}, SLO 1000 ms; no route: the default 3000 ms.
  const cases: Array<{
    name: string;
    attrs: Record<string, string>;
    ms: number;
    route: string;
    slow: boolean;
  }> = [
    {
      name: 'route-name',
      attrs: { 'mp.route_name': 'download.image' },
      ms: 1500,
      route: 'download.image',
      slow: true,
    },
    {
      name: 'http-route',
      attrs: { 'http.request.method': 'GET', 'http.route': '/images/:id' },
      ms: 900,
      route: 'download.image',
      slow: false,
    },
    {
      name: 'url-full',
      attrs: {
        'http.request.method': 'POST',
        'url.full': 'https://api.example.com/api/upload?token=REDACTED',
      },
      ms: 3500,
      route: 'upload.image',
      slow: true,
    },
    {
      name: 'http-url',
      attrs: { 'http.method': 'GET', 'http.url': 'http://kong:8000/images/abc123' },
      ms: 1200,
      route: 'download.image',
      slow: true,
    },
    {
      name: 'url-path',
      attrs: { 'http.request.method': 'GET', 'url.path': '/images/xyz' },
      ms: 200,
      route: 'download.image',
      slow: false,
    },
    {
      name: 'http-target',
      attrs: { 'http.method': 'POST', 'http.target': '/upload?x=1' },
      ms: 2900,
      route: 'upload.image',
      slow: false,
    },
    {
      name: 'old-method-only',
      attrs: { 'http.method': 'GET', 'http.route': '/images/{id}' },
      ms: 1001,
      route: 'download.image',
      slow: true,
    },
    {
      name: 'wrong-method',
      attrs: { 'http.request.method': 'GET', 'http.route': '/upload' },
      ms: 3100,
      route: '',
      slow: true,
    },
    {
      name: 'no-route',
      attrs: { 'http.request.method': 'GET', 'url.path': '/health' },
      ms: 2999,
      route: '',
      slow: false,
    },
    {
      name: 'route-wins',
      attrs: { 'http.request.method': 'GET', 'http.route': '/images/:id', 'url.full': 'http://x/upload' },
      ms: 10,
      route: 'download.image',
      slow: false,
    },
  ];

  test.each(cases.map((c) => [c.name, c] as const))('%s', async (_n, c) => {
    const db = emb.database;
    const service = `contract-${c.name}`;
    await emb.client.insert({
      table: `${db}.otel_traces`,
      format: 'JSONEachRow',
      values: [
        {
          Timestamp: Date.now() * 1e6,
          TraceId: 'aa'.repeat(16),
          SpanId: 'bb'.repeat(8),
          SpanName: 'span',
          SpanKind: 'Server',
          ServiceName: service,
          ResourceAttributes: {},
          SpanAttributes: c.attrs,
          Duration: c.ms * 1e6,
          StatusCode: 'Unset',
        },
      ],
    });
    const s = spanSql(db);
    const [raw] = await select<{ route: string; slow: number }>(
      `SELECT ${s.route} AS route, ${s.isSlow} AS slow FROM ${db}.otel_traces WHERE ServiceName = '${service}'`,
    );
    const [cube] = await select<{ Route: string; Slow: number }>(
      `SELECT Route, sum(Slow) AS Slow FROM ${db}.mp_sli_1m WHERE ServiceName = '${service}' GROUP BY Route`,
    );
    expect({ route: raw!.route, slow: Boolean(Number(raw!.slow)) }).toEqual({ route: c.route, slow: c.slow });
    expect({ route: cube!.Route, slow: Number(cube!.Slow) > 0 }).toEqual({ route: c.route, slow: c.slow });
  });
});
