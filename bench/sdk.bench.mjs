// Mini-program SDK benchmarks:
// 1. What an app ships: miniprogram_dist minified + gzipped, beside bare OpenTelemetry (sdk-trace +
//    OTLP/JSON serializer + exporter base, bundled the same way) and Tencent's aegis-mp-sdk 1.39.4.
// 2. What a request costs (every feature on): µs per wx.request with the SDK, in the bare realm, against the same
//    wx.request uninstrumented, in the same run: once with a host that answers at once (the SDK's own CPU
//    cost) and once over real loopback HTTP.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { createRealm, createWx, loadMiniProgramSdk, startOtlpCapture } from '@mp-otel/devkit';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const gz = (/** @type {Uint8Array} */ buf) => gzipSync(buf, { level: 9 }).length;
const kb = (/** @type {number} */ n) => Math.round((n / 1024) * 10) / 10;

/**
 * The part of a wx host (the devkit shim, or the bare-OTel wrapper below) these benches drive.
 * @typedef {{ statusCode: number, data?: unknown, header?: Record<string, string> }} WxResponse
 * @typedef {{ url: string, header?: Record<string, string>, success?: (res: WxResponse) => void, fail?: (err: unknown) => void }} WxRequestOptions
 * @typedef {{ request(o: WxRequestOptions): unknown }} RequestingWx
 */

function buildBareOtel() {
  return esbuild.build({
    entryPoints: [join(here, 'fixtures/bare-otel-entry.js')],
    bundle: true,
    minify: true,
    format: 'cjs',
    platform: 'browser',
    mainFields: ['module', 'main'],
    target: 'es2017',
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
}

async function bundleSizes() {
  const sdk = readFileSync(join(here, '../packages/miniprogram/miniprogram_dist/index.js'));
  const bare = await buildBareOtel();
  const aegis = readFileSync(require.resolve('aegis-mp-sdk/lib/aegis.min.js'));
  const bareGz = gz(/** @type {import('esbuild').OutputFile} */ (bare.outputFiles[0]).contents);
  return [
    {
      suite: 'sdk size',
      case: 'mp-otel miniprogram_dist (min+gz)',
      value: kb(gz(sdk)),
      unit: 'KB',
      baseline: kb(bareGz),
      note: 'baseline: bare OpenTelemetry sdk-trace + OTLP/JSON exporter',
    },
    {
      suite: 'sdk size',
      case: 'mp-otel miniprogram_dist (min+gz)',
      value: kb(gz(sdk)),
      unit: 'KB',
      baseline: kb(gz(aegis)),
      note: 'baseline: aegis-mp-sdk 1.39.4',
    },
    {
      suite: 'sdk size',
      case: 'mp-otel miniprogram_dist (min)',
      value: kb(sdk.length),
      unit: 'KB',
      note: 'target ≤ 20 KB gz',
    },
    ...[
      ['render', 3],
      ['console', 1],
      ['frameworks', 1.5],
    ].map(([name, budget]) => ({
      suite: 'sdk size',
      case: `plugin ${name}.js (min+gz)`,
      value: kb(gz(readFileSync(join(here, `../packages/miniprogram/miniprogram_dist/${name}.js`)))),
      unit: 'KB',
      note: `budget ≤ ${budget} KB gz; loadable from a subpackage`,
    })),
  ];
}

/**
 * A host whose request answers on the next microtask: isolates what the SDK itself costs.
 * @returns {RequestingWx}
 */
function instantWx() {
  const { wx } = createWx();
  const answer = (/** @type {WxRequestOptions} */ o) =>
    queueMicrotask(() =>
      o.success?.({ statusCode: 200, data: '{"ok":1}', header: { 'content-length': '8' } }),
    );
  const request = (/** @type {WxRequestOptions} */ o) => {
    answer(o);
    return { abort() {} };
  };
  Object.defineProperty(wx, 'request', {
    value: request,
    configurable: true,
    writable: true,
  });
  return wx;
}

/**
 * @param {RequestingWx} wx
 * @param {string} url
 * @param {number} n
 */
async function timeRequests(wx, url, n) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i += 10) {
    await Promise.all(
      Array.from(
        { length: 10 },
        () => new Promise((resolve) => wx.request({ url, success: resolve, fail: resolve })),
      ),
    );
  }
  return Number(process.hrtime.bigint() - started) / 1000 / n;
}

/**
 * The same bare OpenTelemetry with the wx.request wrapper a team would write by hand: a CLIENT span,
 * traceparent, status; exported in batches through OTLPExporterBase + JsonTraceSerializer to a transport
 * that accepts at once. Its realm is given `performance` and `TextEncoder`, which it needs.
 */
