// The protobuf prescan (prescan.ts) reads tags and lengths on a fast path of its own. Its verdict — the item
// count, or the error and its message with the byte it names — must be what a plain reading of the rules
// gives (`reference` below: every varint read in full, tags split by division), on valid bodies, on bodies
// cut, flipped or spliced at random, and on hand-made edge cases (long tags, field 0, every wire type).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { requestType } from '../src/index.js';
import { type ScanLimits, scanProtobuf } from '../src/otlp/prescan.js';

/** The rules, read plainly: a Walker without the fast paths. Throws what the prescan throws. */
function reference(buf: Uint8Array, limits: ScanLimits): number {
  const fail = (what: string, at: number): never => {
    // the prescan's message for the same failure (its errors are compared by message only)
    throw new Error(`malformed protobuf ${what} at byte ${at}`);
  };
  let pos = 0;
  let nodes = 0;
  let items = 0;
  const varint = (end: number): number => {
    let v = 0;
    let mul = 1;
    for (let k = 0; k < 10; k++) {
      if (pos >= end) fail('(truncated varint)', pos);
      const b = buf[pos++] as number;
      if (mul < 2 ** 53) v += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) return v;
    }
    return fail('(varint longer than 10 bytes)', pos);
  };
  // which fields hold sub-messages the prescan walks into, and which of them are items, by type name
  type Plan = { fields: Map<number, Plan>; item: boolean };
  const plans = new Map<string, Plan>();
  const planFor = (t: ReturnType<typeof requestType>): Plan => {
    const known = plans.get(t.fullName);
    if (known) return known;
    const p: Plan = { fields: new Map(), item: ['Span', 'LogRecord'].includes(t.name) };
    plans.set(t.fullName, p);
    for (const f of t.fieldsArray) {
      f.resolve();
      if (f.resolvedType && 'fieldsArray' in f.resolvedType)
        p.fields.set(f.id, planFor(f.resolvedType as ReturnType<typeof requestType>));
    }
    return p;
  };
  const walk = (end: number, plan: Plan, depth: number): void => {
    if (depth > limits.maxDepth) throw new Error(`too deep ${limits.maxDepth}`);
    while (pos < end) {
      const tag = varint(end);
      const field = Math.floor(tag / 8);
      const wt = tag % 8;
      if (field === 0) fail('(field number 0)', pos);
      if (wt === 0) varint(end);
      else if (wt === 1) pos += 8;
      else if (wt === 5) pos += 4;
      else if (wt === 2) {
        const len = varint(end);
        const stop = pos + len;
        if (stop > end) fail(`(length ${len} past the end of its message)`, pos);
        const sub = plan.fields.get(field);
        if (sub) {
          if (++nodes > limits.maxNodes) throw new Error(`nodes ${limits.maxNodes}`);
          if (sub.item && ++items > limits.maxItems) throw new Error(`items> ${limits.maxItems}`);
          walk(stop, sub, depth + 1);
        }
        pos = stop;
      } else fail(`(wire type ${wt} of field ${field})`, pos);
      if (pos > end) fail('(truncated field)', pos);
    }
  };
  walk(buf.length, planFor(requestType('traces')), 1);
  return items;
}

/** The prescan's verdict in the reference's terms: the item count, or the error's gist. */
function verdict(scan: () => number): string {
  try {
    return `items ${scan()}`;
  } catch (e) {
    const m = (e as Error).message;
    if (m.startsWith('malformed protobuf:')) return `too deep ${/deeper than (\d+)/.exec(m)?.[1]}`;
    if (m.startsWith('malformed protobuf')) return m;
    if (/objects \(items, attributes and values\)/.test(m)) return `nodes ${/more than (\d+)/.exec(m)?.[1]}`;
    if (/spans in one request/.test(m)) return `items> ${/more than (\d+)/.exec(m)?.[1]}`;
    return `unexpected: ${m}`;
  }
}
function expected(buf: Uint8Array, limits: ScanLimits): string {
  try {
    return `items ${reference(buf, limits)}`;
  } catch (e) {
    return (e as Error).message;
  }
}

