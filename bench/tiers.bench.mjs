// Collector tiers (issue 13): spans per second per collector CPU core for each tier, measured as CPU time
// of each process (/proc/<pid>/stat utime + stime), not wall time, so the number does not depend on what
// else the shared machine runs. Real processes on loopback:
//   client (OTLP/JSON, 500 spans/request, 4 in flight) → front (config.yaml + tiers/front.yaml: limits, noise
//   filter, normalisation, geo, loadbalancing by trace id, disk queue + exporter batching)
//   → sampler (config.yaml + tiers/sampler.yaml: tail sampling at MP_OTEL_TAIL_SAMPLING_PERCENT, default 10,
//   re-weighting, disk queue + exporter batching) → OTLP/HTTP sink (stands in for the ClickHouse exporter)
// and, as the baseline, one collector with the shipped config (the same processors in one process, batch
// processor, in-memory queue) on the same traffic. Also: the sampler's resident memory at the end (its
// tail-sampling buffer holds decision_wait × its share of the traffic).
//   node bench/run.mjs tiers          BENCH_TIER_SPANS (default 120000)
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { procStat, startOtlpCapture } from '@mp-otel/devkit';
import {
  collectorBinary,
  collectorDir,
  ensureCollector,
  FEATURE_GATES,
  freePort,
  geoTestDb,
  removeTempFiles,
  shippedConfig,
  sinkOverlay,
  tempFile,
} from '@mp-otel/stack';
import { parse, stringify } from 'yaml';
import { childResult, isChild, runChild } from './child.mjs';

const SUITE = 'tiers';
const SPANS = Number(process.env.BENCH_TIER_SPANS ?? 120_000);
const PER_REQUEST = 500;
const SPANS_PER_TRACE = 4;
const CONCURRENCY = 4;
const PERCENT = process.env.MP_OTEL_TAIL_SAMPLING_PERCENT ?? '10';
const ENV = { MP_OTEL_TAIL_DECISION_WAIT: '2s', MP_OTEL_TAIL_SAMPLING_PERCENT: PERCENT };
const tiers = join(collectorDir, 'tiers');
const yamlOf = (/** @type {string} */ f) => parse(readFileSync(f, 'utf8'));
const hex = (/** @type {number} */ n) =>
  Array.from({ length: n }, () =>
    Math.floor(Math.random() * 256)
      .toString(16)
      .padStart(2, '0'),
  ).join('');

const cpuSeconds = (/** @type {number | undefined} */ pid) => {
  const s = procStat(`/proc/${pid}`);
  if (!s) throw new Error(`no /proc/${pid}/stat`);
  return s.cpuSeconds;
};
const rssMiB = (/** @type {number | undefined} */ pid) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

/**
 * @param {string} name
 * @param {string[]} configs
 * @param {Record<string, string>} env
 * @param {{ health: number; metrics: number }} ports
 */
async function start(name, configs, env, ports) {
  const child = spawn(
    collectorBinary,
    [...configs.map((/** @type {string} */ c) => `--config=${c}`), FEATURE_GATES],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${ports.health}/`)).ok) break;
    } catch {}
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${name} did not start:\n${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const metric = async (/** @type {string} */ m) => {
    let sum = 0;
    const text = await (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text();
    for (const line of text.split('\n')) {
      const x = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? ([-\d.e+]+)$/.exec(line);
      if (x && (x[1] === m || x[1] === `${m}_total`)) sum += Number(x[3]);
    }
    return sum;
  };
  return {
    pid: child.pid,
    metric,
    stop: () =>
      new Promise((r) => {
        child.once('exit', r);
        child.kill('SIGTERM');
      }),
  };
}

const telemetry = (/** @type {number} */ port) => ({
  logs: { level: 'warn' },
  metrics: {
    level: 'normal',
    readers: [{ pull: { exporter: { prometheus: { host: '127.0.0.1', port } } } }],
  },
});

function traffic() {
  const requests = [];
  const now = BigInt(Date.now()) * 1_000_000n;
  let traces = 0;
  for (let r = 0; r < SPANS / PER_REQUEST; r++) {
    const spans = [];
    for (let t = 0; t < PER_REQUEST / SPANS_PER_TRACE; t++) {
      const traceId = hex(16);
      traces++;
      for (let j = 0; j < SPANS_PER_TRACE; j++) {
        const error = (traces + j) % 53 === 0;
        spans.push({
          traceId,
          spanId: hex(8),
          name: j === 0 ? 'GET /images/{id}' : `db.query ${j}`,
          kind: j === 0 ? 2 : 3,
          startTimeUnixNano: String(now),
          endTimeUnixNano: String(now + BigInt(20 + ((traces * 7) % 300)) * 1_000_000n),
          attributes: [
            { key: 'http.route', value: { stringValue: '/images/{id}' } },
            { key: 'http.request.method', value: { stringValue: 'GET' } },
            { key: 'url.full', value: { stringValue: `https://api.example.com/images/${traces}` } },
            { key: 'http.response.status_code', value: { intValue: error ? '500' : '200' } },
            { key: 'client.address', value: { stringValue: '192.0.2.10' } },
          ],
          status: error ? { code: 2 } : { code: 0 },
        });
      }
    }
    requests.push(
      JSON.stringify({
        resourceSpans: [
          {
            resource: {
              attributes: [
                { key: 'service.name', value: { stringValue: 'image-service' } },
                { key: 'host.name', value: { stringValue: 'node-1' } },
              ],
            },
            scopeSpans: [{ scope: { name: 'bench' }, spans }],
          },
        ],
      }),
    );
  }
  return { requests, traces, bytes: requests.reduce((n, r) => n + r.length, 0) };
}

