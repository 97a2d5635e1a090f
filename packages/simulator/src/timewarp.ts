// The simulated clock. A scenario's hour runs in about a real minute. Durations come from the latency
// model (latency.ts), never from the wall clock of a busy machine:
// - the clients' SDKs read this clock directly (their realm's Date is the simulated one, pinned to the
//   model's start and end of each request while the SDK starts and ends its span), so their telemetry
//   is on the simulated timeline already and goes straight to the receiver;
// - the backend nodes (the Node preset, real processes on the real clock) send through this OTLP/JSON
//   proxy. For a request the simulator modelled (TraceModels: the balancer registered its trace), the
//   node's SERVER span gets exactly the model's window and the trace's other spans and logs move with it
//   (clamped inside it). Anything else — metrics, spans of traces nobody modelled — is moved onto the
//   simulated timeline as before: a trace whose first span (as seen here) starts at real time t is moved
//   by simStart + (t − realStart) × speed − t, all its spans by the same amount (durations stay real).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Clock {
  realStartMs: number;
  simStartMs: number;
  speed: number;
}

export const simNow = (c: Clock, realMs = Date.now()): number =>
  c.simStartMs + (realMs - c.realStartMs) * c.speed;
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

/** Per-trace shifts (ns), so that all spans of a trace move together; oldest forgotten first. */
export class TraceShifts {
  private readonly shifts = new Map<string, bigint>();
  constructor(private readonly max = 200_000) {}
  shift(traceId: string | undefined, realNs: bigint, warp: (t: unknown) => string): bigint {
    const known = traceId ? this.shifts.get(traceId) : undefined;
    if (known !== undefined) return known;
    const shift = BigInt(warp(realNs)) - realNs;
    if (traceId) {
      if (this.shifts.size >= this.max) this.shifts.delete(this.shifts.keys().next().value!);
      this.shifts.set(traceId, shift);
    }
    return shift;
  }
}

/** A backend request as the model timed it: its server window on the simulated clock. */
export interface ServerTiming {
  /** simulated epoch ms when the request reached the server */
  startMs: number;
  /** modelled time inside the server (ms) */
  durationMs: number;
  /** real epoch ms when the balancer received it (the node's spans start just after) */
  realAnchorMs: number;
}

/** Modelled server windows by trace id (registered by the balancer); oldest forgotten first. */
export class TraceModels {
  private readonly models = new Map<string, ServerTiming>();
  constructor(private readonly max = 200_000) {}
  set(traceId: string, timing: ServerTiming): void {
    if (this.models.size >= this.max) this.models.delete(this.models.keys().next().value!);
    this.models.set(traceId.toLowerCase(), timing);
  }
  get(traceId: string | undefined): ServerTiming | undefined {
    return traceId ? this.models.get(String(traceId).toLowerCase()) : undefined;
  }
}

const SERVER_KIND = new Set<unknown>([2, '2', 'SPAN_KIND_SERVER']);
const msToNs = (ms: number) => BigInt(Math.round(ms * 1e6));
/** `t` kept inside [from, to] (bigint nanoseconds: Math.min/max do not take them). */
function within(t: bigint, from: bigint, to: bigint): bigint {
  if (t < from) return from;
  if (t > to) return to;
  return t;
}

/** Places a span of a modelled trace: SERVER spans take the window, the rest move with it, inside it. */
function placeSpan(s: any, m: ServerTiming): void {
  const ns = (t: unknown) => BigInt(String(t ?? '0'));
  const from = msToNs(m.startMs);
  const to = from + msToNs(m.durationMs);
  const clamp = (t: bigint) => within(t, from, to);
  if (SERVER_KIND.has(s.kind)) {
    const realStart = ns(s.startTimeUnixNano);
    s.startTimeUnixNano = String(from);
    s.endTimeUnixNano = String(to);
    for (const e of s.events ?? []) e.timeUnixNano = String(clamp(from + ns(e.timeUnixNano) - realStart));
    return;
  }
  const shift = from - msToNs(m.realAnchorMs);
  const start = clamp(ns(s.startTimeUnixNano) + shift);
  const end = clamp(ns(s.endTimeUnixNano) + shift);
  s.startTimeUnixNano = String(start);
  s.endTimeUnixNano = String(within(end, start, to));
  for (const e of s.events ?? []) e.timeUnixNano = String(clamp(ns(e.timeUnixNano) + shift));
}

/** Rewrites an OTLP/JSON request body in place. */
export function warpOtlp(
  signal: string,
  body: any,
  c: Clock,
  traces = new TraceShifts(),
  models?: TraceModels,
): any {
  const warp = warpNanos(c);
  const ns = (t: unknown) => BigInt(String(t ?? '0'));
  if (signal === 'traces') {
    for (const rs of body.resourceSpans ?? [])
      for (const ss of rs.scopeSpans ?? [])
        for (const s of ss.spans ?? []) {
          const model = models?.get(s.traceId);
          if (model) {
            placeSpan(s, model);
            continue;
          }
          const shift = traces.shift(s.traceId, ns(s.startTimeUnixNano), warp);
          const move = (t: unknown) => String(ns(t) + shift);
          s.startTimeUnixNano = move(s.startTimeUnixNano);
          s.endTimeUnixNano = move(s.endTimeUnixNano);
          for (const e of s.events ?? []) e.timeUnixNano = move(e.timeUnixNano);
        }
  } else if (signal === 'logs') {
    for (const rl of body.resourceLogs ?? [])
      for (const sl of rl.scopeLogs ?? [])
        for (const l of sl.logRecords ?? []) {
          const model = models?.get(l.traceId || undefined);
          if (model) {
            const from = msToNs(model.startMs);
            const to = from + msToNs(model.durationMs);
            const shift = from - msToNs(model.realAnchorMs);
            const move = (t: unknown) => String(within(ns(t) + shift, from, to));
            if (l.timeUnixNano) l.timeUnixNano = move(l.timeUnixNano);
            if (l.observedTimeUnixNano) l.observedTimeUnixNano = move(l.observedTimeUnixNano);
            continue;
          }
          const time = ns(l.timeUnixNano || l.observedTimeUnixNano);
          const shift = traces.shift(l.traceId || undefined, time, warp);
          if (l.timeUnixNano) l.timeUnixNano = String(ns(l.timeUnixNano) + shift);
          if (l.observedTimeUnixNano) l.observedTimeUnixNano = String(ns(l.observedTimeUnixNano) + shift);
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

const FORWARDED = ['content-type', 'x-mp-otel-batch', 'x-forwarded-for', 'x-real-ip', 'user-agent'];

export async function startTimeWarp(
  targetUrl: string,
  clock: Clock,
  models?: TraceModels,
  /** sees every parsed body before it is moved (real timestamps) */
  observe?: (signal: string, body: any) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const traces = new TraceShifts();
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
        const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        observe?.(signal, parsed);
        body = JSON.stringify(warpOtlp(signal, parsed, clock, traces, models));
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
