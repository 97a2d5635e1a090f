// Runs the real mp-otel collector (built from collector/builder-config.yaml) with the shipped
// collector/config.yaml; only the exporters are swapped (overlay config) for an OTLP/JSON sink on loopback.
import { readFileSync } from 'node:fs';
import { type CapturedSpan, type OtlpCapture, repoRoot, startOtlpCapture } from '@mp-otel/devkit';
import { context, SpanKind, SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureCollector,
  geoTestDb,
  logsRequest,
  newSpanId,
  newTraceId,
  postOtlp,
  type RunningCollector,
  removeTempFiles,
  shippedConfig,
  sinkOverlay,
  startCollector,
  tempFile,
  tracesRequest,
  validateConfig,
  waitFor,
} from '../src/collector.js';
import { stackFiles } from '../src/generate.js';

const CLIENT_RESOURCE = {
  'service.name': 'demo-miniprogram',
  'mp.platform': 'wechat',
  'os.name': 'ios',
  'mp.base_library.version': '3.4.1',
};
const KONG_RESOURCE = { 'service.name': 'kong' };
const BACKEND_RESOURCE = { 'service.name': 'image-service', 'host.name': 'node-1' };

describe('collector validate', () => {
  beforeAll(() => {
    ensureCollector();
  });

  it('collector/config.yaml is in sync with its template and the catalog (npm run generate)', () => {
    expect(readFileSync(shippedConfig, 'utf8')).toBe(stackFiles(repoRoot())['collector/config.yaml']);
  });

  it('accepts the shipped config (with a GeoIP database present)', () => {
    const r = validateConfig([shippedConfig], { MP_OTEL_GEOIP_DB: geoTestDb });
    expect(r.output).not.toMatch(/Error/);
    expect(r.code).toBe(0);
  });

  it('accepts the shipped config with the test sink overlay', () => {
    const overlay = tempFile('overlay.yaml', sinkOverlay('http://127.0.0.1:9'));
    expect(validateConfig([shippedConfig, overlay], { MP_OTEL_GEOIP_DB: geoTestDb }).code).toBe(0);
  });

  it('rejects a config with a broken OTTL statement (the check can fail)', () => {
    const broken = tempFile(
      'broken.yaml',
      `processors:\n  transform/normalize:\n    trace_statements:\n      - context: span\n        statements: ['truncate_allx(span.attributes, 4096)']\n`,
    );
    const r = validateConfig([shippedConfig, broken], { MP_OTEL_GEOIP_DB: geoTestDb });
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/truncate_allx/);
  });

  it('rejects a missing GeoIP database (MP_OTEL_GEOIP_DB must point to a City mmdb)', () => {
    const r = validateConfig([shippedConfig], { MP_OTEL_GEOIP_DB: '/nonexistent/GeoLite2-City.mmdb' });
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/geoip/i);
  });
});

