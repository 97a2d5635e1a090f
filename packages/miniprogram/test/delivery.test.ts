// The offline queue: durability across app restarts, bounds, priorities, retries, backpressure.
import { INGEST_KEY_HEADER } from '@mp-otel/contracts';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { launchApp, request, startBusinessServer, startOtlpCapture, WxStorage } from './harness.js';

let capture: Awaited<ReturnType<typeof startOtlpCapture>>;
let biz: Awaited<ReturnType<typeof startBusinessServer>>;
const apps: Array<ReturnType<typeof launchApp>> = [];

beforeAll(async () => {
  capture = await startOtlpCapture();
  biz = await startBusinessServer();
});
afterEach(async () => {
  for (const app of apps.splice(0)) {
    await app.otel.shutdown();
    app.kill();
  }
  capture.requests.length = 0;
  capture.reply = undefined;
  capture.maxInFlight = 0;
});
afterAll(async () => {
  await capture.close();
  await biz.close();
});

function launch(o: Partial<Parameters<typeof launchApp>[0]> = {}) {
  const app = launchApp({ capture, ...o });
  apps.push(app);
  return app;
}

const until = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ids = () => capture.spans().map((s) => s.spanId);

test('offline, killed, relaunched online: every span and error arrives exactly once', async () => {
  const storage = new WxStorage();
  const first = launch({ storage });
  first.control.setNetwork('none');
  for (let i = 0; i < 5; i++) await request(first.wx, { url: `${biz.url}/ok?i=${i}` });
  first.otel.captureException(new TypeError('offline failure'));
  await first.otel.flush();
  await until(50); // async storage writes land
  expect(capture.requests.length).toBe(0);
  expect(first.otel.stats().queuedRecords).toBe(6);
  expect([...storage.data.keys()].some((k) => k.startsWith('mp-otel.queue.'))).toBe(true);
  first.kill(); // no goodbye: no flush, no callbacks

  const second = launch({ storage });
  await request(second.wx, { url: `${biz.url}/ok?after=restart` });
  await second.otel.flush();
  await capture.waitFor(() => capture.spans().length >= 6 && capture.logs().length >= 1);
  await until(200);
  const spanIds = ids();
  expect(spanIds.length).toBe(6);
  expect(new Set(spanIds).size).toBe(6);
  expect(capture.logs().filter((l) => l.eventName === 'exception').length).toBe(1);
  // the spans of the first run keep the first run's session
  const sessions = new Set(capture.spans().map((s) => s.resource['session.id']));
  expect(sessions.size).toBe(2);
  expect(second.otel.stats().queuedPayloads).toBe(0);
  await until(50);
  expect([...storage.data.keys()].filter((k) => k.startsWith('mp-otel.queue.'))).toEqual([]);
});

test('a retry after a lost answer carries the same batch id, so the receiver keeps one copy', async () => {
  let first = true;
  capture.reply = (req) => {
    if (req.signal !== 'traces' || !first) return undefined;
    first = false;
    return { status: 200, delayMs: 1_500, store: true }; // stored, but the answer comes too late
  };
  const app = launch({ init: { queue: { timeoutMs: 300 } } });
  await request(app.wx, { url: `${biz.url}/ok` });
  await app.otel.flush();
  await capture.waitFor(() => capture.requests.filter((r) => r.signal === 'traces').length >= 2, 15_000);
  const traces = capture.requests.filter((r) => r.signal === 'traces');
  expect(traces[0]!.headers['x-mp-otel-batch']).toBe(traces[1]!.headers['x-mp-otel-batch']);
  expect(traces[0]!.accepted).toBe(true);
  expect(traces[1]!.accepted).toBe(false);
  expect(capture.spans().length).toBe(1);
});

