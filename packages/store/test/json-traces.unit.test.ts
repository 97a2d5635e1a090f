// The OTLP/JSON fast path (json-traces.ts) must write exactly the RowBinary of the object path
// (verify/fromObject → traceRows → encodeTraceRow), or hand the request back (Fallback); when the object
// path answers 400, the fast path must have handed it back.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeJson } from '../src/index.js';
import { jsonTraceRows } from '../src/otlp/json-traces.js';
import { encodeTraceRow, Writer } from '../src/otlp/rowbinary.js';
import { type RowContext, rowContext, traceRows } from '../src/otlp/rows.js';
import { Fallback } from '../src/otlp/wire-traces.js';

const NOW = 1_780_000_000_000n * 1_000_000n;
const ctx = (): RowContext =>
  rowContext({
    window: { minNs: NOW - 86_400_000_000_000n, maxNs: NOW + 3_600_000_000_000n },
    enrich: { attributes: { 'client.address': '203.0.113.9' } },
  });

function both(doc: unknown): {
  fast?: Buffer;
  object?: Buffer;
  error?: string;
  fctx: RowContext;
  octx: RowContext;
} {
  const text = JSON.stringify(doc);
  const fctx = ctx();
  let fast: Buffer | undefined;
  try {
    const w = new Writer();
    jsonTraceRows(JSON.parse(text), fctx, w);
    fast = Buffer.from(w.take());
  } catch (e) {
    if (!(e instanceof Fallback)) throw e;
  }
  const octx = ctx();
  try {
    const rows = traceRows(decodeJson('traces', Buffer.from(text)), octx);
    const w = new Writer();
    for (const r of rows) encodeTraceRow(w, r);
    return { fast, object: Buffer.from(w.take()), fctx, octx };
  } catch (e) {
    return { fast, error: (e as Error).message, fctx, octx };
  }
}

const text = fc.oneof(
  fc.constantFrom('', 'a', 'service.name', 'http.route', '7', 'é', '😀x', 'k'.repeat(5000)),
  fc.string({ maxLength: 12 }),
);
const hex = (n: number) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.stringMatching(new RegExp(`^[0-9a-fA-F]{${n}}$`)) },
    { weight: 1, arbitrary: fc.constantFrom('', '0'.repeat(n), 'zz', '0'.repeat(n - 2)) },
  );
const u64 = fc.oneof(
  { weight: 6, arbitrary: fc.bigInt({ min: NOW - 3_600_000_000_000n, max: NOW }).map(String) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('0', '18446744073709551615', '18446744073709551616', '-1', 'x', '1.5'),
  },
  { weight: 1, arbitrary: fc.integer({ min: -5, max: 2 ** 31 }) },
);
const value = fc.oneof(
  text.map((s) => ({ stringValue: s })),
  fc.integer().map((n) => ({ intValue: n })),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((n) => ({ intValue: n.toString() })),
  fc.double().map((d) => ({ doubleValue: d })),
  fc.constantFrom({ doubleValue: 'NaN' }, { boolValue: 'yes' }, { stringValue: 5 }, {}, { foo: 1 }),
  fc.boolean().map((b) => ({ boolValue: b })),
  fc.constant({ arrayValue: { values: [{ stringValue: 'x' }] } }),
  fc.constant({ stringValue: 'a', intValue: '1' }),
);
const attrs = (max: number) => fc.array(fc.record({ key: text, value }), { maxLength: max });
const span = fc.record(
  {
    traceId: hex(32),
    spanId: hex(16),
    parentSpanId: hex(16),
    traceState: text,
    name: text,
    kind: fc.oneof(fc.integer({ min: -1, max: 7 }), fc.constant('SPAN_KIND_CLIENT')),
    startTimeUnixNano: u64,
    endTimeUnixNano: u64,
    attributes: fc.oneof(attrs(6), attrs(140)),
    droppedAttributesCount: fc.oneof(fc.nat(5), fc.constant(-1)),
    events: fc.array(fc.record({ timeUnixNano: u64, name: text, attributes: attrs(3) }), { maxLength: 2 }),
    links: fc.array(
      fc.record({ traceId: hex(32), spanId: hex(16), traceState: text, attributes: attrs(2) }),
      {
        maxLength: 2,
      },
    ),
    status: fc.record({ code: fc.integer({ min: 0, max: 3 }), message: text }, { requiredKeys: [] }),
    extra_field: fc.constant(1),
  },
  { requiredKeys: ['traceId', 'spanId', 'name', 'startTimeUnixNano'] },
);
const request = fc.record({
  resourceSpans: fc.array(
    fc.record({
      resource: fc.record({ attributes: fc.oneof(attrs(5), attrs(130)) }),
      scopeSpans: fc.array(
        fc.record({
          scope: fc.record({ name: text, version: text }),
          spans: fc.array(span, { maxLength: 4 }),
        }),
        { maxLength: 2 },
      ),
    }),
    { maxLength: 2 },
  ),
});

describe('OTLP/JSON fast path = object path', () => {
  it('writes identical RowBinary and rejects the same items, or falls back (always on a 400)', () => {
    let fast = 0;
    let fell = 0;
    fc.assert(
      fc.property(request, (doc) => {
        const r = both(doc);
        if (!r.fast) {
          fell++;
          return;
        }
        fast++;
        expect(r.error).toBeUndefined();
        expect(r.fast.equals(r.object as Buffer)).toBe(true);
        expect(r.fctx.rejected).toBe(r.octx.rejected);
      }),
      { numRuns: 400 },
    );
    expect(fast).toBeGreaterThan(40);
    expect(fell).toBeGreaterThan(0);
  });

  it('takes the fast path for what the SDK sends', () => {
    const t = String(NOW - 1000n);
    const doc = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'mini-shop' } }] },
          scopeSpans: [
            {
              scope: { name: '@mp-otel/miniprogram', version: '0.1.0' },
              spans: [
                {
                  traceId: '0af7651916cd43dd8448eb211c80319c',
                  spanId: 'b7ad6b7169203331',
                  name: 'POST upload.image',
                  kind: 3,
                  startTimeUnixNano: t,
                  endTimeUnixNano: t,
                  attributes: [
                    { key: 'http.response.status_code', value: { intValue: 400 } },
                    { key: 'mp.sampling.weight', value: { doubleValue: 1 } },
                  ],
                  droppedAttributesCount: 0,
                  events: [],
                  links: [],
                  status: { code: 2 },
                },
              ],
            },
          ],
        },
      ],
    };
    const r = both(doc);
    expect(r.fast).toBeDefined();
    expect(r.fast?.equals(r.object as Buffer)).toBe(true);
  });
});
