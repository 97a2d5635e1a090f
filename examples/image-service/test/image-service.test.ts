import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type OtlpCapture,
  otlpEnv,
  type RunningService,
  startOtlpCapture,
  startService,
  waitFor,
} from '@mp-otel/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const serviceDir = join(here, '..');
const SERVER = 2; // OTLP SpanKind SERVER
const STATUS_ERROR = 2;
const BOUNDARY = 'mpotelboundary7f3a';
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function image(size: number): Buffer {
  const b = Buffer.alloc(size, 7);
  PNG.copy(b);
  return b;
}

function multipart(data: Buffer, opts: { field?: string; truncate?: boolean } = {}): Buffer<ArrayBuffer> {
  const head = Buffer.from(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${opts.field ?? 'file'}"; filename="a.png"\r\n` +
      'Content-Type: image/png\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
  if (opts.truncate) return Buffer.concat([head, data.subarray(0, Math.floor(data.length / 2))]);
  return Buffer.concat([head, data, tail]);
}

async function upload(base: string, body: Buffer<ArrayBuffer>, headers: Record<string, string> = {}) {
  return fetch(`${base}/upload`, {
    method: 'POST',
    body,
    headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, ...headers },
  });
}

describe('image service with the preset (ESM, --import @mp-otel/node/register)', () => {
  let receiver: OtlpCapture;
  let svc: RunningService;
  let storage: string;

  beforeAll(async () => {
    receiver = await startOtlpCapture();
    storage = mkdtempSync(join(tmpdir(), 'mp-otel-img-'));
    svc = await startService({
      script: 'src/server.js',
      cwd: serviceDir,
      env: { ...otlpEnv(receiver.url, 'image-service'), STORAGE_DIR: storage },
    });
  });
  afterAll(async () => {
    await svc?.stop();
    await receiver?.close();
    rmSync(storage, { recursive: true, force: true });
  });

  it('stores an upload, serves it back, and traces both with route, status, baggage and traceresponse', async () => {
    const traceId = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
    const parent = '1122334455667788';
    const data = image(150 * 1024);
    const res = await upload(svc.url, multipart(data), {
      traceparent: `00-${traceId}-${parent}-01`,
      tracestate: 'mp=1',
      baggage: 'mp.fingerprint=fp123abc,other=x',
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { id: string; url: string; contentType: string; size: number };
    expect(body.size).toBe(data.length);
    expect(body.contentType).toBe('image/png');
    const tr = res.headers.get('traceresponse');
    expect(tr).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));

    const got = await fetch(`${svc.url}${body.url}`);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await got.arrayBuffer()).equals(data)).toBe(true);

    const span = await waitFor(
      () => receiver.spans().find((s) => s.traceId === traceId && s.kind === SERVER),
      15_000,
      'upload server span',
    );
    expect(span.parentSpanId).toBe(parent);
    expect(span.traceState).toBe('mp=1');
    expect(tr!.split('-')[2]).toBe(span.spanId);
    expect(span.attributes['http.route']).toBe('/upload');
    expect(span.name).toBe('POST /upload');
    expect(span.attributes['http.response.status_code']).toBe(201);
    expect(span.attributes['mp.fingerprint']).toBe('fp123abc');
    expect(span.attributes.other).toBeUndefined();
    expect(span.resource['service.name']).toBe('image-service');
    expect(typeof span.resource['host.name']).toBe('string');
    expect(span.resource['telemetry.distro.name']).toBe('mp-otel');

    const down = await waitFor(
      () => receiver.spans().find((s) => s.kind === SERVER && s.attributes['http.route'] === '/images/:id'),
      15_000,
      'download span',
    );
    expect(down.attributes['http.response.status_code']).toBe(200);

    // Image metrics: one upload in 100KB-1MB, one download of the same size.
    const up = await waitFor(
      () =>
        receiver.histogram('mp.image.transfer.size', {
          'mp.image.direction': 'upload',
          'mp.image.outcome': 'success',
          'http.route': '/upload',
        }),
      15_000,
      'upload size histogram',
    );
    expect(up.unit).toBe('By');
    expect(up.attributes['mp.image.size_bucket']).toBe('100KB-1MB');
    expect(up.count).toBe(1);
    // The request body (multipart envelope included) was counted as it streamed.
    expect(up.sum).toBeGreaterThan(data.length);
    expect(up.sum).toBeLessThan(data.length + 400);
    const dl = await waitFor(
      () =>
        receiver.histogram('mp.image.transfer.size', {
          'mp.image.direction': 'download',
          'http.route': '/images/:id',
        }),
      15_000,
      'download size histogram',
    );
    expect(dl.sum).toBe(data.length);
    expect(dl.attributes['mp.image.outcome']).toBe('success');
    const dur = await waitFor(
      () =>
        receiver.histogram('mp.image.transfer.duration', {
          'mp.image.direction': 'upload',
          'mp.image.outcome': 'success',
        }),
      15_000,
      'duration histogram',
    );
    expect(dur.unit).toBe('s');
    expect(dur.sum).toBeGreaterThan(0);
    expect(dur.sum).toBeLessThan(30);

    // The handler's console.log line was correlated and shipped as a log record of the same trace.
    const log = await waitFor(
      () => receiver.logs().find((l) => typeof l.body === 'string' && l.body.includes(body.id)),
      15_000,
      'log record',
    );
    expect(log.traceId).toBe(traceId);
    expect(svc.output()).toMatch(
      new RegExp(`stored image ${body.id}.*trace_id=${traceId} span_id=[0-9a-f]{16}`),
    );
  });

  it('rejects bad uploads with standard codes, error spans and rejected-outcome metrics', async () => {
    const cases = [
      {
        name: 'not an image',
        body: multipart(Buffer.from('hello, this is plain text, not a picture')),
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
      },
      {
        name: 'truncated',
        body: multipart(image(64 * 1024), { truncate: true }),
        status: 400,
        code: 'UPLOAD_TRUNCATED',
      },
      {
        name: 'missing file',
        body: multipart(image(1024), { field: 'photo' }),
        status: 400,
        code: 'UPLOAD_MISSING_FILE',
      },
      {
        name: 'oversize',
        body: multipart(image(10 * 1024 * 1024 + 10)),
        status: 413,
        code: 'IMAGE_TOO_LARGE',
      },
    ];
    for (const c of cases) {
      const res = await upload(svc.url, c.body);
      expect(res.status, c.name).toBe(c.status);
      expect(res.headers.get('x-app-error-code'), c.name).toBe(c.code);
      const json = (await res.json()) as { error: { code: string; retryable: boolean } };
      expect(json.error.code).toBe(c.code);
      const span = await waitFor(
        () => receiver.spans().find((s) => s.kind === SERVER && s.attributes['app.error_code'] === c.code),
        15_000,
        `span for ${c.name}`,
      );
      expect(span.status.code).toBe(STATUS_ERROR);
      expect(span.attributes['http.response.status_code']).toBe(c.status);
      const h = await waitFor(
        () =>
          receiver.histogram('mp.image.transfer.size', {
            'app.error_code': c.code,
            'mp.image.outcome': 'rejected',
            'mp.image.direction': 'upload',
          }),
        15_000,
        `metric for ${c.name}`,
      );
      expect(h.count).toBeGreaterThanOrEqual(1);
      if (c.code === 'IMAGE_TOO_LARGE') expect(h.attributes['mp.image.size_bucket']).toBe('>5MB');
    }
    // The service still serves after all that.
    const ok = await upload(svc.url, multipart(image(2048)));
    expect(ok.status).toBe(201);
    const missing = await fetch(`${svc.url}/images/${'0'.repeat(32)}`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-app-error-code')).toBe('NOT_FOUND');
  });
});

