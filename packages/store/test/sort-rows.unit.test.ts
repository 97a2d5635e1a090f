// Segments sorted as otel_traces is ordered (ServiceName, SpanName, Timestamp): strings by their UTF-8
// bytes as ClickHouse compares them (not JavaScript's UTF-16 order), ties by the full nanosecond timestamp.
// The engine's side of the contract (it finds such a segment already sorted) is in store.test.ts.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { requestType } from '../src/index.js';
import { convertTraces } from '../src/otlp/convert.js';
import { writeScratch } from '../src/otlp/rowbinary.js';
import { type Row, rowContext } from '../src/otlp/rows.js';
import { sortTraceOrder, sortTraceRows } from '../src/otlp/sort-rows.js';
import { encodeRows as encode, traceRow as row } from './helpers.js';

const NOW = 1_780_000_000n * 1_000_000_000n;

/** The order ClickHouse keeps: UTF-8 bytes of the service, then of the span name, then the timestamp. */
const expected = (rows: Row[]): Row[] =>
  [...rows].sort(
    (a, b) =>
      Buffer.compare(Buffer.from(a.ServiceName as string), Buffer.from(b.ServiceName as string)) ||
      Buffer.compare(Buffer.from(a.SpanName as string), Buffer.from(b.SpanName as string)) ||
      (a.Timestamp as string).localeCompare(b.Timestamp as string),
  );

