// Exceptions, page views, sampling, hooks, sessions, platform adapters, and the bare realm itself.
import { createWx, loadMiniProgramSdk } from '@mp-otel/devkit';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { launchApp, request, startBusinessServer, startOtlpCapture } from './harness.js';

let capture: Awaited<ReturnType<typeof startOtlpCapture>>;
let biz: Awaited<ReturnType<typeof startBusinessServer>>;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  capture = await startOtlpCapture();
  biz = await startBusinessServer();
});
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  capture.requests.length = 0;
  biz.seen.length = 0;
});
afterAll(async () => {
  await capture.close();
  await biz.close();
});

function launch(o: Partial<Parameters<typeof launchApp>[0]> = {}) {
  const app = launchApp({ capture, ...o });
  cleanups.push(async () => {
    await app.otel.shutdown();
    app.kill();
  });
  return app;
}

describe('the realm is WeChat-like', () => {
  test('no performance, TextEncoder, URL, fetch, XMLHttpRequest, Proxy or eval in the realm', () => {
    const { realm } = loadMiniProgramSdk(createWx().wx);
    cleanups.push(() => realm.dispose());
    const probe = realm.runModule(
      `module.exports = {
        globals: ['performance','TextEncoder','TextDecoder','URL','fetch','XMLHttpRequest','Proxy','document','window','process','require','Buffer'].filter(n => typeof globalThis[n] !== 'undefined'),
        evalBlocked: (() => { try { eval('1'); return false } catch (e) { return true } })(),
        functionBlocked: (() => { try { new Function('return 1'); return false } catch (e) { return true } })(),
      }`,
      'probe.js',
    );
    expect(probe).toEqual({ globals: [], evalBlocked: true, functionBlocked: true });
  });

  test('init leaves the host’s globals alone and never throws, whatever it is given', () => {
    const { sdk, realm } = loadMiniProgramSdk(createWx().wx);
    cleanups.push(() => realm.dispose());
    const before = realm.runModule('module.exports = Object.getOwnPropertyNames(globalThis).sort()', 'g.js');
    expect(() => sdk.init(undefined)).not.toThrow();
    const noop = sdk.init({ serviceName: 'x' }); // no endpoint: a handle that does nothing
    expect(typeof noop.flush).toBe('function');
    const after = realm.runModule('module.exports = Object.getOwnPropertyNames(globalThis).sort()', 'g.js');
    expect(after).toEqual(before);
  });

  test('a host API with almost nothing on it still gets request spans', async () => {
    const { wx } = createWx();
    const bare = { request: wx.request };
    const { sdk, realm } = loadMiniProgramSdk(bare);
    const otel = sdk.init({ serviceName: 'minimal', endpoint: capture.url, batch: { delayMs: 10 } });
    cleanups.push(async () => {
      await otel.shutdown();
      realm.dispose();
    });
    await request(bare, { url: `${biz.url}/ok` });
    await otel.flush();
    await capture.waitFor(() => capture.spans().length === 1);
    expect(capture.spans()[0]!.resource['os.name']).toBe('');
  });
});

describe('exceptions', () => {
  test('WeChat onError strings, unhandled rejections (cycles too), page-not-found and memory warnings', async () => {
    const app = launch();
    app.control.emit(
      'error',
      'thirdScriptError\nfoo is not defined;at pages/index/index onLoad function\nReferenceError: foo is not defined\n    at Object.onLoad (pages/index/index.js:12:5)',
    );
    const cyclic: any = { code: 'E1' };
    cyclic.self = cyclic;
    app.control.emit('unhandledRejection', { reason: cyclic });
    app.control.emit('unhandledRejection', { reason: new SyntaxError('bad json') });
    app.control.emit('pageNotFound', { path: 'pages/gone/gone', query: {}, isEntryPage: true });
    app.control.emit('memoryWarning', { level: 10 });
    await app.otel.flush();
    await capture.waitFor(() => capture.logs().length === 5);
    const logs = capture.logs();
    const bySource = (s: string) => logs.filter((l) => l.attributes['mp.error.source'] === s);
    const onError = bySource('onError')[0]!;
    expect(onError).toMatchObject({
      severityNumber: 17,
      severityText: 'ERROR',
      eventName: 'exception',
      body: 'foo is not defined',
    });
    expect(onError.attributes).toMatchObject({
      'exception.type': 'ReferenceError',
      'exception.message': 'foo is not defined',
      'mp.error.count': 1,
    });
    expect(String(onError.attributes['exception.stacktrace'])).toContain('pages/index/index.js:12:5');
    const [cyc, syntax] = bySource('onUnhandledRejection');
    expect(cyc!.attributes['exception.message']).toBe('{"code":"E1","self":"[Circular]"}');
    expect(syntax!.attributes['exception.type']).toBe('SyntaxError');
    expect(bySource('onPageNotFound')[0]!.attributes).toMatchObject({
      'exception.type': 'PageNotFoundError',
      'mp.page.route': 'pages/gone/gone',
    });
    expect(bySource('onMemoryWarning')[0]!.attributes['exception.message']).toBe('memory warning level 10');
    expect(logs[0]!.resource['mp.fingerprint']).toBeTruthy();
  });

  test('an exception inside an active span is linked to its trace; huge messages are capped', async () => {
    const app = launch();
    let traceId = '';
    let spanId = '';
    app.otel.tracer.startActiveSpan('checkout', (span: any) => {
      traceId = span.spanContext().traceId;
      spanId = span.spanContext().spanId;
      app.otel.captureException(new Error('y'.repeat(100_000)));
      span.end();
    });
    await app.otel.flush();
    await capture.waitFor(() => capture.logs().length === 1);
    const log = capture.logs()[0]!;
    expect(log.traceId).toBe(traceId);
    expect(log.spanId).toBe(spanId);
    expect(String(log.attributes['exception.message']).length).toBe(1024);
    expect(String(log.attributes['exception.stacktrace']).length).toBeLessThanOrEqual(4096);
  });
});

