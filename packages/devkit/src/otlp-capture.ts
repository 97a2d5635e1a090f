// The one OTLP/HTTP JSON capture receiver on 127.0.0.1 of the test suites, benches and the early demo: it
// keeps what arrives and decodes spans, logs and histograms (each request once, on first read). It can also
// misbehave on purpose (status codes, Retry-After, slow answers) to exercise a client, and it drops a
// repeated `x-mp-otel-batch` id as an idempotent receiver would.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export type AttributeValue =
  | string
  | number
  | boolean
  | null
  | AttributeValue[]
  | { [k: string]: AttributeValue };

export interface CapturedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  flags?: number;
  traceState?: string;
  status: { code?: number; message?: string };
  attributes: Record<string, AttributeValue>;
  resource: Record<string, AttributeValue>;
  scope: { name?: string; version?: string; attributes: Record<string, AttributeValue> };
  events: Array<{ name: string; attributes: Record<string, AttributeValue> }>;
}

export interface CapturedLog {
  timeUnixNano: string;
  severityNumber?: number;
  severityText?: string;
  eventName?: string;
  body: AttributeValue;
  traceId?: string;
  spanId?: string;
  attributes: Record<string, AttributeValue>;
  resource: Record<string, AttributeValue>;
}

/** One data point of a histogram metric (cumulative or delta, as the sender exported it). */
export interface CapturedHistogramPoint {
  name: string;
  unit?: string;
  attributes: Record<string, AttributeValue>;
  count: number;
  sum?: number;
  bucketCounts: number[];
  explicitBounds: number[];
  resource: Record<string, AttributeValue>;
}

export interface CapturedRequest {
  signal: string;
  headers: http.IncomingHttpHeaders;
  body: any;
  /** false when the batch id had been seen before and the payload was dropped */
  accepted: boolean;
  /** Date.now() when the body had arrived */
  at: number;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  /** Answer only after this long (the client may time out first: then its retry is a duplicate). */
  delayMs?: number;
}

export interface OtlpCapture {
  url: string;
  requests: CapturedRequest[];
  /** Requests being answered right now, and the most there ever were at once. */
  inFlight: number;
  maxInFlight: number;
  /** Decide the answer to each request; undefined → 200. Accepted payloads are stored even when the
   *  answer says otherwise only if `store` is true (a server that took it but failed to say so). */
  reply?: (req: CapturedRequest, index: number) => (Reply & { store?: boolean }) | undefined;
  spans(): CapturedSpan[];
  /** Spans accepted so far, counted on arrival (cheap to poll). */
  spanCount(): number;
  logs(): CapturedLog[];
  histograms(): CapturedHistogramPoint[];
  /** The latest point of histogram `name` whose attributes include `match`. */
  histogram(name: string, match?: Record<string, AttributeValue>): CapturedHistogramPoint | undefined;
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Polls `fn` until it returns something truthy, and returns that; throws after `timeoutMs`. */
export async function waitFor<T>(
  fn: () => T | undefined | null | false,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function anyValue(v: any): AttributeValue {
  if (!v || typeof v !== 'object') return null;
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('arrayValue' in v) return (v.arrayValue?.values ?? []).map(anyValue);
  if ('kvlistValue' in v) return attributes(v.kvlistValue?.values);
  if ('bytesValue' in v) return v.bytesValue;
  return null;
}

export function attributes(list: any[] | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of list ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}

const MAX_BODY = 16 * 1024 * 1024;

function decodeSpans(body: any): CapturedSpan[] {
  const out: CapturedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      const scope = {
        name: ss.scope?.name,
        version: ss.scope?.version,
        attributes: attributes(ss.scope?.attributes),
      };
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          name: s.name,
          kind: s.kind,
          startTimeUnixNano: String(s.startTimeUnixNano),
          endTimeUnixNano: String(s.endTimeUnixNano),
          flags: s.flags,
          traceState: s.traceState || undefined,
          status: s.status ?? {},
          attributes: attributes(s.attributes),
          resource,
          scope,
          events: (s.events ?? []).map((e: any) => ({ name: e.name, attributes: attributes(e.attributes) })),
        });
      }
    }
  }
  return out;
}