describe('collector pipeline (real binary, shipped config)', () => {
  let sink: OtlpCapture;
  let col: RunningCollector;
  const ids: Record<string, string> = {};
  const big = 'x'.repeat(10_000);

  beforeAll(async () => {
    ensureCollector();
    sink = await startOtlpCapture();
    const overlay = tempFile('overlay.yaml', sinkOverlay(sink.url));
    col = await startCollector([shippedConfig, overlay], {
      MP_OTEL_TAIL_DECISION_WAIT: '1s',
      MP_OTEL_TAIL_SAMPLING_PERCENT: '50',
    });

    for (const k of [
      'health',
      'healthKong',
      'scanner',
      'kong404',
      'clientError',
      'clientOk',
      'kong',
      'backend',
      'slow',
      'oversize',
      'presampled',
      'xrealip',
      'kongPath',
    ]) {
      ids[k] = newTraceId();
    }
    const okTraces = Array.from({ length: 40 }, () => newTraceId());
    ids.ok0 = okTraces[0] as string;

    // Noise: all marked as errors so that, if they got through the filter, tail sampling would keep them.
    await postOtlp(
      col.otlpHttp,
      'traces',
      tracesRequest(BACKEND_RESOURCE, [
        {
          traceId: ids.health,
          kind: 2,
          error: true,
          attributes: { 'http.route': '/healthz', 'http.response.status_code': 503 },
        },
        {
          traceId: ids.scanner,
          kind: 2,
          error: true,
          attributes: {
            'http.route': '/login',
            'user_agent.original': 'Mozilla/5.0 (compatible; Nuclei - Open-source project)',
            'http.response.status_code': 404,
          },
        },
      ]),
    );
    await postOtlp(
      col.otlpHttp,
      'traces',
      tracesRequest(KONG_RESOURCE, [
        {
          traceId: ids.kong404,
          name: 'kong',
          kind: 2,
          error: true,
          attributes: {
            'http.route': '',
            'http.status_code': 404,
            'http.method': 'GET',
            'http.url': 'http://gw/wp-admin.php',
          },
        },
        {
          traceId: ids.healthKong,
          name: 'kong',
          kind: 2,
          error: true,
          attributes: { 'http.url': 'http://gw/health', 'http.status_code': 500, 'http.route': '' },
        },
      ]),
    );

    // A Kong span without the route-scoped resource attributes: mapped from Kong's matched regex path.
    await postOtlp(
      col.otlpHttp,
      'traces',
      tracesRequest(KONG_RESOURCE, [
        {
          traceId: ids.kongPath,
          name: 'kong',
          kind: 2,
          error: true,
          attributes: { 'http.method': 'POST', 'http.route': '~/upload$', 'http.status_code': 400 },
        },
      ]),
    );

    // Client spans: an error (weight 1), an OK one that was already head-sampled (weight 4), 40 plain OK ones.
    await postOtlp(
      col.otlpHttp,
      'traces',
      tracesRequest(CLIENT_RESOURCE, [
        {
          traceId: ids.clientError,
          name: 'POST upload.image',
          error: true,
          attributes: {
            'http.request.method': 'POST',
            'mp.route_name': 'upload.image',
            'http.response.status_code': 400,
            'error.type': '400',
            'mp.sampling.weight': 1,
          },
        },
        {
          traceId: ids.presampled,
          name: 'GET',
          attributes: {
            'http.request.method': 'GET',
            'http.response.status_code': 200,
            'mp.sampling.weight': 4,
          },
        },
        {
          traceId: ids.slow,
          name: 'POST upload.image',
          durationMs: 4000,
          attributes: {
            'http.request.method': 'POST',
            'mp.route_name': 'upload.image',
            'http.response.status_code': 200,
            'mp.sampling.weight': 1,
          },
        },
        ...okTraces.map((t) => ({
          traceId: t,
          name: 'GET',
          attributes: {
            'http.request.method': 'GET',
            'http.response.status_code': 200,
            'mp.sampling.weight': 1,
          },
        })),
      ]),
    );

    // Gateway + backend spans of a failing request (kept because the trace has an error).
    await postOtlp(
      col.otlpHttp,
      'traces',
      tracesRequest(
        {
          ...KONG_RESOURCE,
          'mp.route_name': 'download.image',
          'mp.business': 'image',
          'mp.department': 'media-platform',
        },
        [
          {
            traceId: ids.kong,
            name: 'kong',
            kind: 2,
            error: true,
            attributes: {
              'http.method': 'GET',
              'http.route': '~/images/[^/]+$',
              'http.status_code': 502,
              'http.client_ip': '203.0.113.7',
            },
          },
        ],
      ),
    );
    await postOtlp(
      col.otlpHttp,
      'traces',
      tracesRequest(BACKEND_RESOURCE, [
        {
          traceId: ids.backend,
          name: 'GET /images/:id',
          kind: 2,
          error: true,
          attributes: {
            'http.request.method': 'GET',
            'http.route': '/images/:id',
            'http.response.status_code': 500,
          },
        },
        {
          traceId: ids.oversize,
          kind: 2,
          error: true,
          attributes: {
            'http.request.method': 'POST',
            'http.route': '/upload',
            'http.response.status_code': 500,
            'app.error_code': 'E_BIG',
            'mp.debug.payload': big,
            ...Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`extra.${i}`, i])),
          },
        },
      ]),
    );

    // A client span without an address, sent through a proxy that sets X-Real-IP.
    await postOtlp(
      col.otlpHttp,
      'traces',
      tracesRequest(CLIENT_RESOURCE, [
        {
          traceId: ids.xrealip,
          error: true,
          attributes: { 'error.type': 'timeout', 'mp.sampling.weight': 1 },
        },
      ]),
      { 'x-real-ip': '198.51.100.20' },
    );

    // Logs: an oversize exception record and a scanner's.
    await postOtlp(
      col.otlpHttp,
      'logs',
      logsRequest(CLIENT_RESOURCE, [
        {
          body: 'y'.repeat(20_000),
          attributes: {
            'exception.type': 'TypeError',
            'exception.message': 'boom',
            'exception.stacktrace': 'z'.repeat(12_000),
            'mp.error.count': 3,
          },
        },
        { body: 'scan', attributes: { 'user_agent.original': 'sqlmap/1.7' } },
      ]),
    );

    // Everything kept arrives after the 1 s decision wait + the 1 s batch; wait for the last kept trace.
    await waitFor(
      () => sink.spans().some((s) => s.traceId === ids.xrealip) && sink.logs().length > 0,
      30_000,
      'kept spans',
    );
    await new Promise((r) => setTimeout(r, 3000));
  });

  afterAll(async () => {
    removeTempFiles();
    await col?.stop();
    await sink?.close();
  });

  const byTrace = (id: string | undefined): CapturedSpan[] => sink.spans().filter((s) => s.traceId === id);

  it('drops noise: health checks, security-scanner user agents, unmatched Kong 404 probes', () => {
    expect(byTrace(ids.health)).toHaveLength(0);
    expect(byTrace(ids.healthKong)).toHaveLength(0);
    expect(byTrace(ids.scanner)).toHaveLength(0);
    expect(byTrace(ids.kong404)).toHaveLength(0);
    expect(sink.logs().filter((l) => l.body === 'scan')).toHaveLength(0);
    expect(sink.logs()).toHaveLength(1);
  });

  it('truncates oversize attributes and bodies, and caps the attribute count', () => {
    const [span] = byTrace(ids.oversize);
    expect(span).toBeDefined();
    expect(String(span?.attributes['mp.debug.payload'])).toHaveLength(4096);
    // 128 of the 204 attributes sent are kept; mp.route_name is added afterwards by the route mapping
    const sent = Object.keys(span?.attributes ?? {}).filter((k) => k !== 'mp.route_name');
    expect(sent).toHaveLength(128);
    // the protected keys survive the cap
    expect(span?.attributes['app.error_code']).toBe('E_BIG');
    expect(span?.attributes['mp.route_name']).toBe('upload.image');
    const [log] = sink.logs();
    expect(String(log?.body)).toHaveLength(16_384);
    expect(String(log?.attributes['exception.stacktrace'])).toHaveLength(8192);
    expect(log?.attributes['exception.type']).toBe('TypeError');
    expect(log?.attributes['mp.error.count']).toBe(3);
  });

  it("maps Kong's span to the catalog route, client.address and geo", () => {
    const [kong] = byTrace(ids.kong);
    expect(kong?.attributes['mp.route_name']).toBe('download.image');
    expect(kong?.attributes['mp.business']).toBe('image');
    expect(kong?.attributes['mp.department']).toBe('media-platform');
    expect(kong?.attributes['client.address']).toBe('203.0.113.7');
    expect(kong?.attributes['geo.city_name']).toBe('Shanghai');
    expect(kong?.attributes['geo.country.iso_code']).toBe('CN');
    const [byPath] = byTrace(ids.kongPath);
    expect(byPath?.attributes['mp.route_name']).toBe('upload.image');
    expect(byPath?.attributes['mp.business']).toBeUndefined();
    const [backend] = byTrace(ids.backend);
    expect(backend?.attributes['mp.route_name']).toBe('download.image');
  });

  it('takes client.address from X-Real-IP when the span has none', () => {
    const [span] = byTrace(ids.xrealip);
    expect(span?.attributes['client.address']).toBe('198.51.100.20');
    expect(span?.attributes['geo.city_name']).toBe('Beijing');
  });

  it('keeps every error and slow trace through tail sampling', () => {
    for (const k of ['clientError', 'kong', 'backend', 'oversize', 'xrealip', 'slow']) {
      expect(byTrace(ids[k]), k).toHaveLength(1);
    }
    // errors and slow spans keep the client's weight: they were not sampled by the collector
    expect(byTrace(ids.clientError)[0]?.attributes['mp.sampling.weight']).toBe(1);
    expect(byTrace(ids.slow)[0]?.attributes['mp.sampling.weight']).toBe(1);
  });

  it('respects client sampling weights: pre-sampled spans kept as they are, the sampled rest re-weighted', () => {
    expect(byTrace(ids.presampled)[0]?.attributes['mp.sampling.weight']).toBe(4);
    const plain = sink
      .spans()
      .filter(
        (s) =>
          s.resource['service.name'] === 'demo-miniprogram' &&
          (s.status.code ?? 0) === 0 &&
          s.attributes['http.response.status_code'] === 200,
      )
      .filter((s) => s.traceId !== ids.presampled && s.traceId !== ids.slow);
    // 40 traces at 50 %: some kept, some dropped (fixed trace-id hashing, so not exactly 20)
    expect(plain.length).toBeGreaterThan(0);
    expect(plain.length).toBeLessThan(40);
    for (const s of plain) expect(s.attributes['mp.sampling.weight']).toBe(2);
    // the sampler's bookkeeping attributes do not reach storage
    for (const s of sink.spans()) expect(s.scope.attributes['tailsampling.policy']).toBeUndefined();
  });

  it('answers CORS preflights from H5 pages', async () => {
    const res = await fetch(`${col.otlpHttp}/v1/traces`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://h5.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(res.status).toBeLessThan(300);
    expect(res.headers.get('access-control-allow-origin')).toMatch(/^(\*|https:\/\/h5\.example\.com)$/);
  });

  it('receives OTLP over gRPC too (OpenTelemetry JS gRPC exporter)', async () => {
    const traceId = newTraceId();
    const exporter = new OTLPTraceExporter({ url: `http://127.0.0.1:${col.otlpGrpcPort}` });
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'grpc-backend' }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const tracer = provider.getTracer('grpc-test');
    const ctx = trace.setSpanContext(context.active(), {
      traceId,
      spanId: newSpanId(),
      traceFlags: TraceFlags.SAMPLED,
    });
    const span = tracer.startSpan(
      'GET /images/:id',
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': 'GET',
          'http.route': '/images/:id',
          'http.response.status_code': 503,
        },
      },
      ctx,
    );
    span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
    await provider.forceFlush();
    await provider.shutdown();
    const [got] = await waitFor(
      () => {
        const found = byTrace(traceId);
        return found.length > 0 ? found : undefined;
      },
      20_000,
      'the gRPC span',
    );
    expect(got?.attributes['mp.route_name']).toBe('download.image');
  });

  it('adds deployment.environment.name when the resource has none', () => {
    expect(byTrace(ids.backend)[0]?.resource['deployment.environment.name']).toBe('production');
  });
});
