// The attack suite of issue 11 against the embedded OTLP receiver, over real HTTP on loopback with chDB:
// one test per finding, each failing if the hole came back. Slow uploads, amplification (1M spans from
// 100 KiB, resource attributes repeated on every row), ingest keys / quotas / forged client addresses,
// batch-id dedup claims, timestamps the TTL would delete, nesting and lone surrogates.
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { gzipSync } from 'node:zlib';
import { waitFor } from '@mp-otel/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJson, requestType, startReceiver } from '../src/index.js';
import { responseType } from '../src/otlp/proto.js';
import { embedded, hexId, nowNs, post, tracesJson, varint } from './helpers.js';

let emb: Awaited<ReturnType<typeof embedded>>;
beforeAll(async () => {
  emb = await embedded({ requireKeys: true });
});
afterAll(async () => {
  await emb?.dispose();
});

const EXAMPLE_KEY = 'mpk_example_image_miniprogram_2026'; // the default catalog's example app
const PB = { 'content-type': 'application/x-protobuf' };
const JSON_CT = { 'content-type': 'application/json' };

const count = async (where: string, params: Record<string, unknown> = {}) => {
  const rs = await emb.client.query({
    query: `SELECT count() AS n FROM otel_traces WHERE ${where}`,
    query_params: params,
    format: 'JSONEachRow',
  });
  return Number((await rs.json<{ n: string }>())[0]?.n);
};

function span(name = 'ok', startNs: bigint = nowNs(), attributes: Record<string, unknown>[] = []) {
  return {
    traceId: hexId(16),
    spanId: hexId(8),
    name,
    kind: 2,
    startTimeUnixNano: String(startNs),
    endTimeUnixNano: String(startNs + 1000n),
    attributes,
  };
}

/** The protobuf encoding of the OTLP/JSON request (hex ids converted by the receiver's own JSON decoder). */
function protoBody(service: string, spans: ReturnType<typeof span>[]): Uint8Array {
  const msg = decodeJson('traces', Buffer.from(tracesJson({ 'service.name': service }, spans)));
  return requestType('traces').encode(msg).finish();
}

/** One length-delimited protobuf field (tag byte + length + payload). */
const field = (tag: number, payload: Buffer): Buffer =>
  Buffer.concat([Buffer.from([tag]), varint(payload.length), payload]);

/** An ExportTraceServiceRequest of `n` copies of one small span, built on the wire (no n objects). */
function manySpans(n: number, service = 'amp'): Buffer {
  const Span = requestType('traces').lookupType('opentelemetry.proto.trace.v1.Span');
  const t = nowNs();
  const spanBytes = Buffer.from(
    Span.encode(
      Span.fromObject({
        traceId: Buffer.alloc(16, 1),
        spanId: Buffer.alloc(8, 2),
        name: 'x',
        kind: 2,
        startTimeUnixNano: String(t),
        endTimeUnixNano: String(t + 1000n),
      }),
    ).finish(),
  );
  const entry = field(0x12, spanBytes); // ScopeSpans.spans
  const spansPart = Buffer.alloc(entry.length * n);
  for (let i = 0; i < n; i++) entry.copy(spansPart, i * entry.length);
  const kv = Buffer.concat([
    field(0x0a, Buffer.from('service.name')),
    field(0x12, field(0x0a, Buffer.from(service))),
  ]);
  const resource = field(0x0a, field(0x0a, kv)); // ResourceSpans.resource{attributes}
  return field(0x0a, Buffer.concat([resource, field(0x12, spansPart)])); // request.resource_spans
}

/** POST from a given local address (127.0.0.2 is another loopback peer). */
function postFrom(
  url: string,
  body: Uint8Array | string,
  headers: Record<string, string>,
  localAddress?: string,
): Promise<{ status: number; text: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const r = httpRequest(url, { method: 'POST', headers, localAddress, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          text: Buffer.concat(parts).toString('utf8'),
          ms: Date.now() - t0,
        }),
      );
    });
    r.on('error', reject);
    r.end(body);
  });
}

interface Trickle {
  socket: Socket;
  response: string;
  closed: boolean;
  timer: NodeJS.Timeout;
}

/** A client that sends its request at 1 byte every 2 s: in the headers, or (headers complete) in the body. */
function trickle(port: number, phase: 'headers' | 'body'): Trickle {
  const socket = connect({ host: '127.0.0.1', port });
  const head =
    'POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\n';
  const t: Trickle = { socket, response: '', closed: false, timer: undefined as unknown as NodeJS.Timeout };
  let i = 0;
  socket.on('connect', () => {
    if (phase === 'body') socket.write(head);
    else socket.write(head.slice(0, 10));
    i = phase === 'body' ? 0 : 10;
  });
  t.timer = setInterval(() => {
    if (socket.destroyed) return;
    socket.write(phase === 'body' ? 'x' : head.charAt(i++ % head.length));
  }, 2000);
  socket.on('data', (c) => {
    t.response += c.toString('utf8');
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    t.closed = true;
    clearInterval(t.timer);
  });
  return t;
}