describe('traces of the app itself', () => {
  test('custom spans parent the request spans made inside them', async () => {
    const app = launch();
    await new Promise<void>((resolve) =>
      app.otel.tracer.startActiveSpan('submit-order', (span: any) => {
        app.wx.request({
          url: `${biz.url}/ok`,
          complete: () => {
            span.end();
            resolve();
          },
        });
      }),
    );
    await app.otel.flush();
    await capture.waitFor(() => capture.spans().length === 2);
    const parent = capture.spans().find((s) => s.name === 'submit-order')!;
    const child = capture.spans().find((s) => s.name === 'GET')!;
    expect(child.traceId).toBe(parent.traceId);
    expect(child.parentSpanId).toBe(parent.spanId);
  });

  test('app launch and page views from the base library’s performance entries', async () => {
    const app = launch({ performance: true });
    const t0 = Date.now() - 2_000;
    app.control.emitPerformance([
      {
        entryType: 'navigation',
        name: 'appLaunch',
        startTime: t0,
        duration: 850,
        path: 'pages/index/index',
        navigationType: 'appLaunch',
      },
      {
        entryType: 'render',
        name: 'firstRender',
        startTime: t0 + 600,
        duration: 120,
        path: 'pages/index/index',
      },
      {
        entryType: 'navigation',
        name: 'route',
        startTime: t0 + 1_500,
        duration: 300,
        path: 'pages/upload/upload',
        navigationType: 'navigateTo',
        referrerPath: 'pages/index/index',
      },
    ]);
    await app.otel.flush();
    await capture.waitFor(() => capture.spans().length === 3);
    const spans = capture.spans();
    const launchSpan = spans.find((s) => s.name === 'app.launch')!;
    expect(BigInt(launchSpan.endTimeUnixNano) - BigInt(launchSpan.startTimeUnixNano)).toBe(850_000_000n);
    expect(BigInt(launchSpan.startTimeUnixNano)).toBe(BigInt(t0) * 1_000_000n);
    const render = spans.find((s) => s.name === 'page.first_render')!;
    expect(render.parentSpanId).toBe(launchSpan.spanId);
    const view = spans.find((s) => s.name === 'page.view')!;
    expect(view.attributes).toMatchObject({
      'mp.page.route': 'pages/upload/upload',
      'mp.navigation.type': 'navigateTo',
      'mp.page.referrer': 'pages/index/index',
    });
    expect(view.traceId).not.toBe(launchSpan.traceId);
  });

  test('sampling: unsampled routine spans stay home, errors are always kept with weight 1', async () => {
    const app = launch({ init: { sampleRate: 0 } });
    await request(app.wx, { url: `${biz.url}/ok` });
    await request(app.wx, { url: `${biz.url}/bad` });
    await app.otel.flush();
    await capture.waitFor(() => capture.spans().length === 1);
    await new Promise((r) => setTimeout(r, 100));
    const [only] = capture.spans();
    expect(only!.attributes['http.response.status_code']).toBe(400);
    expect(only!.attributes['mp.sampling.weight']).toBe(1);
    expect(biz.seen[0]!.headers.traceparent).toMatch(/-00$/); // the decision travels downstream
  });

  test('sampling weights keep counts estimable', async () => {
    const app = launch({ init: { sampleRate: 0.25, rateLimit: { traces: { rate: 1e6, burst: 1e6 } } } });
    const n = 2_000;
    for (let i = 0; i < n; i++) app.otel.tracer.startSpan('work').end();
    await app.otel.flush();
    await new Promise((r) => setTimeout(r, 200));
    const spans = capture.spans();
    for (const s of spans) expect(s.attributes['mp.sampling.weight']).toBe(4);
    const estimate = spans.reduce((sum, s) => sum + Number(s.attributes['mp.sampling.weight']), 0);
    expect(Math.abs(estimate - n) / n).toBeLessThan(0.2); // binomial: sd ≈ 4 %
  });

  test('beforeSend changes or drops spans and log records', async () => {
    const app = launch({
      init: {
        beforeSend: (record: any, signal: string) => {
          if (signal === 'traces') {
            if (record.name === 'secret') return false;
            record.setAttribute('tenant', 't-1');
          } else if (String(record.body).includes('ignore me')) return false;
        },
      },
    });
    app.otel.tracer.startSpan('secret').end();
    app.otel.tracer.startSpan('public').end();
    app.otel.captureException(new Error('ignore me'));
    app.otel.captureException(new Error('keep me'));
    await app.otel.flush();
    await capture.waitFor(() => capture.spans().length === 1 && capture.logs().length === 1);
    expect(capture.spans()[0]!.attributes.tenant).toBe('t-1');
    expect(capture.logs()[0]!.body).toBe('keep me');
  });

  test('a new session.id after a long time in the background', async () => {
    const app = launch({ init: { sessionTimeoutMs: 50 } });
    app.otel.tracer.startSpan('before').end();
    app.control.emit('appHide');
    await new Promise((r) => setTimeout(r, 80));
    app.control.emit('appShow');
    app.otel.tracer.startSpan('after').end();
    await app.otel.flush();
    await capture.waitFor(() => capture.spans().length === 2);
    const [a, b] = ['before', 'after'].map(
      (n) => capture.spans().find((s) => s.name === n)!.resource['session.id'],
    );
    expect(a).not.toBe(b);
  });

  test('flushes on wx.onAppHide without being asked', async () => {
    const app = launch({ init: { batch: { delayMs: 60_000 } } });
    await request(app.wx, { url: `${biz.url}/ok` });
    app.control.emit('appHide');
    await capture.waitFor(() => capture.spans().length === 1);
  });

  test('a vendor SpanExporter replaces the OTLP queue', async () => {
    const got: any[] = [];
    const app = launch({
      init: {
        exporter: {
          export: (spans: any[], done: (r: { code: number }) => void) => {
            got.push(...spans);
            done({ code: 0 });
          },
          shutdown: () => Promise.resolve(),
        },
      },
    });
    app.otel.tracer.startSpan('to-vendor').end();
    await app.otel.flush();
    expect(got.map((s) => s.name)).toEqual(['to-vendor']);
    expect(got[0].resource.attributes['mp.platform']).toBe('wechat');
    expect(capture.requests.length).toBe(0);
  });
});

