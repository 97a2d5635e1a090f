// fast-check fuzzing of the embedded OTLP receiver over real HTTP with chDB: OTLP-shaped requests with
// nested attribute values (deeper than the caps, sometimes far deeper), lone surrogates and other odd
// text, huge item counts, odd timestamps (0, negative, 2^64 and beyond, not numbers), as JSON and as
// protobuf, gzipped or not. Input never gets a 500: 200 (possibly with partial success), 400 or 413.
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJson, requestType } from '../src/index.js';
import { embedded, nowNs, post, varint } from './helpers.js';

let emb: Awaited<ReturnType<typeof embedded>>;
beforeAll(async () => {
  emb = await embedded();
});
afterAll(async () => {
  await emb?.dispose();
});

const OK = new Set([200, 400, 413]);
const DAY = 86_400_000_000_000n;

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('\ud800', 'a\udc00b', 'cut \ud83d', '😀', '\u0000', '\u2028', 'x'.repeat(5000)),
  fc
    .array(fc.integer({ min: 0xd800, max: 0xdfff }), { minLength: 1, maxLength: 4 })
    .map((cs) => String.fromCharCode(...cs)),
);

const timestamp = fc.oneof(
  fc.constant(String(nowNs())),
  fc.integer({ min: -400, max: 400 }).map((d) => String(nowNs() + BigInt(d) * DAY)),
  fc.bigInt({ min: 0n, max: 2n ** 80n }).map(String),
  fc.constantFrom('0', '-1', '18446744073709551615', '18446744073709551616', '1e9', 'abc', ''),
  fc.integer(),
  fc.double(),
);

// AnyValue, nested up to ~40 levels (the receiver refuses more than 32)
const anyValue: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    text.map((s) => ({ stringValue: s })),
    fc.integer().map((n) => ({ intValue: String(n) })),
    fc.double().map((d) => ({ doubleValue: Number.isFinite(d) ? d : String(d) })),
    fc.boolean().map((b) => ({ boolValue: b })),
    fc.array(tie('v'), { maxLength: 3 }).map((values) => ({ arrayValue: { values } })),
    fc
      .array(fc.record({ key: text, value: tie('v') }), { maxLength: 3 })
      .map((values) => ({ kvlistValue: { values } })),
  ),
})).v;

// a value nested up to 12,000 deep: a marker here, expanded in the JSON text (no deep object in this process)
const deepValue = fc.integer({ min: 1, max: 12_000 }).map((depth) => ({ stringValue: `@@DEEP:${depth}@@` }));
const expandDeep = (json: string): string =>
  json.replace(/\{"stringValue":"@@DEEP:(\d+)@@"\}/g, (_m, d: string) => {
    const n = Number(d);
    return `${'{"arrayValue":{"values":['.repeat(n)}{"stringValue":"x"}${']}}'.repeat(n)}`;
  });

const attributes = fc.array(fc.record({ key: text, value: fc.oneof(anyValue, deepValue) }), { maxLength: 6 });

const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));

const spanArb = fc.record(
  {
    traceId: fc.oneof(hex(32), fc.constantFrom('', 'zz', '00000000000000000000000000000000')),
    spanId: fc.oneof(hex(16), fc.constant('')),
    name: text,
    kind: fc.integer({ min: -1, max: 7 }),
    startTimeUnixNano: timestamp,
    endTimeUnixNano: timestamp,
    attributes,
    events: fc.array(fc.record({ timeUnixNano: timestamp, name: text, attributes }), { maxLength: 2 }),
    status: fc.record({ code: fc.integer({ min: 0, max: 3 }), message: text }),
  },
  { requiredKeys: ['traceId', 'spanId', 'name', 'startTimeUnixNano'] },
);

const logArb = fc.record(
  {
    timeUnixNano: timestamp,
    observedTimeUnixNano: timestamp,
    severityNumber: fc.integer({ min: 0, max: 30 }),
    body: fc.oneof(anyValue, deepValue),
    attributes,
  },
  { requiredKeys: ['timeUnixNano'] },
);

const resource = fc.record({ attributes });

const tracesReq = fc
  .array(
    fc.record({
      resource,
      scopeSpans: fc.array(fc.record({ spans: fc.array(spanArb, { maxLength: 4 }) }), { maxLength: 2 }),
    }),
    {
      maxLength: 2,
    },
  )
  .map((resourceSpans) => ({ path: '/v1/traces', doc: { resourceSpans } }));