describe('slow uploads (slow-loris)', () => {
  it('64 bodies at 1 byte / 2 s: a well-behaved client is served within 2 s; the trickles are cut off', async () => {
    const rcv = await startReceiver({ store: emb.store, port: 0 });
    const port = Number(new URL(rcv.url).port);
    const attackers = Array.from({ length: 64 }, () => trickle(port, 'body'));
    try {
      // every trickle is in the receiver (reading) or refused for its address
      await waitFor(() => rcv.receiver.stats.requests >= 64, 10_000, 'the 64 slow requests');
      const good = await postFrom(
        `${rcv.url}/v1/traces`,
        protoBody('loris-canary', [span()]),
        PB,
        '127.0.0.2',
      );
      console.log(`slow bodies: the well-behaved client was answered in ${good.ms} ms`);
      expect(good.status).toBe(200);
      expect(good.ms).toBeLessThan(2000);
      // the same peer's slots are capped; the rest are refused at once
      expect(attackers.filter((a) => a.response.startsWith('HTTP/1.1 429')).length).toBe(32);
      // cut off at the minimum body rate (5 s grace), connection closed
      await waitFor(() => attackers.every((a) => a.closed), 15_000, 'the slow uploads to be cut off');
      expect(attackers.filter((a) => a.response.startsWith('HTTP/1.1 408')).length).toBe(32);
      expect(attackers.find((a) => a.response.startsWith('HTTP/1.1 408'))?.response).toMatch(
        /below the minimum/,
      );
      expect(await count("ServiceName = 'loris-canary'")).toBe(1);
    } finally {
      for (const a of attackers) {
        clearInterval(a.timer);
        a.socket.destroy();
      }
      await rcv.close();
    }
  });

  it('64 headers at 1 byte / 2 s: a well-behaved client is served within 2 s; the trickles time out', async () => {
    const rcv = await startReceiver({ store: emb.store, port: 0, headersTimeoutMs: 1500 });
    const port = Number(new URL(rcv.url).port);
    const attackers = Array.from({ length: 64 }, () => trickle(port, 'headers'));
    try {
      await waitFor(
        () => attackers.every((a) => a.socket.readyState === 'open'),
        10_000,
        'the 64 connections',
      );
      const good = await postFrom(`${rcv.url}/v1/traces`, protoBody('loris-canary-2', [span()]), PB);
      console.log(`slow headers: the well-behaved client was answered in ${good.ms} ms`);
      expect(good.status).toBe(200);
      expect(good.ms).toBeLessThan(2000);
      await waitFor(() => attackers.every((a) => a.closed), 10_000, 'the slow headers to time out');
    } finally {
      for (const a of attackers) {
        clearInterval(a.timer);
        a.socket.destroy();
      }
      await rcv.close();
    }
  });
});

/** Peak RSS while `fn` runs (sampled every 5 ms), in MiB above the RSS at the start. */
async function peakRss<T>(fn: () => Promise<T>): Promise<{ result: T; baseMiB: number; peakMiB: number }> {
  globalThis.gc?.();
  const base = process.memoryUsage.rss();
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 5);
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, baseMiB: base / 1048576, peakMiB: (peak - base) / 1048576 };
  } finally {
    clearInterval(timer);
  }
}

