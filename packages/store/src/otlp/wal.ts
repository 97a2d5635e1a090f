// The trace ingest log: a request's otel_traces rows (RowBinary) are appended to a segment file in the
// data directory and the request is answered 200 once they are there, not once chDB has inserted them.
// A single drainer inserts whole segments with `INSERT … SELECT * FROM file(segment, RowBinary)` — every
// request that arrived during the previous INSERT shares the next one, so batches grow with the load
// instead of being capped by how many requests wait for their answer (each INSERT has a fixed cost whatever
// its size: five materialized views, new parts in six tables; 57 ms here idle for 512 rows).
//
// Crash safety (nothing acknowledged is lost): each append writes the rows, then a line in the segment's
// index ("<end offset> <rows>", and the request's dedup key rows); the answer comes after both. At start,
// leftover segments are inserted (cut back to the last indexed offset, so a half-written append — never
// acknowledged — is dropped), with their dedup keys, before the receiver listens.
import {
  closeSync,
  constants,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Row } from './rows.js';

/** The file of an inserted segment, kept to be written over by the next one (never read). */
const SPARE = 'spare.bin';

export interface Segment {
  id: number;
  bin: string;
  idx: string;
  rows: number;
  bytes: number;
  /** end offsets of the appended chunks (for isolating a chunk that fails) */
  ends: number[];
  /** dedup key rows (mp_ingest_batches) of the appended requests */
  keys: Row[];
  /**
   * The appended chunks themselves while this process holds them (the segment is inserted from memory,
   * not read back from its file); undefined for a leftover segment or once holding would pass the bound.
   */
  held?: Buffer[];
  /** per held chunk, its RowMarks (sort-rows.ts) when the converter recorded them */
  heldMarks?: (Uint32Array | undefined)[];
}

export class Wal {
  /** the segment being appended to; `opened`: performance.now() at its first append */
  private cur: (Segment & { binFd: number; idxFd: number; opened: number }) | undefined;
  private seq = 0;
  rows = 0;
  bytes = 0;
  /** bytes of memory the held chunks keep (their whole allocations, not only the rows in them) */
  heldBytes = 0;

