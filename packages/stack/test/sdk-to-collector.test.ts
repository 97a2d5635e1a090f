// The compose traffic generator (collector/compose/traffic.mjs: the real mini-program SDK on the devkit wx
// shim) → a stand-in gateway on loopback → the real collector (shipped config) → an OTLP/JSON sink.
// Checks that the SDK's OTLP/JSON is accepted by the collector, that its spans come out with the route
// names, weights and resource the storage layer expects, and that business requests carry traceparent.
import { spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type OtlpCapture, startOtlpCapture } from '@mp-otel/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  collectorDir,
  ensureCollector,
  type RunningCollector,
  removeTempFiles,
  shippedConfig,
  sinkOverlay,
  startCollector,
  tempFile,
  waitFor,
} from '../src/collector.js';

const REQUESTS = 8;

describe('mini-program SDK (traffic generator) → collector', () => {
  let sink: OtlpCapture;
  let col: RunningCollector;
  let gateway: Server;
  const seen: { method: string; url: string; headers: IncomingHttpHeaders }[] = [];
  let exitCode: number | null = null;

  beforeAll(async () => {
    ensureCollector();
    sink = await startOtlpCapture();
    col = await startCollector([shippedConfig, tempFile('overlay.yaml', sinkOverlay(sink.url))], {
      MP_OTEL_TAIL_DECISION_WAIT: '1s',
      MP_OTEL_TAIL_SAMPLING_PERCENT: '100',
    });
    // Stand-in for Kong + image-service: uploads fail with 400 (the seed's incident), downloads succeed.
    gateway = createServer((req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      req.resume();
      req.on('end', () => {
        if (req.method === 'POST')
          res.writeHead(400, { 'content-type': 'application/json' }).end('{"code":"BAD_IMAGE"}');
        else res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.alloc(64));
      });
    });
    await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
    const gw = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;

    const child = spawn(process.execPath, [join(collectorDir, 'compose', 'traffic.mjs')], {
      env: {
        ...process.env,
        GATEWAY_URL: gw,
        OTLP_ENDPOINT: col.otlpHttp,
        TRAFFIC_RPS: '20',
        TRAFFIC_MAX_REQUESTS: String(REQUESTS),
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    exitCode = await new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await waitFor(
      () =>
        sink.spans().filter((s) => s.resource['service.name'] === 'demo-miniprogram').length >= REQUESTS / 2,
      30_000,
      'client spans',
    );
    await new Promise((r) => setTimeout(r, 2500));
  });

  afterAll(async () => {
    removeTempFiles();
    await col?.stop();
    await sink?.close();
    await new Promise<void>((r) => (gateway ? gateway.close(() => r()) : r()));
  });

  it('the traffic generator ran the SDK and exited cleanly', () => {
    expect(exitCode).toBe(0);
    expect(seen).toHaveLength(REQUESTS);
  });

  it('business requests carry W3C traceparent and the fingerprint baggage', () => {
    for (const r of seen) {
      expect(r.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
      expect(String(r.headers.baggage)).toMatch(/mp\.fingerprint=/);
    }
  });

  it('client spans pass the collector with route names, weights and the client resource', () => {
    const spans = sink.spans().filter((s) => s.resource['service.name'] === 'demo-miniprogram');
    expect(spans.length).toBeGreaterThanOrEqual(REQUESTS / 2);
    const failed = spans.filter((s) => s.attributes['http.response.status_code'] === 400);
    // every upload failed with 400: errors are never sampled away, by the SDK or the collector
    expect(failed.length).toBe(seen.filter((r) => r.method === 'POST').length);
    for (const s of failed) {
      expect(s.attributes['mp.route_name']).toBe('upload.image');
      expect(s.attributes['mp.sampling.weight']).toBe(1);
      expect(s.resource['mp.platform']).toBe('wechat');
      expect(s.resource['os.name']).toMatch(/^(ios|android)$/);
      expect(s.resource['deployment.environment.name']).toBeDefined();
    }
    // the app reported each failed upload as an exception log record, which passes the collector
    const exceptions = sink.logs().filter((l) => l.attributes['exception.type'] !== undefined);
    // (the SDK may fold identical errors into one record with mp.error.count)
    const reported = exceptions.reduce((n, l) => n + Number(l.attributes['mp.error.count'] ?? 1), 0);
    expect(reported).toBe(failed.length);
    expect(String(exceptions[0]?.attributes['exception.message'])).toMatch(/upload failed: HTTP 400/);
    // every span traced to a request the gateway saw
    const ids = new Set(seen.map((r) => String(r.headers.traceparent).split('-')[1]));
    for (const s of spans) expect(ids.has(s.traceId)).toBe(true);
  });
});
