// What app teams choose an error/RUM SDK for (breadcrumbs, who, framework errors, page and render
// timing, WebSocket and cloud spans, custom events), in the bare vm realm over real loopback HTTP.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { createWx, miniprogramDistPath, runMiniProgram } from '@mp-otel/devkit';
import { createRenderer, defineComponent, h } from '@vue/runtime-core';
import React from 'react';
import TestRenderer from 'react-test-renderer';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { WebSocketServer } from 'ws';
import { launchApp, request, startBusinessServer, startOtlpCapture, WxStorage } from './harness.js';

let capture: Awaited<ReturnType<typeof startOtlpCapture>>;
let biz: Awaited<ReturnType<typeof startBusinessServer>>;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  capture = await startOtlpCapture();
  biz = await startBusinessServer();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
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

const plugin = (realm: { runModule(source: string, name: string): any }, name: string) => {
  const file = join(dirname(miniprogramDistPath()), `${name}.js`);
  return realm.runModule(readFileSync(file, 'utf8'), file);
};

describe('breadcrumbs', () => {
  test('an exception carries the taps, page shows, requests, app hide/show and events before it, in order', async () => {
    const declared: any[] = [];
    const app = launch({
      globals: {
        // biome-ignore lint/correctness/noComponentHookFactories: the host's Page() global, not a component
        Page: (o: any) => declared.push(o),
        getCurrentPages: () => [{ route: 'pages/cart/cart' }],
      },
    });
    // the page file is evaluated after init, as WeChat loads pages after app.js
    app.realm.runModule(
      'Page({ data: {}, onShow() {}, onPay(e) { this.paid = true } })',
      'pages/cart/cart.js',
    );
    const page = declared[0];
    const self: any = { route: 'pages/cart/cart' };
    page.onShow.call(self);
    page.onPay.call(self, { type: 'tap', currentTarget: { id: 'pay' } });
    expect(self.paid).toBe(true); // the app's handler still runs
    await request(app.wx, { url: `${biz.url}/bad?token=secret` });
    app.control.emit('appHide');
    app.control.emit('appShow');
    app.otel.event('checkout.retry');
    app.otel.captureException(new Error('payment failed'));
    await app.otel.flush();
    await capture.waitFor(() => capture.logs().some((l) => l.eventName === 'exception'));
    const crumbs = capture.logs().find((l) => l.eventName === 'exception')!.attributes[
      'mp.breadcrumbs'
    ] as string[];
    expect(crumbs.map((c) => c.replace(/^-\d+\.\d{3}s /, ''))).toEqual([
      'navigation show pages/cart/cart',
      'ui tap onPay #pay',
      'request GET /bad 400',
      'app hide',
      'app show',
      'event checkout.retry',
    ]);
    expect(crumbs.join()).not.toContain('secret');
  });

  test('console.error/warn lines (opt-in plugin, a separate module as from a subpackage)', async () => {
    const lines: unknown[][] = [];
    const app = launch({
      globals: { console: { ...console, error: (...a: unknown[]) => lines.push(a), warn: () => {} } },
    });
    app.otel.use(plugin(app.realm, 'console').consoleBreadcrumbs());
    app.realm.runModule("console.error('cart sync failed', { code: 7 })", 'app.js');
    app.otel.captureException(new Error('after the log line'));
    await app.otel.flush();
    await capture.waitFor(() => capture.logs().length === 1);
    expect(lines).toHaveLength(1); // the console still got its line
    expect(capture.logs()[0]!.attributes['mp.breadcrumbs']).toEqual([
      expect.stringMatching(/console\.error cart sync failed \{"code":7\}$/),
    ]);
  });
});