describe('amplification: what one request may decode into', () => {
  it('100 KiB of gzip that is 1M spans: 413 with how to split, memory bounded, others served within 2 s', async () => {
    const bomb = gzipSync(manySpans(1_000_000), { level: 9 });
    expect(bomb.length).toBeLessThan(200 * 1024);
    // with a key: a key is public (it ships inside the app), so this is what anyone can send
    const keyed = { ...PB, 'content-encoding': 'gzip', 'x-mp-otel-key': EXAMPLE_KEY };
    const k = await peakRss(async () => {
      const attacks = Array.from({ length: 3 }, () => postFrom(`${emb.otlpUrl}/v1/traces`, bomb, keyed));
      const canary = postFrom(`${emb.otlpUrl}/v1/traces`, protoBody('amp-canary', [span()]), {
        ...PB,
        'x-mp-otel-key': EXAMPLE_KEY,
      });
      return { attacks: await Promise.all(attacks), canary: await canary };
    });
    for (const r of k.result.attacks) {
      expect(r.status).toBe(413);
      expect(r.text).toMatch(/split/);
    }
    expect(k.result.canary.status).toBe(200);
    expect(k.result.canary.ms).toBeLessThan(2000);
    console.log(
      `1M-span gzip request (${(bomb.length / 1024).toFixed(0)} KiB) x3 at once: peak RSS +${k.peakMiB.toFixed(0)} MiB over ${k.baseMiB.toFixed(0)} MiB; ` +
        `413 in ${Math.max(...k.result.attacks.map((r) => r.ms))} ms; the well-behaved client answered in ${k.result.canary.ms} ms`,
    );
    expect(k.peakMiB).toBeLessThan(400);
    expect(await count("ServiceName = 'amp'")).toBe(0);
  });

  it('more spans than a request may hold: 413 before decoding, naming the limit and how to split', async () => {
    const r = await post(`${emb.otlpUrl}/v1/traces`, manySpans(20_001), {
      ...PB,
      'x-mp-otel-key': EXAMPLE_KEY,
    });
    expect(r.status).toBe(413);
    expect(r.text).toMatch(/more than 20000 spans .*split the batch into requests of at most 20000/);
    const ok = await post(`${emb.otlpUrl}/v1/traces`, manySpans(20_000, 'amp-max'), {
      ...PB,
      'x-mp-otel-key': EXAMPLE_KEY,
    });
    expect(ok.status).toBe(200);
    expect(await count("ServiceName = 'amp-max'")).toBe(20_000);
  });

  it('resource attributes repeated on every row: 413 by the row-bytes budget, memory bounded', async () => {
    const T = requestType('traces');
    const resAttrs = Array.from({ length: 128 }, (_, i) => ({
      key: `r${i}`,
      value: { stringValue: 'v'.repeat(1024) },
    }));
    const Span = T.lookupType('opentelemetry.proto.trace.v1.Span');
    const t = String(nowNs());
    const one = {
      traceId: Buffer.alloc(16, 3),
      spanId: Buffer.alloc(8, 4),
      name: 'y',
      kind: 2,
      startTimeUnixNano: t,
    };
    const body = T.encode(
      T.fromObject({
        resourceSpans: [
          {
            resource: {
              attributes: [{ key: 'service.name', value: { stringValue: 'amp-res' } }, ...resAttrs],
            },
            scopeSpans: [{ spans: Array.from({ length: 20_000 }, () => Span.fromObject(one)) }],
          },
        ],
      }),
    ).finish();
    const m = await peakRss(() =>
      post(`${emb.otlpUrl}/v1/traces`, gzipSync(body), {
        ...PB,
        'content-encoding': 'gzip',
        'x-mp-otel-key': EXAMPLE_KEY,
      }),
    );
    expect(m.result.status).toBe(413);
    expect(m.result.text).toMatch(/resource attributes are repeated on every row/);
    console.log(`20,000 spans × 128 KiB of resource attributes: peak RSS +${m.peakMiB.toFixed(0)} MiB`);
    expect(m.peakMiB).toBeLessThan(400);
    expect(await count("ServiceName = 'amp-res'")).toBe(0);
  });

  it("caps attributes like the collector: 128 per span (priority keys kept), values cut at the collector's 4 KiB", async () => {
    const attrs = [
      { key: 'long', value: { stringValue: `${'é'.repeat(3000)}` } },
      ...Array.from({ length: 200 }, (_, i) => ({ key: `a${i}`, value: { stringValue: `${i}` } })),
      { key: 'http.route', value: { stringValue: '/upload' } },
    ];
    const body = JSON.stringify({
      resourceSpans: [
        {
          resource: {
            attributes: [
              { key: 'service.name', value: { stringValue: 'caps' } },
              { key: 'big', value: { stringValue: 'r'.repeat(5000) } },
            ],
          },
          scopeSpans: [{ spans: [span('caps', nowNs(), attrs)] }],
        },
      ],
    });
    const r = await post(`${emb.otlpUrl}/v1/traces`, body, { ...JSON_CT, 'x-mp-otel-key': EXAMPLE_KEY });
    expect(r.status).toBe(200);
    const rs = await emb.client.query({
      query: `SELECT toUInt32(length(mapKeys(SpanAttributes))) AS n, SpanAttributes['http.route'] AS route,
                     SpanAttributes['a0'] AS first, SpanAttributes['a199'] AS last,
                     toUInt32(length(ResourceAttributes['big'])) AS big,
                     toUInt32(lengthUTF8(SpanAttributes['long'])) AS long
              FROM otel_traces WHERE ServiceName = 'caps'`,
      format: 'JSONEachRow',
    });
    // 128 kept: the priority key plus the first 127 others; 'long' (3000 × 2 bytes) cut to 4096 bytes;
    // the resource value to the collector's 1024
    expect(await rs.json()).toEqual([
      { n: 128, route: '/upload', first: '0', last: '', big: 1024, long: 2048 },
    ]);
  });

  it('decoded rows count against the queue: 503 + Retry-After when they do not fit', async () => {
    const rcv = await startReceiver({ store: emb.store, port: 0, maxQueuedRows: 100, lingerMs: 60_000 });
    try {
      const first = post(`${rcv.url}/v1/traces`, manySpans(60, 'queue'), PB);
      await waitFor(() => rcv.receiver.writer.queuedRows === 60, 10_000, 'the first request to be queued');
      // gzip: a kind of request the receiver has no rows-per-byte estimate for yet, so it is let in, read and
      // converted, and its real rows are what do not fit (the check after conversion)
      const second = await post(`${rcv.url}/v1/traces`, gzipSync(manySpans(60, 'queue')), {
        ...PB,
        'content-encoding': 'gzip',
      });
      expect(second.status).toBe(503);
      expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(rcv.receiver.stats.refusedUnread).toBe(0);
      expect(rcv.receiver.stats.wirePath).toBe(2);
      await rcv.receiver.writer.flush();
      expect((await first).status).toBe(200);
      expect(await count("ServiceName = 'queue'")).toBe(60);
    } finally {
      await rcv.close();
    }
  });

  it('a request whose estimated rows do not fit the queue is refused before its body is read', async () => {
    const rcv = await startReceiver({ store: emb.store, port: 0, maxQueuedRows: 100, lingerMs: 60_000 });
    try {
      // 60 rows queued; requests of this kind now count as ~60 rows for their size
      const first = post(`${rcv.url}/v1/traces`, manySpans(60, 'door'), PB);
      await waitFor(() => rcv.receiver.writer.queuedRows === 60, 10_000, 'the first request to be queued');
      // the headers of another such request, and no body: the answer comes without it
      const headersOnly = async (length: number) => {
        const socket = connect({ host: '127.0.0.1', port: Number(new URL(rcv.url).port) });
        let response = '';
        socket.on('data', (c) => {
          response += c.toString('utf8');
        });
        socket.on('error', () => undefined);
        socket.write(
          `POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${length}\r\n\r\n`,
        );
        try {
          await waitFor(() => response.includes('\r\n\r\n'), 10_000, 'an answer without the body');
        } finally {
          socket.destroy();
        }
        return response;
      };
      const response = await headersOnly(manySpans(60, 'door').length);
      expect(response).toMatch(/^HTTP\/1\.1 503 /);
      expect(response).toMatch(/retry-after: \d+/i);
      expect(rcv.receiver.stats.refusedUnread).toBe(1);
      // a body over the limit is still told 413 (not 503: it would be sent again, and fail again)
      expect(await headersOnly(rcv.receiver.options.maxBodyBytes + 1)).toMatch(/^HTTP\/1\.1 413 /);
      expect(rcv.receiver.stats.refusedUnread).toBe(1);
      expect(rcv.receiver.stats.wirePath).toBe(1); // the first request's conversion only
      // a smaller one that fits is let in and stored
      const small = post(`${rcv.url}/v1/traces`, manySpans(30, 'door'), PB);
      await waitFor(() => rcv.receiver.writer.queuedRows === 90, 10_000, 'the small request to be queued');
      await rcv.receiver.writer.flush();
      expect((await first).status).toBe(200);
      expect((await small).status).toBe(200);
      expect(await count("ServiceName = 'door'")).toBe(90);
    } finally {
      await rcv.close();
    }
  });
});