/**
 * @param {string} url
 * @param {string[]} requests
 */
async function drive(url, requests) {
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const body = requests[next++];
      for (;;) {
        const res = await fetch(`${url}/v1/traces`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        await res.arrayBuffer();
        if (res.ok) break;
        await new Promise((r) => setTimeout(r, 50)); // refused under memory pressure: retry like an SDK
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

/**
 * @param {() => Promise<boolean> | boolean} fn
 */
async function until(fn, timeoutMs = 300_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error('tiers bench: timed out waiting for the pipeline to drain');
    await new Promise((r) => setTimeout(r, 200));
  }
}

// ClickHouse bytes per span: the same generated spans through the embedded store's OTLP receiver into chDB
// (the migrations' otel_traces + cubes), parts merged (OPTIMIZE FINAL) and not. chDB allows one data
// directory per process: this runs in a child process (this file with --child).
async function storageChild() {
  const { startEmbedded } = await import('@mp-otel/store');
  const dataDir = mkdtempSync(join(tmpdir(), 'mp-otel-bench-ch-'));
  const emb = await startEmbedded({ dataDir, otlpPort: 0, httpPort: 0, log: () => {}, geo: false });
  try {
    const load = traffic();
    await drive(emb.otlpUrl, load.requests);
    await emb.flush();
    const measure = async () => {
      const rs = await emb.client.query({
        query: `SELECT table, sum(rows) AS rows, sum(bytes_on_disk) AS disk, sum(data_uncompressed_bytes) AS raw
                FROM system.parts WHERE active AND database = '${emb.database}' AND table IN ('otel_traces', 'mp_sli_1m', 'mp_sli_1h', 'mp_sli_route_1m', 'otel_traces_trace_id_ts')
                GROUP BY table`,
        format: 'JSONEachRow',
      });
      return Object.fromEntries(
        (await rs.json()).map((r) => [
          r.table,
          { rows: Number(r.rows), disk: Number(r.disk), raw: Number(r.raw) },
        ]),
      );
    };
    const before = await measure();
    for (const t of ['otel_traces', 'mp_sli_1m', 'mp_sli_1h', 'mp_sli_route_1m', 'otel_traces_trace_id_ts'])
      await emb.client.command({ query: `OPTIMIZE TABLE ${emb.database}.${t} FINAL` });
    const after = await measure();
    childResult({ before, after, spans: SPANS });
  } finally {
    await emb.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const storage = () => runChild(fileURLToPath(import.meta.url), 'tiers bench storage');

if (isChild()) {
  await storageChild();
  process.exit(0);
}

export default async function bench() {
  ensureCollector();
  const rows = [];
  const st = await storage();
  const per = (/** @type {Record<string, { disk?: number }>} */ o, /** @type {string} */ t) =>
    (o[t]?.disk ?? 0) / st.spans;
  rows.push(
    {
      suite: SUITE,
      case: 'ClickHouse otel_traces bytes on disk per span (parts merged)',
      value: Math.round(per(st.after, 'otel_traces')),
      unit: 'B/span',
      baseline: Math.round((st.after.otel_traces?.raw ?? 0) / st.spans),
      note: `baseline: uncompressed; before merge ${Math.round(per(st.before, 'otel_traces'))} B/span; chDB, ${st.spans} generated spans via the OTLP receiver`,
    },
    {
      suite: SUITE,
      case: 'ClickHouse cubes + trace-id index bytes on disk per span (merged)',
      value: Math.round(
        ['mp_sli_1m', 'mp_sli_1h', 'mp_sli_route_1m', 'otel_traces_trace_id_ts'].reduce(
          (n, t) => n + per(st.after, t),
          0,
        ),
      ),
      unit: 'B/span',
      note: 'all spans fall in a few minutes: cube rows per span are lower than in production',
    },
  );
  /** @type {string[]} */
  const dirs = [];
  const load = traffic();
  const sink = await startOtlpCapture({ dedupe: false });
  try {
    // ---- tiers: 1 front → 1 sampler (CPU of each process measured separately)
    const sampler = yamlOf(join(tiers, 'sampler.yaml'));
    const front = yamlOf(join(tiers, 'front.yaml'));
    const sinkExporter = (/** @type {unknown} */ queue) => ({
      endpoint: sink.url,
      encoding: 'json',
      compression: 'none',
      sending_queue: queue,
    });
    const startTiers = async (/** @type {Record<string, string>} */ env) => {
      const sp = { health: await freePort(), metrics: await freePort(), grpc: await freePort() };
      const sq = mkdtempSync(join(tmpdir(), 'mp-otel-bench-q-'));
      dirs.push(sq);
      const s = await start(
        'sampler',
        [
          shippedConfig,
          join(tiers, 'sampler.yaml'),
          tempFile(
            'bench-sampler.yaml',
            stringify({
              exporters: { 'otlphttp/sink': sinkExporter(sampler.exporters.clickhouse.sending_queue) },
              service: {
                telemetry: telemetry(sp.metrics),
                pipelines: {
                  traces: { exporters: ['otlphttp/sink'] },
                  logs: { exporters: ['otlphttp/sink'] },
                  metrics: { exporters: ['otlphttp/sink'] },
                },
              },
            }),
          ),
        ],
        {
          ...env,
          MP_OTEL_TIER_GRPC_ENDPOINT: `127.0.0.1:${sp.grpc}`,
          MP_OTEL_HEALTH_ENDPOINT: `127.0.0.1:${sp.health}`,
          MP_OTEL_QUEUE_DIR: sq,
        },
        sp,
      );
      const fp = { health: await freePort(), metrics: await freePort(), http: await freePort() };
      const fq = mkdtempSync(join(tmpdir(), 'mp-otel-bench-q-'));
      dirs.push(fq);
      const f = await start(
        'front',
        [
          shippedConfig,
          join(tiers, 'front.yaml'),
          join(tiers, 'front-static.yaml'),
          tempFile(
            'bench-front.yaml',
            stringify({
              exporters: { 'otlphttp/sink': sinkExporter(front.exporters.clickhouse.sending_queue) },
              service: {
                telemetry: telemetry(fp.metrics),
                pipelines: {
                  logs: { exporters: ['otlphttp/sink'] },
                  metrics: { exporters: ['otlphttp/sink'] },
                },
              },
            }),
          ),
        ],
        {
          ...env,
          MP_OTEL_OTLP_HTTP_ENDPOINT: `127.0.0.1:${fp.http}`,
          MP_OTEL_OTLP_GRPC_ENDPOINT: `127.0.0.1:${await freePort()}`,
          MP_OTEL_HEALTH_ENDPOINT: `127.0.0.1:${fp.health}`,
          MP_OTEL_GEOIP_DB: geoTestDb,
          MP_OTEL_QUEUE_DIR: fq,
          MP_OTEL_SAMPLERS: `[127.0.0.1:${sp.grpc}]`,
        },
        fp,
      );
      return { s, f, fp };
    };
    const { s, f, fp } = await startTiers(ENV);
    const c0 = { f: cpuSeconds(f.pid), s: cpuSeconds(s.pid) };
    const t0 = Date.now();
    await drive(`http://127.0.0.1:${fp.http}`, load.requests);
    const acceptedAt = Date.now();
    await until(
      async () =>
        (await s.metric('otelcol_processor_tail_sampling_global_count_traces_sampled')) >= load.traces,
    );
    await until(async () => (await s.metric('otelcol_exporter_queue_size')) === 0 && sink.inFlight === 0);
    const c1 = { f: cpuSeconds(f.pid), s: cpuSeconds(s.pid) };
    const samplerRss = rssMiB(s.pid);
    const kept = sink.spanCount();
    const frontPerCore = SPANS / (c1.f - c0.f);
    const samplerPerCore = SPANS / (c1.s - c0.s);
    rows.push(
      {
        suite: SUITE,
        case: 'front tier: spans/s per CPU core',
        value: Math.round(frontPerCore),
        unit: 'spans/core-s',
        note: `${SPANS} spans OTLP/JSON in ${((acceptedAt - t0) / 1000).toFixed(1)} s wall; ${(c1.f - c0.f).toFixed(1)} CPU-s`,
      },
      {
        suite: SUITE,
        case: `sampling tier (tail sampling ${PERCENT} %): spans/s per CPU core`,
        value: Math.round(samplerPerCore),
        unit: 'spans/core-s',
        note: `${(c1.s - c0.s).toFixed(1)} CPU-s; kept ${kept} spans (${((100 * kept) / SPANS).toFixed(1)} %); RSS ${samplerRss.toFixed(0)} MiB`,
      },
      {
        suite: SUITE,
        case: 'client → front OTLP/JSON bytes per span',
        value: Math.round(load.bytes / SPANS),
        unit: 'B/span',
        note: 'uncompressed request bodies',
      },
    );
    await f.stop();
    await s.stop();

    // ---- memory a sampler needs per span it holds for a decision: a 60 s decision wait keeps them all
    {
      const m = await startTiers({ ...ENV, MP_OTEL_TAIL_DECISION_WAIT: '60s' });
      const idle = rssMiB(m.s.pid);
      await drive(`http://127.0.0.1:${m.fp.http}`, load.requests);
      await until(async () => (await m.s.metric('otelcol_receiver_accepted_spans')) >= SPANS);
      const held = rssMiB(m.s.pid);
      rows.push({
        suite: SUITE,
        case: 'sampler resident memory per span waiting for its decision',
        value: Math.round(((held - idle) * 1024 * 1024) / SPANS),
        unit: 'B/span',
        note: `RSS ${idle.toFixed(0)} → ${held.toFixed(0)} MiB holding ${SPANS} spans (Go heap, not forced to GC)`,
      });
      await m.f.stop();
      await m.s.stop();
    }

    // ---- baseline: one collector with the shipped config on the same traffic
    const before = sink.spanCount();
    const op = { health: await freePort(), metrics: await freePort(), http: await freePort() };
    const one = await start(
      'single',
      [
        shippedConfig,
        tempFile('bench-single.yaml', sinkOverlay(sink.url)),
        tempFile('bench-single-tel.yaml', stringify({ service: { telemetry: telemetry(op.metrics) } })),
      ],
      {
        ...ENV,
        MP_OTEL_OTLP_HTTP_ENDPOINT: `127.0.0.1:${op.http}`,
        MP_OTEL_OTLP_GRPC_ENDPOINT: `127.0.0.1:${await freePort()}`,
        MP_OTEL_HEALTH_ENDPOINT: `127.0.0.1:${op.health}`,
        MP_OTEL_GEOIP_DB: geoTestDb,
      },
      op,
    );
    const o0 = cpuSeconds(one.pid);
    await drive(`http://127.0.0.1:${op.http}`, load.requests);
    await until(
      async () =>
        (await one.metric('otelcol_processor_tail_sampling_global_count_traces_sampled')) >= load.traces,
    );
    await until(
      async () =>
        (await one.metric('otelcol_exporter_queue_size')) === 0 &&
        sink.inFlight === 0 &&
        sink.spanCount() - before >= kept * 0.9,
    );
    const o1 = cpuSeconds(one.pid);
    await one.stop();
    const singlePerCore = SPANS / (o1 - o0);
    rows.push({
      suite: SUITE,
      case: 'one collector (shipped config): spans/s per CPU core',
      value: Math.round(singlePerCore),
      unit: 'spans/core-s',
      baseline: Math.round(1 / (1 / frontPerCore + 1 / samplerPerCore)),
      note: 'baseline: front + sampler together per span (the price of the split: gRPC hop, disk queues)',
    });
  } finally {
    await sink.close();
    removeTempFiles();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
  return rows;
}
