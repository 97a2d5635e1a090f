// The receiver's conversion thread: trace requests are checked and converted to otel_traces RowBinary here
// (convert.ts, the code the main thread runs without a thread), off the main thread, whose event loop then
// stays free for the HTTP traffic — the dashboards' queries to the ClickHouse endpoint included. The
// outcomes go back as replies (convert-protocol.ts).
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { convertTraces } from './convert.js';
import { CONVERT_NICE, type ConvertReply, type ConvertRequest, kindOf } from './convert-protocol.js';
import { Writer } from './rowbinary.js';
import { rowContext } from './rows.js';

try {
  setPriority(0, CONVERT_NICE); // pid 0: this thread (Linux applies nice per thread)
} catch {
  // not permitted here: the thread keeps the process's priority
}

/** the slots' buffers this thread was given (body-slots.ts), by slot number */
const slots = new Map<number, Buffer>();
/** the rows of every request are written here, then copied out at their size: one allocation a request */
const rowsOut = new Writer(1024 * 1024);
/** a Writer grown past this by a large request is not kept */
const KEEP_WRITER_BYTES = 8 * 1024 * 1024;

function bodyOf(m: ConvertRequest): Buffer {
  if (m.body) return Buffer.from(m.body);
  if (m.sab && m.slot !== undefined) slots.set(m.slot, Buffer.from(m.sab));
  const slot = m.slot === undefined ? undefined : slots.get(m.slot);
  if (!slot) throw new Error(`conversion thread: no body slot ${m.slot}`);
  return slot.subarray(0, m.length ?? 0);
}

function convert(m: ConvertRequest): { reply: ConvertReply; transfer: ArrayBuffer[] } {
  const base = m.body ? { id: m.id, body: m.body } : { id: m.id };
  const back = m.body ? [m.body] : [];
  const ctx = rowContext({ enrich: m.enrich, window: m.window, maxBytes: m.maxBytes });
  try {
    const { out, rows, marks } = convertTraces(bodyOf(m), m.json, ctx, m.limits, rowsOut);
    const rowbinary = new Uint8Array(out.pos);
    rowbinary.set(out.buf.subarray(0, out.pos));
    if (out.buf.length > KEEP_WRITER_BYTES) out.buf = Buffer.allocUnsafeSlow(1024 * 1024);
    const rowMarks = marks.take();
    const reply: ConvertReply = {
      ...base,
      kind: 'rows',
      rowbinary: rowbinary.buffer,
      length: out.pos,
      marks: rowMarks,
      rows,
      bytes: ctx.bytes,
      rejected: ctx.rejected,
      rejectedMin: ctx.rejectedMin,
      rejectedMax: ctx.rejectedMax,
    };
    return { reply, transfer: [...back, rowbinary.buffer, rowMarks.buffer as ArrayBuffer] };
  } catch (e) {
    return { reply: { ...base, kind: kindOf(e), message: (e as Error).message }, transfer: back };
  }
}

parentPort?.on('message', (m: ConvertRequest) => {
  const { reply, transfer } = convert(m);
  parentPort?.postMessage(reply, transfer);
});