test('bounded in bytes: errors outlive routine spans, oldest go first, every loss is counted and reported', async () => {
  const storage = new WxStorage();
  const app = launch({
    storage,
    init: {
      rateLimit: { traces: { rate: 1e6, burst: 1e6 }, logs: { rate: 1e6, burst: 1e6 } },
      batch: { maxSize: 20, delayMs: 10 },
    },
  });
  app.control.setNetwork('none');
  const total = 600;
  const filler = 'x'.repeat(3_000);
  for (let i = 0; i < total; i++)
    app.otel.tracer.startSpan(`routine-${i}`, { attributes: { filler, i } }).end();
  for (let i = 0; i < 20; i++) app.otel.captureException(new Error(`distinct failure ${i}`));
  await app.otel.flush();
  await until(100);
  const stats = app.otel.stats();
  expect(stats.queuedBytes).toBeLessThanOrEqual(1024 * 1024);
  expect(storage.bytes()).toBeLessThan(1024 * 1024 + 16 * 1024); // payloads + index
  app.control.setNetwork('wifi');
  await app.otel.flush();
  await capture.waitFor(() => capture.logs().some((l) => l.eventName === 'mp.telemetry.dropped'));
  const spans = capture.spans();
  expect(capture.logs().filter((l) => l.eventName === 'exception').length).toBe(20); // every error kept
  const dropped = capture.logs().find((l) => l.eventName === 'mp.telemetry.dropped')!;
  expect(Number(dropped.attributes['mp.dropped.queue_full'])).toBe(total - spans.length);
  expect(spans.length).toBeGreaterThan(100);
  // the oldest went first: what survived is the newest run of spans
  const survived = spans.map((s) => Number(s.attributes.i)).sort((a, b) => a - b);
  expect(survived[survived.length - 1]).toBe(total - 1);
  expect(survived[0]).toBe(total - spans.length);
});

test('429 with Retry-After holds every send for that long; 2 telemetry requests in flight at most', async () => {
  let n = 0;
  capture.reply = () =>
    n++ === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200, delayMs: 150 };
  const app = launch({ init: { batch: { maxSize: 1, delayMs: 10 } } });
  for (let i = 0; i < 8; i++) app.otel.tracer.startSpan(`s${i}`).end();
  await app.otel.flush();
  await capture.waitFor(() => capture.spans().length === 8, 15_000);
  const [rejected, ...rest] = capture.requests;
  expect(rest.length).toBe(8);
  // the one request already in flight beside the rejected one can't be held back; all later ones are
  const [, ...later] = rest;
  expect(Math.min(...later.map((r) => r.at)) - rejected!.at).toBeGreaterThanOrEqual(950);
  expect(capture.maxInFlight).toBeLessThanOrEqual(2);
  expect(capture.maxInFlight).toBe(2);
});

test('413 splits the payload in halves; 400 drops it and counts the loss', async () => {
  capture.reply = (req) => {
    const spans = req.body.resourceSpans?.[0]?.scopeSpans?.[0]?.spans ?? [];
    if (req.signal === 'traces' && spans.length > 2) return { status: 413 };
    if (req.signal === 'traces' && spans.some((s: any) => s.name === 'poison')) return { status: 400 };
    return undefined;
  };
  const app = launch({ init: { batch: { maxSize: 100, delayMs: 10_000 } } });
  for (let i = 0; i < 8; i++) app.otel.tracer.startSpan(`s${i}`).end();
  await app.otel.flush();
  await capture.waitFor(() => capture.spans().length === 8);
  app.otel.tracer.startSpan('poison').end();
  await app.otel.flush();
  await app.otel.flush(); // reports the loss
  await capture.waitFor(() => capture.logs().some((l) => l.eventName === 'mp.telemetry.dropped'));
  expect(
    capture.logs().find((l) => l.eventName === 'mp.telemetry.dropped')!.attributes['mp.dropped.rejected'],
  ).toBe(1);
  expect(capture.spans().length).toBe(8);
});

test('a full storage (quota errors) loses nothing while the app runs', async () => {
  const storage = new WxStorage();
  storage.failWrites = true;
  const app = launch({ storage });
  await request(app.wx, { url: `${biz.url}/ok` });
  app.otel.captureException('quota times');
  await app.otel.flush();
  await capture.waitFor(() => capture.spans().length === 1 && capture.logs().length === 1);
  expect(storage.data.size).toBe(0);
});

