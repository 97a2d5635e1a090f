// Client request spans and trace context, in the bare vm realm over real HTTP.
import { afterAll, afterEach, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import { launchApp, request, startBusinessServer, startOtlpCapture } from './harness.js';

let capture: Awaited<ReturnType<typeof startOtlpCapture>>;
let biz: Awaited<ReturnType<typeof startBusinessServer>>;
let app: ReturnType<typeof launchApp> | undefined;

beforeAll(async () => {
  capture = await startOtlpCapture();
  biz = await startBusinessServer();
});
afterEach(async () => {
  await app?.otel.shutdown();
  app?.kill();
  app = undefined;
  capture.requests.length = 0;
  capture.reply = undefined;
  biz.seen.length = 0;
});
afterAll(async () => {
  await capture.close();
  await biz.close();
});

async function spansAfterFlush(n = 1) {
  await app!.otel.flush();
  await capture.waitFor(() => capture.spans().length >= n);
  return capture.spans();
}

const page = { route: 'pages/upload/upload' };
const globals = { getCurrentPages: () => [{ route: 'pages/index/index' }, page] };

describe('resource', () => {
  test('fingerprint attributes from getAppBaseInfo / getDeviceInfo / getAccountInfoSync', async () => {
    app = launchApp({
      capture,
      fingerprint: { platform: 'ios', system: 'iOS 16.7.2', SDKVersion: '3.3.4', version: '8.0.47' },
    });
    await request(app.wx, { url: `${biz.url}/ok` });
    const [span] = await spansAfterFlush();
    const r = span!.resource;
    expect(r).toMatchObject({
      'service.name': 'demo-mp',
      'service.version': '1.4.2',
      'deployment.environment.name': 'release',
      'telemetry.distro.name': 'mp-otel',
      'telemetry.distro.version': '0.1.0',
      'os.name': 'ios',
      'os.version': '16.7.2',
      'device.manufacturer': 'iPhone',
      'device.model.name': 'iPhone 15 Pro<iPhone16,1>',
      'mp.platform': 'wechat',
      'mp.app_id': 'wx0123456789abcdef',
      'mp.host.version': '8.0.47',
      'mp.base_library.version': '3.3.4',
    });
    expect(r['mp.fingerprint']).toBe(app.sdk.shortHash('wechat|1.4.2|8.0.47|3.3.4|wx0123456789abcdef'));
    expect(r['session.id']).toMatch(/^[0-9a-f]{32}$/);
  });

  test('falls back to getSystemInfoSync on old base libraries; fingerprint follows the base library', async () => {
    app = launchApp({
      capture,
      modernInfoApis: false,
      fingerprint: { platform: 'android', system: 'Android 13', SDKVersion: '2.19.0', brand: 'HUAWEI' },
    });
    await request(app.wx, { url: `${biz.url}/ok` });
    const [span] = await spansAfterFlush();
    expect(span!.resource).toMatchObject({
      'os.name': 'android',
      'os.version': '13',
      'mp.base_library.version': '2.19.0',
      'device.manufacturer': 'HUAWEI',
    });
    expect(span!.resource['mp.fingerprint']).not.toBe(
      app.sdk.shortHash('wechat|1.4.2|8.0.50|3.4.10|wx0123456789abcdef'),
    );
    expect(span!.resource['mp.fingerprint']).toBe(
      app.sdk.shortHash('wechat|1.4.2|8.0.50|2.19.0|wx0123456789abcdef'),
    );
  });
});

describe('request spans', () => {
  test('GET: attributes, traceparent and baggage; the server sees the exported span as its parent', async () => {
    app = launchApp({ capture, globals });
    const r = await request(app.wx, {
      url: `${biz.url}/ok?token=s3cret&id=7`,
      header: { baggage: 'tenant=a' },
    });
    expect(r.res.statusCode).toBe(200);
    expect(r.res.data).toEqual({ code: 0, data: 'hello' }); // the app's callback sees the untouched response
    const [span] = await spansAfterFlush();
    const seen = biz.seen[0]!.headers;
    expect(seen.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const [, traceId, spanId] = String(seen.traceparent).split('-');
    expect(span!.traceId).toBe(traceId);
    expect(span!.spanId).toBe(spanId);
    expect(span!.kind).toBe(3); // CLIENT
    expect(seen.baggage).toBe(`tenant=a,mp.fingerprint=${span!.resource['mp.fingerprint']}`);
    expect(seen['x-mp-fingerprint']).toBeUndefined();
    const port = Number(biz.url.split(':')[2]);
    expect(span!.attributes).toEqual({
      'http.request.method': 'GET',
      'url.full': `${biz.url}/ok?token=REDACTED&id=7`,
      'server.address': '127.0.0.1',
      'server.port': port,
      'mp.request.api': 'request',
      'mp.page.route': 'pages/upload/upload',
      'network.connection.type': 'wifi',
      'mp.sampling.weight': 1,
      'http.response.status_code': 200,
      'http.response.body.size': 25,
    });
    expect(span!.status.code ?? 0).toBe(0);
  });

  test('4xx and 5xx: error status, error.type, app.error_code from the x-app-error-code header', async () => {
    app = launchApp({ capture });
    const bad = await request(app.wx, { url: `${biz.url}/bad`, method: 'POST', data: { a: 1 } });
    const down = await request(app.wx, { url: `${biz.url}/boom` });
    expect(bad.ok && down.ok).toBe(true); // WeChat calls success for every HTTP status
    const spans = await spansAfterFlush(2);
    const b = spans.find((s) => s.attributes['http.response.status_code'] === 400)!;
    expect(b.name).toBe('POST');
    expect(b.status.code).toBe(2);
    expect(b.attributes).toMatchObject({
      'error.type': '400',
      'app.error_code': 'IMG_DECODE',
      'http.request.body.size': 7,
    });
    const d = spans.find((s) => s.attributes['http.response.status_code'] === 503)!;
    expect(d.attributes['error.type']).toBe('503');
  });

  test('timeout, abort and network failures: error.type from errMsg; the app gets the original fail', async () => {
    app = launchApp({ capture });
    const timedOut = await request(app.wx, { url: `${biz.url}/slow`, timeout: 200 });
    expect(timedOut.ok).toBe(false);
    expect(timedOut.err.errMsg).toBe('request:fail timeout');
    const refused = await request(app.wx, { url: 'http://127.0.0.1:9/nothing-listens' });
    expect(refused.ok).toBe(false);
    let task: any;
    const aborted = await new Promise<any>((resolve) => {
      task = app!.wx.request({ url: `${biz.url}/slow`, fail: resolve, success: resolve });
      task.abort();
    });
    expect(aborted.errMsg).toBe('request:fail abort');
    expect(typeof task.onHeadersReceived).toBe('function'); // the original RequestTask came back
    const spans = await spansAfterFlush(3);
    expect(spans.map((s) => s.attributes['error.type']).sort()).toEqual(['abort', 'network', 'timeout']);
    for (const s of spans) {
      expect(s.status.code).toBe(2);
      expect(s.attributes['http.response.status_code']).toBeUndefined();
    }
  });

  test('business return codes through the errorCode hook (retCodeHandler); catalog route names', async () => {
    app = launchApp({
      capture,
      init: {
        errorCode: (res: any) => (res.data && res.data.code !== 0 ? res.data.code : undefined),
        routes: [{ name: 'order.submit', method: 'GET', url: /\/biz-error$/ }],
      },
    });
    await request(app.wx, { url: `${biz.url}/biz-error` });
    await request(app.wx, { url: `${biz.url}/ok` });
    const spans = await spansAfterFlush(2);
    const biz1 = spans.find((s) => s.attributes['mp.route_name'] === 'order.submit')!;
    expect(biz1.name).toBe('GET order.submit');
    expect(biz1.attributes['app.error_code']).toBe('ORDER_CLOSED');
    const ok = spans.find((s) => s !== biz1)!;
    expect(ok.attributes['app.error_code']).toBeUndefined();
    expect(ok.attributes['mp.route_name']).toBeUndefined();
  });

  test('propagateTraceHeaderUrls narrows propagation; the telemetry endpoint never gets trace headers', async () => {
    app = launchApp({ capture, init: { propagateTraceHeaderUrls: [/\/ok$/], fingerprintHeader: true } });
    await request(app.wx, { url: `${biz.url}/ok` });
    await request(app.wx, { url: `${biz.url}/bad` });
    await spansAfterFlush(2);
    const ok = biz.seen.find((s) => s.url === '/ok')!.headers;
    const bad = biz.seen.find((s) => s.url === '/bad')!.headers;
    expect(ok.traceparent).toBeDefined();
    expect(ok['x-mp-fingerprint']).toMatch(/^[0-9a-z]+$/);
    expect(bad.traceparent).toBeUndefined();
    expect(bad.baggage).toBeUndefined();
    expect(capture.requests.length).toBeGreaterThan(0);
    for (const r of capture.requests) {
      expect(r.headers.traceparent).toBeUndefined();
      expect(r.headers.baggage).toBeUndefined();
    }
    // and telemetry requests are not themselves traced
    expect(capture.spans().every((s) => !String(s.attributes['url.full']).startsWith(capture.url))).toBe(
      true,
    );
  });

  test('an API behind the same gateway as the telemetry endpoint is traced; only endpoint/v1/… is the SDK’s own', async () => {
    // docker compose: Kong serves the app's API and /v1/{traces,logs} on the same origin
    app = launchApp({ capture });
    await request(app.wx, { url: `${capture.url}/api/orders` });
    await spansAfterFlush(1);
    const urls = capture.spans().map((s) => String(s.attributes['url.full']));
    expect(urls).toContain(`${capture.url}/api/orders`);
    expect(urls.some((u) => u.startsWith(`${capture.url}/v1/`))).toBe(false);
  });

  test('uploadFile and downloadFile: spans with sizes, progress, the original tasks', async () => {
    const { writeFileSync, mkdtempSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'mp-up-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'photo.jpg');
    writeFileSync(file, Buffer.alloc(120_000, 1));
    app = launchApp({ capture });
    const up = await new Promise<any>((resolve) => {
      const t = app!.wx.uploadFile({
        url: `${biz.url}/upload`,
        filePath: file,
        name: 'file',
        success: resolve,
        fail: resolve,
      });
      expect(typeof t.onProgressUpdate).toBe('function');
    });
    expect(up.statusCode).toBe(200);
    const down = await new Promise<any>((resolve) =>
      app!.wx.downloadFile({ url: `${biz.url}/download`, success: resolve, fail: resolve }),
    );
    expect(down.statusCode).toBe(200);
    const spans = await spansAfterFlush(2);
    const u = spans.find((s) => s.attributes['mp.request.api'] === 'uploadFile')!;
    expect(u.name).toBe('POST');
    expect(u.attributes['http.request.body.size']).toBeGreaterThan(120_000); // multipart framing included
    expect(biz.seen.find((s) => s.url === '/upload')!.headers.traceparent).toContain(u.traceId);
    const d = spans.find((s) => s.attributes['mp.request.api'] === 'downloadFile')!;
    expect(d.attributes['http.response.body.size']).toBe(50_000);
  });

  test('hostile input: non-string headers, huge bodies, throwing hooks leave the app unaffected', async () => {
    app = launchApp({
      capture,
      init: {
        errorCode: () => {
          throw new Error('hook bug');
        },
        beforeSend: () => {
          throw new Error('hook bug');
        },
      },
    });
    const huge = 'x'.repeat(3 * 1024 * 1024);
    const r = await request(app.wx, {
      url: `${biz.url}/upload`,
      method: 'POST',
      data: huge,
      header: { n: 1, b: true, nil: null },
    });
    expect(r.res.statusCode).toBe(200);
    expect(biz.seen[0]!.headers.n).toBe('1');
    expect(biz.seen[0]!.bytes).toBe(huge.length);
    // a header object that is not an object: the request goes out as the app wrote it
    const r2 = await request(app.wx, { url: `${biz.url}/ok`, header: 'nonsense' });
    expect(r2.ok).toBe(true);
    // no url at all: the original API's own failure, not ours
    expect(() => app!.wx.request(undefined)).toThrow();
    const spans = await spansAfterFlush(2);
    expect(spans.find((s) => s.attributes['http.request.body.size'] === huge.length)).toBeDefined();
  });

  test('an exception thrown by the app’s own callback reaches the app, and the span still ends', async () => {
    app = launchApp({ capture });
    const thrown = await new Promise<unknown>((resolve) => {
      const onUncaught = (e: unknown) => {
        process.off('uncaughtException', onUncaught);
        resolve(e);
      };
      process.on('uncaughtException', onUncaught);
      app!.wx.request({
        url: `${biz.url}/ok`,
        success: () => {
          throw new Error('app bug');
        },
      });
    });
    expect((thrown as Error).message).toBe('app bug');
    const spans = await spansAfterFlush(1);
    expect(spans[0]!.attributes['http.response.status_code']).toBe(200);
  });

  test('installs once: a second init returns the same handle and does not wrap twice', async () => {
    app = launchApp({ capture });
    const again = app.sdk.init({ serviceName: 'other', endpoint: capture.url });
    expect(again).toBe(app.otel);
    await request(app.wx, { url: `${biz.url}/ok` });
    const spans = await spansAfterFlush(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(capture.spans().length).toBe(1);
    expect(spans[0]!.resource['service.name']).toBe('demo-mp');
  });
});
