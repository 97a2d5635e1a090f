// Trace requests (protobuf and OTLP/JSON) are converted on a thread of their own (converter.ts, convert-worker.ts): it must
// give exactly what the main thread gives — the same RowBinary bytes, row counts, byte charges, rejected
// items, and the same 400/413 and messages — and a thread that dies loses only the requests it held (503:
// sent again), then a new thread takes over; after three deaths the main thread converts.
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requestType, startReceiver } from '../src/index.js';
import { convertTraces } from '../src/otlp/convert.js';
import { kindOf, transferable } from '../src/otlp/convert-protocol.js';
import { changedSinceBuild, TraceConverter } from '../src/otlp/converter.js';
import { rowContext } from '../src/otlp/rows.js';
import { embedded, hexId, nowNs, post, protobufTraces, spanCount, tracesJson } from './helpers.js';

const T = requestType('traces');
const encode = (o: unknown) => Buffer.from(T.encode(T.fromObject(o as Record<string, unknown>)).finish());

function request(spans: unknown[], resource: Record<string, unknown> = { 'service.name': 'conv' }) {
  return encode({
    resourceSpans: [
      {
        resource: {
          attributes: Object.entries(resource).map(([key, v]) => ({ key, value: { stringValue: v } })),
        },
        scopeSpans: [{ scope: { name: 'mp-otel', version: '1' }, spans }],
      },
    ],
  });
}

const span = (i: number, extra: Record<string, unknown> = {}) => ({
  traceId: Buffer.from(hexId(16), 'hex'),
  spanId: Buffer.from(hexId(8), 'hex'),
  name: `op ${i} é`,
  kind: 3,
  startTimeUnixNano: String(nowNs() + BigInt(i)),
  endTimeUnixNano: String(nowNs() + BigInt(i) + 5_000_000n),
  attributes: [
    { key: 'mp.route_name', value: { stringValue: 'upload.image' } },
    { key: 'http.response.status_code', value: { intValue: 200 + i } },
    { key: 'mp.sampling.weight', value: { doubleValue: 1.5 } },
  ],
  ...extra,
});

const limits = { maxDepth: 128, maxNodes: 100_000, maxItems: 1_000 };
/** a row byte budget no case here reaches */
const ROOMY = 64 * 1024 * 1024;
const window = { minNs: nowNs() - 3_600_000_000_000n, maxNs: nowNs() + 3_600_000_000_000n };

/** What the main thread does with the same request (convert.ts, receiver.ts's path without the thread). */
function onMain(
  body: Buffer,
  json: boolean,
  maxBytes: number,
  enrich?: { attributes: Record<string, string> },
) {
  const ctx = rowContext({ enrich, window, maxBytes });
  try {
    const { out, rows } = convertTraces(body, json, ctx, limits);
    return {
      kind: 'rows',
      rows,
      bytes: ctx.bytes,
      rejected: ctx.rejected,
      rowbinary: Buffer.from(out.take()),
    };
  } catch (e) {
    const kind = kindOf(e);
    return { kind, message: (e as Error).message };
  }
}

const converters: TraceConverter[] = [];
afterAll(async () => {
  for (const c of converters) await c.close();
});

