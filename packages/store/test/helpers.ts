import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { ClickHouseClient } from '@clickhouse/client';
import { decodeJson, type Embedded, type EmbeddedOptions, requestType, startEmbedded } from '../src/index.js';
import { encodeTraceRow, Writer } from '../src/otlp/rowbinary.js';
import type { Row } from '../src/otlp/rows.js';

export async function embedded(opts: EmbeddedOptions = {}): Promise<Embedded & { dispose(): Promise<void> }> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'mp-otel-test-'));
  const emb = await startEmbedded({ otlpPort: 0, httpPort: 0, log: () => {}, geo: false, ...opts, dataDir });
  return Object.assign(emb, {
    dispose: async () => {
      await emb.close();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

export async function post(
  url: string,
  body: Uint8Array | string,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string; headers: Headers }> {
  // (the bodies here — protobufjs output, Buffers — are never backed by a SharedArrayBuffer)
  const res = await fetch(url, { method: 'POST', body: body as Uint8Array<ArrayBuffer> | string, headers });
  const buf = Buffer.from(await res.arrayBuffer());
  return { status: res.status, text: buf.toString('utf8'), headers: res.headers };
}

export const gzip = (s: string | Uint8Array) => gzipSync(typeof s === 'string' ? Buffer.from(s) : s);

export const nowNs = () => BigInt(Date.now()) * 1_000_000n;

export const kv = (key: string, value: unknown) => ({ key, value });
export const str = (s: string) => ({ stringValue: s });
export const int = (n: number | string) => ({ intValue: String(n) });
export const dbl = (n: number) => ({ doubleValue: n });

/** One OTLP/JSON trace request with the given spans under one resource. */
export function tracesJson(
  resource: Record<string, string>,
  spans: Record<string, unknown>[],
  scope = { name: 'test', version: '1' },
) {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: Object.entries(resource).map(([k, v]) => kv(k, str(v))) },
        scopeSpans: [{ scope, spans }],
      },
    ],
  });
}

let seq = 0;
export function hexId(bytes: number): string {
  seq++;
  return (seq.toString(16) + Math.random().toString(16).slice(2) + '0'.repeat(40)).slice(0, bytes * 2);
}

/** An OTLP/protobuf traces request: `n` SERVER spans of `service`, each with its own ids, dated now. */
export function protobufTraces(service: string, n: number): Uint8Array {
  const t = nowNs();
  const spans = Array.from({ length: n }, (_, i) => ({
    traceId: hexId(16),
    spanId: hexId(8),
    name: `s${i}`,
    kind: 2,
    startTimeUnixNano: String(t),
    endTimeUnixNano: String(t + 1000n),
  }));
  return requestType('traces')
    .encode(decodeJson('traces', Buffer.from(tracesJson({ 'service.name': service }, spans))))
    .finish();
}

/** Spans stored for one service. */
export async function spanCount(client: ClickHouseClient, service: string): Promise<number> {
  const rs = await client.query({
    query: 'SELECT count() AS n FROM otel_traces WHERE ServiceName = {s:String}',
    query_params: { s: service },
    format: 'JSONEachRow',
  });
  return Number((await rs.json<{ n: string }>())[0]?.n);
}

/** A protobuf base-128 varint, for messages built by hand on the wire. */
export function varint(v: number): Buffer {
  const out: number[] = [];
  while (v > 127) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** An otel_traces row object (rows.ts shape) for RowBinary tests; `attrs.event` adds one exception event. */
export const traceRow = (
  service: string,
  span: string,
  ns: bigint,
  attrs: Record<string, string> = {},
): Row => ({
  Timestamp: `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`,
  TraceId: 'a'.repeat(32),
  SpanId: 'b'.repeat(16),
  ParentSpanId: '',
  TraceState: '',
  SpanName: span,
  SpanKind: 'Client',
  ServiceName: service,
  ResourceAttributes: { 'service.name': service },
  ScopeName: 'mp-otel',
  ScopeVersion: '',
  SpanAttributes: attrs,
  Duration: '5000000',
  StatusCode: 'Unset',
  StatusMessage: '',
  'Events.Timestamp': attrs.event ? ['1780000000.000000001'] : [],
  'Events.Name': attrs.event ? ['exception'] : [],
  'Events.Attributes': attrs.event ? [{ 'exception.type': attrs.event }] : [],
  'Links.TraceId': [],
  'Links.SpanId': [],
  'Links.TraceState': [],
  'Links.Attributes': [],
});

/** Rows as one RowBinary buffer (TRACE_COLUMNS layout). */
export const encodeRows = (rows: Row[]): Buffer => {
  const w = new Writer(1024);
  for (const r of rows) encodeTraceRow(w, r);
  return Buffer.from(w.take());
};
