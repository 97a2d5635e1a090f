// The receiver's conversion thread: trace requests are checked (protobuf: prescan.ts; OTLP/JSON: parsed
// within its bounds, items counted) and converted to otel_traces RowBinary (wire-traces.ts, json-traces.ts)
// here, off the main thread, whose event loop then stays free for the
// HTTP traffic — the dashboards' queries to the ClickHouse endpoint included. It runs exactly the code the
// main thread would run, in the same order, and hands back the same outcomes (convert-protocol.ts).
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { CONVERT_NICE, type ConvertReply, type ConvertRequest, kindOf } from './convert-protocol.js';
import { jsonTraceRows } from './json-traces.js';
import { countItems, scanProtobuf, tooManyItems } from './prescan.js';
import { parseJsonBody } from './proto.js';
import { Writer } from './rowbinary.js';
import { rowContext } from './rows.js';
import { wireTraceRows } from './wire-traces.js';

try {
  setPriority(0, CONVERT_NICE); // pid 0: this thread (Linux applies nice per thread)
} catch {
  // not permitted here: the thread keeps the process's priority
}

/**
 * The Writer's allocation when it is its own (then it is transferred, slack included), else a copy of the
 * rows: a small buffer is a slice of Node's shared pool, which must never be transferred.
 */
function own(out: Writer): { ab: ArrayBuffer; length: number } {
  const b = out.buf;
  if (b.byteOffset === 0 && b.buffer instanceof ArrayBuffer && b.buffer.byteLength === b.length)
    return { ab: b.buffer, length: out.pos };
  const copy = new Uint8Array(out.pos);
  copy.set(b.subarray(0, out.pos));
  return { ab: copy.buffer, length: out.pos };
}

function convert(m: ConvertRequest): { reply: ConvertReply; transfer: ArrayBuffer[] } {
  const body = Buffer.from(m.body);
  const base = { id: m.id, body: m.body };
  const ctx = rowContext({ enrich: m.enrich, window: m.window, maxBytes: m.maxBytes });
  try {
    let rows: number;
    let out: Writer;
    if (m.json) {
      const doc = parseJsonBody(body, m.limits);
      const n = countItems('traces', doc);
      if (n > m.limits.maxItems) throw tooManyItems('traces', m.limits.maxItems, n);
      out = new Writer(Math.min(64 * 1024 * 1024, body.length + 1024));
      rows = jsonTraceRows(doc, ctx, out);
    } else {
      scanProtobuf('traces', body, m.limits);
      out = new Writer(Math.min(64 * 1024 * 1024, body.length * 2 + 1024));
      rows = wireTraceRows(body, ctx, out);
    }
    const { ab, length } = own(out);
    const reply: ConvertReply = {
      ...base,
      kind: 'rows',
      rowbinary: ab,
      length,
      rows,
      bytes: ctx.bytes,
      rejected: ctx.rejected,
      rejectedMin: ctx.rejectedMin,
      rejectedMax: ctx.rejectedMax,
    };
    return { reply, transfer: [m.body, ab] };
  } catch (e) {
    const kind = kindOf(e);
    return { reply: { ...base, kind, message: (e as Error).message }, transfer: [m.body] };
  }
}

parentPort?.on('message', (m: ConvertRequest) => {
  const { reply, transfer } = convert(m);
  parentPort?.postMessage(reply, transfer);
});