test('error storm: a token bucket caps records and requests; the drop count adds up', async () => {
  const app = launch({ init: { batch: { maxSize: 100, delayMs: 200 } } });
  const storm = 5_000;
  const started = Date.now();
  for (let i = 0; i < storm; i++)
    app.control.emit(
      'error',
      `MiniProgramError\nboom ${i}\nTypeError: boom ${i}\n    at onTap (pages/index/index.js:${i}:1)`,
    );
  await app.otel.flush();
  await app.otel.flush();
  await capture.waitFor(() => capture.logs().some((l) => l.eventName === 'mp.telemetry.dropped'));
  const exceptions = capture.logs().filter((l) => l.eventName === 'exception');
  const dropped = Number(
    capture.logs().find((l) => l.eventName === 'mp.telemetry.dropped')!.attributes['mp.dropped.rate_limited'],
  );
  // burst 30, plus the tokens refilled (2/s) while the storm ran: however fast this machine is
  expect(exceptions.length).toBeLessThanOrEqual(30 + Math.ceil(((Date.now() - started) / 1000) * 2));
  expect(exceptions.length + dropped).toBe(storm);
  expect(capture.requests.length).toBeLessThanOrEqual(3);
});

test('identical errors: one record at once, then one record counting the repeats', async () => {
  const app = launch({ init: { dedupWindowMs: 100_000 } });
  for (let i = 0; i < 1_000; i++) app.otel.captureException(new RangeError('same thing'));
  await app.otel.flush();
  await capture.waitFor(() => capture.logs().length === 2);
  const counts = capture.logs().map((l) => Number(l.attributes['mp.error.count']));
  expect(counts).toEqual([1, 999]);
  expect(capture.requests.length).toBeLessThanOrEqual(2);
});

test('the ingest key goes in x-mp-otel-key (the header @mp-otel/contracts names)', async () => {
  const app = launch({ init: { key: 'mpk_example_image_miniprogram_2026' } });
  app.otel.tracer.startSpan('keyed').end();
  await app.otel.flush();
  await capture.waitFor(() => capture.spans().length === 1);
  expect(app.sdk.INGEST_KEY_HEADER).toBe(INGEST_KEY_HEADER);
  expect(capture.requests[0]!.headers[INGEST_KEY_HEADER]).toBe('mpk_example_image_miniprogram_2026');
});

test('401: sending stops at once, nothing is kept, the loss is counted and said once', async () => {
  capture.reply = () => ({ status: 401 });
  const warnings: unknown[][] = [];
  const storage = new WxStorage();
  const app = launch({
    storage,
    init: { key: 'revoked', batch: { maxSize: 1, delayMs: 10 } },
    globals: { console: { ...console, warn: (...a: unknown[]) => warnings.push(a) } },
  });
  for (let i = 0; i < 5; i++) app.otel.tracer.startSpan(`s${i}`).end();
  app.otel.captureException(new Error('after the key was revoked'));
  await app.otel.flush();
  await until(300);
  app.otel.tracer.startSpan('later').end();
  await app.otel.flush();
  await until(100);
  const sent = capture.requests.length;
  expect(sent).toBeGreaterThanOrEqual(1);
  expect(sent).toBeLessThanOrEqual(2); // the request(s) already in flight when the first 401 came back
  expect(warnings).toHaveLength(1);
  expect(String(warnings[0]![0])).toContain('401');
  expect(app.otel.stats()).toMatchObject({ queuedPayloads: 0, dropped: { unauthorized: 7 } });
  expect([...storage.data.keys()].filter((k) => k.startsWith('mp-otel.queue.'))).toEqual([]);
});

