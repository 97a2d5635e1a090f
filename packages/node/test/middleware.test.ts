// The image-transfer middleware for node:http, Express, Koa and Fastify, in process, against a real
// MeterProvider (sdk-metrics) and real HTTP on 127.0.0.1.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { metrics as api } from '@opentelemetry/api';
import { metrics as sdk } from '@opentelemetry/sdk-node';
import busboy from 'busboy';
import express from 'express';
import Fastify from 'fastify';
import Koa from 'koa';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  imageTransferExpress,
  imageTransferFastify,
  imageTransferKoa,
  METRIC_IMAGE_TRANSFER_DURATION,
  METRIC_IMAGE_TRANSFER_SIZE,
  sendError,
  withImageTransfer,
} from '../src/index.js';

class TestReader extends sdk.MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}
const reader = new TestReader();
const provider = new sdk.MeterProvider({ readers: [reader] });

interface Point {
  name: string;
  attributes: Record<string, unknown>;
  count: number;
  sum: number;
}
async function points(): Promise<Point[]> {
  const { resourceMetrics } = await reader.collect();
  const out: Point[] = [];
  for (const sm of resourceMetrics.scopeMetrics) {
    for (const m of sm.metrics) {
      for (const dp of m.dataPoints) {
        const v = dp.value as { count: number; sum: number };
        out.push({ name: m.descriptor.name, attributes: dp.attributes, count: v.count, sum: v.sum });
      }
    }
  }
  return out;
}
async function sizePoints(): Promise<Point[]> {
  return (await points()).filter((p) => p.name === METRIC_IMAGE_TRANSFER_SIZE);
}

