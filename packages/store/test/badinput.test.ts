// Bad input and load: malformed bodies → 400 with a message and nothing written, oversize → 413, wrong
// content type/encoding → 415, overload → 429/503 with Retry-After, fuzzed bodies never crash the server.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestType, startReceiver } from '../src/index.js';
import { embedded, gzip, hexId, nowNs, post, spanCount, tracesJson } from './helpers.js';

let emb: Awaited<ReturnType<typeof embedded>>;
beforeAll(async () => {
  emb = await embedded();
});
afterAll(async () => {
  await emb?.dispose();
});

const count = (service: string) => spanCount(emb.client, service);

function validSpan(name = 'ok') {
  const t = nowNs();
  return {
    traceId: hexId(16),
    spanId: hexId(8),
    name,
    kind: 2,
    startTimeUnixNano: String(t),
    endTimeUnixNano: String(t + 1000n),
  };
}

function protoBody(service: string, spans: Record<string, unknown>[]): Uint8Array {
  const T = requestType('traces');
  const obj = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeSpans: [
          {
            spans: spans.map((s) => ({
              ...s,
              traceId: Buffer.from(String(s.traceId), 'hex'),
              spanId: Buffer.from(String(s.spanId), 'hex'),
            })),
          },
        ],
      },
    ],
  };
  return T.encode(T.fromObject(obj)).finish();
}

const PB = { 'content-type': 'application/x-protobuf' };
const JSON_CT = { 'content-type': 'application/json' };

describe('bad input', () => {
  it('400 with a message for malformed protobuf and JSON', async () => {
    const pb = await post(
      `${emb.otlpUrl}/v1/traces`,
      new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]),
      PB,
    );
    expect(pb.status).toBe(400);
    expect(pb.text).toMatch(/malformed protobuf/);
    const js = await post(`${emb.otlpUrl}/v1/traces`, '{"resourceSpans": [', JSON_CT);
    expect(js.status).toBe(400);
    expect(JSON.parse(js.text).message).toMatch(/malformed JSON/);
    const shape = await post(`${emb.otlpUrl}/v1/traces`, '{"resourceSpans": 5}', JSON_CT);
    expect(shape.status).toBe(400);
    expect(JSON.parse(shape.text).message).toMatch(/resourceSpans/);
    const hex = await post(
      `${emb.otlpUrl}/v1/traces`,
      tracesJson({ 'service.name': 'x' }, [{ ...validSpan(), traceId: 'zz' }]),
      JSON_CT,
    );
    expect(hex.status).toBe(400);
    expect(JSON.parse(hex.text).message).toMatch(/traceId/);
    const gz = await post(`${emb.otlpUrl}/v1/traces`, new Uint8Array([1, 2, 3]), {
      ...JSON_CT,
      'content-encoding': 'gzip',
    });
    expect(gz.status).toBe(400);
    expect(JSON.parse(gz.text).message).toMatch(/gzip/);
  });

  it('nothing of a rejected request is written', async () => {
    const good = validSpan('first');
    const body = JSON.stringify({
      resourceSpans: [
        JSON.parse(tracesJson({ 'service.name': 'half' }, [good])).resourceSpans[0],
        JSON.parse(tracesJson({ 'service.name': 'half' }, [{ ...validSpan('second'), spanId: 'abcd' }]))
          .resourceSpans[0],
      ],
    });
    const r = await post(`${emb.otlpUrl}/v1/traces`, body, JSON_CT);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).message).toMatch(/spanId: invalid length/);
    // protobuf: a wrong-length span id in the second span
    const pb = protoBody('half', [validSpan('a'), { ...validSpan('b'), spanId: 'abcdef' }]);
    const r2 = await post(`${emb.otlpUrl}/v1/traces`, pb, PB);
    expect(r2.status).toBe(400);
    expect(r2.text).toMatch(/invalid length for SpanId/);
    expect(await count('half')).toBe(0);
  });

  it('415 for other content types and encodings, 404/405 for other paths and methods', async () => {
    const ct = await post(`${emb.otlpUrl}/v1/traces`, 'x', { 'content-type': 'text/plain' });
    expect(ct.status).toBe(415);
    const enc = await post(`${emb.otlpUrl}/v1/traces`, 'x', { ...JSON_CT, 'content-encoding': 'br' });
    expect(enc.status).toBe(415);
    expect((await post(`${emb.otlpUrl}/v2/traces`, '{}', JSON_CT)).status).toBe(404);
    expect((await fetch(`${emb.otlpUrl}/v1/traces`)).status).toBe(405);
    expect(await (await fetch(`${emb.otlpUrl}/health`)).json()).toMatchObject({ status: 'ok' });
  });

  it('accepts gzip bodies', async () => {
    const r = await post(`${emb.otlpUrl}/v1/traces`, gzip(protoBody('gz', [validSpan()])), {
      ...PB,
      'content-encoding': 'gzip',
    });
    expect(r.status).toBe(200);
    expect(await count('gz')).toBe(1);
  });

  it('413 for oversize bodies and decompression bombs; 429/503 with Retry-After under overload', async () => {
    const small = await startReceiver({
      store: emb.store,
      port: 0,
      maxBodyBytes: 1000,
      maxDecompressedBytes: 10_000,
    });
    const busy = await startReceiver({ store: emb.store, port: 0, maxConcurrentRequests: 0 });
    const behind = await startReceiver({ store: emb.store, port: 0, maxQueuedRows: -1 });
    try {
      const big = await post(`${small.url}/v1/traces`, 'x'.repeat(5000), JSON_CT);
      expect(big.status).toBe(413);
      const bomb = await post(`${small.url}/v1/traces`, gzip(Buffer.alloc(1_000_000, 32)), {
        ...JSON_CT,
        'content-encoding': 'gzip',
      });
      expect(bomb.status).toBe(413);
      const tooMany = await post(`${busy.url}/v1/traces`, protoBody('busy', [validSpan()]), PB);
      expect(tooMany.status).toBe(429);
      expect(tooMany.headers.get('retry-after')).toBe('1');
      const full = await post(`${behind.url}/v1/traces`, protoBody('busy', [validSpan()]), PB);
      expect(full.status).toBe(503);
      expect(Number(full.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await count('busy')).toBe(0);
    } finally {
      await Promise.all([small.close(), busy.close(), behind.close()]);
    }
  });

  it('valid requests keep flowing while bad ones are rejected', async () => {
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        i % 2 === 0
          ? post(`${emb.otlpUrl}/v1/traces`, protoBody('flow', [validSpan(), validSpan()]), PB)
          : post(`${emb.otlpUrl}/v1/traces`, new Uint8Array([0x0a, 0x05, 0xff]), PB),
      ),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(20);
    expect(results.filter((r) => r.status === 400)).toHaveLength(20);
    expect(await count('flow')).toBe(40);
  });
});