describe('image service resilience', () => {
  it('keeps serving when the collector is unreachable, and shuts down promptly', async () => {
    // A port that was just free: nothing listens there.
    const dead = await startOtlpCapture();
    const endpoint = dead.url;
    await dead.close();
    const storage = mkdtempSync(join(tmpdir(), 'mp-otel-img-'));
    const svc = await startService({
      script: 'src/server.js',
      cwd: serviceDir,
      env: { ...otlpEnv(endpoint, 'image-service'), STORAGE_DIR: storage, OTEL_EXPORTER_OTLP_TIMEOUT: '500' },
    });
    try {
      for (let i = 0; i < 5; i++) {
        const res = await upload(svc.url, multipart(image(4096 + i)));
        expect(res.status).toBe(201);
        await new Promise((r) => setTimeout(r, 150)); // let exports to the dead collector fail in between
      }
      const bad = await upload(svc.url, multipart(Buffer.from('nope, not an image at all')));
      expect(bad.status).toBe(415);
      expect(svc.child.exitCode).toBeNull();
      const t0 = Date.now();
      await svc.stop('SIGTERM');
      expect(Date.now() - t0).toBeLessThan(12_000);
      expect(svc.output()).not.toMatch(/Unhandled|uncaught/i);
    } finally {
      await svc.stop('SIGKILL');
      rmSync(storage, { recursive: true, force: true });
    }
  });

  it('flushes spans and metrics on SIGTERM (graceful shutdown)', async () => {
    const receiver = await startOtlpCapture();
    const storage = mkdtempSync(join(tmpdir(), 'mp-otel-img-'));
    const svc = await startService({
      script: 'src/server.js',
      cwd: serviceDir,
      env: {
        ...otlpEnv(receiver.url, 'image-service'),
        STORAGE_DIR: storage,
        // Nothing would be exported for a minute without the shutdown flush.
        OTEL_BSP_SCHEDULE_DELAY: '60000',
        OTEL_METRIC_EXPORT_INTERVAL: '60000',
        OTEL_BLRP_SCHEDULE_DELAY: '60000',
      },
    });
    try {
      const res = await upload(svc.url, multipart(image(3000)));
      expect(res.status).toBe(201);
      await new Promise((r) => setTimeout(r, 300));
      expect(receiver.spans().length).toBe(0);
      await svc.stop('SIGTERM');
      expect(receiver.spans().some((s) => s.attributes['http.route'] === '/upload')).toBe(true);
      expect(receiver.histogram('mp.image.transfer.size', { 'mp.image.direction': 'upload' })?.count).toBe(1);
    } finally {
      await svc.stop('SIGKILL');
      await receiver.close();
      rmSync(storage, { recursive: true, force: true });
    }
  });
});