describe('platform adapters', () => {
  test('QQ, ByteDance and Baidu are detected before a `wx` alias they may also expose', async () => {
    for (const [global, name] of [
      ['qq', 'qq'],
      ['tt', 'bytedance'],
      ['swan', 'baidu'],
    ] as const) {
      const { wx } = createWx();
      const { sdk, realm } = loadMiniProgramSdk(wx, { [global]: wx });
      const otel = sdk.init({ serviceName: global, endpoint: capture.url, batch: { delayMs: 10 } });
      otel.tracer.startSpan('probe').end();
      await otel.flush();
      await otel.shutdown();
      realm.dispose();
      await capture.waitFor(() => capture.spans().some((s) => s.resource['service.name'] === global));
      expect(
        capture.spans().find((s) => s.resource['service.name'] === global)!.resource['mp.platform'],
      ).toBe(name);
    }
  });

  /** Alipay's `my`: `headers` in, `status`/`headers` out; DingTalk's `dd.httpRequest` likewise. */
  function alipayLike(method: 'request' | 'httpRequest') {
    const { wx } = createWx();
    const adapt = (opts: any) =>
      wx.request({
        ...opts,
        header: opts.headers,
        success: (res: any) =>
          opts.success?.({ data: res.data, status: res.statusCode, headers: res.header }),
        fail: (err: any) =>
          opts.fail?.({ error: /timeout/.test(err.errMsg) ? 13 : 12, errorMessage: err.errMsg }),
      });
    return {
      [method]: adapt,
      getSystemInfoSync: () => ({
        platform: 'iOS',
        system: '16.0',
        version: '10.5.0',
        SDKVersion: '2.9.0',
        model: 'iPhone',
      }),
      setStorage: wx.setStorage,
      getStorage: wx.getStorage,
      removeStorage: wx.removeStorage,
    };
  }

  for (const [global, method, name] of [
    ['my', 'request', 'alipay'],
    ['dd', 'httpRequest', 'dingtalk'],
  ] as const) {
    test(`${name}: detected from the global \`${global}\`; headers/status field names`, async () => {
      const api = alipayLike(method);
      const { sdk, realm } = loadMiniProgramSdk(undefined, { [global]: api, wx: undefined });
      const otel = sdk.init({ serviceName: 'ali', endpoint: capture.url, batch: { delayMs: 10 } });
      cleanups.push(async () => {
        await otel.shutdown();
        realm.dispose();
      });
      await new Promise((resolve) =>
        api[method]({ url: `${biz.url}/bad`, headers: { a: 'b' }, success: resolve, fail: resolve }),
      );
      await otel.flush();
      await capture.waitFor(() => capture.spans().length === 1);
      const span = capture.spans()[0]!;
      expect(span.resource['mp.platform']).toBe(name);
      expect(span.resource['mp.base_library.version']).toBe('2.9.0');
      expect(span.attributes['http.response.status_code']).toBe(400);
      expect(biz.seen[0]!.headers.traceparent).toContain(span.traceId);
      expect(biz.seen[0]!.headers.a).toBe('b');
    });
  }
});
