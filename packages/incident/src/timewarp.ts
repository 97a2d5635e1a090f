// The simulated clock. A scenario's hour runs in about a real minute, but latencies must stay real, so
// the clients and the backend run on the real clock and their telemetry passes through this OTLP/JSON
// proxy, which moves every timestamp onto the simulated timeline: a span starting at real time t starts
// at simStart + (t − realStart) × speed and keeps its real duration. Clients and servers go through the
// same mapping, so a trace stays whole.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Clock {
  realStartMs: number;
  simStartMs: number;
  speed: number;
}

export const simNow = (c: Clock, realMs = Date.now()): number => c.simStartMs + (realMs - c.realStartMs) * c.speed;
/** The real time at which the simulated clock reads `simMs`. */
export const realAt = (c: Clock, simMs: number): number => c.realStartMs + (simMs - c.simStartMs) / c.speed;

function warpNanos(c: Clock): (t: unknown) => string {
  const realStart = BigInt(c.realStartMs) * 1_000_000n;
  const simStart = BigInt(c.simStartMs) * 1_000_000n;
  const speed = BigInt(Math.round(c.speed * 1000));
  return (t) => {
    const ns = BigInt(String(t ?? '0'));
    if (ns === 0n) return '0';
    return String(simStart + ((ns - realStart) * speed) / 1000n);
  };
}

/** Rewrites an OTLP/JSON request body in place. */
export function warpOtlp(signal: string, body: any, c: Clock): any {
  const warp = warpNanos(c);
  const shift = (from: unknown, to: string) => (t: unknown) => String(BigInt(to) + (BigInt(String(t ?? '0')) - BigInt(String(from ?? '0'))));
  if (signal === 'traces') {
    for (const rs of body.resourceSpans ?? [])
      for (const ss of rs.scopeSpans ?? [])
        for (const s of ss.spans ?? []) {
          const start = warp(s.startTimeUnixNano);
          const move = shift(s.startTimeUnixNano, start);
          s.endTimeUnixNano = move(s.endTimeUnixNano);
          for (const e of s.events ?? []) e.timeUnixNano = move(e.timeUnixNano);
          s.startTimeUnixNano = start;
        }
  } else if (signal === 'logs') {
    for (const rl of body.resourceLogs ?? [])
      for (const sl of rl.scopeLogs ?? [])
        for (const l of sl.logRecords ?? []) {
          if (l.timeUnixNano) l.timeUnixNano = warp(l.timeUnixNano);
          if (l.observedTimeUnixNano) l.observedTimeUnixNano = warp(l.observedTimeUnixNano);
        }
  } else if (signal === 'metrics') {
    for (const rm of body.resourceMetrics ?? [])
      for (const sm of rm.scopeMetrics ?? [])
        for (const m of sm.metrics ?? []) {
          const data = m.gauge ?? m.sum ?? m.histogram ?? m.exponentialHistogram ?? m.summary;
          for (const p of data?.dataPoints ?? []) {
            if (p.startTimeUnixNano) p.startTimeUnixNano = warp(p.startTimeUnixNano);
            if (p.timeUnixNano) p.timeUnixNano = warp(p.timeUnixNano);
            for (const x of p.exemplars ?? []) if (x.timeUnixNano) x.timeUnixNano = warp(x.timeUnixNano);
          }
        }
  }
  return body;
}

const FORWARDED = ['content-type', 'x-mp-otel-batch', 'x-forwarded-for', 'user-agent'];

export async function startTimeWarp(targetUrl: string, clock: Clock): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const signal = /^\/v1\/(traces|logs|metrics)$/.exec(req.url ?? '')?.[1];
      const answer = (status: number, text: string, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(text);
      };
      if (!signal || req.method !== 'POST') return answer(404, '{"message":"not found"}');
      if (!String(req.headers['content-type'] ?? '').includes('json')) {
        return answer(415, '{"message":"the simulated clock takes OTLP/JSON only"}');
      }
      let body: string;
      try {
        body = JSON.stringify(warpOtlp(signal, JSON.parse(Buffer.concat(chunks).toString('utf8')), clock));
      } catch (e) {
        return answer(400, JSON.stringify({ message: `invalid OTLP/JSON: ${(e as Error).message}` }));
      }
      const headers: Record<string, string> = {};
      for (const h of FORWARDED) if (req.headers[h]) headers[h] = String(req.headers[h]);
      const out = http.request(`${targetUrl}/v1/${signal}`, { method: 'POST', headers }, (up) => {
        const back: Record<string, string> = {};
        if (up.headers['retry-after']) back['retry-after'] = String(up.headers['retry-after']);
        const parts: Buffer[] = [];
        up.on('data', (c: Buffer) => parts.push(c));
        up.on('end', () => answer(up.statusCode ?? 502, Buffer.concat(parts).toString('utf8'), back));
      });
      out.on('error', (e) => answer(503, JSON.stringify({ message: e.message }), { 'retry-after': '1' }));
      out.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