const APPS = [
  {
    name: 'app-a',
    keys: [{ id: 'a-1', key: 'key_app_a_0123456789' }],
    // refills so slowly (1 per 100 s) that no verdict depends on how fast the machine is
    quota: { requests_per_second: 0.01, burst: 3 },
  },
  {
    name: 'app-b',
    keys: [{ id: 'b-1', key: 'key_app_b_0123456789' }],
    quota: { requests_per_second: 1000, burst: 1000, per_ip_requests_per_second: 0.01 },
  },
];

describe('ingest keys, quotas and client addresses', () => {
  it('embedded mode with --require-keys: no key or an unknown key → 401, the catalog key → 200', async () => {
    const body = protoBody('keys-embedded', [span()]);
    const none = await post(`${emb.otlpUrl}/v1/traces`, body, PB);
    expect(none.status).toBe(401);
    expect(none.text).toMatch(/ingest key is required/);
    const wrong = await post(`${emb.otlpUrl}/v1/traces`, body, {
      ...PB,
      'x-mp-otel-key': 'mpk_not_a_key_at_all',
    });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toMatch(/unknown or revoked/);
    const ok = await post(`${emb.otlpUrl}/v1/traces`, body, { ...PB, 'x-mp-otel-key': EXAMPLE_KEY });
    expect(ok.status).toBe(200);
    expect(await count("ServiceName = 'keys-embedded'")).toBe(1);
  });

  it('loopback-only listener: a key is checked when sent, not required', async () => {
    const rcv = await startReceiver({ store: emb.store, port: 0, apps: APPS });
    try {
      expect((await post(`${rcv.url}/v1/traces`, protoBody('keys-lo', [span()]), PB)).status).toBe(200);
      const bad = await post(`${rcv.url}/v1/traces`, protoBody('keys-lo', [span()]), {
        ...PB,
        'x-mp-otel-key': 'nope_nope_nope_nope',
      });
      expect(bad.status).toBe(401);
    } finally {
      await rcv.close();
    }
  });

  it('a listener reachable from other hosts requires keys, and refuses to start without any', async () => {
    await expect(startReceiver({ store: emb.store, port: 0, host: '0.0.0.0' })).rejects.toThrow(
      /ingest keys are required/,
    );
    const rcv = await startReceiver({ store: emb.store, port: 0, host: '0.0.0.0', apps: APPS });
    try {
      const url = `http://127.0.0.1:${new URL(rcv.url).port}`;
      const none = await post(`${url}/v1/traces`, protoBody('keys-open', [span()]), PB);
      expect(none.status).toBe(401);
      const ok = await post(`${url}/v1/traces`, protoBody('keys-open', [span()]), {
        ...PB,
        'x-mp-otel-key': 'key_app_b_0123456789',
      });
      expect(ok.status).toBe(200);
    } finally {
      await rcv.close();
    }
  });

  it('over the app quota → 429 with Retry-After; per client address through a trusted proxy', async () => {
    const rcv = await startReceiver({ store: emb.store, port: 0, apps: APPS });
    try {
      const a = { ...PB, 'x-mp-otel-key': 'key_app_a_0123456789' };
      // six (burst 3, 1 more per 100 s): checked on arrival, before any body is read
      const six = await Promise.all(
        Array.from({ length: 6 }, () => post(`${rcv.url}/v1/traces`, protoBody('quota-a', [span()]), a)),
      );
      const statuses = six.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 200).length).toBe(3);
      expect(statuses.filter((s) => s === 429).length).toBe(3);
      const limited = six.find((r) => r.status === 429);
      expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(limited?.text).toMatch(/over its quota of 0.01 requests\/s/);
      // app-b: per client address; the loopback proxy (trusted by default) names the client
      const b = { ...PB, 'x-mp-otel-key': 'key_app_b_0123456789' };
      const ip1 = await post(`${rcv.url}/v1/traces`, protoBody('quota-b', [span()]), {
        ...b,
        'x-real-ip': '198.51.100.1',
      });
      const ip1again = await post(`${rcv.url}/v1/traces`, protoBody('quota-b', [span()]), {
        ...b,
        'x-real-ip': '198.51.100.1',
      });
      const ip2 = await post(`${rcv.url}/v1/traces`, protoBody('quota-b', [span()]), {
        ...b,
        'x-real-ip': '198.51.100.2',
      });
      expect([ip1.status, ip1again.status, ip2.status]).toEqual([200, 429, 200]);
      expect(ip1again.text).toMatch(/198\.51\.100\.1/);
    } finally {
      await rcv.close();
    }
  });

  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

  it.skipIf(!external)(
    'X-Real-IP / X-Forwarded-For are believed only from configured trusted proxies',
    async () => {
      const addr = external as string;
      const clientAddress = async (svc: string) => {
        const rs = await emb.client.query({
          query:
            "SELECT SpanAttributes['client.address'] AS a FROM otel_traces WHERE ServiceName = {s:String}",
          query_params: { s: svc },
          format: 'JSONEachRow',
        });
        return (await rs.json<{ a: string }>()).map((r) => r.a);
      };
      const key = { 'x-mp-otel-key': 'key_app_b_0123456789' };
      // default: only loopback proxies are trusted; this peer is not loopback
      const open = await startReceiver({ store: emb.store, port: 0, host: '0.0.0.0', apps: APPS });
      const trusting = await startReceiver({
        store: emb.store,
        port: 0,
        host: '0.0.0.0',
        apps: APPS,
        trustedProxies: [`${addr}/32`, '10.0.0.0/8'],
      });
      try {
        const u1 = `http://${addr}:${new URL(open.url).port}/v1/traces`;
        const forged = await postFrom(
          u1,
          protoBody('xff-untrusted', [span()]),
          { ...PB, ...key, 'x-real-ip': '1.2.3.4', 'x-forwarded-for': '1.2.3.4' },
          addr,
        );
        expect(forged.status).toBe(200);
        expect(await clientAddress('xff-untrusted')).toEqual([addr]);
        const u2 = `http://${addr}:${new URL(trusting.url).port}/v1/traces`;
        const viaProxy = await postFrom(
          u2,
          protoBody('xff-trusted', [span()]),
          { ...PB, ...key, 'x-forwarded-for': '203.0.113.7, 10.1.2.3' },
          addr,
        );
        expect(viaProxy.status).toBe(200);
        // the right-most address that is not a trusted proxy
        expect(await clientAddress('xff-trusted')).toEqual(['203.0.113.7']);
      } finally {
        await Promise.all([open.close(), trusting.close()]);
      }
    },
  );
});

