// The OTLP receiver fed by exporters no one here wrote (@opentelemetry/exporter-trace-otlp-proto and
// -otlp-http), read back with @clickhouse/client, checked column by column against the clickhouse
// exporter's contract (v0.159.0 INSERT columns, rendering rules).
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPTraceExporter as HttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embedded, hexId, kv, nowNs, post, str, tracesJson } from './helpers.js';

let emb: Awaited<ReturnType<typeof embedded>>;

beforeAll(async () => {
  emb = await embedded();
});
afterAll(async () => {
  await emb?.dispose();
});

async function sendWith(exporter: SpanExporter, service: string, mark: string) {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': service,
      'mp.platform': 'wechat',
      'os.name': 'ios',
      'deployment.environment.name': 'release',
    }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('exporter-test', '9.9.9');
  const start = Date.now() - 1000;
  const parent = tracer.startSpan('parent', { kind: SpanKind.SERVER, startTime: start });
  const parentCtx = (await import('@opentelemetry/api')).trace.setSpan(
    (await import('@opentelemetry/api')).context.active(),
    parent,
  );
  const child = tracer.startSpan(
    'POST upload.image',
    {
      kind: SpanKind.CLIENT,
      startTime: start + 10,
      attributes: {
        mark,
        'http.request.method': 'POST',
        'http.response.status_code': 400,
        'mp.sampling.weight': 2.5,
        ok: true,
        list: ['a', 'b'],
        nums: [1, 2.5],
      },
      links: [{ context: parent.spanContext(), attributes: { why: 'test' } }],
    },
    parentCtx,
  );
  child.addEvent('retry', { attempt: 2 }, start + 20);
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'HTTP 400' });
  child.end(start + 260);
  parent.end(start + 300);
  await provider.forceFlush();
  await provider.shutdown();
  return { parent: parent.spanContext(), child: child.spanContext(), start };
}

type TraceRow = Record<string, unknown> & {
  SpanAttributes: Record<string, string>;
  ResourceAttributes: Record<string, string>;
};

async function rowsFor(mark: string): Promise<TraceRow[]> {
  const rs = await emb.client.query({
    query: `SELECT *, toUnixTimestamp64Nano(Timestamp) AS ns FROM otel_traces
            WHERE TraceId IN (SELECT TraceId FROM otel_traces WHERE SpanAttributes['mark'] = {mark:String})
            ORDER BY SpanName`,
    query_params: { mark },
    format: 'JSONEachRow',
  });
  return rs.json<TraceRow>();
}