const BOUNDARY = 'xyzBOUNDARYxyz';
function multipart(size: number): Buffer<ArrayBuffer> {
  return Buffer.concat([
    Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="p.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
    ),
    Buffer.alloc(size, 1),
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
}
const mpHeaders = { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` };

/** Consumes a multipart body with busboy; resolves with the file's byte count. */
function parseFile(req: IncomingMessage): Promise<number> {
  return new Promise((resolve, reject) => {
    const bb = busboy({ headers: req.headers });
    let n = 0;
    bb.on('file', (_name, file) => file.on('data', (c: Buffer) => (n += c.length)));
    bb.on('close', () => resolve(n));
    bb.on('error', reject);
    req.pipe(bb);
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
}

beforeAll(() => {
  api.setGlobalMeterProvider(provider);
});
afterAll(async () => {
  await provider.shutdown();
  api.disable();
});
let before: Point[] = [];
beforeEach(async () => {
  before = await sizePoints();
});
/** Size points that changed since the test started (cumulative temporality). */
async function newPoints(): Promise<Point[]> {
  const now = await sizePoints();
  return now.filter((p) => {
    const old = before.find((b) => JSON.stringify(b.attributes) === JSON.stringify(p.attributes));
    return !old || old.count !== p.count;
  });
}

describe('node:http', () => {
  it('counts a streamed multipart upload read late (after an async gap) without losing bytes', async () => {
    const server = createServer(
      withImageTransfer(
        (req, res) => {
          withImageTransfer((_req: IncomingMessage, _res: ServerResponse) => {}, { route: '/twice' })(
            req,
            res,
          ); // a second layer is a no-op
          // Start reading only later: the middleware must not have switched the stream to flowing mode.
          setTimeout(() => {
            parseFile(req).then((n) => res.end(String(n)));
          }, 50);
        },
        { route: '/raw-upload' },
      ),
    );
    const base = await listen(server);
    try {
      const body = multipart(300 * 1024);
      const res = await fetch(`${base}/raw-upload`, { method: 'POST', body, headers: mpHeaders });
      expect(await res.text()).toBe(String(300 * 1024));
      const measured = await newPoints();
      expect(measured).toHaveLength(1);
      const p = measured[0];
      expect(p!.attributes).toEqual({
        'mp.image.direction': 'upload',
        'mp.image.size_bucket': '100KB-1MB',
        'mp.image.outcome': 'success',
        'http.route': '/raw-upload',
      });
      expect(p!.sum).toBe(body.length);
      const dur = (await points()).find(
        (x) => x.name === METRIC_IMAGE_TRANSFER_DURATION && x.attributes['http.route'] === '/raw-upload',
      );
      expect(dur!.sum).toBeGreaterThanOrEqual(0.05);
    } finally {
      await close(server);
    }
  });

  it('records aborted transfers when the client goes away mid-download', async () => {
    const server = createServer(
      withImageTransfer(
        (_req, res) => {
          res.writeHead(200, { 'content-type': 'image/jpeg' });
          res.write(Buffer.alloc(64 * 1024));
          // never ends: the client aborts
        },
        { route: '/slow' },
      ),
    );
    const base = await listen(server);
    try {
      const ac = new AbortController();
      const res = await fetch(`${base}/slow`, { signal: ac.signal });
      const r = res.body!.getReader();
      await r.read();
      ac.abort();
      let p: Point | undefined;
      for (let i = 0; i < 100 && !p; i++) {
        await new Promise((res) => setTimeout(res, 20));
        p = (await newPoints()).find((x) => x.attributes['http.route'] === '/slow');
      }
      expect(p!.attributes['mp.image.outcome']).toBe('aborted');
      expect(p!.attributes['mp.image.direction']).toBe('download');
    } finally {
      await close(server);
    }
  });
});

describe('Express', () => {
  it('uses the matched route and records uploads, downloads and error codes', async () => {
    const app = express();
    app.use(imageTransferExpress());
    app.post('/albums/:album/photos', async (req, res) => {
      const n = await parseFile(req);
      if (n > 500 * 1024) return void sendError(res, 'IMAGE_TOO_LARGE');
      res.status(201).json({ n });
    });
    app.get('/photos/:id', (_req, res) => {
      res.type('image/jpeg').send(Buffer.alloc(2 * 1024 * 1024, 3));
    });
    const server = createServer(app);
    const base = await listen(server);
    try {
      const ok = await fetch(`${base}/albums/a1/photos`, {
        method: 'POST',
        body: multipart(1000),
        headers: mpHeaders,
      });
      expect(ok.status).toBe(201);
      const big = await fetch(`${base}/albums/a1/photos`, {
        method: 'POST',
        body: multipart(600 * 1024),
        headers: mpHeaders,
      });
      expect(big.status).toBe(413);
      const dl = await fetch(`${base}/photos/9`);
      expect((await dl.arrayBuffer()).byteLength).toBe(2 * 1024 * 1024);
      const got = await newPoints();
      const by = (o: string, d: string) =>
        got.find((p) => p.attributes['mp.image.outcome'] === o && p.attributes['mp.image.direction'] === d);
      expect(by('success', 'upload')!.attributes['http.route']).toBe('/albums/:album/photos');
      expect(by('success', 'upload')!.attributes['mp.image.size_bucket']).toBe('<100KB');
      expect(by('rejected', 'upload')!.attributes['app.error_code']).toBe('IMAGE_TOO_LARGE');
      expect(by('success', 'download')!.attributes).toMatchObject({
        'http.route': '/photos/:id',
        'mp.image.size_bucket': '1MB-5MB',
      });
      expect(by('success', 'download')!.sum).toBe(2 * 1024 * 1024);
    } finally {
      await close(server);
    }
  });
});

describe('Koa', () => {
  it('counts bodies consumed by async iteration', async () => {
    const app = new Koa();
    app.use(imageTransferKoa({ route: '/koa/upload', filter: (req) => req.url === '/koa/upload' }));
    app.use(async (ctx) => {
      let n = 0;
      for await (const chunk of ctx.req) n += (chunk as Buffer).length;
      ctx.status = 201;
      ctx.body = { n };
    });
    const server = createServer(app.callback());
    const base = await listen(server);
    try {
      const body = multipart(6 * 1024 * 1024);
      const res = await fetch(`${base}/koa/upload`, { method: 'POST', body, headers: mpHeaders });
      expect(((await res.json()) as { n: number }).n).toBe(body.length);
      const other = await fetch(`${base}/not-measured`, { method: 'POST', body: 'x' });
      expect(other.status).toBe(201);
      const got = await newPoints();
      expect(got).toHaveLength(1);
      expect(got[0]!.attributes).toMatchObject({
        'http.route': '/koa/upload',
        'mp.image.size_bucket': '>5MB',
      });
      expect(got[0]!.sum).toBe(body.length);
    } finally {
      await close(server);
    }
  });
});

describe('Fastify', () => {
  it('registers as a global plugin and uses routeOptions.url', async () => {
    const app = Fastify();
    await app.register(imageTransferFastify as never, {});
    app.addContentTypeParser('multipart/form-data', (request, payload, done) => {
      let n = 0;
      pipeline(
        payload,
        new Writable({
          write(chunk: Buffer, _enc, cb) {
            n += chunk.length;
            cb();
          },
        }),
      ).then(
        () => done(null, { n }),
        (err) => done(err as Error, undefined),
      );
      void request;
    });
    app.post('/f/:kind', async (request, reply) => {
      reply.code(201);
      return request.body;
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      const body = multipart(120 * 1024);
      const res = await fetch(`${base}/f/photo`, { method: 'POST', body, headers: mpHeaders });
      expect(res.status).toBe(201);
      expect(((await res.json()) as { n: number }).n).toBe(body.length);
      const [p] = await newPoints();
      expect(p!.attributes).toMatchObject({
        'http.route': '/f/:kind',
        'mp.image.direction': 'upload',
        'mp.image.outcome': 'success',
        'mp.image.size_bucket': '100KB-1MB',
      });
      expect(p!.sum).toBe(body.length);
    } finally {
      await app.close();
    }
  });
});