async function bareOtelWx(/** @type {() => RequestingWx} */ makeWx) {
  const wx = makeWx();
  const code = /** @type {import('esbuild').OutputFile} */ ((await buildBareOtel()).outputFiles[0]).text;
  const realm = createRealm({ performance, TextEncoder });
  const otel = realm.runModule(code, 'bare-otel.js');
  const transport = { send: () => Promise.resolve({ status: 'success' }), shutdown() {} };
  const exporter = new otel.OTLPExporterBase(
    otel.createOtlpNetworkExportDelegate(
      { timeoutMillis: 10_000, concurrencyLimit: 100, compression: 'none' },
      otel.JsonTraceSerializer,
      { startExport: () => () => {} },
      transport,
    ),
  );
  const provider = new otel.BasicTracerProvider({
    spanProcessors: [
      new otel.BatchSpanProcessor(exporter, { maxQueueSize: 100_000, maxExportBatchSize: 100 }),
    ],
  });
  const tracer = provider.getTracer('bare');
  const original = wx.request;
  const wrapped = (/** @type {WxRequestOptions} */ o) => {
    const span = tracer.startSpan('GET', {
      kind: 2,
      attributes: { 'http.request.method': 'GET', 'url.full': o.url },
    });
    const sc = span.spanContext();
    return original({
      ...o,
      header: { ...o.header, traceparent: `00-${sc.traceId}-${sc.spanId}-01` },
      success: (/** @type {WxResponse} */ res) => {
        span.setAttribute('http.response.status_code', res.statusCode);
        span.end();
        o.success?.(res);
      },
      fail: (/** @type {unknown} */ err) => {
        span.setStatus({ code: 2 });
        span.end();
        o.fail?.(err);
      },
    });
  };
  return { wx: { request: wrapped }, close: () => provider.shutdown().then(() => realm.dispose()) };
}

async function requestOverhead() {
  const capture = await startOtlpCapture();
  const server = http.createServer((_req, res) => res.end('{"ok":1}'));
  await /** @type {Promise<void>} */ (new Promise((r) => server.listen(0, '127.0.0.1', r)));
  const url = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}/ok`;
  /** @type {import('./run.mjs').BenchRow[]} */
  const rows = [];
  /** @type {[string, () => RequestingWx, number][]} */
  const hosts = [
    ['instant host', instantWx, 20_000],
    ['loopback HTTP', () => createWx().wx, 2_000],
  ];
  for (const [label, makeWx, n] of hosts) {
    const plainWx = makeWx();
    const instrumentedWx = makeWx();
    const { sdk, realm } = loadMiniProgramSdk(instrumentedWx);
    // every feature on (the defaults), trace context to the requests' own host
    const otel = sdk.init({
      serviceName: 'bench',
      endpoint: capture.url,
      hosts: ['127.0.0.1'],
      rateLimit: { traces: { rate: 1e9, burst: 1e9 } },
    });
    await timeRequests(plainWx, url, n / 10); // warm up both
    await timeRequests(instrumentedWx, url, n / 10);
    let plain = Number.POSITIVE_INFINITY;
    let instrumented = Number.POSITIVE_INFINITY;
    for (let round = 0; round < 3; round++) {
      plain = Math.min(plain, await timeRequests(plainWx, url, n));
      instrumented = Math.min(instrumented, await timeRequests(instrumentedWx, url, n));
    }
    await otel.shutdown();
    realm.dispose();
    const bare = await bareOtelWx(makeWx);
    await timeRequests(bare.wx, url, n / 10);
    let bareCost = Number.POSITIVE_INFINITY;
    for (let round = 0; round < 3; round++)
      bareCost = Math.min(bareCost, await timeRequests(bare.wx, url, n));
    await bare.close();
    const note = `best of 3 × ${n}`;
    rows.push({
      suite: 'sdk request cost',
      case: `${label}: mp-otel vs uninstrumented`,
      value: instrumented,
      unit: 'µs/req',
      baseline: plain,
      note: `+${(instrumented - plain).toFixed(1)} µs/req; ${note}`,
    });
    rows.push({
      suite: 'sdk request cost',
      case: `${label}: mp-otel vs bare OTel wrapper`,
      value: instrumented,
      unit: 'µs/req',
      baseline: bareCost,
      note: `bare: hand-written wx.request span + BatchSpanProcessor; ${note}`,
    });
  }
  server.close();
  await capture.close();
  return rows;
}

export default async function () {
  return [...(await bundleSizes()), ...(await requestOverhead())];
}
