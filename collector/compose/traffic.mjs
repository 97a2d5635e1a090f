// Traffic generator for docker-compose.yml: the real mini-program SDK (@mp-otel/miniprogram, loaded into a
// bare realm on the devkit's wx shim, which does real HTTP) calling the catalog routes through Kong, and
// sending its own telemetry to the collector. A share of the simulated devices reproduce the seed's
// incident (iOS + one base-library version) so the dashboards have something to find.
//   GATEWAY_URL=http://kong:8000 OTLP_ENDPOINT=http://kong:8000 TRAFFIC_RPS=2 node collector/compose/traffic.mjs
// Telemetry goes where a real phone's goes: through Kong, with the app's ingest key (MP_OTEL_INGEST_KEY,
// default: the first key of the catalog's first app). Stops after TRAFFIC_MAX_REQUESTS requests when set
// (default: runs until stopped). Health: GET http://127.0.0.1:$TRAFFIC_HEALTH_PORT/healthz answers 200 while
// business requests complete (one within the last 30 s, or none expected yet), 503 otherwise.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createWx, loadMiniProgramSdk } from '@mp-otel/devkit';
import { parse } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const gateway = (process.env.GATEWAY_URL ?? 'http://127.0.0.1:8000').replace(/\/+$/, '');
const endpoint = process.env.OTLP_ENDPOINT ?? 'http://127.0.0.1:4318';
const rps = Math.max(0.1, Number(process.env.TRAFFIC_RPS ?? 2));
const maxRequests = Number(process.env.TRAFFIC_MAX_REQUESTS ?? Number.POSITIVE_INFINITY);
/** @type {import('@mp-otel/contracts').Catalog} */
const catalog = parse(readFileSync(join(root, 'catalog', 'catalog.yaml'), 'utf8'));
const key = process.env.MP_OTEL_INGEST_KEY || catalog.apps?.[0]?.keys?.[0]?.key;
const healthPort = Number(process.env.TRAFFIC_HEALTH_PORT ?? 0);
const startedAt = Date.now();
let lastCompleted = 0;
let completed = 0;

const FLEET = [
  { platform: 'ios', system: 'iOS 17.2.1', brand: 'iPhone', model: 'iPhone 15', SDKVersion: '3.4.1' },
  { platform: 'ios', system: 'iOS 16.7', brand: 'iPhone', model: 'iPhone 12', SDKVersion: '3.3.5' },
  { platform: 'android', system: 'Android 14', brand: 'Xiaomi', model: '23049RAD8C', SDKVersion: '3.4.1' },
  { platform: 'android', system: 'Android 13', brand: 'HUAWEI', model: 'NOH-AN00', SDKVersion: '3.3.5' },
];

/** @param {import('@mp-otel/devkit').WxShimOptions['fingerprint']} fp */
function device(fp) {
  const { wx } = createWx({ fingerprint: fp });
  const { sdk } = loadMiniProgramSdk(wx);
  const otel = sdk.init({
    serviceName: 'demo-miniprogram',
    endpoint,
    key,
    hosts: [new URL(gateway).hostname],
    sampleRate: 0.5,
    routes: catalog.routes.map((r) => ({
      name: r.name,
      method: r.match.method,
      url: new RegExp(
        `^${gateway.replace(/[.*+?^$()|[\]\\]/g, '\\$&')}${r.match.path.replace(/\{[^}]+\}/g, '[^/?]+')}(\\?|$)`,
      ),
    })),
  });
  return { wx, otel };
}

const devices = FLEET.map(device);
let sent = 0;

/** @param {ReturnType<typeof device>} dev */
function call(dev) {
  const route = /** @type {import('@mp-otel/contracts').CatalogRoute} */ (
    catalog.routes[sent % catalog.routes.length]
  );
  const path = route.match.path.replace(/\{[^}]+\}/g, () => `img-${1 + (sent % 7)}`);
  /** @type {Promise<void>} */
  const done = new Promise((resolve) => {
    dev.wx.request({
      url: `${gateway}${path}`,
      method: route.match.method,
      data: route.match.method === 'GET' ? undefined : JSON.stringify({ probe: sent }),
      header: { 'content-type': 'application/json' },
      // the app's own error handling reports failed uploads as exceptions (OTLP log records)
      success: (/** @type {{ statusCode: number }} */ res) => {
        if (res.statusCode >= 400)
          dev.otel.captureException(new Error(`upload failed: HTTP ${res.statusCode}`), {
            'mp.page.route': route.page,
          });
      },
      complete: () => {
        lastCompleted = Date.now();
        completed++;
        resolve();
      },
    });
  });
  return done;
}

const timer = setInterval(
  () => {
    if (sent >= maxRequests) {
      clearInterval(timer);
      health?.close();
      Promise.all(devices.map((d) => d.otel.flush())).then(() => process.exit(0));
      return;
    }
    const dev = /** @type {ReturnType<typeof device>} */ (devices[sent % devices.length]);
    sent++;
    void call(dev);
    if (sent % 20 === 0) for (const d of devices) void d.otel.flush();
  },
  Math.round(1000 / rps),
);
const health =
  healthPort > 0
    ? createServer((_req, res) => {
        const now = Date.now();
        const ok = now - lastCompleted < 30_000 || (completed === 0 && now - startedAt < 30_000);
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok, sent, completed, lastCompleted }));
      }).listen(healthPort, '127.0.0.1')
    : undefined;
process.on('SIGTERM', () => {
  clearInterval(timer);
  health?.close();
  Promise.all(devices.map((d) => d.otel.flush())).finally(() => process.exit(0));
});