  /** `maxHeldBytes`: memory the appended chunks may keep for the inserts (default 256 MiB). */
  constructor(
    readonly dir: string,
    private readonly maxHeldBytes = 256 * 1024 * 1024,
  ) {
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(dir)) {
      const m = /^seg-(\d+)\.bin$/.exec(f);
      if (m) this.seq = Math.max(this.seq, Number(m[1]));
    }
  }

  /** Segments left by an earlier process (oldest first), cut back to their last indexed append. */
  leftovers(): Segment[] {
    const out: Segment[] = [];
    const ids = readdirSync(this.dir)
      .map((f) => /^seg-(\d+)\.bin$/.exec(f)?.[1])
      .filter((x): x is string => x !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    for (const id of ids) {
      const bin = join(this.dir, `seg-${id}.bin`);
      const idx = join(this.dir, `seg-${id}.idx`);
      const seg: Segment = { id, bin, idx, rows: 0, bytes: 0, ends: [], keys: [] };
      if (existsSync(idx)) {
        for (const line of readFileSync(idx, 'utf8').split('\n')) {
          if (line.startsWith('K ')) {
            try {
              seg.keys.push(JSON.parse(line.slice(2)));
            } catch {
              // a half-written key line: its append was never acknowledged
            }
          } else if (/^\d+ \d+$/.test(line)) {
            const [end, rows] = line.split(' ').map(Number) as [number, number];
            seg.ends.push(end);
            seg.bytes = end;
            seg.rows += rows;
          }
        }
      }
      truncateSync(bin, seg.bytes);
      out.push(seg);
    }
    return out;
  }

  /** Appends one request's rows (and its dedup key rows); returns once both are in the files. */
  append(chunk: Buffer, rows: number, keys: Row[], marks?: Uint32Array): void {
    if (!this.cur) {
      const id = ++this.seq;
      const bin = join(this.dir, `seg-${id}.bin`);
      const idx = join(this.dir, `seg-${id}.idx`);
      this.cur = {
        id,
        bin,
        idx,
        rows: 0,
        bytes: 0,
        ends: [],
        keys: [],
        held: [],
        heldMarks: [],
        binFd: this.openRecycled(bin),
        idxFd: openSync(idx, 'w'),
        opened: performance.now(),
      };
    }
    const c = this.cur;
    let off = 0;
    while (off < chunk.length) off += writeSync(c.binFd, chunk, off);
    c.bytes += chunk.length;
    c.rows += rows;
    c.ends.push(c.bytes);
    let line = `${c.bytes} ${rows}\n`;
    for (const k of keys) line += `K ${JSON.stringify(k)}\n`;
    writeSync(c.idxFd, line);
    c.keys.push(...keys);
    this.rows += rows;
    this.bytes += chunk.length;
    if (c.held) {
      const cost = chunk.buffer.byteLength + (marks?.buffer.byteLength ?? 0);
      if (this.heldBytes + cost <= this.maxHeldBytes) {
        c.held.push(chunk);
        c.heldMarks?.push(marks);
        this.heldBytes += cost;
      } else this.release(c);
    }
  }

  /** Lets go of a segment's held chunks: it is read back from its file when inserted. */
  private release(seg: Segment): void {
    if (!seg.held) return;
    for (const h of seg.held) this.heldBytes -= h.buffer.byteLength;
    for (const m of seg.heldMarks ?? []) this.heldBytes -= m?.buffer.byteLength ?? 0;
    seg.held = undefined;
    seg.heldMarks = undefined;
  }

  /** The held chunks' marks (in chunks() order), or none when the chunks are read back from the file. */
  marks(seg: Segment): readonly (Uint32Array | undefined)[] {
    return seg.held ? (seg.heldMarks ?? []) : [];
  }

  /** A segment's chunks: the held ones, or its file cut at the appends' ends (views, nothing copied). */
  chunks(seg: Segment): Buffer[] {
    if (seg.held) return seg.held;
    const all = readFileSync(seg.bin);
    const out: Buffer[] = [];
    let start = 0;
    for (const end of seg.ends) {
      out.push(all.subarray(start, end));
      start = end;
    }
    return out;
  }

  /** The segment being appended to; `ageMs`: since its first append (0 when there is none). */
  get current(): { id?: number; rows: number; bytes: number; ageMs: number } {
    const c = this.cur;
    return {
      id: c?.id,
      rows: c?.rows ?? 0,
      bytes: c?.bytes ?? 0,
      ageMs: c ? performance.now() - c.opened : 0,
    };
  }

  /**
   * A new segment file: the last inserted segment's file renamed and written over when there is one (writing
   * over a file's pages costs ~4x less than a new file's, whose pages are allocated and later freed). Its old
   * bytes past the appends are never read: rotate() cuts the file to its appends, and at start a leftover is
   * cut to its last indexed append.
   */
  private openRecycled(bin: string): number {
    const spare = join(this.dir, SPARE);
    if (existsSync(spare)) {
      renameSync(spare, bin);
      return openSync(bin, constants.O_WRONLY);
    }
    return openSync(bin, 'w');
  }

  /** Closes the current segment for inserting (appends go to a new one). */
  rotate(): Segment | undefined {
    const c = this.cur;
    if (!c) return undefined;
    this.cur = undefined;
    ftruncateSync(c.binFd, c.bytes);
    closeSync(c.binFd);
    closeSync(c.idxFd);
    const { binFd: _b, idxFd: _i, opened: _o, ...seg } = c;
    return seg;
  }

  /** A segment is in the store: forget it. */
  done(seg: Segment): void {
    this.release(seg);
    if (!existsSync(join(this.dir, SPARE)) && existsSync(seg.bin)) renameSync(seg.bin, join(this.dir, SPARE));
    else rmSync(seg.bin, { force: true });
    rmSync(seg.idx, { force: true });
    this.rows -= seg.rows;
    this.bytes -= seg.bytes;
  }

  /** Counted as leftovers at start: add them to the totals. */
  adopt(seg: Segment): void {
    this.rows += seg.rows;
    this.bytes += seg.bytes;
  }

  /** A segment (or a chunk of one) the store refuses: kept aside in failed/ for a person to look at. */
  quarantine(file: string): string {
    const dir = join(this.dir, 'failed');
    mkdirSync(dir, { recursive: true });
    const to = join(dir, `${Date.now()}-${file.split('/').pop()}`);
    renameSync(file, to);
    return to;
  }

  close(): void {
    const c = this.cur;
    if (c) {
      closeSync(c.binFd);
      closeSync(c.idxFd);
    }
    rmSync(join(this.dir, SPARE), { force: true });
  }
}
