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

  it('agrees when spans repeat their keys (the checks are reused) and when one span changes them', () => {
    // the wire path judges a sequence of keys once and reuses the verdict while the next spans' key bytes
    // are equal: spans share keys here, with their own values, and some change one key's last byte, drop
    // one, swap two, add the enrichment's key, or make one a byte longer or shorter
    const plain = fc.oneof(
      text.map((s) => ({ stringValue: s })),
      fc.integer().map((n) => ({ intValue: n })),
      fc.double().map((d) => ({ doubleValue: d })),
      fc.constant({}),
    );
    const keyText = fc.oneof(text, fc.constantFrom('client.address', 'http.route', 'é.key'));
    const keys = fc.oneof(
      fc.uniqueArray(keyText, { minLength: 1, maxLength: 8 }),
      fc.uniqueArray(keyText, { minLength: 125, maxLength: 140 }),
    );
    const change = (ks: string[], how: number, at: number): string[] => {
      const i = at % ks.length;
      const k = ks[i] as string;
      const out = [...ks];
      if (how === 0) out.splice(i, 1);
      else if (how === 1)
        out[i] = k === '' ? 'x' : Array.from(k).slice(0, -1).join('') + (k.endsWith('q') ? 'r' : 'q');
      else if (how === 2 && ks.length > 1) [out[0], out[i]] = [out[i] as string, out[0] as string];
      else if (how === 3) out.push('client.address');
      else if (how === 4) out[i] = `${k}q`;
      else if (how === 5) out[i] = Array.from(k).slice(0, -1).join('');
      return out;
    };
    let wire = 0;
    let reused = 0;
    fc.assert(
      fc.property(
        keys,
        fc.array(
          fc.record({
            values: fc.array(plain, { minLength: 141, maxLength: 141 }),
            how: fc.nat(11),
            at: fc.nat(200),
          }),
          { minLength: 2, maxLength: 6 },
        ),
        (ks, rows) => {
          const t = NOW - 1_000_000n;
          const spans = rows.map((r, i) => ({
            traceId: Buffer.alloc(16, i + 1),
            spanId: Buffer.alloc(8, i + 1),
            name: 'GET /x',
            startTimeUnixNano: String(t),
            endTimeUnixNano: String(t + 1000n),
            attributes: change(ks, r.how, r.at).map((key, j) => ({ key, value: r.values[j] })),
          }));
          const T = requestType('traces');
          const body = Buffer.from(
            T.encode(T.fromObject({ resourceSpans: [{ scopeSpans: [{ spans }] }] })).finish(),
          );
          const r = both(body);
          if (!r.wire) return;
          wire++;
          if (rows.some((x, i) => i > 0 && x.how >= 6 && (rows[i - 1]?.how ?? 0) >= 6)) reused++;
          expect(r.wire.equals(r.object)).toBe(true);
          // the row-byte estimate counts string values in UTF-8 bytes, the object path in UTF-16 units
          expect(r.wctx.bytes).toBeGreaterThanOrEqual(r.octx.bytes);
        },
      ),
      { numRuns: 300 },
    );
    expect(wire).toBeGreaterThan(100);
    expect(reused).toBeGreaterThan(30);
  });

  it('agrees when the remembered keys outgrow their first buffer (over 512 bytes together)', () => {
    // the keys are compared four bytes a step through a view of the remembered bytes: the view must follow
    // them when they move to a larger buffer. Eight keys fit (480 bytes), twelve do not; the ninth starts
    // with NULs, as the old buffer's unused bytes are (a view left on it would read on past its end); the
    // last spans change the last key's last byte
    const keys = Array.from({ length: 12 }, (_, i) =>
      (i === 8 ? '\u0000'.repeat(40) : `mp.attribute.with.a.long.name.${i}.`).padEnd(60, 'k'),
    );
    const eight = keys.slice(0, 8);
    const last = [...keys.slice(0, -1), `${(keys.at(-1) as string).slice(0, -1)}q`];
    const t = NOW - 1_000_000n;
    const spans = [eight, eight, keys, keys, keys, last, last].map((ks, i) => ({
      traceId: Buffer.alloc(16, i + 1),
      spanId: Buffer.alloc(8, i + 1),
      name: 'GET /x',
      startTimeUnixNano: String(t),
      endTimeUnixNano: String(t + 1000n),
      attributes: ks.map((key, j) => ({ key, value: { stringValue: `v${i}.${j}` } })),
    }));
    const T = requestType('traces');
    const r = both(
      Buffer.from(T.encode(T.fromObject({ resourceSpans: [{ scopeSpans: [{ spans }] }] })).finish()),
    );
    expect(r.wire).toBeDefined();
    expect(r.wire?.equals(r.object)).toBe(true);
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
