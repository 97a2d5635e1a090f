// Dashboards: total query time of each generated dashboard (every variable, annotation and panel query,
// macros expanded as the ClickHouse datasource does) on a large store, against the same dashboard with
// every SLI-cube table replaced by its raw-table equivalent — the cube's own materialized-view SELECT
// (cubeViewSql of @mp-otel/contracts, what the migration renders) run over otel_traces as a subquery, i.e. what the panel would
// cost without the cube. Spans are generated in chDB with INSERT … SELECT FROM numbers(N) into
// otel_traces, so the materialized views fill the cubes exactly as on ingest.
//
// MP_OTEL_BENCH_SPANS (default 2 000 000, ~2 min; 10 000 000 takes ~10 min here) sets the number of spans; MP_OTEL_BENCH_RAW=0 skips the raw runs.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import { cubeViewSql } from '@mp-otel/contracts';
import { runDashboard } from '@mp-otel/grafana';
import { startEmbedded } from '@mp-otel/store';

const SPANS = Number(process.env.MP_OTEL_BENCH_SPANS ?? 2_000_000);
const RAW = process.env.MP_OTEL_BENCH_RAW !== '0';
const DAYS = 7;

/** @typedef {Parameters<typeof runDashboard>[0]} Dashboard */

/**
 * The cube's MV SELECT (minute or hour grain) over otel_traces, as a FROM-able subquery.
 * @param {string} db
 * @param {'minute' | 'hour'} grain
 */
function rawCube(db, grain) {
  return `(${cubeViewSql(db, grain === 'hour' ? 'toStartOfHour(Timestamp)' : 'toStartOfMinute(Timestamp)')})`;
}

/**
 * @param {Dashboard} dash
 * @param {string} db
 * @returns {{ dash: Dashboard, cubeQueries: number }}
 */
function toRaw(dash, db) {
  const minute = rawCube(db, 'minute');
  const hour = rawCube(db, 'hour');
  /** @typedef {(m: string, kw: string, alias: string | undefined) => string} Replacer */
  /** @type {(s: string) => string} */
  const swap = (s) =>
    s
      .replace(
        /\b(FROM|JOIN)\s+mp_sli_route_1m\b(\s+AS\s+\w+)?/g,
        /** @type {Replacer} */ ((_m, kw, alias) => `${kw} ${minute}${alias ?? ' AS mp_sli_route_1m'}`),
      )
      .replace(
        /\b(FROM|JOIN)\s+mp_sli_1m\b(\s+AS\s+\w+)?/g,
        /** @type {Replacer} */ ((_m, kw, alias) => `${kw} ${minute}${alias ?? ' AS mp_sli_1m'}`),
      )
      .replace(
        /\b(FROM|JOIN)\s+mp_sli_1h\b(\s+AS\s+\w+)?/g,
        /** @type {Replacer} */ ((_m, kw, alias) => `${kw} ${hour}${alias ?? ' AS mp_sli_1h'}`),
      );
  const copy = JSON.parse(JSON.stringify(dash));
  let cubeQueries = 0;
  const visit = (/** @type {{ rawSql?: unknown } | undefined} */ t) => {
    if (t && typeof t.rawSql === 'string') {
      const s = swap(t.rawSql);
      if (s !== t.rawSql) cubeQueries++;
      t.rawSql = s;
    }
  };
  for (const v of copy.templating?.list ?? []) visit(v.query);
  for (const a of copy.annotations?.list ?? []) visit(a.target);
  for (const p of copy.panels ?? []) for (const t of p.targets ?? []) visit(t);
  return { dash: copy, cubeQueries };
}

/**
 * @param {import('@clickhouse/client').ClickHouseClient} client
 * @param {number} n
 * @param {number} now
 */