describe('fuzz (fast-check)', () => {
  it('random and mutated bodies get 200 or 400, never a crash, and the server keeps working', async () => {
    const valid = protoBody('fuzz', [validSpan()]);
    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), async (bytes) => {
        const r = await post(`${emb.otlpUrl}/v1/traces`, bytes, PB);
        statuses.add(r.status);
        return r.status === 200 || r.status === 400;
      }),
      { numRuns: 150 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        async (flips) => {
          const body = Uint8Array.from(valid);
          for (const [i, b] of flips) body[i] = b;
          const r = await post(`${emb.otlpUrl}/v1/traces`, body, PB);
          statuses.add(r.status);
          return r.status === 200 || r.status === 400;
        },
      ),
      { numRuns: 150 },
    );
    const signals = fc.constantFrom('/v1/traces', '/v1/logs', '/v1/metrics');
    await fc.assert(
      fc.asyncProperty(
        signals,
        fc.oneof(
          fc.json(),
          fc.string(),
          fc
            .jsonValue()
            .map((v) => JSON.stringify({ resourceSpans: [v], resourceLogs: v, resourceMetrics: [v] })),
        ),
        async (path, text) => {
          const r = await post(`${emb.otlpUrl}${path}`, text, JSON_CT);
          statuses.add(r.status);
          return r.status === 200 || r.status === 400;
        },
      ),
      { numRuns: 200 },
    );
    expect(statuses.has(400)).toBe(true);
    const after = await post(`${emb.otlpUrl}/v1/traces`, protoBody('after-fuzz', [validSpan()]), PB);
    expect(after.status).toBe(200);
    expect(await count('after-fuzz')).toBe(1);
  });
});
