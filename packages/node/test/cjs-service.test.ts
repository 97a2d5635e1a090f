import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type OtlpCapture,
  otlpEnv,
  type RunningService,
  startOtlpCapture,
  startService,
  waitFor,
} from '@mp-otel/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const pkgDir = join(here, '..');
const SERVER = 2;
const CLIENT = 3;

describe('CommonJS service under --import @mp-otel/node/register', () => {
  let receiver: OtlpCapture;
  let svc: RunningService;

  beforeAll(async () => {
    receiver = await startOtlpCapture();
    svc = await startService({
      script: 'test/fixtures/cjs-service.cjs',
      cwd: pkgDir,
      env: {
        ...otlpEnv(receiver.url, 'cjs-service'),
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=ci,host.name=node-7',
      },
    });
  });
  afterAll(async () => {
    await svc?.stop();
    await receiver?.close();
  });

  it('traces incoming http, outgoing fetch (undici) and propagates context between them', async () => {
    const res = await fetch(`${svc.url}/outer`);
    expect(await res.text()).toBe('outer:inner');
    const tr = res.headers.get('traceresponse');
    expect(tr).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const [, traceId, spanId] = tr!.split('-');

    const outer = await waitFor(
      () => receiver.spans().find((s) => s.spanId === spanId),
      15_000,
      'outer span',
    );
    expect(outer.kind).toBe(SERVER);
    expect(outer.attributes['http.route']).toBe('/outer');
    expect(outer.resource['service.name']).toBe('cjs-service');
    expect(outer.resource['deployment.environment.name']).toBe('ci');
    // what the operator set wins over the host detector (the SLI cube's backend node)
    expect(outer.resource['host.name']).toBe('node-7');
    const client = await waitFor(
      () =>
        receiver
          .spans()
          .find((s) => s.traceId === traceId && s.kind === CLIENT && s.parentSpanId === outer.spanId),
      15_000,
      'undici client span',
    );
    const inner = await waitFor(
      () =>
        receiver
          .spans()
          .find((s) => s.traceId === traceId && s.kind === SERVER && s.attributes['http.route'] === '/inner'),
      15_000,
      'inner server span',
    );
    expect(inner.parentSpanId).toBe(client.spanId);
  });

  it('correlates pino lines (stdout and OTLP) with the active trace', async () => {
    const res = await fetch(`${svc.url}/outer`);
    await res.text();
    const traceId = res.headers.get('traceresponse')!.split('-')[1];
    await waitFor(() => svc.output().includes(traceId!), 10_000, 'pino line');
    const line = svc
      .output()
      .split('\n')
      .find((l) => l.includes('"calling inner"') && l.includes(traceId!));
    const json = JSON.parse(line!);
    expect(json.trace_id).toBe(traceId);
    expect(json.span_id).toMatch(/^[0-9a-f]{16}$/);
    const record = await waitFor(
      () => receiver.logs().find((l) => l.traceId === traceId && String(l.body).includes('calling inner')),
      15_000,
      'pino log record',
    );
    expect(record.severityText?.toLowerCase()).toBe('info');
  });

  it('sets app.error_code, span status and the response header through sendError', async () => {
    const res = await fetch(`${svc.url}/fail`);
    expect(res.status).toBe(429);
    expect(res.headers.get('x-app-error-code')).toBe('RATE_LIMITED');
    expect(await res.json()).toEqual({
      error: { code: 'RATE_LIMITED', message: 'slow down', retryable: true },
    });
    const spanId = res.headers.get('traceresponse')!.split('-')[2];
    const span = await waitFor(() => receiver.spans().find((s) => s.spanId === spanId), 15_000, 'fail span');
    expect(span.attributes['app.error_code']).toBe('RATE_LIMITED');
    expect(span.status.code).toBe(2);
    expect(span.status.message).toBe('RATE_LIMITED: slow down');
  });
});