describe('who', () => {
  test('a persistent anonymous device.id on spans and logs; setUser adds user.id from then on', async () => {
    const storage = new WxStorage();
    const first = launch({ storage });
    await request(first.wx, { url: `${biz.url}/ok?n=1` });
    first.otel.setUser({ id: 'u-42' });
    await request(first.wx, { url: `${biz.url}/ok?n=2` });
    first.otel.captureException(new Error('x'));
    await first.otel.flush();
    await capture.waitFor(() => capture.spans().length === 2 && capture.logs().length === 1);
    const [before, after] = ['n=1', 'n=2'].map((q) =>
      capture.spans().find((s) => String(s.attributes['url.full']).endsWith(q)),
    );
    const device = before!.resource['device.id'];
    expect(device).toMatch(/^[0-9a-f]{32}$/);
    expect(before!.resource['user.id']).toBeUndefined();
    expect(after!.resource).toMatchObject({ 'device.id': device, 'user.id': 'u-42' });
    expect(capture.logs()[0]!.resource).toMatchObject({ 'device.id': device, 'user.id': 'u-42' });

    await first.otel.shutdown();
    first.kill();
    capture.requests.length = 0;
    const second = launch({ storage, init: { hashUserId: { salt: 'app-salt' } } });
    second.otel.setUser({ id: 'u-42' });
    second.otel.tracer.startSpan('relaunched').end();
    await second.otel.flush();
    await capture.waitFor(() => capture.spans().length === 1);
    const r = capture.spans()[0]!.resource;
    expect(r['device.id']).toBe(device); // the same device after a restart
    expect(r['session.id']).not.toBe(before!.resource['session.id']);
    expect(r['user.id']).toBeUndefined();
    expect(r['user.hash']).toBe(second.sdk.hashUserId('u-42', 'app-salt'));
    expect(r['user.hash']).not.toBe(second.sdk.hashUserId('u-42', 'other-salt'));
    expect(JSON.stringify(capture.requests.map((q) => q.body))).not.toContain('u-42');
  });
});

describe('custom events and timings', () => {
  test('otel.event is a log record with that event name; otel.timing a span of that duration', async () => {
    const app = launch();
    app.otel.event('coupon.applied', { 'coupon.value': 5 });
    app.otel.timing('checkout.render', 120, { step: 'summary' });
    await app.otel.flush();
    await capture.waitFor(() => capture.logs().length === 1 && capture.spans().length === 1);
    expect(capture.logs()[0]).toMatchObject({
      eventName: 'coupon.applied',
      severityNumber: 9,
      body: 'coupon.applied',
    });
    expect(capture.logs()[0]!.attributes['coupon.value']).toBe(5);
    const span = capture.spans()[0]!;
    expect(span.name).toBe('checkout.render');
    expect(BigInt(span.endTimeUnixNano) - BigInt(span.startTimeUnixNano)).toBe(120_000_000n);
    expect(span.attributes.step).toBe('summary');
  });
});

describe('frameworks', () => {
  test('Vue: an error a component throws reaches captureException through app.config.errorHandler', async () => {
    const app = launch();
    const helpers = plugin(app.realm, 'frameworks');
    const seenByApp: unknown[] = [];
    // Vue's own runtime with a renderer of no-op nodes, as mini-program Vue renderers (Taro, uni-app) are
    const node = () => ({ children: [] as unknown[] });
    const { createApp } = createRenderer<any, any>({
      createElement: node,
      createText: node,
      createComment: node,
      insert: () => {},
      remove: () => {},
      setText: () => {},
      setElementText: () => {},
      patchProp: () => {},
      parentNode: () => null,
      nextSibling: () => null,
    });
    const Broken = defineComponent({
      name: 'OrderList',
      setup() {
        return () => {
          throw new TypeError('orders is undefined');
        };
      },
    });
    const vueApp = createApp({ render: () => h(Broken) });
    vueApp.config.errorHandler = (err) => seenByApp.push(err);
    helpers.vueErrorHandler(vueApp, app.otel);
    vueApp.mount(node());
    await app.otel.flush();
    await capture.waitFor(() => capture.logs().length === 1);
    expect(capture.logs()[0]!.attributes).toMatchObject({
      'exception.type': 'TypeError',
      'exception.message': 'orders is undefined',
      'mp.error.source': 'vue',
      'mp.error.component': 'OrderList',
    });
    expect(seenByApp).toHaveLength(1); // the app's own handler still ran
  });

  test('React / Taro: an error boundary captures what its children throw and renders the fallback', async () => {
    const app = launch();
    const helpers = plugin(app.realm, 'frameworks');
    const Boundary = helpers.createErrorBoundary(React, app.otel);
    // biome-ignore lint/correctness/noComponentHookFactories: one component for this test only
    const Thrower = () => {
      throw new RangeError('bad page index');
    };
    const quiet = console.error;
    console.error = () => {}; // React reports caught errors on the console
    let tree: TestRenderer.ReactTestRenderer | undefined;
    try {
      TestRenderer.act(() => {
        tree = TestRenderer.create(
          React.createElement(Boundary, { fallback: 'sorry' }, React.createElement(Thrower)),
        );
      });
    } finally {
      console.error = quiet;
    }
    expect(tree!.toJSON()).toBe('sorry');
    await app.otel.flush();
    await capture.waitFor(() => capture.logs().length === 1);
    const attrs = capture.logs()[0]!.attributes;
    expect(attrs).toMatchObject({ 'exception.type': 'RangeError', 'mp.error.source': 'react' });
    expect(String(attrs['mp.error.component_stack'])).toContain('Thrower');
  });
});

