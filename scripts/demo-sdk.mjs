// `npm run demo:sdk`: the example WeChat mini-program (examples/wechat-miniprogram, its own app.js and pages)
// runs on the wx shim in a bare realm, talks to the real example image service (instrumented with
// @mp-otel/node), and both send telemetry to a local OTLP receiver. Prints what arrived: each client
// span beside the backend span that continued its trace, the fingerprint, errors, metrics.
// Everything listens on 127.0.0.1 and stops by itself.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createWx, runMiniProgram, startOtlpCapture } from '@mp-otel/devkit';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'mp-otel-demo-'));
const deadline = setTimeout(() => {
  console.error('demo: gave up after 60 s');
  process.exit(1);
}, 60_000);

/**
 * @param {string} what
 * @param {() => boolean} check
 */
const until = async (what, check, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`demo: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

/**
 * The example image service as a child process, with the Node preset, on a free loopback port.
 * @param {string} otlpUrl
 */
async function startImageService(otlpUrl) {
  const child = spawn(process.execPath, ['--import', '@mp-otel/node/register', 'src/server.js'], {
    cwd: join(root, 'examples/image-service'),
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      STORAGE_DIR: join(work, 'images'),
      OTEL_SERVICE_NAME: 'image-service',
      OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_METRIC_EXPORT_INTERVAL: '1000',
      OTEL_BSP_SCHEDULE_DELAY: '200',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      const m = /listening on (\d+)/.exec(String(chunk));
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`image service exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

/** A small real JPEG (SOI … EOI), what wx.chooseMedia hands the page. */
function photo() {
  const path = join(work, 'photo.jpg');
  const body = Buffer.alloc(180_000, 0x5a);
  writeFileSync(
    path,
    Buffer.concat([
      Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]),
      body,
      Buffer.from([0xff, 0xd9]),
    ]),
  );
  return path;
}

const capture = await startOtlpCapture();
const service = await startImageService(capture.url);
const { wx, control } = createWx({
  fingerprint: { platform: 'ios', system: 'iOS 17.4', SDKVersion: '3.4.10', version: '8.0.50' },
  extConfig: { apiBaseUrl: service.url, otelEndpoint: capture.url },
  media: [photo()],
  performance: true,
});
const app = runMiniProgram(join(root, 'examples/wechat-miniprogram'), wx, control, { performance: true });

// A user taps "Choose and upload", then "Show it", then something in the page throws.
app.page().chooseAndUpload();
await until('the upload', () =>
  /** @type {unknown[]} */ (['done', 'failed']).includes(app.page().data.status),
);
app.page().openGallery();
await until(
  'the gallery',
  () => app.page().route === 'pages/gallery/gallery' && app.page().data.status !== 'loading',
);
control.emit(
  'error',
  "thirdScriptError\nimage is undefined\nTypeError: Cannot read properties of undefined (reading 'width')\n    at Page.onImageLoad (pages/gallery/gallery.js:14:20)",
);
app.hide(); // the SDK flushes on wx.onAppHide

await until('client and server spans', () => {
  const spans = capture.spans();
  return (
    spans.some((s) => s.attributes['mp.request.api'] === 'downloadFile') &&
    spans.filter((s) => s.kind === 2).length >= 2
  );
});
await until('client exception log', () => capture.logs().some((l) => l.eventName === 'exception'));
await service.stop(); // graceful shutdown flushes the preset's metrics
app.kill();

// ── what arrived ──
const spans = capture.spans();
const client = spans.filter((s) => s.resource['mp.platform']);
const server = spans.filter((s) => s.kind === 2 && !s.resource['mp.platform']);
const ms = (/** @type {import('@mp-otel/devkit').CapturedSpan} */ s) =>
  (Number(BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano)) / 1e6).toFixed(1);
const fp = client[0]?.resource ?? {};
console.log(
  '\nmp-otel demo — the example mini-program on the wx shim → example image service, both → OTLP receiver\n',
);
console.log(
  `client fingerprint  os=${fp['os.name']} ${fp['os.version']}  WeChat=${fp['mp.host.version']}  base library=${fp['mp.base_library.version']}  app=${fp['service.version']}  mp.fingerprint=${fp['mp.fingerprint']}`,
);
console.log(`session.id          ${fp['session.id']}\n`);
console.log(
  'client span (mini-program)                 status  ms      → server span (image-service)            status  mp.fingerprint',
);
for (const c of client.filter((s) => s.kind === 3)) {
  const s = server.find((x) => x.traceId === c.traceId && x.parentSpanId === c.spanId);
  console.log(
    `${c.name.padEnd(42)} ${String(c.attributes['http.response.status_code'] ?? c.attributes['error.type']).padEnd(7)} ${ms(c).padEnd(7)} → ${(s ? `${s.name}` : '(no server span)').padEnd(40)} ${String(s?.attributes['http.response.status_code'] ?? '').padEnd(7)} ${s?.attributes['mp.fingerprint'] ?? ''}`,
  );
}
console.log(
  '\npage and launch spans:',
  client
    .filter((s) => s.kind !== 3)
    .map((s) => `${s.name}(${s.attributes['mp.page.route'] ?? ''})`)
    .join(', '),
);
for (const l of capture.logs().filter((x) => x.resource['mp.platform'])) {
  console.log(
    `client ${l.eventName}: ${l.attributes['exception.type']}: ${l.attributes['exception.message']} (page ${l.attributes['mp.page.route']})`,
  );
}
const metricNames = new Set();
for (const r of capture.requests.filter((x) => x.signal === 'metrics')) {
  for (const rm of r.body.resourceMetrics ?? [])
    for (const sm of rm.scopeMetrics ?? []) for (const m of sm.metrics ?? []) metricNames.add(m.name);
}
console.log(
  `backend metrics: ${
    [...metricNames]
      .filter((n) => n.startsWith('mp.') || n.startsWith('http.'))
      .sort()
      .join(', ') || '(none)'
  }`,
);
console.log(
  `\n${capture.requests.length} OTLP requests: ${client.length} client spans, ${spans.length - client.length} backend spans, ${capture.logs().length} log records`,
);
const linked = client.filter(
  (c) => c.kind === 3 && server.some((s) => s.traceId === c.traceId && s.parentSpanId === c.spanId),
);
if (linked.length < 2) {
  console.error('demo: expected the upload and the download to continue into the backend trace');
  process.exitCode = 1;
}
await capture.close();
clearTimeout(deadline);
