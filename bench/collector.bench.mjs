// Collector throughput (spans/s) beside the embedded receiver taking the same load directly.
//   node bench/run.mjs collector      (needs `npm run build` first: the collector binary, mp-otel's dist)
// Workload: SPANS client spans as OTLP/JSON, BATCH spans per request, CONCURRENCY requests in flight.
// Each case times from the first request to the last span stored/delivered.
//   embedded receiver → chDB            baseline: `mp-otel up`'s own OTLP receiver
//   collector → clickhouse exporter → embedded endpoint → chDB   (the docker-compose path, embedded store)
//   collector (shipped pipeline) → OTLP/HTTP sink                 (the processors alone, no store)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOtlpCapture } from '@mp-otel/devkit';
import {
  ensureCollector,
  newTraceId,
  postOtlp,
  shippedConfig,
  sinkOverlay,
  startCollector,
  tempFile,
  tracesRequest,
} from '@mp-otel/stack';

const SPANS = Number(process.env.BENCH_SPANS ?? 40_000);
const BATCH = 500;
const CONCURRENCY = 4;

function workload() {
  const batches = [];
  for (let i = 0; i < SPANS / BATCH; i++) {
    batches.push(
      tracesRequest(
        {
          'service.name': 'bench-miniprogram',
          'mp.platform': 'wechat',
          'os.name': i % 2 ? 'ios' : 'android',
        },
        Array.from({ length: BATCH }, (_, j) => ({
          traceId: newTraceId(),
          name: 'GET download.image',
          error: j % 50 === 0,
          attributes: {
            'http.request.method': 'GET',
            'url.full': 'https://api.example.com/images/abc',
            'mp.route_name': 'download.image',
            'http.response.status_code': j % 50 === 0 ? 500 : 200,
            'mp.sampling.weight': 1,
          },
        })),
      ),
    );
  }
  return batches;
}

/**
 * @param {string} base
 * @param {unknown[]} batches
 */
async function send(base, batches) {
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const b = batches[next++];
      await postOtlp(base, 'traces', b);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

/** @param {() => boolean | Promise<boolean>} fn */
async function until(fn, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const countRows = async (/** @type {import('@mp-otel/store').Embedded} */ emb) => {
  const rs = await emb.client.query({ query: 'SELECT count() AS n FROM otel_traces', format: 'JSONEachRow' });
  const [row] = await rs.json();
  return Number(row.n);
};

export default async function () {
  ensureCollector();
  const { startEmbedded } = await import('@mp-otel/store');
  const rows = [];
  const batches = workload();

  // 1. embedded receiver directly (baseline)
  const dir1 = mkdtempSync(join(tmpdir(), 'mp-otel-bench-'));
  const emb = await startEmbedded({ dataDir: dir1, otlpPort: 0, httpPort: 0, geo: false, log: () => {} });
  let baseline;
  try {
    const t0 = performance.now();
    await send(emb.otlpUrl, batches);
    await emb.flush();
    const ok = await until(async () => (await countRows(emb)) >= SPANS);
    baseline = SPANS / ((performance.now() - t0) / 1000);
    rows.push({
      suite: 'collector',
      case: 'embedded receiver → chDB (baseline)',
      value: baseline,
      unit: 'spans/s',
      note: ok ? `${SPANS} spans` : 'incomplete',
    });

    // 2. collector → clickhouse exporter → the embedded ClickHouse-compatible endpoint
    await emb.client.command({ query: 'TRUNCATE TABLE otel_traces' });
    const overlay = tempFile(
      'bench-ch.yaml',
      `exporters:
  clickhouse:
    endpoint: ${emb.clickhouseUrl}
    username: ${emb.credentials.writer.username}
    password: ${JSON.stringify(emb.credentials.writer.password)}
    database: ${emb.database}
    compress: none
    async_insert: false
service:
  telemetry: { metrics: { level: none } }
  pipelines:
    traces: { processors: [memory_limiter, batch], exporters: [clickhouse] }
`,
    );
    const col = await startCollector([shippedConfig, overlay]);
    try {
      const t0c = performance.now();
      await send(col.otlpHttp, batches);
      const ok2 = await until(async () => (await countRows(emb)) >= SPANS, 60_000);
      const v = SPANS / ((performance.now() - t0c) / 1000);
      rows.push(
        ok2
          ? {
              suite: 'collector',
              case: 'collector → clickhouse exporter → embedded endpoint',
              value: v,
              unit: 'spans/s',
              baseline,
              note: 'memory_limiter + batch',
            }
          : {
              suite: 'collector',
              case: 'collector → clickhouse exporter → embedded endpoint',
              value: Number.NaN,
              unit: 'spans/s',
              baseline,
              note: `not measurable: ${await countRows(emb)} of ${SPANS} rows arrived (${(col.logs().match(/"error": "([^"]+)"/) ?? [])[1] ?? 'see collector log'})`,
            },
      );
    } finally {
      await col.stop();
    }
  } finally {
    await emb.close();
    rmSync(dir1, { recursive: true, force: true });
  }

  // 3. collector with the full shipped pipeline (filter, transform, geoip, tail sampling at 100 %) → sink
  const sink = await startOtlpCapture();
  const col = await startCollector([shippedConfig, tempFile('bench-sink.yaml', sinkOverlay(sink.url))], {
    MP_OTEL_TAIL_DECISION_WAIT: '1s',
    MP_OTEL_TAIL_SAMPLING_PERCENT: '100',
  });
  try {
    const count = () => sink.spanCount();
    const t0 = performance.now();
    await send(col.otlpHttp, batches);
    const sentAt = performance.now();
    const ok = await until(() => count() >= SPANS, 60_000);
    const total = (performance.now() - t0) / 1000;
    rows.push({
      suite: 'collector',
      case: 'collector, shipped pipeline (tail sampling 100 %) → OTLP sink',
      value: SPANS / total,
      unit: 'spans/s',
      baseline,
      note: `${ok ? SPANS : count()} spans; includes the 1 s decision wait; ingest alone ${(SPANS / ((sentAt - t0) / 1000)).toFixed(0)} spans/s`,
    });
  } finally {
    await col.stop();
    await sink.close();
  }
  return rows;
}