describe('OTLP receiver with the official exporters', () => {
  it('protobuf exporter: rows match the exporter contract column by column', async () => {
    const sent = await sendWith(
      new ProtoExporter({ url: `${emb.otlpUrl}/v1/traces` }),
      'svc-proto',
      'proto-1',
    );
    const rows = await rowsFor('proto-1');
    expect(rows.map((r) => r.SpanName)).toEqual(['POST upload.image', 'parent']);
    const [child, parent] = rows as [TraceRow, TraceRow];
    // ids: lower-case hex; the root span has an empty ParentSpanId
    expect(child.TraceId).toBe(sent.child.traceId);
    expect(child.SpanId).toBe(sent.child.spanId);
    expect(child.ParentSpanId).toBe(sent.parent.spanId);
    expect(parent.ParentSpanId).toBe('');
    expect(child.TraceState).toBe('');
    // Timestamp = span start (DateTime64(9)); Duration in ns
    expect(BigInt(String(child.ns))).toBe(BigInt(sent.start + 10) * 1_000_000n);
    expect(String(child.Duration)).toBe('250000000');
    expect(String(parent.Duration)).toBe('300000000');
    expect(child.SpanKind).toBe('Client');
    expect(parent.SpanKind).toBe('Server');
    expect(child.StatusCode).toBe('Error');
    expect(child.StatusMessage).toBe('HTTP 400');
    expect(parent.StatusCode).toBe('Unset');
    expect(child.ServiceName).toBe('svc-proto');
    expect(child.ScopeName).toBe('exporter-test');
    expect(child.ScopeVersion).toBe('9.9.9');
    // attribute maps: every value a string, rendered like pdata AsString()
    expect(child.SpanAttributes).toEqual({
      mark: 'proto-1',
      'http.request.method': 'POST',
      'http.response.status_code': '400',
      'mp.sampling.weight': '2.5',
      ok: 'true',
      list: '["a","b"]',
      nums: '[1,2.5]',
    });
    expect(child.ResourceAttributes['service.name']).toBe('svc-proto');
    expect(child.ResourceAttributes['os.name']).toBe('ios');
    expect(child.ResourceAttributes['deployment.environment.name']).toBe('release');
    // nested Events / Links columns
    expect(child['Events.Name']).toEqual(['retry']);
    expect(child['Events.Attributes']).toEqual([{ attempt: '2' }]);
    expect(String((child['Events.Timestamp'] as string[])[0])).toMatch(
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9}$/,
    );
    expect(child['Links.TraceId']).toEqual([sent.parent.traceId]);
    expect(child['Links.SpanId']).toEqual([sent.parent.spanId]);
    expect(child['Links.TraceState']).toEqual(['']);
    expect(child['Links.Attributes']).toEqual([{ why: 'test' }]);
  });

  it('JSON exporter (otlp-http) produces the same rows as the protobuf exporter', async () => {
    await sendWith(new HttpJsonExporter({ url: `${emb.otlpUrl}/v1/traces` }), 'svc-same', 'json-1');
    await sendWith(new ProtoExporter({ url: `${emb.otlpUrl}/v1/traces` }), 'svc-same', 'proto-2');
    const strip = (r: TraceRow) => {
      const {
        TraceId,
        SpanId,
        ParentSpanId,
        Timestamp,
        ns,
        'Events.Timestamp': _e,
        'Links.TraceId': _l,
        'Links.SpanId': _s,
        ...rest
      } = r;
      return { ...rest, SpanAttributes: { ...r.SpanAttributes, mark: '' } };
    };
    const a = (await rowsFor('json-1')).map(strip);
    const b = (await rowsFor('proto-2')).map(strip);
    expect(a).toHaveLength(2);
    expect(a).toEqual(b);
  });

  it('fills otel_traces_trace_id_ts through its materialized view', async () => {
    const sent = await sendWith(new ProtoExporter({ url: `${emb.otlpUrl}/v1/traces` }), 'svc-ts', 'ts-1');
    const rs = await emb.client.query({
      query:
        'SELECT TraceId, min(Start) AS s, max(End) AS e FROM otel_traces_trace_id_ts WHERE TraceId = {t:String} GROUP BY TraceId',
      query_params: { t: sent.child.traceId },
      format: 'JSONEachRow',
    });
    const rows = await rs.json<{ TraceId: string; s: string; e: string }>();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.s <= rows[0]!.e).toBe(true);
  });

  it('renders every attribute value type like the exporter (OTLP/JSON input)', async () => {
    const t = nowNs();
    const body = JSON.stringify({
      resourceSpans: [
        {
          resource: { attributes: [kv('service.name', str('types')), kv('n', { intValue: 42 })] },
          scopeSpans: [
            {
              spans: [
                {
                  traceId: hexId(16),
                  spanId: hexId(8),
                  name: 'types',
                  kind: 2,
                  startTimeUnixNano: String(t),
                  endTimeUnixNano: String(t + 5n),
                  attributes: [
                    kv('s', str('x<y & "z"')),
                    kv('i', { intValue: '-9007199254740993' }),
                    kv('d', { doubleValue: 0.1 }),
                    kv('big', { doubleValue: 1e21 }),
                    kv('b', { boolValue: false }),
                    kv('bytes', { bytesValue: Buffer.from([1, 2, 3]).toString('base64') }),
                    kv('arr', {
                      arrayValue: { values: [{ intValue: 1 }, { stringValue: 's' }, { boolValue: true }] },
                    }),
                    kv('map', { kvlistValue: { values: [kv('z', { doubleValue: 1 }), kv('a', str('b'))] } }),
                    kv('empty', {}),
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
    const r = await post(`${emb.otlpUrl}/v1/traces`, body, { 'content-type': 'application/json' });
    expect(r.status).toBe(200);
    const rs = await emb.client.query({
      query: "SELECT SpanAttributes, ResourceAttributes, Duration FROM otel_traces WHERE SpanName = 'types'",
      format: 'JSONEachRow',
    });
    const [row] = await rs.json<{
      SpanAttributes: Record<string, string>;
      ResourceAttributes: Record<string, string>;
      Duration: string;
    }>();
    expect(row?.SpanAttributes).toEqual({
      s: 'x<y & "z"',
      i: '-9007199254740993',
      d: '0.1',
      big: '1e+21',
      b: 'false',
      bytes: 'AQID',
      arr: '[1,"s",true]',
      map: '{"a":"b","z":1}',
      empty: '',
    });
    expect(row?.ResourceAttributes).toEqual({ 'service.name': 'types', n: '42' });
    expect(String(row?.Duration)).toBe('5');
  });

  it('writes logs (with EventName) and every metric type', async () => {
    const t = nowNs();
    const traceId = hexId(16);
    const logs = JSON.stringify({
      resourceLogs: [
        {
          resource: { attributes: [kv('service.name', str('mini')), kv('os.name', str('ios'))] },
          scopeLogs: [
            {
              scope: { name: 'mp-otel', version: '0.1.0' },
              logRecords: [
                {
                  timeUnixNano: String(t),
                  severityNumber: 17,
                  severityText: 'ERROR',
                  body: { stringValue: 'TypeError: x is undefined' },
                  traceId,
                  spanId: hexId(8),
                  flags: 1,
                  eventName: 'exception',
                  attributes: [
                    kv('exception.type', str('TypeError')),
                    kv('mp.error.count', { intValue: 3 }),
                    kv('mp.page.route', str('pages/upload/upload')),
                  ],
                },
                {
                  observedTimeUnixNano: String(t + 1n),
                  body: { kvlistValue: { values: [kv('k', str('v'))] } },
                },
              ],
            },
          ],
        },
      ],
    });
    expect((await post(`${emb.otlpUrl}/v1/logs`, logs, { 'content-type': 'application/json' })).status).toBe(
      200,
    );
    const lrs = await emb.client.query({
      query:
        'SELECT * EXCEPT TimestampTime, toUnixTimestamp64Nano(Timestamp) AS ns FROM otel_logs WHERE ServiceName = {s:String} ORDER BY Timestamp',
      query_params: { s: 'mini' },
      format: 'JSONEachRow',
    });
    const lrows = await lrs.json<Record<string, unknown>>();
    expect(lrows).toHaveLength(2);
    expect(lrows[0]).toMatchObject({
      TraceId: traceId,
      TraceFlags: 1,
      SeverityText: 'ERROR',
      SeverityNumber: 17,
      ServiceName: 'mini',
      Body: 'TypeError: x is undefined',
      ScopeName: 'mp-otel',
      ScopeVersion: '0.1.0',
      EventName: 'exception',
      LogAttributes: {
        'exception.type': 'TypeError',
        'mp.error.count': '3',
        'mp.page.route': 'pages/upload/upload',
      },
    });
    expect(String(lrows[0]?.ns)).toBe(String(t));
    // Timestamp falls back to ObservedTimestamp; map bodies are JSON
    expect(String(lrows[1]?.ns)).toBe(String(t + 1n));
    expect(lrows[1]?.Body).toBe('{"k":"v"}');
    expect(lrows[1]?.TraceId).toBe('');
    // the client-errors cube
    const ers = await emb.client.query({
      query:
        "SELECT ExceptionType, sum(Errors) AS n FROM mp_errors_1m WHERE ServiceName = 'mini' GROUP BY ExceptionType",
      format: 'JSONEachRow',
    });
    expect(await ers.json()).toEqual([{ ExceptionType: 'TypeError', n: 3 }]);

    const attrs = [kv('route', str('upload.image'))];
    const metrics = JSON.stringify({
      resourceMetrics: [
        {
          resource: { attributes: [kv('service.name', str('image-service'))] },
          scopeMetrics: [
            {
              scope: { name: 'img' },
              metrics: [
                {
                  name: 'g',
                  unit: '1',
                  gauge: { dataPoints: [{ timeUnixNano: String(t), asDouble: 1.5, attributes: attrs }] },
                },
                {
                  name: 's',
                  sum: {
                    aggregationTemporality: 2,
                    isMonotonic: true,
                    dataPoints: [
                      {
                        startTimeUnixNano: String(t - 10n),
                        timeUnixNano: String(t),
                        asInt: '7',
                        attributes: attrs,
                      },
                    ],
                  },
                },
                {
                  name: 'h',
                  description: 'transfer size',
                  histogram: {
                    aggregationTemporality: 1,
                    dataPoints: [
                      {
                        timeUnixNano: String(t),
                        count: '3',
                        sum: 6,
                        bucketCounts: ['1', '2', '0'],
                        explicitBounds: [1, 10],
                        min: 1,
                        max: 3,
                        attributes: attrs,
                      },
                    ],
                  },
                },
                {
                  name: 'eh',
                  exponentialHistogram: {
                    aggregationTemporality: 2,
                    dataPoints: [
                      {
                        timeUnixNano: String(t),
                        count: '2',
                        sum: 3,
                        scale: 1,
                        zeroCount: '0',
                        positive: { offset: 1, bucketCounts: ['1', '1'] },
                      },
                    ],
                  },
                },
                {
                  name: 'sm',
                  summary: {
                    dataPoints: [
                      {
                        timeUnixNano: String(t),
                        count: '4',
                        sum: 10,
                        quantileValues: [
                          { quantile: 0.5, value: 2 },
                          { quantile: 1, value: 4 },
                        ],
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    });
    const mres = await post(`${emb.otlpUrl}/v1/metrics`, metrics, { 'content-type': 'application/json' });
    expect(mres.text).toBe('{}');
    expect(mres.status).toBe(200);
    const q = async (sql: string) =>
      (await emb.client.query({ query: sql, format: 'JSONEachRow' })).json<Record<string, unknown>>();
    expect(
      await q(
        "SELECT MetricName, MetricUnit, Value, Attributes, ServiceName, ScopeName FROM otel_metrics_gauge WHERE ServiceName = 'image-service'",
      ),
    ).toEqual([
      {
        MetricName: 'g',
        MetricUnit: '1',
        Value: 1.5,
        Attributes: { route: 'upload.image' },
        ServiceName: 'image-service',
        ScopeName: 'img',
      },
    ]);
    expect(
      await q(
        "SELECT Value, AggregationTemporality, IsMonotonic FROM otel_metrics_sum WHERE ServiceName = 'image-service'",
      ),
    ).toEqual([{ Value: 7, AggregationTemporality: 2, IsMonotonic: true }]);
    expect(
      await q(
        "SELECT toString(Count) AS c, Sum, BucketCounts, ExplicitBounds, Min, Max, MetricDescription FROM otel_metrics_histogram WHERE ServiceName = 'image-service'",
      ),
    ).toEqual([
      {
        c: '3',
        Sum: 6,
        BucketCounts: ['1', '2', '0'],
        ExplicitBounds: [1, 10],
        Min: 1,
        Max: 3,
        MetricDescription: 'transfer size',
      },
    ]);
    expect(
      await q(
        "SELECT Scale, PositiveOffset, PositiveBucketCounts FROM otel_metrics_exp_histogram WHERE ServiceName = 'image-service'",
      ),
    ).toEqual([{ Scale: 1, PositiveOffset: 1, PositiveBucketCounts: ['1', '1'] }]);
    expect(
      await q(
        "SELECT `ValueAtQuantiles.Quantile` AS q, `ValueAtQuantiles.Value` AS v FROM otel_metrics_summary WHERE ServiceName = 'image-service'",
      ),
    ).toEqual([{ q: [0.5, 1], v: [2, 4] }]);
  });

  it('x-mp-otel-batch: a retried payload is stored once', async () => {
    const t = nowNs();
    const body = tracesJson({ 'service.name': 'dedup' }, [
      {
        traceId: hexId(16),
        spanId: hexId(8),
        name: 'once',
        kind: 2,
        startTimeUnixNano: String(t),
        endTimeUnixNano: String(t + 1n),
      },
    ]);
    const h = { 'content-type': 'application/json', 'x-mp-otel-batch': 'batch-42' };
    // a first attempt that is rejected (400) does not claim the id
    const bad = await post(`${emb.otlpUrl}/v1/traces`, '{"resourceSpans": [', h);
    expect(bad.status).toBe(400);
    const concurrent = await Promise.all(
      Array.from({ length: 5 }, () => post(`${emb.otlpUrl}/v1/traces`, body, h)),
    );
    const c = await post(`${emb.otlpUrl}/v1/traces`, body, h);
    expect([...concurrent, c].map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect([...concurrent, c].filter((r) => r.headers.get('x-mp-otel-duplicate') === '1')).toHaveLength(5);
    const other = await post(`${emb.otlpUrl}/v1/traces`, body, { ...h, 'x-mp-otel-batch': 'batch-43' });
    expect(other.status).toBe(200);
    const rs = await emb.client.query({
      query: "SELECT count() AS n FROM otel_traces WHERE ServiceName = 'dedup'",
      format: 'JSONEachRow',
    });
    expect(await rs.json()).toEqual([{ n: '2' }]);
  });
});
