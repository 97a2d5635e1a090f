// The receiver's conversion thread: trace requests are checked and converted to otel_traces RowBinary here
// (convert.ts, the code the main thread runs without a thread), off the main thread, whose event loop then
// stays free for the HTTP traffic — the dashboards' queries to the ClickHouse endpoint included. The
// outcomes go back as replies (convert-protocol.ts).
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { convertTraces } from './convert.js';
import {
  CONVERT_NICE,
  type ConvertReply,
  type ConvertRequest,
  kindOf,
  transferable,
} from './convert-protocol.js';
import { rowContext } from './rows.js';

try {
  setPriority(0, CONVERT_NICE); // pid 0: this thread (Linux applies nice per thread)
} catch {
  // not permitted here: the thread keeps the process's priority
}

function convert(m: ConvertRequest): { reply: ConvertReply; transfer: ArrayBuffer[] } {
  const base = { id: m.id, body: m.body };
  const ctx = rowContext({ enrich: m.enrich, window: m.window, maxBytes: m.maxBytes });
  try {
    const { out, rows, marks } = convertTraces(Buffer.from(m.body), m.json, ctx, m.limits);
    const rowbinary = transferable(out.buf, out.pos);
    const rowMarks = marks.take();
    const reply: ConvertReply = {
      ...base,
      kind: 'rows',
      rowbinary,
      length: out.pos,
      marks: rowMarks,
      rows,
      bytes: ctx.bytes,
      rejected: ctx.rejected,
      rejectedMin: ctx.rejectedMin,
      rejectedMax: ctx.rejectedMax,
    };
    return { reply, transfer: [m.body, rowbinary, rowMarks.buffer as ArrayBuffer] };
  } catch (e) {
    return { reply: { ...base, kind: kindOf(e), message: (e as Error).message }, transfer: [m.body] };
  }
}

parentPort?.on('message', (m: ConvertRequest) => {
  const { reply, transfer } = convert(m);
  parentPort?.postMessage(reply, transfer);
});
