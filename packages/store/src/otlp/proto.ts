// OTLP request decoding with protobufjs and the official opentelemetry-proto definitions (vendored in
// ../proto from open-telemetry/opentelemetry-proto v1.9.0, Apache-2.0). Protobuf bodies are decoded with
// Type.decode; JSON bodies follow the OTLP/JSON mapping (lowerCamelCase keys, hex trace/span ids, enums
// as integers, 64-bit integers as strings or numbers) and are converted with Type.fromObject after the
// hex ids are turned into bytes, so that both encodings produce the same message objects.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
// (a cycle: prescan.ts uses requestType and the error classes, only when called)
import { checkSurrogates, scanJson } from './prescan.js';

export type Signal = 'traces' | 'logs' | 'metrics';

const here = dirname(fileURLToPath(import.meta.url));

function protoDir(): string {
  for (const c of [resolve(here, '../../proto'), resolve(here, '../proto')]) {
    if (existsSync(resolve(c, 'opentelemetry/proto/common/v1/common.proto'))) return c;
  }
  throw new Error('opentelemetry-proto definitions not found');
}

let root: protobuf.Root | undefined;

function getRoot(): protobuf.Root {
  if (root) return root;
  const dir = protoDir();
  const r = new protobuf.Root();
  r.resolvePath = (_origin, target) => resolve(dir, target);
  r.loadSync(
    [
      'opentelemetry/proto/collector/trace/v1/trace_service.proto',
      'opentelemetry/proto/collector/logs/v1/logs_service.proto',
      'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
    ],
    { keepCase: false },
  );
  r.resolveAll();
  root = r;
  return r;
}

const REQUEST: Record<Signal, string> = {
  traces: 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest',
  logs: 'opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest',
  metrics: 'opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest',
};
const RESPONSE: Record<Signal, string> = {
  traces: 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse',
  logs: 'opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse',
  metrics: 'opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse',
};

export const requestType = (s: Signal): protobuf.Type => getRoot().lookupType(REQUEST[s]);
export const responseType = (s: Signal): protobuf.Type => getRoot().lookupType(RESPONSE[s]);

/** A request that cannot be decoded: the receiver answers 400 with this message. */
export class BadRequestError extends Error {}

/** A request over one of the per-request bounds: the receiver answers 413 with this message (how to split). */
export class RequestTooLargeError extends Error {}

export function decodeProtobuf(signal: Signal, body: Uint8Array): protobuf.Message {
  try {
    return requestType(signal).decode(body);
  } catch (err) {
    throw new BadRequestError(
      `malformed protobuf ${REQUEST[signal].split('.').pop()}: ${(err as Error).message}`,
    );
  }
}

const HEX_ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId', 'trace_id', 'span_id', 'parent_span_id']);

/** OTLP/JSON encodes trace/span ids as hex; protobuf JSON (fromObject) expects base64. Convert in place. */
function convertIds(node: unknown, path: string): void {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) convertIds(node[i], `${path}[${i}]`);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const obj = node as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    const v = obj[key];
    if (HEX_ID_FIELDS.has(key)) {
      if (v === undefined || v === null || v === '') {
        delete obj[key];
        continue;
      }
      if (typeof v !== 'string' || !/^[0-9a-fA-F]*$/.test(v)) {
        throw new BadRequestError(`${path}.${key}: expected a hex string`);
      }
      const want = key.startsWith('trace') ? 32 : 16;
      if (v.length !== want)
        throw new BadRequestError(
          `${path}.${key}: invalid length for ID (${v.length} hex digits, want ${want})`,
        );
      obj[key] = Buffer.from(v, 'hex').toString('base64');
    } else if (typeof v === 'object') {
      convertIds(v, `${path}.${key}`);
    }
  }
}

/** Depth and node bounds checked before JSON.parse (see prescan.ts); without them only the parse bounds it. */
export interface JsonBounds {
  maxDepth: number;
  maxNodes: number;
}

export function decodeJson(signal: Signal, body: Uint8Array, bounds?: JsonBounds): protobuf.Message {
  return messageFromJson(signal, parseJsonBody(body, bounds));
}