describe('sortTraceRows', () => {
  const rows: Row[] = [
    row('shop', 'POST upload', NOW + 5n, { 'mp.route_name': 'upload.image', event: 'TypeError' }),
    row('api', 'GET /items', NOW + 1_000_000_000n),
    // U+FF5E is EF BD 9E in UTF-8, U+1F600 is F0 9F 98 80: byte order puts ～ first, UTF-16 order 😀
    row('shop', '😀', NOW),
    row('shop', '～', NOW + 9n),
    row('shop', 'POST upload', NOW + 4n, { 'url.full': 'https://é.example/a' }),
    row('sho', 'zzz', NOW), // a prefix sorts first
    row('shop', 'POST upload', NOW + 4_294_967_296n), // differs from NOW + 5 in the high 32 bits only
    row('api', 'GET /items', NOW + 999_999_999n),
  ];

  it('puts rows in the table order, by bytes, each row intact', () => {
    const chunks = sortTraceRows(encode(rows));
    expect(chunks).toBeDefined();
    expect(Buffer.concat(chunks as Buffer[])).toEqual(encode(expected(rows)));
    expect(expected(rows).map((r) => r.SpanName)).toEqual([
      'GET /items',
      'GET /items',
      'zzz',
      'POST upload',
      'POST upload',
      'POST upload',
      '～',
      '😀',
    ]);
  });

  it('orders any rows as a stable sort by (service bytes, span name bytes, timestamp) does, ties kept in arrival order', () => {
    const ts = fc.oneof(
      fc.bigInt({ min: NOW - 10n, max: NOW + 10n }), // ties and neighbours
      fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), // any high half
      fc.constantFrom(NOW, NOW + 4_294_967_296n, NOW - 4_294_967_296n),
    );
    const oneRow = fc.record({
      svc: fc.constantFrom('shop', 'sho', 'api', '～', '😀'),
      name: fc.constantFrom('POST upload', 'GET /items', 'zzz', '😀', '～', ''),
      t: ts,
      tag: fc.string({ maxLength: 3 }),
    });
    fc.assert(
      fc.property(fc.array(oneRow, { minLength: 2, maxLength: 60 }), fc.nat(3), (list, split) => {
        const rs = list.map((r) => row(r.svc, r.name, r.t, { tag: r.tag }));
        // a stable sort on the numbers themselves (expected() compares timestamps as text of equal length)
        const order = list
          .map((r, i) => ({ ...r, i }))
          .sort(
            (a, b) =>
              Buffer.compare(Buffer.from(a.svc), Buffer.from(b.svc)) ||
              Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)) ||
              (a.t < b.t ? -1 : a.t > b.t ? 1 : 0),
          );
        const want = encode(order.map((r) => rs[r.i] as Row));
        const cut = Math.min(split * 7, rs.length);
        const got = sortTraceRows([encode(rs.slice(0, cut)), encode(rs.slice(cut))]);
        expect(
          got ? Buffer.concat(got) : Buffer.concat([encode(rs.slice(0, cut)), encode(rs.slice(cut))]),
        ).toEqual(want);
      }),
      { numRuns: 300 },
    );
  });

  it('copies the sorted rows into a staging buffer of any size as the views would write them', () => {
    const oneRow = fc.record({
      svc: fc.constantFrom('shop', 'api', '～'),
      t: fc.bigInt({ min: NOW - 1000n, max: NOW + 1000n }),
      tag: fc.string({ maxLength: 40 }),
    });
    fc.assert(
      fc.property(
        fc.array(oneRow, { minLength: 2, maxLength: 40 }),
        fc.nat(3),
        fc.integer({ min: 1, max: 3000 }), // smaller than a row, a few rows, all of them
        (list, split, size) => {
          const rs = list.map((r) => row(r.svc, 'x', r.t, { tag: r.tag }));
          const cut = Math.min(split * 7, rs.length);
          const sorted = sortTraceOrder([encode(rs.slice(0, cut)), encode(rs.slice(cut))]);
          if (!sorted) return;
          const stage = Buffer.alloc(size);
          const parts: Buffer[] = [];
          let at = 0;
          let skip = 0;
          for (let guard = 0; at < sorted.rows; guard++) {
            expect(guard).toBeLessThan(100_000);
            const p = sorted.copyInto(stage, at, skip);
            expect(p.bytes).toBeGreaterThan(0);
            parts.push(Buffer.from(stage.subarray(0, p.bytes)));
            at = p.next;
            skip = p.skip;
          }
          expect(Buffer.concat(parts)).toEqual(Buffer.concat(sorted.views()));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('writes sorted rows to a scratch file, over a longer file left from an earlier segment', async () => {
    const big = await writeScratch([Buffer.alloc(100_000, 7)]);
    big.release(true); // a spare now: the next scratch file is written over it
    const sorted = sortTraceOrder(encode(rows))!;
    const s = await writeScratch(sorted);
    try {
      expect(readFileSync(s.file)).toEqual(encode(expected(rows)));
    } finally {
      s.release(false);
    }
  });

  it('leaves rows already in order alone, and hands back what it cannot read (the engine sorts those)', () => {
    expect(sortTraceRows(encode(expected(rows)))).toBeUndefined();
    expect(sortTraceRows(Buffer.alloc(0))).toBeUndefined();
    const whole = encode(rows);
    expect(sortTraceRows(whole.subarray(0, whole.length - 3))).toBeUndefined(); // truncated
    expect(
      sortTraceRows(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])),
    ).toBeUndefined();
  });

  it('copies runs of rows that stay together as one view', () => {
    // two requests' rows interleaved by service: each request's run stays one chunk
    const a = [row('b', 'x', NOW), row('b', 'x', NOW + 1n), row('b', 'x', NOW + 2n)];
    const b = [row('a', 'x', NOW), row('a', 'x', NOW + 1n)];
    const chunks = sortTraceRows(encode([...a, ...b])) as Buffer[];
    expect(chunks).toHaveLength(2);
    expect(Buffer.concat(chunks)).toEqual(encode([...b, ...a]));
  });

  it('sorts across chunks (one per request) and never joins rows of two chunks into one view', () => {
    // the segment as the ingest log holds it: each request's rows in a buffer of its own
    const parts = [rows.slice(0, 3), rows.slice(3, 4), rows.slice(4)].map((p) => encode(p));
    const views = sortTraceRows(parts) as Buffer[];
    expect(Buffer.concat(views)).toEqual(encode(expected(rows)));
    const inside = (v: Buffer) => parts.some((p) => v.buffer === p.buffer && v.byteOffset >= p.byteOffset);
    expect(views.every(inside)).toBe(true);
    // rows that are adjacent across two chunks are still two views
    const a = encode([row('a', 'x', NOW)]);
    const b = encode([row('a', 'x', NOW + 1n)]);
    const c = encode([row('0', 'x', NOW)]);
    const out = sortTraceRows([a, b, c]) as Buffer[];
    expect(out).toHaveLength(3);
    expect(Buffer.concat(out)).toEqual(Buffer.concat([c, a, b]));
    // one unreadable chunk: the whole segment is handed back
    expect(sortTraceRows([a, Buffer.from([0xff, 0xff]), c])).toBeUndefined();
  });

  it('hands back a segment where two (service, span name) pairs share a hash, in the same chunk or two', () => {
    // sort-rows.ts's pair hash (FNV-1a over the service's length, its bytes, the span name's bytes),
    // restated to find two span names it cannot tell apart
    const hash = (svc: string, span: string) => {
      let h = Math.imul(Buffer.byteLength(svc), 16777619) >>> 0;
      for (const b of Buffer.from(svc + span)) h = Math.imul(h ^ b, 16777619);
      return h;
    };
    const seen = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let i = 0; !pair; i++) {
      const name = `GET /r${i}`;
      const h = hash('svc', name);
      const other = seen.get(h);
      if (other !== undefined) pair = [other, name];
      else seen.set(h, name);
    }
    const [first, second] = pair;
    expect(hash('svc', first)).toBe(hash('svc', second));
    // out of order, so that a sort would be needed; a third pair that does not collide sorts first
    const mixed = [row('svc', second, NOW + 2n), row('svc', first, NOW + 1n), row('a', 'x', NOW + 3n)];
    expect(sortTraceRows(encode(mixed))).toBeUndefined();
    expect(sortTraceRows(mixed.map((r) => encode([r])))).toBeUndefined();
    // the same rows without the collision are sorted
    expect(sortTraceRows(encode([row('svc', second, NOW + 2n), row('a', 'x', NOW + 3n)]))).toBeDefined();
  });

  describe('with the marks the converter records', () => {
    // requests as SDKs send them, protobuf and OTLP/JSON: services and span names in no order, the names
    // whose UTF-8 and UTF-16 orders differ among them, timestamps that differ in the high 32 bits only
    const names = ['POST upload', '😀', '～', 'GET /items', 'zzz'];
    const spans = (svc: number) =>
      names.flatMap((name, i) =>
        [5n, 4_294_967_296n, 4n].map((dt, j) => ({
          traceId: Buffer.alloc(16, 1 + i),
          spanId: Buffer.alloc(8, 1 + j + 3 * svc),
          name,
          kind: 3,
          startTimeUnixNano: String(NOW + dt),
          endTimeUnixNano: String(NOW + dt + 1000n),
          attributes: [{ key: 'mp.route_name', value: { stringValue: `r${i}` } }],
        })),
      );
    const request = (services: string[]) => ({
      resourceSpans: services.map((svc, k) => ({
        resource: { attributes: [{ key: 'service.name', value: { stringValue: svc } }] },
        scopeSpans: [{ scope: { name: 'mp-otel' }, spans: spans(k) }],
      })),
    });
    const T = requestType('traces');
    const limits = { maxDepth: 64, maxNodes: 100_000, maxItems: 10_000 };
    const convert = (body: Buffer, json: boolean) => {
      const { out, marks } = convertTraces(body, json, rowContext(), limits);
      return { chunk: Buffer.from(out.take()), marks: marks.take() };
    };
    const proto = (services: string[]) =>
      convert(Buffer.from(T.encode(T.fromObject(request(services))).finish()), false);
    const json = (services: string[]) => {
      const hex = (b: Buffer) => b.toString('hex');
      const doc = request(services);
      for (const rs of doc.resourceSpans)
        for (const ss of rs.scopeSpans)
          for (const sp of ss.spans) Object.assign(sp, { traceId: hex(sp.traceId), spanId: hex(sp.spanId) });
      return convert(Buffer.from(JSON.stringify(doc)), true);
    };
    const segment = [proto(['shop', 'api']), json(['sho', 'shop']), proto(['a'])];
    const chunks = segment.map((c) => c.chunk);
    const marks = segment.map((c) => c.marks);

    it('reads each row where it is marked and sorts exactly as walking the rows does', () => {
      expect(marks.map((m) => m.length / 3)).toEqual([30, 30, 15]);
      const walked = sortTraceRows(chunks) as Buffer[];
      const marked = sortTraceRows(chunks, marks) as Buffer[];
      expect(walked).toBeDefined();
      expect(Buffer.concat(marked)).toEqual(Buffer.concat(walked));
      // a chunk without marks (the object path's, or one read back from the log) is walked beside them
      expect(Buffer.concat(sortTraceRows(chunks, [marks[0], undefined, marks[2]]) as Buffer[])).toEqual(
        Buffer.concat(walked),
      );
    });

    it('hands the segment back when the marks do not fit the rows (every row goes out once or not at all)', () => {
      const bad = (edit: (m: Uint32Array) => void) => {
        const m = Uint32Array.from(marks[0] as Uint32Array);
        edit(m);
        return sortTraceRows(chunks, [m, marks[1], marks[2]]);
      };
      expect(bad(() => {})).toBeDefined();
      expect(bad((m) => (m[0] = 8))).toBeUndefined(); // the first row does not start the chunk
      expect(bad((m) => (m[3] = m[0] as number))).toBeUndefined(); // rows not in order
      expect(bad((m) => (m[m.length - 2] = (chunks[0] as Buffer).length))).toBeUndefined(); // past the end
      expect(bad((m) => (m[2] = m[1] as number))).toBeUndefined(); // service before its span name
    });
  });
});