export async function generate(client, n, now) {
  // in blocks, so each INSERT's MV pass stays small
  const block = 500_000;
  for (let off = 0; off < n; off += block) {
    const count = Math.min(block, n - off);
    await client.command({
      query: `INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, ResourceAttributes, SpanAttributes, Duration, StatusCode)
SELECT
  fromUnixTimestamp64Milli(toInt64(${now} - (cityHash64(number, 1) % ${DAYS * 86_400_000}))) AS Timestamp,
  lower(hex(cityHash64(intDiv(number, 2)))) || lower(hex(cityHash64(intDiv(number, 2), 7))) AS TraceId,
  lower(hex(cityHash64(number, 3))) AS SpanId,
  if(number % 2 = 1, lower(hex(cityHash64(number - 1, 3))), '') AS ParentSpanId,
  if(client, concat(method, ' ', route), concat(method, ' ', path)) AS SpanName,
  if(client, 'Client', 'Server') AS SpanKind,
  if(client, 'image-miniprogram', 'image-service') AS ServiceName,
  if(client,
     map('service.name', 'image-miniprogram', 'mp.platform', 'wechat', 'os.name', os, 'mp.base_library.version', baselib,
         'mp.host.version', ['8.0.49', '8.0.50', '8.0.51'][number % 3 + 1], 'service.version', ['1.4.1', '1.4.2'][intDiv(number, 7) % 2 + 1],
         'mp.fingerprint', toString(cityHash64(os, baselib, number % 40)), 'session.id', toString(cityHash64(number % 50000))),
     map('service.name', 'image-service', 'host.name', concat('node-', toString(number % 3 + 1)))) AS ResourceAttributes,
  if(client,
     map('http.request.method', method, 'mp.route_name', route, 'url.full', concat('http://api.example.com', path),
         'http.response.status_code', toString(status), 'error.type', if(status >= 400, toString(status), ''),
         'mp.sampling.weight', '1', 'network.connection.type', ['wifi', 'cell'][number % 2 + 1], 'mp.request.api', if(route = 'upload.image', 'uploadFile', 'downloadFile'),
         'http.request.body.size', toString(cityHash64(number, 5) % 2000000)),
     map('http.request.method', method, 'http.route', if(route = 'upload.image', '/upload', '/images/:id'), 'url.path', path,
         'http.response.status_code', toString(status), 'client.address', IPv4NumToString(toUInt32(1900000000 + cityHash64(number % 20000, 9) % 600000000)),
         'user_agent.original', if(number % 97 = 0, 'python-requests/2.31.0', ''))) AS SpanAttributes,
  toUInt64(5000000 + cityHash64(number, 4) % 800000000) AS Duration,
  if(status >= 400, 'Error', 'Unset') AS StatusCode
FROM (SELECT number + ${off} AS number,
        number % 2 = 0 AS client,
        if(cityHash64(number, 2) % 5 < 2, 'upload.image', 'download.image') AS route,
        if(route = 'upload.image', 'POST', 'GET') AS method,
        if(route = 'upload.image', '/upload', concat('/images/', toString(number % 1000))) AS path,
        ['ios', 'android'][cityHash64(intDiv(number, 2), 6) % 2 + 1] AS os,
        ['3.4.10', '3.5.0'][cityHash64(intDiv(number, 2), 8) % 2 + 1] AS baselib,
        if(route = 'upload.image' AND os = 'ios' AND baselib = '3.5.0' AND cityHash64(number, 10) % 10 < 3, 400,
           if(cityHash64(number, 11) % 1000 = 0, 500, if(route = 'upload.image', 201, 200))) AS status
      FROM numbers(${count}))`,
    });
  }
}

/**
 * The first failed query's error, shortened (the list holds only results with an error).
 * @param {import('@mp-otel/grafana').QueryResult[]} failed
 */
const firstError = (failed) => /** @type {{ error: string }} */ (failed[0]).error.slice(0, 80);

export default async function () {
  const dataDir = mkdtempSync(join(tmpdir(), 'mp-otel-bench-dashboards-'));
  const emb = await startEmbedded({ dataDir, otlpPort: 0, httpPort: 0, log: () => {} });
  // clients with a long timeout: the administrator for the bulk INSERT … SELECT, and the dashboards' own
  // read-only user for every measured query
  const connect = (/** @type {'admin' | 'reader'} */ role) =>
    createClient({
      url: emb.clickhouseUrl,
      username: emb.credentials[role].username,
      password: emb.credentials[role].password,
      database: emb.database,
      request_timeout: 900_000,
    });
  const admin = connect('admin');
  const client = connect('reader');
  /** @type {import('./run.mjs').BenchRow[]} */
  const rows = [];
  try {
    const now = Date.now();
    const t0 = performance.now();
    await generate(admin, SPANS, now);
    const genS = (performance.now() - t0) / 1000;
    const count = async (/** @type {string} */ t) =>
      Number(
        (
          await (
            await client.query({
              query: `SELECT sum(${t === 'otel_traces' ? '1' : 'Spans'}) AS n, count() AS r FROM ${t}`,
              format: 'JSONEachRow',
            })
          ).json()
        )[0].r,
      );
    const cubeRows = await count('mp_sli_1m');
    const routeRows = await count('mp_sli_route_1m');
    rows.push({
      suite: 'dashboards',
      case: `generate ${SPANS} spans (+ MV fill)`,
      value: genS,
      unit: 's',
      note: `mp_sli_1m ${cubeRows} rows, mp_sli_route_1m ${routeRows} rows, ${DAYS} days`,
    });
    // the generated artifacts Grafana loads
    const dir = new URL('../grafana/dashboards/', import.meta.url);
    /** @type {Dashboard[]} */
    const dashboards = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(new URL(f, dir), 'utf8')));
    for (const d of dashboards) {
      // warm-up run (first-touch of parts), then the measured one
      await runDashboard(d, { client, to: now });
      const started = performance.now();
      const res = await runDashboard(d, { client, to: now });
      const ms = performance.now() - started;
      const failed = res.filter((r) => r.error);
      let baseline;
      let note = `${res.length} queries`;
      if (failed.length) note += `; ${failed.length} FAILED: ${firstError(failed)}`;
      if (RAW) {
        const { dash, cubeQueries } = toRaw(d, emb.database);
        if (cubeQueries > 0) {
          const s = performance.now();
          const raw = await runDashboard(dash, { client, to: now });
          baseline = performance.now() - s;
          const rawFailed = raw.filter((r) => r.error);
          note += `; ${cubeQueries} cube queries swapped for raw`;
          if (rawFailed.length) note += `; raw ${rawFailed.length} FAILED: ${firstError(rawFailed)}`;
        } else note += '; raw tables only';
      }
      rows.push({
        suite: 'dashboards',
        case: `${d.uid} (all queries, cube)`,
        value: ms,
        unit: 'ms',
        baseline,
        note,
      });
    }
  } finally {
    await client.close();
    await admin.close();
    await emb.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return rows;
}