/** The body's JSON document (bounds checked before parsing, lone surrogates refused), not yet OTLP-checked. */
export function parseJsonBody(body: Uint8Array, bounds?: JsonBounds): Record<string, unknown> {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const surrogates = bounds ? scanJson(buf, bounds) : true;
  let doc: unknown;
  try {
    doc = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new BadRequestError(`malformed JSON: ${(err as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new BadRequestError('malformed OTLP/JSON: the body must be a JSON object');
  }
  if (surrogates) checkSurrogates(doc);
  return doc as Record<string, unknown>;
}

/** OTLP/JSON document → the protobufjs message (ids converted in place: the document is consumed). */
export function messageFromJson(signal: Signal, doc: Record<string, unknown>): protobuf.Message {
  try {
    convertIds(doc, '$');
  } catch (e) {
    if (e instanceof RangeError) throw new BadRequestError('malformed OTLP/JSON: nested too deeply');
    throw e;
  }
  const type = requestType(signal);
  let err: string | null;
  try {
    err = type.verify(fromJsonShape(type, doc) as Record<string, unknown>);
  } catch (e) {
    if (e instanceof RangeError) throw new BadRequestError('malformed OTLP/JSON: nested too deeply');
    throw e;
  }
  if (err) throw new BadRequestError(`malformed OTLP/JSON: ${err}`);
  try {
    return type.fromObject(doc as Record<string, unknown>);
  } catch (e) {
    throw new BadRequestError(`malformed OTLP/JSON: ${(e as Error).message}`);
  }
}

/**
 * verify() expects the message's own shapes (bytes as Uint8Array, longs as numbers/Longs, enums as
 * numbers); JSON carries base64 strings, decimal strings and (rarely) enum names. This converts a copy
 * far enough for verify() to check the structure (arrays, objects, numbers) with JSON's leniencies.
 */
function fromJsonShape(type: protobuf.Type, obj: unknown): unknown {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return obj;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    const field = type.fields[k];
    if (!field) {
      out[k] = v;
      continue;
    }
    const conv = (x: unknown): unknown => {
      if (field.resolvedType instanceof protobuf.Type) return fromJsonShape(field.resolvedType, x);
      if (field.resolvedType instanceof protobuf.Enum) {
        return typeof x === 'string' && x in field.resolvedType.values ? field.resolvedType.values[x] : x;
      }
      if (field.type === 'bytes' && typeof x === 'string') return new Uint8Array(0);
      if (/^(u?int64|s?fixed64|sint64)$/.test(field.type) && typeof x === 'string' && /^-?\d+$/.test(x))
        return 0;
      if (
        (field.type === 'double' || field.type === 'float') &&
        typeof x === 'string' &&
        /^(-?Infinity|NaN)$/.test(x)
      )
        return 0;
      return x;
    };
    out[k] = field.repeated && Array.isArray(v) ? v.map(conv) : v === null ? undefined : conv(v);
  }
  return out;
}

const REJECTED_FIELD: Record<Signal, string> = {
  traces: 'rejectedSpans',
  logs: 'rejectedLogRecords',
  metrics: 'rejectedDataPoints',
};

/**
 * Export<Signal>ServiceResponse: empty, or with partial_success { rejected_<items>, error_message } when
 * some items were not accepted (OTLP: the client must not retry them).
 */
export function encodeResponse(
  signal: Signal,
  json: boolean,
  partial?: { rejected: number; message: string },
): Uint8Array {
  const ps = partial && partial.rejected > 0 ? partial : undefined;
  if (json) {
    if (!ps) return Buffer.from('{}');
    return Buffer.from(
      JSON.stringify({
        partialSuccess: { [REJECTED_FIELD[signal]]: String(ps.rejected), errorMessage: ps.message },
      }),
    );
  }
  const T = responseType(signal);
  const body = ps
    ? { partialSuccess: { [REJECTED_FIELD[signal]]: ps.rejected, errorMessage: ps.message } }
    : {};
  return T.encode(T.fromObject(body)).finish();
}

/** google.rpc.Status {code=1, message=2} as protobuf (hand-encoded) or JSON. */
export function encodeStatus(code: number, message: string, json: boolean): Uint8Array {
  if (json) return Buffer.from(JSON.stringify({ code, message }));
  const w = protobuf.Writer.create();
  w.uint32(8).int32(code);
  w.uint32(18).string(message);
  return w.finish();
}