describe('the conversion thread', () => {
  it('gives what the main thread gives, request by request', async () => {
    const conv = new TraceConverter(true);
    converters.push(conv);
    expect(conv.available).toBe(true);
    const big = request(Array.from({ length: 600 }, (_, i) => span(i)));
    // the same requests as OTLP/JSON (what the mini-program SDK sends): ids in hex, 64-bit integers as strings
    const asJson = (b: Buffer) =>
      Buffer.from(
        JSON.stringify(T.toObject(T.decode(b), { longs: String, enums: Number, bytes: String }), (k, v) =>
          (k === 'traceId' || k === 'spanId') && typeof v === 'string'
            ? Buffer.from(v, 'base64').toString('hex')
            : v,
        ),
      );
    const cases: Array<[string, Buffer, number, { attributes: Record<string, string> }?]> = [
      ['600 spans', big, ROOMY],
      ['one span (a small body: copied, not transferred)', request([span(1)]), ROOMY],
      ['enriched', request([span(1), span(2)]), ROOMY, { attributes: { 'client.address': '1.2.3.4' } }],
      [
        'dated outside the window (partial success)',
        request([span(1), span(2, { startTimeUnixNano: '1000', endTimeUnixNano: '2000' })]),
        ROOMY,
      ],
      [
        'an array value (the object path)',
        request([span(1, { attributes: [{ key: 'a', value: { arrayValue: { values: [] } } }] })]),
        ROOMY,
      ],
      ['truncated', big.subarray(0, big.length - 7), ROOMY],
      ['more items than allowed', request(Array.from({ length: 1_001 }, (_, i) => span(i))), ROOMY],
      ['rows past the byte budget', big, 10_000],
      ['not protobuf', Buffer.from('{"resourceSpans": []}'), ROOMY],
    ];
    const jsonCases: typeof cases = [
      ['JSON: 600 spans', asJson(big), ROOMY],
      ['JSON: enriched', asJson(request([span(1)])), ROOMY, { attributes: { 'client.address': '1.2.3.4' } }],
      [
        'JSON: a kind by name (the object path)',
        Buffer.from(
          asJson(request([span(1)]))
            .toString()
            .replace('"kind":3', '"kind":"SPAN_KIND_CLIENT"'),
        ),
        ROOMY,
      ],
      ['JSON: not JSON', Buffer.from('{"resourceSpans": ['), ROOMY],
      ['JSON: too deep', Buffer.from(`${'['.repeat(200)}${']'.repeat(200)}`), ROOMY],
      [
        'JSON: more items than allowed',
        asJson(request(Array.from({ length: 1_001 }, (_, i) => span(i)))),
        ROOMY,
      ],
      ['JSON: rows past the byte budget', asJson(big), 10_000],
    ];
    // each request transferred, then from a shared slot (the receiver's usual way); the thread's one rows
    // Writer is reused from request to request, large ones first
    const ways = (['transferred', 'slot'] as const).flatMap((way) =>
      [...cases, ...jsonCases].map((c) => [way, ...c] as const),
    );
    for (const [way, name, body, maxBytes, enrich] of ways) {
      const json = name.startsWith('JSON');
      const expected = onMain(body, json, maxBytes, enrich);
      const slot = way === 'slot' ? conv.slots.acquire(body.length) : undefined;
      const req = { json, enrich, window, maxBytes, limits };
      const done = slot
        ? await conv.convert(slot.view.subarray(0, body.copy(slot.view)), req, slot)
        : await conv.convert(Buffer.from(body), req);
      if (slot) conv.slots.release(slot);
      expect(done, name).toBeDefined();
      const r = done!.reply;
      expect(r.kind, `${way}: ${name}`).toBe(expected.kind);
      expect(done!.body.equals(body), `${name}: the body comes back intact`).toBe(true);
      if (expected.kind === 'rows') {
        expect(r.rows, name).toBe(expected.rows);
        expect(r.bytes, name).toBe(expected.bytes);
        expect(r.rejected, name).toBe(expected.rejected);
        expect(Buffer.from(r.rowbinary!, 0, r.length).equals(expected.rowbinary!), name).toBe(true);
      } else if (expected.kind !== 'fallback') expect(r.message, name).toBe(expected.message);
    }
    expect(conv.inFlight).toBe(0);
  });

  it('a thread that dies answers its requests with nothing (503), a new one takes over; three deaths → main thread', async () => {
    const logs: string[] = [];
    const conv = new TraceConverter(true, (l) => logs.push(l));
    converters.push(conv);
    const body = Buffer.from(protobufTraces('conv-death', 20_000)); // ~tens of ms to convert
    const big = { maxDepth: 128, maxNodes: 1e9, maxItems: 1e9 };
    const ok = await conv.convert(Buffer.from(body), { json: false, window, maxBytes: 1e9, limits: big });
    expect(ok?.reply.kind).toBe('rows');
    let lostWithTheThread = 0;
    for (let death = 1; death <= 3; death++) {
      const lost = conv.convert(Buffer.from(body), { json: false, window, maxBytes: 1e9, limits: big });
      await (conv as any).worker.terminate();
      // killed mid-conversion: nothing comes back (the receiver answers 503); a thread that got to answer
      // first (this process descheduled for longer than the conversion) answered correctly
      const r = await lost;
      if (r === undefined) lostWithTheThread++;
      else expect(r.reply.kind).toBe('rows');
      expect(logs.at(-1)).toContain('the conversion thread stopped');
      if (death < 3) {
        expect(conv.available).toBe(true);
        const again = await conv.convert(Buffer.from(body), {
          json: false,
          window,
          maxBytes: 1e9,
          limits: big,
        });
        expect(again?.reply.kind).toBe('rows');
      }
    }
    expect(lostWithTheThread).toBeGreaterThan(0);
    expect(conv.available).toBe(false);
    expect(logs.at(-1)).toContain('convert on the main thread from now on');
  });

  it("a slot's buffer crosses to a thread once, and again to the thread that replaces a dead one", async () => {
    const conv = new TraceConverter(true);
    converters.push(conv);
    const body = request([span(1), span(2)]);
    const slot = conv.slots.acquire(body.length)!;
    const view = slot.view.subarray(0, body.copy(slot.view));
    const req = { json: false, window, maxBytes: ROOMY, limits };
    const sent: boolean[] = [];
    const spy = () => {
      const w = (conv as any).start();
      const post = w.postMessage.bind(w);
      w.postMessage = (m: { sab?: SharedArrayBuffer }, t?: unknown) => {
        sent.push(m.sab !== undefined);
        return post(m, t);
      };
    };
    spy();
    for (let i = 0; i < 3; i++) expect((await conv.convert(view, req, slot))?.reply.rows).toBe(2);
    expect(sent).toEqual([true, false, false]);
    await (conv as any).worker.terminate();
    await new Promise((r) => setImmediate(r)); // the exit event: the converter forgets the thread
    spy();
    expect((await conv.convert(view, req, slot))?.reply.rows).toBe(2);
    expect(sent).toEqual([true, false, false, true]);
  });

  it("hands a body over as its own allocation, and never Node's shared pool", () => {
    const own = Buffer.allocUnsafeSlow(1000);
    expect(transferable(own)).toBe(own.buffer);
    const part = transferable(own.subarray(0, 700)); // a view of part of an allocation: copied
    expect(part).not.toBe(own.buffer);
    expect(part.byteLength).toBe(700);
    const pooled = Buffer.from('rows'); // a slice of the shared pool
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.length);
    expect(Buffer.from(transferable(pooled)).toString()).toBe('rows');
    expect(transferable(pooled)).not.toBe(pooled.buffer);
  });

  it('a source edited after the build: the thread would run old code, so it is not used', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mp-otel-stale-'));
    const script = join(dir, 'convert-worker.js');
    writeFileSync(join(dir, 'wire-traces.ts'), '');
    writeFileSync(script, '');
    const t = Date.now() / 1000;
    utimesSync(join(dir, 'wire-traces.ts'), t - 60, t - 60);
    utimesSync(script, t - 30, t - 30);
    expect(changedSinceBuild(script, dir)).toBeUndefined();
    utimesSync(join(dir, 'wire-traces.ts'), t, t);
    expect(changedSinceBuild(script, dir)).toBe('wire-traces.ts');
    rmSync(dir, { recursive: true, force: true });
  });

  it('the receiver gives the same answers with the thread and without it (converting on its main thread)', async () => {
    const emb = await embedded();
    try {
      const answers: string[][] = [];
      for (const convertThread of [true, false]) {
        const r = await startReceiver({ store: emb.store, port: 0, convertThread });
        try {
          expect(r.receiver.converter.available).toBe(convertThread);
          const service = `conv-receiver-${Number(convertThread)}`; // the same length: the 400 names byte offsets
          const pb = Buffer.from(protobufTraces(service, 30));
          const json = tracesJson({ 'service.name': service }, [
            {
              traceId: hexId(16),
              spanId: hexId(8),
              name: 'j',
              kind: 2,
              startTimeUnixNano: String(nowNs()),
              endTimeUnixNano: String(nowNs() + 5n),
            },
          ]);
          const PB = { 'content-type': 'application/x-protobuf' };
          const JSON_ = { 'content-type': 'application/json' };
          const got = [
            await post(`${r.url}/v1/traces`, pb, PB),
            await post(`${r.url}/v1/traces`, json, JSON_),
            await post(`${r.url}/v1/traces`, pb.subarray(0, pb.length - 7), PB),
            await post(`${r.url}/v1/traces`, '{"resourceSpans": [', JSON_),
          ];
          answers.push(got.map((a) => `${a.status} ${a.text}`));
          expect(got.map((a) => a.status)).toEqual([200, 200, 400, 400]);
          expect(await spanCount(emb.client, service)).toBe(31);
          expect(r.receiver.stats.wirePath).toBe(2);
        } finally {
          await r.close();
        }
      }
      expect(answers[1]).toEqual(answers[0]);
    } finally {
      await emb.dispose();
    }
  });
});
