// The messages between the receiver and its conversion thread (convert-worker.ts): one request's body in,
// its otel_traces RowBinary or the reason it has none out. The body is in a shared slot (body-slots.ts) or
// transferred (and transferred back); the rows are transferred (no copy).
import { BadRequestError, RequestTooLargeError } from './proto.js';
import type { Enrichment } from './rows.js';
import { Fallback } from './wire-traces.js';

export interface ConvertRequest {
  id: number;
  /** the request body (an ExportTraceServiceRequest, protobuf or OTLP/JSON), transferred; or, without it, */
  body?: ArrayBuffer;
  /** the body is the first `length` bytes of this shared slot (body-slots.ts) */
  slot?: number;
  length?: number;
  /** the slot's buffer, the first time this thread is given that slot */
  sab?: SharedArrayBuffer;
  json: boolean;
  enrich?: Enrichment;
  window?: { minNs: bigint; maxNs: bigint };
  maxBytes: number;
  limits: { maxDepth: number; maxNodes: number; maxItems: number };
}

/**
 * - rows: converted on the wire path (RowBinary in `rowbinary`, `length` bytes of it used)
 * - fallback: the checks passed (protobuf: the prescan; JSON: parsing, depth and item count), the fast path
 *   handed the request back (the object path decodes it)
 * - bad / large / range: the 400 / 413 / 400 the same checks give on the main thread
 * - error: anything else (an internal error: 500, as on the main thread)
 */
export type ConvertKind = 'rows' | 'fallback' | 'bad' | 'large' | 'range' | 'error';

/** The kind of reply for what the checks and the conversion threw. */
export function kindOf(e: unknown): Exclude<ConvertKind, 'rows'> {
  if (e instanceof Fallback) return 'fallback';
  if (e instanceof BadRequestError) return 'bad';
  if (e instanceof RequestTooLargeError) return 'large';
  if (e instanceof RangeError) return 'range';
  return 'error';
}

/** kindOf's inverse: the error the main thread throws for a reply that carries no rows. */
export function errorOf(kind: Exclude<ConvertKind, 'rows'>, message = ''): Error {
  if (kind === 'fallback') return new Fallback(message);
  if (kind === 'bad') return new BadRequestError(message);
  if (kind === 'large') return new RequestTooLargeError(message);
  if (kind === 'range') return new RangeError(message);
  return new Error(message);
}

/**
 * `b`'s bytes as an ArrayBuffer to transfer: `b`'s own allocation when `b` spans all of it, else a copy (a
 * small Buffer is a slice of Node's shared pool, which must never be transferred).
 */
export function transferable(b: Uint8Array): ArrayBuffer {
  if (b.byteOffset === 0 && b.buffer instanceof ArrayBuffer && b.buffer.byteLength === b.length)
    return b.buffer;
  const copy = new Uint8Array(b.length);
  copy.set(b);
  return copy.buffer;
}

export interface ConvertReply {
  id: number;
  kind: ConvertKind;
  /** the body, transferred back (when it came transferred) */
  body?: ArrayBuffer;
  message?: string;
  rowbinary?: ArrayBuffer;
  length?: number;
  /** the rows' RowMarks (sort-rows.ts), three offsets a row */
  marks?: Uint32Array;
  rows?: number;
  bytes?: number;
  rejected?: number;
  rejectedMin?: bigint;
  rejectedMax?: bigint;
}

/**
 * The conversion thread's OS priority (nice): the same as the store's write lane (LANE_NICE.write in
 * chdb-store.ts), below the main thread, which answers the dashboards' queries. Raising one's own nice value
 * needs no privilege.
 */
export const CONVERT_NICE = 5;
