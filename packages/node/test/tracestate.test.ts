// The preset end to end, as the W3C trace-context suite drives a service: a request with traceparent and
// tracestate comes in, the service makes one outgoing request, and what that request carries is checked —
// the four tracestate rules the suite's strict level adds, each dropping the whole tracestate.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RunningService, startService } from '@mp-otel/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const TP = '00-12345678901234567890123456789012-1234567890123456-01';

describe('the preset drops an invalid tracestate (W3C trace-context, strict level)', () => {
  let svc: RunningService;
  let downstream: Server;
  let url = '';
  let received: IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    downstream = createServer((req, res) => {
      received.push(req.headers);
      req.resume();
      res.end('ok');
    });
    await new Promise<void>((r) => downstream.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(downstream.address() as AddressInfo).port}/cb`;
    // a dead OTLP endpoint: propagation needs a tracer provider, not a collector (FACTS.md)
    svc = await startService({
      script: 'test/fixtures/forward-service.mjs',
      cwd: pkgDir,
      env: {
        OTEL_SERVICE_NAME: 'w3c-probe',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
      },
    });
  });
  afterAll(async () => {
    await svc?.stop();
    await new Promise<void>((r) => (downstream ? downstream.close(() => r()) : r()));
  });

  async function forward(tracestate: string[]): Promise<IncomingHttpHeaders> {
    received = [];
    const headers = new Headers({ traceparent: TP });
    for (const t of tracestate) headers.append('tracestate', t);
    const res = await fetch(`${svc.url}/forward?to=${encodeURIComponent(url)}`, { headers });
    expect(await res.text()).toBe('forwarded');
    expect(received.length).toBe(1);
    const h = received[0] as IncomingHttpHeaders;
    expect(h.traceparent).toMatch(/^00-12345678901234567890123456789012-[0-9a-f]{16}-01$/);
    return h;
  }

  it('keeps a valid tracestate', async () => {
    expect((await forward(['foo=1,bar=2', 'baz=3'])).tracestate).toBe('foo=1,bar=2,baz=3');
  });

  it('illegal key format', async () => {
    expect((await forward(['foo@=1,bar=2'])).tracestate).toBeUndefined();
  });

  it('key length limit', async () => {
    expect((await forward(['foo=1', `${'z'.repeat(257)}=1`])).tracestate).toBeUndefined();
  });

  it('member count limit', async () => {
    const m = Array.from({ length: 33 }, (_, i) => `bar${i}=${i}`);
    expect((await forward([m.slice(0, 20).join(','), m.slice(20).join(',')])).tracestate).toBeUndefined();
  });

  it('illegal value characters', async () => {
    expect((await forward(['foo=bar=baz'])).tracestate).toBeUndefined();
  });
});