describe('page and render timing', () => {
  test('runtime-based PerformanceEntry.startTime is rebased: spans land at the right epoch time', async () => {
    const origin = Date.now() - 60_000;
    const app = launch({ performance: true, shim: { performanceOrigin: origin } });
    const t0 = Date.now() - 2_000;
    const at = (ms: number) => app.control.performanceTime(ms);
    app.control.emitPerformance([
      {
        entryType: 'navigation',
        name: 'appLaunch',
        startTime: at(t0),
        duration: 900,
        path: 'pages/index/index',
      },
      {
        entryType: 'render',
        name: 'firstContentfulPaint',
        startTime: at(t0 + 500),
        duration: 0,
        path: 'pages/index/index',
      },
      {
        entryType: 'render',
        name: 'largestContentfulPaint',
        startTime: at(t0 + 700),
        duration: 0,
        path: 'pages/index/index',
      },
      {
        entryType: 'script',
        name: 'evaluateScript',
        startTime: at(t0 + 100),
        duration: 40,
        moduleName: '__APP__',
      },
      {
        entryType: 'loadPackage',
        name: 'downloadPackage',
        startTime: at(t0 + 1_000),
        duration: 300,
        packageName: 'packageB',
        packageSize: 52_000,
      },
    ]);
    await app.otel.flush();
    await capture.waitFor(() => capture.spans().length === 5);
    const byName = (n: string) => capture.spans().find((s) => s.name === n)!;
    const startMs = (n: string) => Number(BigInt(byName(n).startTimeUnixNano) / 1_000_000n);
    expect(Math.abs(startMs('app.launch') - t0)).toBeLessThanOrEqual(5);
    expect(startMs('page.first_contentful_paint') - startMs('app.launch')).toBe(500);
    expect(byName('page.largest_contentful_paint').parentSpanId).toBe(byName('app.launch').spanId);
    expect(byName('script.evaluate').attributes['mp.script.module']).toBe('__APP__');
    expect(byName('package.load').attributes).toMatchObject({
      'mp.package.name': 'packageB',
      'mp.package.size': 52_000,
    });
  });

  test('render plugin: setData cost spans with data paths, a white screen, a long task', async () => {
    const { wx, control } = createWx({ extConfig: { otelEndpoint: capture.url }, performance: true });
    const project = new URL('./fixtures/render-app', import.meta.url).pathname;
    const app = runMiniProgram(project, wx, control, {
      renderCostMs: (_route, patch) => (Object.keys(patch).some((k) => k.startsWith('items')) ? 80 : 5),
    });
    cleanups.push(async () => {
      await app.app.globalData.otel.shutdown();
      app.kill();
    });
    const otel = app.app.globalData.otel;
    await capture.waitFor(() => app.page().data.loaded === true);
    app.navigateTo('pages/blank/blank'); // never renders anything
    await capture.waitFor(() => capture.logs().some((l) => l.eventName === 'mp.white_screen'));
    app.realm.runModule('const until = Date.now() + 400; while (Date.now() < until) {}', 'busy.js');
    await capture.waitFor(() => capture.spans().some((s) => s.name === 'mp.long_task'));
    await otel.flush();
    const setData = capture.spans().filter((s) => s.name === 'page.set_data');
    expect(setData).toHaveLength(1); // the 5 ms update stays under the 30 ms threshold
    expect(setData[0]!.attributes).toMatchObject({
      'mp.page.route': 'pages/list/list',
      'mp.set_data.paths': ['items.0.title'],
    });
    expect(BigInt(setData[0]!.endTimeUnixNano) - BigInt(setData[0]!.startTimeUnixNano)).toBe(80_000_000n);
    const white = capture.logs().find((l) => l.eventName === 'mp.white_screen')!;
    expect(white).toMatchObject({ severityNumber: 13 });
    expect(white.attributes['mp.page.route']).toBe('pages/blank/blank');
    const long = capture.spans().find((s) => s.name === 'mp.long_task')!;
    expect(Number(long.attributes['mp.long_task.late_ms'])).toBeGreaterThanOrEqual(150);
  });
});