const T = requestType('traces');
/** A request with what the prescan walks into: resources, scopes, spans, events, links, nested values. */
function body(spans: number, nest: number): Uint8Array {
  let value: Record<string, unknown> = { stringValue: 'leaf' };
  for (let i = 0; i < nest; i++) value = { arrayValue: { values: [value, { intValue: i }] } };
  const attrs = [
    { key: 'http.request.method', value: { stringValue: 'GET' } },
    { key: 'n', value: { intValue: 300 } },
    { key: 'd', value: { doubleValue: 1.5 } },
    { key: 'nested', value },
  ];
  return T.encode(
    T.fromObject({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
          scopeSpans: [
            {
              scope: { name: 's', version: '1', attributes: attrs },
              spans: Array.from({ length: spans }, (_, i) => ({
                traceId: Buffer.alloc(16, i + 1),
                spanId: Buffer.alloc(8, i + 1),
                name: `span ${i}`.repeat(1 + (i % 40)), // names past 127 bytes: two-byte lengths
                kind: 2,
                startTimeUnixNano: '1780000000000000000',
                endTimeUnixNano: '1780000000100000000',
                attributes: attrs,
                events: [{ timeUnixNano: '1780000000000000001', name: 'e', attributes: attrs }],
                links: [{ traceId: Buffer.alloc(16, 9), spanId: Buffer.alloc(8, 9), attributes: attrs }],
                status: { code: 2, message: 'x' },
              })),
            },
          ],
        },
      ],
    }),
  ).finish();
}

const LOOSE: ScanLimits = { maxDepth: 64, maxNodes: 1_000_000, maxItems: 10_000 };
const agree = (buf: Uint8Array, limits: ScanLimits) =>
  expect(verdict(() => scanProtobuf('traces', buf, limits))).toBe(expected(buf, limits));

describe('protobuf prescan', () => {
  it('counts items as the plain reading does, and stops at the same limit', () => {
    const b = body(12, 3);
    expect(verdict(() => scanProtobuf('traces', b, LOOSE))).toBe('items 12');
    agree(b, LOOSE);
    for (const limits of [
      { ...LOOSE, maxItems: 5 },
      { ...LOOSE, maxNodes: 40 },
      { ...LOOSE, maxDepth: 9 },
      { ...LOOSE, maxDepth: 12 },
    ])
      agree(b, limits);
  });

  it('long tags, field 0, every wire type, long and truncated varints: the same verdict and byte', () => {
    const b = Buffer.from(body(2, 1));
    const cases: number[][] = [
      [0x00], // field 0, varint
      [0x02, 0x00], // field 0, length-delimited
      [0x0b], // field 1, wire type 3
      [0x0c], // wire type 4
      [0x0e], // wire type 6
      [0x0f], // wire type 7
      [0x80, 0x01, 0x00], // field 16, varint (a two-byte tag)
      [0xf8, 0xff, 0xff, 0xff, 0x07, 0x00], // field 2^28 - 1: tag just under 2^31
      [0x80, 0x80, 0x80, 0x80, 0x08, 0x00], // field 2^28: tag 2^31
      [0xfa, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x41], // field 2^29 - 1, length-delimited
      [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // a ten-byte tag
      [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // eleven bytes
      [0x0a, 0x80], // a length cut short
      [0x0a, 0x80, 0x01], // a two-byte length past the end
      [0x0a], // a tag with no length
      [0x09, 0x01], // fixed64 cut short
      [0x0d, 0x01], // fixed32 cut short
      [0x08, 0x80], // varint cut short
    ];
    for (const tail of cases) {
      agree(Buffer.concat([b, Buffer.from(tail)]), LOOSE);
      agree(Buffer.from(tail), LOOSE);
      // inside a span: the bytes become a span's own fields
      const span = Buffer.from([...tail]);
      const wrapped = Buffer.concat([Buffer.from([0x0a, span.length + 2, 0x12, span.length]), span]);
      agree(Buffer.concat([Buffer.from([0x0a, wrapped.length]), wrapped]), LOOSE);
    }
  });

  it('bodies cut, flipped and spliced at random: the same verdict and byte', () => {
    const base = Buffer.from(body(6, 4));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(base.length),
        fc.uint8Array({ maxLength: 12 }),
        fc.constantFrom(
          LOOSE,
          { ...LOOSE, maxNodes: 60 },
          { ...LOOSE, maxDepth: 8 },
          { ...LOOSE, maxItems: 3 },
        ),
        (flips, cut, splice, limits) => {
          const b = Buffer.from(base);
          for (const [at, v] of flips) b[at] = v;
          const mutated = Buffer.concat([b.subarray(0, cut), Buffer.from(splice), b.subarray(cut)]);
          agree(mutated, limits);
          agree(b.subarray(0, cut), limits);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
