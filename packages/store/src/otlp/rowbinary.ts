// otel_traces rows in ClickHouse's RowBinary format, inserted with
// `INSERT INTO otel_traces (…) SELECT * FROM file('<scratch>', RowBinary, '<structure>')`: the engine reads
// binary columns instead of parsing JSON (JSONEachRow with Map columns cost ~4x INSERT … SELECT here).
// Two producers write the same bytes: rows built as objects (rows.ts: OTLP/JSON, and any request the
// wire path hands back) through `encodeTraceRow`, and the protobuf wire path (wire-traces.ts), which never
// builds the objects. A test checks that both give identical bytes.
import { constants, lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChdbStore } from '../chdb-store.js';
import type { Row } from './rows.js';
import type { SortedRows } from './sort-rows.js';

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');

/** A DataView of exactly a buffer's bytes (reads and writes several bytes a step). */
export const viewOf = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** A growable byte buffer with RowBinary primitives. */
export class Writer {
  buf: Buffer;
  pos = 0;
  constructor(size = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(size);
  }
  need(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  varint(v: number): void {
    this.need(10);
    while (v > 127) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }
  /** A JS string as a RowBinary String (varint byte length + UTF-8). */
  str(s: string): void {
    const n = s.length;
    if (n < 128) {
      // short strings: ASCII written here (a native write costs more than the loop)
      this.need(n + 1);
      const b = this.buf;
      let p = this.pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c > 0x7f) break;
        b[p++] = c;
      }
      if (i === n) {
        b[this.pos] = n;
        this.pos = p;
        return;
      }
    }
    const len = Buffer.byteLength(s, 'utf8');
    this.varint(len);
    this.need(len);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }
  /** Raw UTF-8 bytes as a RowBinary String. */
  bytes(b: Buffer, start: number, end: number): void {
    const len = end - start;
    if (len < 48) {
      // short strings (most keys and values): a one-byte length and a copy loop, with no native call
      this.need(len + 1);
      const o = this.buf;
      let p = this.pos;
      o[p++] = len;
      for (let i = start; i < end; i++) o[p++] = b[i] as number;
      this.pos = p;
      return;
    }
    this.varint(len);
    this.need(len);
    b.copy(this.buf, this.pos, start, end);
    this.pos += len;
  }
  /** bytes() for a body also seen through a DataView (`bv`): short strings copied four bytes a step. */
  bytesVia(b: Buffer, bv: DataView, start: number, end: number): void {
    const len = end - start;
    if (len >= 48) {
      this.bytes(b, start, end);
      return;
    }
    this.need(len + 1);
    if (this.viewed !== this.buf) {
      // buf is replaced when it grows, and by callers that reuse a Writer: the view follows it
      this.viewed = this.buf;
      this.view = viewOf(this.buf);
    }
    const o = this.buf;
    const ov = this.view as DataView;
    let p = this.pos;
    o[p++] = len;
    let i = start;
    for (; i + 4 <= end; i += 4, p += 4) ov.setUint32(p, bv.getUint32(i));
    for (; i < end; i++) o[p++] = b[i] as number;
    this.pos = p;
  }
  /** Bytes already in RowBinary (a string encoded once, written on many rows). */
  raw(bin: Uint8Array): void {
    const n = bin.length;
    this.need(n);
    if (n < 64) {
      const o = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) o[p++] = bin[i] as number;
      this.pos = p;
      return;
    }
    this.buf.set(bin, this.pos);
    this.pos += n;
  }
  private viewed: Buffer | undefined;
  private view: DataView | undefined;
  /** `n` bytes of `b` from `start` as a lowercase hex String; '' when start is -1. */
  hexId(b: Buffer, start: number, n: number): void {
    if (start < 0) {
      this.need(1);
      this.buf[this.pos++] = 0;
      return;
    }
    this.varint(2 * n);
    this.need(2 * n);
    const o = this.buf;
    let p = this.pos;
    for (let i = start; i < start + n; i++) {
      const x = b[i] as number;
      o[p++] = HEX_DIGITS[x >>> 4] as number;
      o[p++] = HEX_DIGITS[x & 15] as number;
    }
    this.pos = p;
  }
  /** 8 little-endian bytes from two uint32 halves. */
  u64parts(lo: number, hi: number): void {
    this.need(8);
    this.buf.writeUInt32LE(lo >>> 0, this.pos);
    this.buf.writeUInt32LE(hi >>> 0, this.pos + 4);
    this.pos += 8;
  }
  u64(v: bigint): void {
    this.need(8);
    this.buf.writeBigUInt64LE(v, this.pos);
    this.pos += 8;
  }
  /** Unix ns as DateTime64(9) (Int64), clamped to 0 .. 2^63-1 like nanosToDateTime64. */
  ns(v: bigint): void {
    this.need(8);
    this.buf.writeBigInt64LE(v < 0n ? 0n : v > MAX_NANOS ? MAX_NANOS : v, this.pos);
    this.pos += 8;
  }
  map(m: Record<string, string>): void {
    const keys = Object.keys(m);
    this.varint(keys.length);
    for (const k of keys) {
      this.str(k);
      this.str(m[k] as string);
    }
  }
  take(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

export const MAX_NANOS = 9_223_372_036_854_775_807n;

export const TRACE_COLUMNS = [
  ['Timestamp', 'DateTime64(9)'],
  ['TraceId', 'String'],
  ['SpanId', 'String'],
  ['ParentSpanId', 'String'],
  ['TraceState', 'String'],
  ['SpanName', 'String'],
  ['SpanKind', 'String'],
  ['ServiceName', 'String'],
  ['ResourceAttributes', 'Map(String, String)'],
  ['ScopeName', 'String'],
  ['ScopeVersion', 'String'],
  ['SpanAttributes', 'Map(String, String)'],
  ['Duration', 'UInt64'],
  ['StatusCode', 'String'],
  ['StatusMessage', 'String'],
  ['Events.Timestamp', 'Array(DateTime64(9))'],
  ['Events.Name', 'Array(String)'],
  ['Events.Attributes', 'Array(Map(String, String))'],
  ['Links.TraceId', 'Array(String)'],
  ['Links.SpanId', 'Array(String)'],
  ['Links.TraceState', 'Array(String)'],
  ['Links.Attributes', 'Array(Map(String, String))'],
] as const;

const dt64 = (s: string): bigint => {
  const dot = s.indexOf('.');
  return BigInt(s.slice(0, dot)) * 1_000_000_000n + BigInt(s.slice(dot + 1));
};

/** One row of rows.ts's traceRows() as RowBinary, columns in TRACE_COLUMNS order. */
export function encodeTraceRow(w: Writer, r: Row): void {
  w.ns(dt64(r.Timestamp as string));
  w.str(r.TraceId as string);
  w.str(r.SpanId as string);
  w.str(r.ParentSpanId as string);
  w.str(r.TraceState as string);
  w.str(r.SpanName as string);
  w.str(r.SpanKind as string);
  w.str(r.ServiceName as string);
  w.map(r.ResourceAttributes as Record<string, string>);
  w.str(r.ScopeName as string);
  w.str(r.ScopeVersion as string);
  w.map(r.SpanAttributes as Record<string, string>);
  w.u64(BigInt(r.Duration as string));
  w.str(r.StatusCode as string);
  w.str(r.StatusMessage as string);
  const et = r['Events.Timestamp'] as string[];
  w.varint(et.length);
  for (const t of et) w.ns(dt64(t));
  const strs = (a: string[]) => {
    w.varint(a.length);
    for (const s of a) w.str(s);
  };
  const maps = (a: Record<string, string>[]) => {
    w.varint(a.length);
    for (const m of a) w.map(m);
  };
  strs(r['Events.Name'] as string[]);
  maps(r['Events.Attributes'] as Record<string, string>[]);
  strs(r['Links.TraceId'] as string[]);
  strs(r['Links.SpanId'] as string[]);
  strs(r['Links.TraceState'] as string[]);
  maps(r['Links.Attributes'] as Record<string, string>[]);
}

/** RowBinary payload for one table: bytes and the row count. */
export interface Binary {
  rowbinary: Buffer;
  rows: number;
  /** where the rows and their sort keys are (sort-rows.ts RowMarks), when the converter recorded them */
  marks?: Uint32Array;
}

export const isBinary = (x: unknown): x is Binary =>
  typeof x === 'object' && x !== null && (x as Binary).rowbinary instanceof Buffer;

const COLUMNS: Record<string, readonly (readonly [string, string])[]> = { otel_traces: TRACE_COLUMNS };

export const binaryTable = (table: string): boolean => table in COLUMNS;

let scratch: string | undefined;
let seq = 0;
/** scratch files not in use: overwritten by the next insert (a new file costs ~4x: pages allocated, then freed) */
const spare: string[] = [];

/**
 * Writes chunks over a file from its start, many at a time (writev: the kernel gathers them, nothing is
 * concatenated), and cuts the file to what was written. The writes run on libuv's thread pool, not the
 * event loop (a segment's file is tens of MB: ~20–40 ms of copying here).
 */
export async function writeChunks(file: string, chunks: readonly Buffer[]): Promise<void> {
  const fh = await open(file, constants.O_WRONLY | constants.O_CREAT, 0o600);
  try {
    let pos = 0;
    for (let i = 0; i < chunks.length; i += 1024) {
      const group = chunks.slice(i, i + 1024);
      const want = group.reduce((n, c) => n + c.length, 0);
      const { bytesWritten } = await fh.writev(group, pos);
      pos += bytesWritten;
      // a short write (a signal, a nearly full disk): the rest of the group until it is all written; a full
      // disk throws from write
      let rest = bytesWritten < want ? Buffer.concat(group).subarray(bytesWritten) : undefined;
      while (rest?.length) {
        const { bytesWritten: n } = await fh.write(rest, 0, rest.length, pos);
        pos += n;
        rest = rest.subarray(n);
      }
    }
    await fh.truncate(pos);
  } finally {
    await fh.close();
  }
}

/** RowBinary chunks written to a scratch file, for insertRowBinaryFile. */
export interface Scratch {
  file: string;
  /** once the file is inserted (`reusable`: kept for a later scratch) or failed (removed) */
  release(reusable: boolean): void;
}

/**
 * Removes the scratch directories (and their spare files, up to a segment each) of processes that are gone:
 * a process killed without running its exit handler (kill -9, a test runner stopping its workers) leaves
 * its own. Only this user's directories named by a pid no longer running, and untouched for `minAgeMs`, are
 * removed (a live pid, another user's directory or a symlink is left alone; the age guards a process whose
 * pid this one cannot see, in another pid namespace sharing /tmp; a failure to remove is ignored: the next
 * sweep tries again).
 */
export function sweepScratchDirs(parent = tmpdir(), minAgeMs = 60 * 60 * 1000): number {
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return 0;
  }
  for (const name of names) {
    const m = /^mp-otel-rowbinary-(\d+)(-[A-Za-z0-9]+)?$/.exec(name);
    const pid = Number(m?.[1]);
    if (!m || pid === process.pid || running(pid)) continue;
    const path = join(parent, name);
    try {
      const st = lstatSync(path);
      if (!st.isDirectory() || st.uid !== process.getuid?.()) continue;
      let touched = st.mtimeMs;
      for (const f of readdirSync(path)) touched = Math.max(touched, lstatSync(join(path, f)).mtimeMs);
      if (Date.now() - touched < minAgeMs) continue;
      rmSync(path, { recursive: true, force: true });
      removed++;
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
  return removed;
}

/** Whether a process with this pid exists (EPERM: it does, another user's). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Writes RowBinary chunks, or sorted rows, to a scratch file (a spare one when there is one). */
export async function writeScratch(chunks: readonly Buffer[] | SortedRows): Promise<Scratch> {
  if (!scratch) {
    sweepScratchDirs();
    // a directory of this process's own (mode 0700, a name nobody could create first in a shared /tmp)
    const dir = mkdtempSync(join(tmpdir(), `mp-otel-rowbinary-${process.pid}-`));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    scratch = dir;
  }
  const file = spare.pop() ?? join(scratch, `scratch-${++seq}.bin`);
  let released = false;
  const release = (reusable: boolean) => {
    if (released) return;
    released = true;
    // kept for the next insert unless something failed (then it goes, whatever state it is in)
    if (reusable && spare.length < 4) spare.push(file);
    else rmSync(file, { force: true });
  };
  try {
    if (Array.isArray(chunks)) await writeChunks(file, chunks);
    else await writeSorted(file, chunks as SortedRows);
  } catch (e) {
    release(false);
    throw e;
  }
  return { file, release };
}

/** The staging buffer of writeSorted: large writes, and a copy short enough not to hold up the event loop. */
const SORTED_STAGE_BYTES = 4 * 1024 * 1024;

/**
 * Writes sorted rows to `file` (over what it held, cut to what was written): copied into a staging buffer,
 * a few megabytes at a time, each written on libuv's pool while the event loop turns. (A writev of one view
 * per row cost the main thread ~0.6 ms per 1 000 rows to hand over, more than the copy.)
 */
async function writeSorted(file: string, rows: SortedRows): Promise<void> {
  const stage = Buffer.allocUnsafeSlow(SORTED_STAGE_BYTES);
  const fh = await open(file, constants.O_WRONLY | constants.O_CREAT, 0o600);
  try {
    let pos = 0;
    let at = 0;
    let skip = 0;
    while (at < rows.rows) {
      const part = rows.copyInto(stage, at, skip);
      at = part.next;
      skip = part.skip;
      let done = 0;
      while (done < part.bytes) {
        const { bytesWritten } = await fh.write(stage, done, part.bytes - done, pos);
        done += bytesWritten;
        pos += bytesWritten;
      }
    }
    await fh.truncate(pos);
  } finally {
    await fh.close();
  }
}

/** Inserts a scratch file into `db.table`, then releases it (kept for reuse only if the INSERT succeeded). */
export async function insertScratch(
  store: ChdbStore,
  database: string,
  table: string,
  s: Scratch,
): Promise<void> {
  let reusable = false;
  try {
    await insertRowBinaryFile(store, database, table, s.file);
    reusable = true;
  } finally {
    s.release(reusable);
  }
}

/** Inserts RowBinary chunks into `db.table` through a scratch file read with file(). */
export async function insertRowBinary(
  store: ChdbStore,
  database: string,
  table: string,
  chunks: readonly Buffer[],
): Promise<void> {
  await insertScratch(store, database, table, await writeScratch(chunks));
}

/**
 * `INSERT INTO db.table (…) SELECT * FROM file('<file>', RowBinary, '<structure>')`; `layout` names the
 * table whose RowBinary layout the file has (default: `table` itself).
 */
export async function insertRowBinaryFile(
  store: ChdbStore,
  database: string,
  table: string,
  file: string,
  layout = table,
): Promise<void> {
  const cols = COLUMNS[layout];
  if (!cols) throw new Error(`no RowBinary layout for ${layout}`);
  const names = cols.map(([n]) => `\`${n}\``).join(', ');
  const structure = cols.map(([, t], i) => `c${i} ${t}`).join(', ');
  await store.query(
    `INSERT INTO ${database}.${table} (${names}) SELECT * FROM file('${file.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}', RowBinary, '${structure}')`,
  );
}
