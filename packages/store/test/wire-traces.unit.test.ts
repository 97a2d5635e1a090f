// The protobuf wire path (wire-traces.ts) must write exactly the RowBinary that the object path
// (protobufjs decode → traceRows → encodeTraceRow) writes, or hand the request back (Fallback).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeProtobuf, requestType } from '../src/index.js';
import { encodeTraceRow, Writer } from '../src/otlp/rowbinary.js';
import { type RowContext, rowContext, traceRows } from '../src/otlp/rows.js';
import { Fallback, wireTraceRows } from '../src/otlp/wire-traces.js';

const NOW = 1_780_000_000_000n * 1_000_000n;
const ctx = (): RowContext =>
  rowContext({
    window: { minNs: NOW - 86_400_000_000_000n, maxNs: NOW + 3_600_000_000_000n },
    enrich: { attributes: { 'client.address': '203.0.113.9' } },
  });

function both(body: Buffer): { wire?: Buffer; object: Buffer; wctx: RowContext; octx: RowContext } {
  const octx = ctx();
  const rows = traceRows(decodeProtobuf('traces', body), octx);
  const ow = new Writer();
  for (const r of rows) encodeTraceRow(ow, r);
  const wctx = ctx();
  const ww = new Writer();
  try {
    wireTraceRows(body, wctx, ww);
    return { wire: Buffer.from(ww.take()), object: Buffer.from(ow.take()), wctx, octx };
  } catch (e) {
    if (!(e instanceof Fallback)) throw e;
    return { object: Buffer.from(ow.take()), wctx, octx };
  }
}

const text = fc.oneof(
  fc.constantFrom('', 'a', 'service.name', 'http.route', 'mp.route_name', 'é', '😀x', 'k'.repeat(5000)),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
);
const value = fc.oneof(
  text.map((s) => ({ stringValue: s })),
  fc.integer().map((n) => ({ intValue: n })),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((n) => ({ intValue: n.toString() })),
  fc.double().map((d) => ({ doubleValue: d })),
  fc.boolean().map((b) => ({ boolValue: b })),
  fc.uint8Array({ maxLength: 8 }).map((b) => ({ bytesValue: b })),
  fc.constant({}),
  fc.constant({ arrayValue: { values: [{ stringValue: 'x' }] } }),
);
const attrs = (max: number) => fc.array(fc.record({ key: text, value }), { maxLength: max });
const id = (n: number) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.uint8Array({ minLength: n, maxLength: n }) },
    { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
    { weight: 1, arbitrary: fc.constant(new Uint8Array(n)) },
  );
const time = fc.oneof(
  { weight: 6, arbitrary: fc.bigInt({ min: NOW - 3_600_000_000_000n, max: NOW }) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) },
);
const span = fc.record({
  traceId: id(16),
  spanId: id(8),
  parentSpanId: id(8),
  traceState: text,
  name: text,
  kind: fc.integer({ min: -2, max: 8 }),
  startTimeUnixNano: time.map(String),
  endTimeUnixNano: time.map(String),
  attributes: fc.oneof(attrs(6), attrs(140)),
  events: fc.array(fc.record({ timeUnixNano: time.map(String), name: text, attributes: attrs(3) }), {
    maxLength: 2,
  }),
  links: fc.array(fc.record({ traceId: id(16), spanId: id(8), traceState: text, attributes: attrs(2) }), {
    maxLength: 2,
  }),
  status: fc.record({ code: fc.integer({ min: 0, max: 3 }), message: text }),
});
const request = fc.array(
  fc.record({
    resource: fc.record({ attributes: fc.oneof(attrs(5), attrs(130)) }),
    scopeSpans: fc.array(
      fc.record({ scope: fc.record({ name: text, version: text }), spans: fc.array(span, { maxLength: 4 }) }),
      { maxLength: 2 },
    ),
  }),
  { maxLength: 2 },
);

describe('protobuf wire path = object path', () => {
  it('writes identical RowBinary, rejects the same items, or falls back', () => {
    let wire = 0;
    let fell = 0;
    fc.assert(
      fc.property(request, (resourceSpans) => {
        const T = requestType('traces');
        const body = Buffer.from(T.encode(T.fromObject({ resourceSpans })).finish());
        const r = both(body);
        if (!r.wire) {
          fell++;
          return;
        }
        wire++;
        expect(r.wire.equals(r.object)).toBe(true);
        expect(r.wctx.rejected).toBe(r.octx.rejected);
      }),
      { numRuns: 400 },
    );
    // the generators make duplicate keys and array values often (those fall back); most still go the wire path
    expect(wire).toBeGreaterThan(100);
    expect(fell).toBeGreaterThan(0);
  });

  it('takes the wire path for what SDKs send (and agrees)', () => {
    const T = requestType('traces');
    const t = NOW - 1_000_000n;
    const spans = Array.from({ length: 50 }, (_, i) => ({
      traceId: Buffer.alloc(16, i + 1),
      spanId: Buffer.alloc(8, i + 1),
      name: 'POST upload.image',
      kind: 3,
      startTimeUnixNano: String(t),
      endTimeUnixNano: String(t + 5_000_000n),
      status: { code: i % 7 === 0 ? 2 : 0 },
      attributes: [
        { key: 'http.request.method', value: { stringValue: 'POST' } },
        { key: 'http.response.status_code', value: { intValue: 200 } },
        { key: 'mp.sampling.weight', value: { doubleValue: 10.0001 } },
        { key: 'ok', value: { boolValue: true } },
      ],
      events: [
        { timeUnixNano: String(t + 1n), name: 'retry', attributes: [{ key: 'n', value: { intValue: 2 } }] },
      ],
    }));
    const body = Buffer.from(
      T.encode(
        T.fromObject({
          resourceSpans: [
            {
              resource: { attributes: [{ key: 'service.name', value: { stringValue: 'mini-shop' } }] },
              scopeSpans: [{ scope: { name: 'mp-otel', version: '0.1.0' }, spans }],
            },
          ],
        }),
      ).finish(),
    );
    const r = both(body);
    expect(r.wire).toBeDefined();
    expect(r.wire?.equals(r.object)).toBe(true);
  });
});
