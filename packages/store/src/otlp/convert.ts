// One trace request's checks and fast conversion to otel_traces RowBinary: what the receiver runs, on its
// conversion thread (convert-worker.ts) or, without one, on its main thread. Protobuf: the prescan (depth,
// sub-messages, items), then the wire path (wire-traces.ts). OTLP/JSON: parsed within its bounds and its
// items counted, then the document path (json-traces.ts). Throws Fallback once the checks have passed but the
// fast path hands the request to the object path, else the checks' 400/413 errors. The rows come with their
// marks (sort-rows.ts), for the segment sort. `into`, when given, is reused for the rows (the conversion
// thread keeps one, so no buffer is allocated a request).
import { jsonTraceRows } from './json-traces.js';
import { countItems, type ScanLimits, scanProtobuf, tooManyItems } from './prescan.js';
import { parseJsonBody } from './proto.js';
import { Writer } from './rowbinary.js';
import type { RowContext } from './rows.js';
import { RowMarks } from './sort-rows.js';
import { wireTraceRows } from './wire-traces.js';

export function convertTraces(
  body: Buffer,
  json: boolean,
  ctx: RowContext,
  limits: ScanLimits,
  into?: Writer,
): { out: Writer; rows: number; marks: RowMarks } {
  const writer = (size: number) => {
    if (!into) return new Writer(size);
    into.pos = 0;
    if (into.buf.length < size) into.buf = Buffer.allocUnsafeSlow(size);
    return into;
  };
  if (json) {
    const doc = parseJsonBody(body, limits);
    const n = countItems('traces', doc);
    if (n > limits.maxItems) throw tooManyItems('traces', limits.maxItems, n);
    const out = writer(Math.min(64 * 1024 * 1024, body.length + 1024));
    const marks = new RowMarks();
    return { out, rows: jsonTraceRows(doc, ctx, out, marks), marks };
  }
  scanProtobuf('traces', body, limits);
  const out = writer(Math.min(64 * 1024 * 1024, body.length * 2 + 1024));
  const marks = new RowMarks();
  return { out, rows: wireTraceRows(body, ctx, out, marks), marks };
}