describe('coverage beyond wx.request', () => {
  test('WebSocket: a span per connection with open time, messages, bytes, close code; trace context in the handshake', async () => {
    const handshakes: http.IncomingHttpHeaders[] = [];
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    wss.on('connection', (socket, req) => {
      handshakes.push(req.headers);
      socket.on('message', (data) => {
        if (String(data) === 'drop') socket.terminate();
        else socket.send(`echo:${data}`);
      });
    });
    await new Promise((r) => wss.on('listening', r));
    cleanups.push(() => new Promise<void>((r) => wss.close(() => r())));
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/live?token=abc`;
    const app = launch();
    const received: string[] = [];
    await new Promise<void>((resolve) => {
      const task = app.wx.connectSocket({ url });
      task.onOpen(() => {
        task.send({ data: 'hello' });
        task.send({ data: 'world' });
      });
      task.onMessage((m: any) => {
        received.push(m.data);
        if (received.length === 2) task.close({ code: 1000 });
      });
      task.onClose(() => resolve());
    });
    await new Promise<void>((resolve) => {
      const task = app.wx.connectSocket({ url: url.replace('/live', '/flaky') });
      task.onOpen(() => task.send({ data: 'drop' }));
      task.onClose(() => resolve());
    });
    await app.otel.flush();
    await capture.waitFor(() => capture.spans().length === 2);
    expect(received).toEqual(['echo:hello', 'echo:world']); // the app's listeners still work
    const [ok, dropped] = ['/live', '/flaky'].map(
      (p) => capture.spans().find((s) => String(s.attributes['url.full']).includes(p))!,
    );
    expect(ok!.name).toBe('WebSocket');
    expect(ok!.attributes).toMatchObject({
      'url.full': url.replace('token=abc', 'token=REDACTED'),
      'network.protocol.name': 'websocket',
      'mp.websocket.messages_sent': 2,
      'mp.websocket.messages_received': 2,
      'mp.websocket.bytes_sent': 10,
      'mp.websocket.bytes_received': 20,
      'mp.websocket.close_code': 1000,
    });
    expect(ok!.status.code).toBe(0);
    expect(Number(ok!.attributes['mp.websocket.open_ms'])).toBeGreaterThanOrEqual(0);
    expect(dropped!.attributes['error.type']).toBe('1006');
    expect(handshakes[0]!.traceparent).toBe(`00-${ok!.traceId}-${ok!.spanId}-01`);
  });

  test('wx.cloud: callFunction and callContainer spans, callback and promise styles', async () => {
    const seen: Array<{ url: string; headers: http.IncomingHttpHeaders }> = [];
    const cloud = http.createServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      req.resume();
      req.on('end', () => {
        const status = req.url?.includes('missing') ? 404 : 200;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: status === 200 }));
      });
    });
    await new Promise<void>((r) => cloud.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => cloud.close(() => r())));
    const base = `http://127.0.0.1:${(cloud.address() as AddressInfo).port}`;
    const app = launch({
      shim: { cloud: { functionsUrl: `${base}/fn`, containerUrl: `${base}/container` } },
    });
    const result = await new Promise<any>((resolve) =>
      app.wx.cloud.callFunction({ name: 'listOrders', data: { page: 1 }, success: resolve }),
    );
    expect(result.result).toEqual({ ok: true });
    await expect(app.wx.cloud.callFunction({ name: 'missing' })).rejects.toMatchObject({ errCode: -404404 });
    const container = await app.wx.cloud.callContainer({
      path: '/api/cart',
      method: 'GET',
      header: { 'x-wx-service': 'cart' },
    });
    expect(container.statusCode).toBe(200);
    await app.otel.flush();
    await capture.waitFor(() => capture.spans().length === 3);
    const span = (name: string) => capture.spans().find((s) => s.name === name)!;
    expect(span('callFunction listOrders').attributes).toMatchObject({
      'faas.invoked_name': 'listOrders',
      'faas.invoked_provider': 'tencent_cloud',
      'mp.request.api': 'callFunction',
    });
    expect(span('callFunction missing').attributes['error.type']).toBe('-404404');
    expect(span('callFunction missing').status.code).toBe(2);
    const c = span('GET /api/cart');
    expect(c.attributes).toMatchObject({
      'http.response.status_code': 200,
      'mp.request.api': 'callContainer',
    });
    const containerCall = seen.find((s) => s.url === '/container/api/cart')!;
    expect(containerCall.headers.traceparent).toBe(`00-${c.traceId}-${c.spanId}-01`);
    expect(containerCall.headers['x-wx-service']).toBe('cart');
  });
});