describe('batch-id dedup', () => {
  const h = (id: string, key = true) => ({
    ...PB,
    'x-mp-otel-batch': id,
    ...(key ? { 'x-mp-otel-key': EXAMPLE_KEY } : {}),
  });

  it("junk sent first under a victim's id does not make the victim's payload a duplicate", async () => {
    const junk = await post(`${emb.otlpUrl}/v1/traces`, protoBody('dedup-junk', [span()]), h('victim-1'));
    expect(junk.status).toBe(200);
    const real = await post(`${emb.otlpUrl}/v1/traces`, protoBody('dedup-victim', [span()]), h('victim-1'));
    expect(real.status).toBe(200);
    expect(real.headers.get('x-mp-otel-duplicate')).toBeNull();
    expect(await count("ServiceName = 'dedup-victim'")).toBe(1);
  });

  it('empty requests claim nothing and evict nothing; ids past the memory bound are found in the table', async () => {
    const rcv = await startReceiver({ store: emb.store, port: 0, dedupMaxEntries: 5 });
    try {
      const payload = protoBody('dedup-evict', [span()]);
      expect((await post(`${rcv.url}/v1/traces`, payload, h('retry-me', false))).status).toBe(200);
      const before = rcv.receiver.dedup.size;
      for (let i = 0; i < 50; i++) {
        const r = await post(`${rcv.url}/v1/traces`, new Uint8Array(0), h(`empty-${i}`, false));
        expect(r.status).toBe(200);
      }
      expect(rcv.receiver.dedup.size).toBe(before);
      // real payloads push the id out of memory: the table still has it
      for (let i = 0; i < 10; i++)
        expect(
          (
            await post(
              `${rcv.url}/v1/traces`,
              protoBody('dedup-evict-other', [span()]),
              h(`other-${i}`, false),
            )
          ).status,
        ).toBe(200);
      const retry = await post(`${rcv.url}/v1/traces`, payload, h('retry-me', false));
      expect(retry.status).toBe(200);
      expect(retry.headers.get('x-mp-otel-duplicate')).toBe('1');
      expect(await count("ServiceName = 'dedup-evict'")).toBe(1);
    } finally {
      await rcv.close();
    }
  });

  it('a restart remembers the ids of written batches', async () => {
    const payloads = Array.from({ length: 5 }, (_, i) => protoBody(`dedup-restart`, [span(`s${i}`)]));
    for (const [i, p] of payloads.entries())
      expect((await post(`${emb.otlpUrl}/v1/traces`, p, h(`restart-${i}`))).status).toBe(200);
    const dataDir = emb.dataDir;
    await emb.close();
    const first = emb;
    const second = await embedded({ dataDir, requireKeys: true });
    emb = Object.assign(second, {
      dispose: async () => {
        await second.close();
        await first.dispose();
      },
    });
    const again = await Promise.all(
      payloads.map((p, i) => post(`${emb.otlpUrl}/v1/traces`, p, h(`restart-${i}`))),
    );
    expect(again.map((r) => r.headers.get('x-mp-otel-duplicate'))).toEqual(['1', '1', '1', '1', '1']);
    expect(await count("ServiceName = 'dedup-restart'")).toBe(5);
  });
});