function decodeLogs(body: any): CapturedLog[] {
  const out: CapturedLog[] = [];
  for (const rl of body.resourceLogs ?? []) {
    const resource = attributes(rl.resource?.attributes);
    for (const sl of rl.scopeLogs ?? []) {
      for (const l of sl.logRecords ?? []) {
        out.push({
          timeUnixNano: String(l.timeUnixNano),
          severityNumber: l.severityNumber,
          severityText: l.severityText,
          eventName: l.eventName,
          body: anyValue(l.body),
          traceId: l.traceId,
          spanId: l.spanId,
          attributes: attributes(l.attributes),
          resource,
        });
      }
    }
  }
  return out;
}

function decodeHistograms(body: any): CapturedHistogramPoint[] {
  const out: CapturedHistogramPoint[] = [];
  for (const rm of body.resourceMetrics ?? []) {
    const resource = attributes(rm.resource?.attributes);
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        for (const p of m.histogram?.dataPoints ?? []) {
          out.push({
            name: m.name,
            unit: m.unit,
            attributes: attributes(p.attributes),
            count: Number(p.count),
            sum: p.sum,
            bucketCounts: (p.bucketCounts ?? []).map(Number),
            explicitBounds: p.explicitBounds ?? [],
            resource,
          });
        }
      }
    }
  }
  return out;
}

export async function startOtlpCapture(options: { dedupe?: boolean } = {}): Promise<OtlpCapture> {
  const seenBatches = new Set<string>();
  let spanCount = 0;
  // each request's body decoded once, on first read (tests poll spans() while a run is going)
  const decoded = new WeakMap<CapturedRequest, unknown[]>();
  const read = <T>(signal: string, decode: (body: any) => T[]): T[] =>
    capture.requests
      .filter((r) => r.signal === signal && r.accepted)
      .flatMap((r) => {
        let items = decoded.get(r) as T[] | undefined;
        if (!items) {
          items = decode(r.body);
          decoded.set(r, items);
        }
        return items;
      });
  const capture: OtlpCapture = {
    url: '',
    requests: [],
    inFlight: 0,
    maxInFlight: 0,
    spans: () => read('traces', decodeSpans),
    spanCount: () => spanCount,
    logs: () => read('logs', decodeLogs),
    histograms: () => read('metrics', decodeHistograms),
    histogram(name, match = {}) {
      const found = capture
        .histograms()
        .filter((h) => h.name === name && Object.entries(match).every(([k, v]) => h.attributes[k] === v));
      return found[found.length - 1];
    },
    async waitFor(predicate, timeoutMs = 10_000) {
      await waitFor(predicate, timeoutMs);
    },
    close: () =>
      new Promise<void>((resolve) => {
        // exporters keep connections alive: without this, close() would wait for their idle timeout
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };

  const server = http.createServer((req, res) => {
    capture.inFlight++;
    capture.maxInFlight = Math.max(capture.maxInFlight, capture.inFlight);
    res.on('close', () => capture.inFlight--);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      const signal = /^\/v1\/(traces|logs|metrics)$/.exec(req.url ?? '')?.[1];
      const send = (status: number, text = '{}', headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(text);
      };
      if (req.method !== 'POST' || !signal) return send(404, '{"message":"not found"}');
      if (size > MAX_BODY) return send(413, '{"message":"body too large"}');
      let raw = Buffer.concat(chunks);
      let body: any;
      try {
        if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
        body = JSON.parse(raw.toString('utf8'));
      } catch (e) {
        return send(400, JSON.stringify({ message: `invalid OTLP/JSON: ${(e as Error).message}` }));
      }
      const batch = req.headers['x-mp-otel-batch'];
      const duplicate = options.dedupe !== false && typeof batch === 'string' && seenBatches.has(batch);
      const entry: CapturedRequest = {
        signal,
        headers: req.headers,
        body,
        accepted: !duplicate,
        at: Date.now(),
      };
      const index = capture.requests.length;
      const reply = capture.reply?.(entry, index);
      const stored = !reply || (reply.status >= 200 && reply.status < 300) || reply.store === true;
      if (!stored) entry.accepted = false;
      if (entry.accepted && typeof batch === 'string') seenBatches.add(batch);
      if (entry.accepted && signal === 'traces') {
        for (const rs of body.resourceSpans ?? [])
          for (const ss of rs.scopeSpans ?? []) spanCount += ss.spans?.length ?? 0;
      }
      capture.requests.push(entry);
      const answer = () => send(reply?.status ?? 200, '{}', reply?.headers);
      if (reply?.delayMs) setTimeout(answer, reply.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  capture.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return capture;
}