describe('ES module service under --import @mp-otel/node/register', () => {
  it('traces named-import node:http client calls (needs the ESM loader hook) and the server side', async () => {
    const receiver = await startOtlpCapture();
    const svc = await startService({
      script: 'test/fixtures/esm-service.mjs',
      cwd: pkgDir,
      env: otlpEnv(receiver.url, 'esm-service'),
    });
    try {
      const res = await fetch(`${svc.url}/outer`);
      expect(await res.text()).toBe('esm:inner');
      const [, traceId, spanId] = res.headers.get('traceresponse')!.split('-');
      const client = await waitFor(
        () => receiver.spans().find((s) => s.traceId === traceId && s.kind === CLIENT),
        15_000,
        'client span from the named `request` import',
      );
      expect(client.parentSpanId).toBe(spanId);
      const inner = await waitFor(
        () =>
          receiver
            .spans()
            .find((s) => s.traceId === traceId && s.kind === SERVER && s.parentSpanId === client.spanId),
        15_000,
        'inner server span',
      );
      expect(inner.resource['service.name']).toBe('esm-service');
      expect(svc.output()).toMatch(new RegExp(`esm outer done trace_id=${traceId}`));
    } finally {
      await svc.stop();
      await receiver.close();
    }
  });
});

describe('OTEL_LOG_LEVEL=debug', () => {
  it("keeps OpenTelemetry's own diagnostics on the console, out of the exported logs", async () => {
    const receiver = await startOtlpCapture();
    const svc = await startService({
      script: 'test/fixtures/cjs-service.cjs',
      cwd: pkgDir,
      env: { ...otlpEnv(receiver.url, 'cjs-debug'), OTEL_LOG_LEVEL: 'debug' },
    });
    try {
      await (await fetch(`${svc.url}/inner`)).text();
      await waitFor(() => receiver.logs().length > 0 && receiver.spans().length > 0, 15_000, 'exports');
      await new Promise((r) => setTimeout(r, 1000));
      // diag lines were printed…
      expect(svc.output()).toMatch(/items to be sent/);
      // …but not shipped as log records (which would make every export produce more records).
      expect(receiver.logs().filter((l) => String(l.body).includes('items to be sent'))).toHaveLength(0);
      expect(receiver.logs().some((l) => String(l.body).includes('cjs-service listening'))).toBe(true);
    } finally {
      await svc.stop();
      await receiver.close();
    }
  });
});

describe('programmatic start() and OTEL_TRACES_SAMPLER', () => {
  it('start({ serviceName, imageSizeBuckets }) from code instruments a CJS service', async () => {
    const receiver = await startOtlpCapture();
    const env = otlpEnv(receiver.url, 'ignored');
    delete (env as Record<string, string | undefined>).OTEL_SERVICE_NAME;
    const svc = await startService({
      script: 'test/fixtures/cjs-service.cjs',
      cwd: pkgDir,
      preset: false,
      env: { ...env, FIXTURE_PROGRAMMATIC: '1' },
    });
    try {
      const res = await fetch(`${svc.url}/inner`);
      expect(await res.text()).toBe('inner');
      const span = await waitFor(
        () => receiver.spans().find((s) => s.attributes['http.route'] === '/inner'),
        15_000,
        'span',
      );
      expect(span.resource['service.name']).toBe('cjs-programmatic');
      const h = await waitFor(
        () =>
          receiver.histogram('mp.image.transfer.size', {
            'http.route': '/inner',
            'mp.image.direction': 'download',
          }),
        15_000,
        'histogram',
      );
      expect(h.attributes['mp.image.size_bucket']).toBe('<1000B');
      expect(h.sum).toBe(5);
    } finally {
      await svc.stop();
      await receiver.close();
    }
  });

  it('honours OTEL_TRACES_SAMPLER=always_off (no spans, service still answers, unsampled traceresponse)', async () => {
    const receiver = await startOtlpCapture();
    const svc = await startService({
      script: 'test/fixtures/cjs-service.cjs',
      cwd: pkgDir,
      env: { ...otlpEnv(receiver.url, 'cjs-off'), OTEL_TRACES_SAMPLER: 'always_off' },
    });
    try {
      const res = await fetch(`${svc.url}/inner`);
      expect(await res.text()).toBe('inner');
      expect(res.headers.get('traceresponse')).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
      // Metrics still flow; spans do not.
      await waitFor(
        () => receiver.histogram('mp.image.transfer.size', { 'http.route': '/inner' }),
        15_000,
        'metric',
      );
      await svc.stop();
      expect(receiver.spans().filter((s) => s.resource['service.name'] === 'cjs-off')).toHaveLength(0);
    } finally {
      await svc.stop();
      await receiver.close();
    }
  });
});