test('5xx is retried with backoff a bounded number of times, then dropped and counted', async () => {
  let failures = 0;
  capture.reply = (req) => {
    if (req.signal !== 'traces') return undefined;
    const name = req.body.resourceSpans[0].scopeSpans[0].spans[0].name;
    if (name === 'recovers' && failures++ < 1) return { status: 500 };
    if (name === 'never') return { status: 503 };
    return undefined;
  };
  const app = launch({ init: { queue: { maxRetries: 3 }, batch: { maxSize: 1, delayMs: 10 } } });
  app.otel.tracer.startSpan('recovers').end();
  app.otel.tracer.startSpan('never').end();
  await app.otel.flush();
  await capture.waitFor(
    () =>
      capture.requests.filter((r) => r.body.resourceSpans?.[0]?.scopeSpans[0].spans[0].name === 'never')
        .length === 3,
    20_000,
  );
  await capture.waitFor(() => capture.spans().some((s) => s.name === 'recovers'), 20_000);
  await until(100);
  expect(app.otel.stats().dropped).toMatchObject({ server_error: 1 });
  expect(app.otel.stats().queuedPayloads).toBe(0);
  const tries = capture.requests.filter(
    (r) => r.body.resourceSpans?.[0]?.scopeSpans[0].spans[0].name === 'never',
  );
  expect(tries[1]!.at - tries[0]!.at).toBeGreaterThanOrEqual(450); // backoff 0.5–1 s, then 1–2 s
  expect(new Set(tries.map((t) => t.headers['x-mp-otel-batch'])).size).toBe(1);
});

test('an emoji at character 1,024 of a message is kept whole or dropped whole: the payload stays valid', async () => {
  const app = launch();
  app.otel.captureException(new Error(`${'x'.repeat(1023)}😀 and more`));
  await app.otel.flush();
  await capture.waitFor(() => capture.logs().length === 1);
  const message = String(capture.logs()[0]!.attributes['exception.message']);
  expect(message).toBe('x'.repeat(1023));
  expect(JSON.stringify(capture.requests[0]!.body)).not.toContain('\ufffd'); // no half an emoji on the wire
});

test('payload keys the index never learnt of (killed right after writing them) are re-queued; junk is swept', async () => {
  const storage = new WxStorage();
  const first = launch({ storage });
  first.control.setNetwork('none');
  first.otel.captureException(new Error('just before the kill'));
  await first.otel.flush();
  await until(50); // the payload is written …
  storage.remove('mp-otel.queue'); // … and its index never was (as when killed in between)
  storage.set('mp-otel.queue.junk', 'not a payload');
  first.kill();

  const second = launch({ storage });
  await second.otel.flush();
  await capture.waitFor(() =>
    capture.logs().some((l) => l.attributes['exception.message'] === 'just before the kill'),
  );
  await until(100);
  expect([...storage.data.keys()].filter((k) => k.startsWith('mp-otel.queue.'))).toEqual([]);
});

test('the app’s own storage comes first: its writes never fail because of the queue', async () => {
  const storage = new WxStorage();
  const mb = (n: number) => 'x'.repeat(Math.floor(n * 1024 * 1024) - 64);
  for (let i = 0; i < 7; i++) storage.set(`app.data.${i}`, mb(0.99)); // the app uses ~7 MB
  const app = launch({ storage, init: { batch: { maxSize: 20, delayMs: 10 } } });
  app.control.setNetwork('none');
  for (let i = 0; i < 600; i++)
    app.otel.tracer.startSpan(`offline ${i}`, { attributes: { pad: 'p'.repeat(1500) } }).end();
  await app.otel.flush();
  await until(100);
  const stored = app.otel.stats().storedBytes;
  expect(stored).toBeGreaterThan(300_000); // the queue did use storage …
  expect(storage.bytes()).toBeLessThanOrEqual(10 * 1024 * 1024);
  // … and the app now needs 3 MB more: sync, callback and promise style writes all succeed
  expect(() => app.wx.setStorageSync('app.more.0', mb(0.99))).not.toThrow();
  const viaCallback = await new Promise((resolve) =>
    app.wx.setStorage({ key: 'app.more.1', data: mb(0.99), success: () => resolve('ok'), fail: resolve }),
  );
  expect(viaCallback).toBe('ok');
  await expect(app.wx.setStorage({ key: 'app.more.2', data: mb(0.9) })).resolves.toMatchObject({
    errMsg: 'setStorage:ok',
  });
  expect(storage.bytes()).toBeLessThanOrEqual(10 * 1024 * 1024);
  // what left storage is still in memory and is delivered once the network is back
  const queued = app.otel.stats().queuedRecords;
  app.control.setNetwork('wifi');
  await app.otel.flush();
  await capture.waitFor(() => capture.spans().length + capture.logs().length === queued, 20_000);
});
