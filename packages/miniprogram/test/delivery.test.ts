// The offline queue: durability across app restarts, bounds, priorities, retries, backpressure.
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { launchApp, request, startBusinessServer, startOtlpCapture, WxStorage } from './harness';

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