describe('timestamps the retention would delete', () => {
  const DAY = 86_400_000_000_000n;

  it('spans dated 0, 2^70, 40 days ago or in the future: partial success, raw tables and cube agree', async () => {
    const now = nowNs();
    const body = JSON.stringify(
      JSON.parse(
        tracesJson({ 'service.name': 'clock' }, [
          span('zero', 0n),
          {
            ...span('huge'),
            startTimeUnixNano: (2n ** 70n).toString(),
            endTimeUnixNano: (2n ** 70n + 5n).toString(),
          },
          span('old', now - 40n * DAY),
          span('future', now + 2n * DAY),
          span('fine', now - 60_000_000_000n),
        ]),
      ),
    );
    const r = await post(`${emb.otlpUrl}/v1/traces`, body, { ...JSON_CT, 'x-mp-otel-key': EXAMPLE_KEY });
    expect(r.status).toBe(200);
    const ps = JSON.parse(r.text).partialSuccess;
    expect(ps.rejectedSpans).toBe('4');
    expect(ps.errorMessage).toMatch(
      /4 spans dated outside .* were not stored .*raw tables keep 30 days.*check the device clock/,
    );
    // protobuf answers carry the same partial success
    const res = await fetch(`${emb.otlpUrl}/v1/traces`, {
      method: 'POST',
      body: new Uint8Array(protoBody('clock-pb', [span('zero', 0n), span('fine')])),
      headers: { ...PB, 'x-mp-otel-key': EXAMPLE_KEY },
    });
    expect(res.status).toBe(200);
    const pb = new Uint8Array(await res.arrayBuffer());
    const R = responseType('traces');
    const resp = R.toObject(R.decode(pb), { longs: String }) as {
      partialSuccess?: { rejectedSpans: string };
    };
    expect(resp.partialSuccess?.rejectedSpans).toBe('1');
    expect(await count("ServiceName = 'clock'")).toBe(1);
    const cube = await emb.client.query({
      query: "SELECT sum(Spans) AS n FROM mp_sli_1m WHERE ServiceName = 'clock'",
      format: 'JSONEachRow',
    });
    expect(Number((await cube.json<{ n: string }>())[0]?.n)).toBe(1);
  });

  it('log records and metric points outside the window: partial success with their own counts', async () => {
    const now = nowNs();
    const logs = JSON.stringify({
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'clock-logs' } }] },
          scopeLogs: [
            {
              logRecords: [
                { timeUnixNano: '0', observedTimeUnixNano: '0', body: { stringValue: 'no clock' } },
                { timeUnixNano: String(now - 40n * DAY), body: { stringValue: 'old' } },
                { timeUnixNano: String(now), body: { stringValue: 'fine' } },
              ],
            },
          ],
        },
      ],
    });
    const r = await post(`${emb.otlpUrl}/v1/logs`, logs, { ...JSON_CT, 'x-mp-otel-key': EXAMPLE_KEY });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text).partialSuccess).toMatchObject({ rejectedLogRecords: '2' });
    const metrics = JSON.stringify({
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'clock-metrics' } }] },
          scopeMetrics: [
            {
              metrics: [
                {
                  name: 'm',
                  gauge: {
                    dataPoints: [
                      { timeUnixNano: String(now + 3n * DAY), asDouble: 1 },
                      { timeUnixNano: String(now), asDouble: 2 },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    });
    const m = await post(`${emb.otlpUrl}/v1/metrics`, metrics, { ...JSON_CT, 'x-mp-otel-key': EXAMPLE_KEY });
    expect(m.status).toBe(200);
    expect(JSON.parse(m.text).partialSuccess).toMatchObject({ rejectedDataPoints: '1' });
    const n = await emb.client.query({
      query:
        "SELECT (SELECT count() FROM otel_logs WHERE ServiceName = 'clock-logs') AS logs, (SELECT count() FROM otel_metrics_gauge WHERE ServiceName = 'clock-metrics') AS points",
      format: 'JSONEachRow',
    });
    expect(await n.json()).toEqual([{ logs: '1', points: '1' }]);
  });

  it('one request with spans on 150 different days: no 500 (at most the window is written)', async () => {
    const now = nowNs();
    const spans = Array.from({ length: 150 }, (_, i) =>
      span(`d${i}`, now - BigInt(i) * DAY - 1_000_000_000n),
    );
    const r = await post(`${emb.otlpUrl}/v1/traces`, tracesJson({ 'service.name': 'days150' }, spans), {
      ...JSON_CT,
      'x-mp-otel-key': EXAMPLE_KEY,
    });
    expect(r.status).toBe(200);
    const rejected = Number(JSON.parse(r.text).partialSuccess.rejectedSpans);
    expect(await count("ServiceName = 'days150'")).toBe(150 - rejected);
    expect(rejected).toBeGreaterThanOrEqual(120);
    // retention off: the receiver still bounds the window (90 days: an INSERT stays under 100 partitions)
    const forever = await startReceiver({ store: emb.store, port: 0, retentionDays: 0 });
    try {
      const r2 = await post(
        `${forever.url}/v1/traces`,
        tracesJson({ 'service.name': 'days150-forever' }, spans),
        JSON_CT,
      );
      expect(r2.status).toBe(200);
      expect(Number(JSON.parse(r2.text).partialSuccess.rejectedSpans)).toBe(60);
    } finally {
      await forever.close();
    }
  });
});