const logsReq = fc
  .array(
    fc.record({
      resource,
      scopeLogs: fc.array(fc.record({ logRecords: fc.array(logArb, { maxLength: 4 }) }), { maxLength: 2 }),
    }),
    {
      maxLength: 2,
    },
  )
  .map((resourceLogs) => ({ path: '/v1/logs', doc: { resourceLogs } }));

const metricsReq = fc
  .array(
    fc.record({
      resource,
      scopeMetrics: fc.array(
        fc.record({
          metrics: fc.array(
            fc.record({
              name: text,
              gauge: fc.record({
                dataPoints: fc.array(
                  fc.record({ timeUnixNano: timestamp, asDouble: fc.double(), attributes }),
                  { maxLength: 3 },
                ),
              }),
            }),
            { maxLength: 2 },
          ),
        }),
        { maxLength: 2 },
      ),
    }),
    { maxLength: 2 },
  )
  .map((resourceMetrics) => ({ path: '/v1/metrics', doc: { resourceMetrics } }));

const statuses = new Map<number, number>();
const note = (s: number) => statuses.set(s, (statuses.get(s) ?? 0) + 1);

describe('fuzz the receiver (fast-check)', () => {
  it('OTLP-shaped JSON and protobuf with nesting, surrogates, odd timestamps: never a 500', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(tracesReq, logsReq, metricsReq),
        fc.boolean(),
        fc.boolean(),
        async (req, asProto, gz) => {
          const signal = req.path.slice(4) as 'traces' | 'logs' | 'metrics';
          let body: Uint8Array = Buffer.from(expandDeep(JSON.stringify(req.doc)));
          let ctype = 'application/json';
          if (asProto) {
            // what a protobuf client would send for this document, when the document is valid
            try {
              body = requestType(signal).encode(decodeJson(signal, body)).finish();
              ctype = 'application/x-protobuf';
            } catch {
              // invalid as OTLP: send the JSON
            }
          }
          const headers: Record<string, string> = { 'content-type': ctype };
          if (gz) {
            body = gzipSync(body);
            headers['content-encoding'] = 'gzip';
          }
          const r = await post(`${emb.otlpUrl}${req.path}`, body, headers);
          note(r.status);
          if (!OK.has(r.status)) throw new Error(`${r.status}: ${r.text.slice(0, 300)}`);
          if (r.status !== 200) expect(r.text.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('huge item counts and raw bytes: 413 or 400, never a 500, memory bounded', async () => {
    const Span = requestType('traces').lookupType('opentelemetry.proto.trace.v1.Span');
    const one = Buffer.from(
      Span.encode(
        Span.fromObject({ traceId: Buffer.alloc(16, 7), spanId: Buffer.alloc(8, 7), name: 'n' }),
      ).finish(),
    );
    const entry = Buffer.concat([Buffer.from([0x12, one.length]), one]);
    const wrap = (tag: number, b: Buffer) => Buffer.concat([Buffer.from([tag]), varint(b.length), b]);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 20_001, max: 1_500_000 }),
        fc.uint8Array({ maxLength: 64 }),
        async (n, junk) => {
          const spans = Buffer.alloc(entry.length * n);
          for (let i = 0; i < n; i++) entry.copy(spans, i * entry.length);
          const body = Buffer.concat([wrap(0x0a, wrap(0x12, spans)), junk]);
          const r = await post(`${emb.otlpUrl}/v1/traces`, gzipSync(body, { level: 1 }), {
            'content-type': 'application/x-protobuf',
            'content-encoding': 'gzip',
          });
          note(r.status);
          if (r.status !== 413 && r.status !== 400)
            throw new Error(`${n} spans: ${r.status} ${r.text.slice(0, 200)}`);
        },
      ),
      { numRuns: 12 },
    );
    expect(process.memoryUsage.rss()).toBeLessThan(2 * 1024 ** 3);
  });

  it('still serves after the fuzzing', async () => {
    const t = nowNs();
    const r = await post(
      `${emb.otlpUrl}/v1/traces`,
      JSON.stringify({
        resourceSpans: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'after-fuzz' } }] },
            scopeSpans: [
              {
                spans: [
                  {
                    traceId: '0af7651916cd43dd8448eb211c80319c',
                    spanId: 'b7ad6b7169203331',
                    name: 'ok',
                    startTimeUnixNano: String(t),
                    endTimeUnixNano: String(t + 5n),
                  },
                ],
              },
            ],
          },
        ],
      }),
      { 'content-type': 'application/json' },
    );
    expect(r.status).toBe(200);
    console.log(`fuzz statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(413) ?? 0).toBeGreaterThan(0);
  });
});