describe('bad input is 400 with a message, never 500', () => {
  const key = { 'x-mp-otel-key': EXAMPLE_KEY };

  it('an AnyValue nested 10,000 deep (JSON and protobuf)', async () => {
    let v = '{"stringValue":"x"}';
    for (let i = 0; i < 10_000; i++) v = `{"arrayValue":{"values":[${v}]}}`;
    const body = `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"${hexId(16)}","spanId":"${hexId(8)}","name":"deep","attributes":[{"key":"d","value":${v}}]}]}]}]}`;
    const r = await post(`${emb.otlpUrl}/v1/traces`, body, { ...JSON_CT, ...key });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).message).toMatch(/nested deeper than 128 levels/);
    // protobuf: AnyValue{array_value(5): ArrayValue{values(1): AnyValue{…}}}
    let pb: Buffer = Buffer.from([0x0a, 0x01, 0x78]); // string_value "x"
    const wrap = field;
    for (let i = 0; i < 10_000; i++) pb = wrap(0x2a, wrap(0x0a, pb));
    const kvBytes = wrap(0x12, pb); // KeyValue.value
    const spanBytes = Buffer.concat([
      wrap(0x0a, Buffer.alloc(16, 1)),
      wrap(0x12, Buffer.alloc(8, 1)),
      wrap(0x4a, kvBytes),
    ]);
    const reqBytes = wrap(0x0a, wrap(0x12, wrap(0x12, spanBytes)));
    const r2 = await post(`${emb.otlpUrl}/v1/traces`, reqBytes, { ...PB, ...key });
    expect(r2.status).toBe(400);
    expect(r2.text).toMatch(/nested deeper than/);
    // a depth that decodes but is still too deep for a value: 400 from the rows
    let mid = '{"stringValue":"x"}';
    for (let i = 0; i < 36; i++) mid = `{"arrayValue":{"values":[${mid}]}}`;
    const r3 = await post(
      `${emb.otlpUrl}/v1/traces`,
      `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"${hexId(16)}","spanId":"${hexId(8)}","name":"deep","startTimeUnixNano":"${nowNs()}","attributes":[{"key":"d","value":${mid}}]}]}]}]}`,
      { ...JSON_CT, ...key },
    );
    expect(r3.status).toBe(400);
    expect(JSON.parse(r3.text).message).toMatch(/nested deeper than 32 levels/);
  });

  it('a lone surrogate in a string (value or key) → 400 naming where', async () => {
    const body = tracesJson({ 'service.name': 'surrogate' }, [
      span('s', nowNs(), [{ key: 'msg', value: { stringValue: 'cut emoji \ud83d' } }]),
    ]);
    expect(body).toContain('\\ud83d');
    const r = await post(`${emb.otlpUrl}/v1/traces`, body, { ...JSON_CT, ...key });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).message).toMatch(/attributes\[0\]\.value\.stringValue has a lone surrogate/);
    const keyBody = tracesJson({ 'service.name': 'surrogate' }, [
      span('s', nowNs(), [{ key: 'k\udc00', value: { stringValue: 'v' } }]),
    ]);
    expect((await post(`${emb.otlpUrl}/v1/traces`, keyBody, { ...JSON_CT, ...key })).status).toBe(400);
    // a proper pair is fine
    const ok = tracesJson({ 'service.name': 'surrogate' }, [
      span('s', nowNs(), [{ key: 'msg', value: { stringValue: 'emoji 😀' } }]),
    ]);
    expect((await post(`${emb.otlpUrl}/v1/traces`, ok, { ...JSON_CT, ...key })).status).toBe(200);
    // protobuf with UTF-8-encoded surrogates (CESU) in a string: stored with replacement characters, not 500
    const T = requestType('traces');
    const pbBody = Buffer.from(
      T.encode(
        T.fromObject(JSON.parse(tracesJson({ 'service.name': 'surrogate-pb' }, [span('PLACEHOLDER')]))),
      ).finish(),
    );
    const at = pbBody.indexOf('PLACEHOLDER');
    Buffer.from([0xed, 0xa0, 0xbd, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41]).copy(pbBody, at);
    const r2 = await post(`${emb.otlpUrl}/v1/traces`, pbBody, { ...PB, ...key });
    expect([200, 400]).toContain(r2.status);
  });
});
