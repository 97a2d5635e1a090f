// otel_traces rows put in the table's sort order before their INSERT. MergeTree sorts every inserted block
// by the table's ORDER BY unless the block is already sorted (then it counts the ProfileEvent
// MergeTreeDataWriterBlocksAlreadySorted and skips the sort). Rows from phones arrive in no such order, and
// the sort permutes every column, the attribute maps included: measured here, one segment of 512 000 rows
// went into otel_traces at 273 000–287 000 rows/s in arrival order and at 424 000–452 000 sorted. Sorting
// in JavaScript costs less than that difference: each row's key is read where the converter marked it
// (RowMarks; rows without marks — read back from the log, or from the object path — are walked once for
// it), and the file write gathers them in order from views of the segment (nothing is copied in JavaScript).
// The marks took the sort of a 102 400-row segment from ~70 to ~48 ms here, and a radix sort on the keys
// (radixOrder) instead of a comparison sort to ~32 ms.
import { parseType, Reader, type TypeNode } from '../native.js';
import { TRACE_COLUMNS } from './rowbinary.js';

/**
 * otel_traces' ORDER BY is (ServiceName, SpanName, toDateTime(Timestamp), Timestamp) (migrations/
 * 001_otel_traces.sql; a test inserts a sorted segment and checks the engine found it sorted). toDateTime
 * only truncates Timestamp (inside the receiver's accepted window), so the order is (ServiceName, SpanName,
 * Timestamp): strings byte by byte, as ClickHouse compares them, the timestamp as a signed 64-bit count of
 * nanoseconds. Were a row ever out of that order, the engine would simply sort the block, as it did before.
 */
const SERVICE = TRACE_COLUMNS.findIndex(([n]) => n === 'ServiceName');
const SPAN = TRACE_COLUMNS.findIndex(([n]) => n === 'SpanName');
const TIME = TRACE_COLUMNS.findIndex(([n]) => n === 'Timestamp');

function sameBytes(a: Buffer, s1: number, e1: number, b: Buffer, s2: number, e2: number): boolean {
  if (e1 - s1 !== e2 - s2) return false;
  for (let i = 0; i < e1 - s1; i++) if (a[s1 + i] !== b[s2 + i]) return false;
  return true;
}

/** Moves `r` past one RowBinary value of a type. */
type Skip = (r: Reader) => void;

/** RowBinary values: arrays and maps carry their own length per row, unlike Native's offsets. */
function skipper(t: TypeNode): Skip {
  switch (t.k) {
    case 'string':
      return (r) => r.skip(r.varint());
    case 'fixed': {
      const size = t.size;
      return (r) => r.skip(size);
    }
    case 'array': {
      const item = skipper(t.of);
      return (r) => {
        for (let n = r.varint(); n > 0; n--) item(r);
      };
    }
    case 'map': {
      const key = skipper(t.key);
      const value = skipper(t.value);
      return (r) => {
        for (let n = r.varint(); n > 0; n--) {
          key(r);
          value(r);
        }
      };
    }
    default:
      throw new Error(`no RowBinary skipper for a ${t.k} type`);
  }
}

const SKIPS = TRACE_COLUMNS.map(([, t]) => skipper(parseType(t)));

/**
 * The indices 0 … n-1 ordered by their keys (most significant last; each key an unsigned 32-bit value per
 * index), ties kept in index order: a least-significant-digit radix sort on 16-bit digits, a pass skipped
 * where every index has the same digit (the high half of the timestamps, usually). It gives what a stable
 * comparison sort on the keys gives, in ~5 linear passes instead of ~17 comparisons a row.
 */
function radixOrder(n: number, keys: readonly Uint32Array[]): Uint32Array {
  let idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  let into = new Uint32Array(n);
  const count = new Uint32Array(65536);
  for (const key of keys)
    for (let shift = 0; shift < 32; shift += 16) {
      count.fill(0);
      for (let i = 0; i < n; i++) {
        const d = ((key[i] as number) >>> shift) & 0xffff;
        count[d] = (count[d] as number) + 1;
      }
      if (n === 0 || count[((key[0] as number) >>> shift) & 0xffff] === n) continue; // one digit: no reorder
      let at = 0;
      for (let d = 0; d < 65536; d++) {
        const c = count[d] as number;
        count[d] = at;
        at += c;
      }
      for (let i = 0; i < n; i++) {
        const r = idx[i] as number;
        const d = ((key[r] as number) >>> shift) & 0xffff;
        into[count[d] as number] = r;
        count[d] = (count[d] as number) + 1;
      }
      const t = idx;
      idx = into;
      into = t;
    }
  return idx;
}

/**
 * Where each row of a chunk starts, and where its SpanName and ServiceName values (their length prefix)
 * start, recorded by the converter as it writes the rows (three offsets a row): with them the sort reads
 * each row's key where it is instead of walking every column of every row to find it.
 */
export class RowMarks {
  n = 0;
  a = new Uint32Array(3 * 512);

  add(row: number, spanName: number, service: number): void {
    if (3 * this.n + 3 > this.a.length) {
      const next = new Uint32Array(this.a.length * 2);
      next.set(this.a);
      this.a = next;
    }
    const i = 3 * this.n++;
    this.a[i] = row;
    this.a[i + 1] = spanName;
    this.a[i + 2] = service;
  }

  /** The marks, trimmed to their rows. */
  take(): Uint32Array {
    return this.a.subarray(0, 3 * this.n);
  }
}

/** A little-endian uint32 (the caller has checked the 4 bytes are there; readUInt32LE's checks cost more). */
const u32 = (b: Buffer, at: number): number =>
  ((b[at] as number) |
    ((b[at + 1] as number) << 8) |
    ((b[at + 2] as number) << 16) |
    ((b[at + 3] as number) << 24)) >>>
  0;

/** sortTraceOrder's views of the rows, in order (one per run of rows that were already next to each other). */
export function sortTraceRows(
  input: Buffer | readonly Buffer[],
  marks: readonly (Uint32Array | undefined)[] = [],
): Buffer[] | undefined {
  return sortTraceOrder(input, marks)?.views();
}

/**
 * The otel_traces rows of RowBinary chunks (TRACE_COLUMNS layout; each chunk whole rows, e.g. one request's)
 * in the table's sort order; undefined when they already are in order (or a chunk does not parse, or two
 * (service, span name) pairs share a hash: then the engine sorts, as before).
 */
export function sortTraceOrder(
  input: Buffer | readonly Buffer[],
  /** per chunk, the converter's RowMarks.take() when it has them (else the chunk's rows are walked) */
  marks: readonly (Uint32Array | undefined)[] = [],
): SortedRows | undefined {
  const chunks = Buffer.isBuffer(input) ? [input] : input;
  let cap = 1024;
  let starts = new Uint32Array(cap);
  let chunkOf = new Uint32Array(cap);
  let pairOf = new Uint32Array(cap);
  // the timestamp's halves; the high one with its sign bit flipped, so unsigned order is the signed order
  let hi = new Uint32Array(cap);
  let lo = new Uint32Array(cap);
  const pairs = new Map<number, number>(); // hash of (service, span name) bytes → pair id
  const pairRanges: number[] = []; // per pair: chunk, service start, end, span start, end
  const own = new Uint32Array(4); // the current row's service start, end, span name start, end
  let n = 0;
  try {
    for (let ci = 0; ci < chunks.length; ci++) {
      const buf = chunks[ci] as Buffer;
      if (buf.length > 0xffffffff) return undefined;
      const r = new Reader(buf);
      const m = marks[ci];
      let mi = 0;
      while (m ? mi < m.length : r.off < buf.length) {
        if (n === cap) {
          cap *= 2;
          const grow = <T extends Uint32Array | Int32Array>(a: T, make: (c: number) => T): T => {
            const next = make(cap);
            next.set(a);
            return next;
          };
          starts = grow(starts, (c) => new Uint32Array(c));
          chunkOf = grow(chunkOf, (c) => new Uint32Array(c));
          pairOf = grow(pairOf, (c) => new Uint32Array(c));
          hi = grow(hi, (c) => new Uint32Array(c));
          lo = grow(lo, (c) => new Uint32Array(c));
        }
        chunkOf[n] = ci;
        if (m) {
          // the marked row: its timestamp first, its names where the marks say (checked to stay inside the
          // chunk and in order; marks that do not fit → the engine sorts)
          const start = m[mi] as number;
          const nameAt = m[mi + 1] as number;
          const svcAt = m[mi + 2] as number;
          const next = mi + 3 < m.length ? (m[mi + 3] as number) : buf.length;
          // the rows tile the chunk (each row's bytes go out exactly once, wherever it sorts)
          if (mi === 0 && start !== 0) return undefined;
          mi += 3;
          if (!(start + 8 <= nameAt && nameAt < svcAt && svcAt < next && next <= buf.length))
            return undefined;
          starts[n] = start;
          lo[n] = u32(buf, start);
          hi[n] = (u32(buf, start + 4) ^ 0x80000000) >>> 0;
          r.off = nameAt;
          let len = r.varint();
          own[2] = r.off;
          own[3] = r.off + len;
          r.off = svcAt;
          len = r.varint();
          own[0] = r.off;
          own[1] = r.off + len;
          if ((own[1] as number) > next || (own[3] as number) > svcAt) return undefined;
        } else {
          // an unmarked row: walked column by column for its key
          starts[n] = r.off;
          for (let c = 0; c < SKIPS.length; c++) {
            if (c === TIME) {
              r.need(8);
              lo[n] = u32(buf, r.off);
              hi[n] = (u32(buf, r.off + 4) ^ 0x80000000) >>> 0;
              r.off += 8;
            } else if (c === SERVICE || c === SPAN) {
              const len = r.varint();
              r.skip(len);
              const k = c === SERVICE ? 0 : 2;
              own[k] = r.off - len;
              own[k + 1] = r.off;
            } else (SKIPS[c] as Skip)(r);
          }
        }
        // the pair's id: a hash of its bytes, checked byte by byte (no strings: this runs once per row)
        let h = Math.imul((own[1] as number) - (own[0] as number), 16777619) >>> 0;
        for (let k = 0; k < 4; k += 2)
          for (let i = own[k] as number; i < (own[k + 1] as number); i++)
            h = Math.imul(h ^ (buf[i] as number), 16777619);
        let id = pairs.get(h);
        if (id === undefined) {
          id = pairRanges.length / 5;
          pairs.set(h, id);
          pairRanges.push(ci, ...own);
        } else {
          const at = 5 * id;
          const other = chunks[pairRanges[at] as number] as Buffer;
          // two pairs with one hash: rare; the engine sorts this segment
          for (let k = 0; k < 4; k += 2)
            if (
              !sameBytes(
                buf,
                own[k] as number,
                own[k + 1] as number,
                other,
                pairRanges[at + 1 + k] as number,
                pairRanges[at + 2 + k] as number,
              )
            )
              return undefined;
        }
        pairOf[n] = id;
        n++;
      }
    }
  } catch {
    return undefined;
  }
  // rank the (service, span name) pairs as the engine compares them: bytes, then length
  const bytes = (i: number, k: number) =>
    (chunks[pairRanges[5 * i] as number] as Buffer).subarray(
      pairRanges[5 * i + k],
      pairRanges[5 * i + k + 1],
    );
  const order = Array.from({ length: pairs.size }, (_, i) => i).sort(
    (a, b) => Buffer.compare(bytes(a, 1), bytes(b, 1)) || Buffer.compare(bytes(a, 3), bytes(b, 3)),
  );
  const rank = new Uint32Array(pairs.size);
  order.forEach((pair, r) => {
    rank[pair] = r;
  });
  const pairRank = new Uint32Array(n);
  for (let i = 0; i < n; i++) pairRank[i] = rank[pairOf[i] as number] as number;
  const before = (a: number, b: number): number =>
    (pairRank[a] as number) - (pairRank[b] as number) ||
    (hi[a] as number) - (hi[b] as number) ||
    (lo[a] as number) - (lo[b] as number);
  let sorted = true;
  for (let i = 1; i < n && sorted; i++) if (before(i - 1, i) > 0) sorted = false;
  if (sorted) return undefined;
  // least significant key first: the timestamp's low half, its high half, the pair
  const idx = radixOrder(n, [lo.subarray(0, n), hi.subarray(0, n), pairRank]);
  // a row ends where the next row of its chunk starts, or with the chunk
  const ends = new Uint32Array(n);
  for (let r = 0; r < n; r++)
    ends[r] =
      r + 1 < n && chunkOf[r + 1] === chunkOf[r]
        ? (starts[r + 1] as number)
        : (chunks[chunkOf[r] as number] as Buffer).length;
  return new SortedRows(chunks, idx, starts, ends, chunkOf, n);
}

/** Rows of chunks in a chosen order: sortTraceOrder's answer. */
export class SortedRows {
  constructor(
    private readonly chunks: readonly Buffer[],
    /** the rows in order, by their index in arrival order */
    private readonly idx: Uint32Array,
    private readonly starts: Uint32Array,
    private readonly ends: Uint32Array,
    private readonly chunkOf: Uint32Array,
    readonly rows: number,
  ) {}

  /** Where the run of rows starting at position `i` (rows already next to each other in one chunk) ends. */
  private runEnd(i: number): number {
    const { idx, chunkOf } = this;
    const first = idx[i] as number;
    let last = first;
    while (i + 1 < this.rows && idx[i + 1] === last + 1 && chunkOf[last + 1] === chunkOf[first]) {
      i++;
      last = idx[i] as number;
    }
    return i + 1;
  }

  /** Views of the chunks, one per run of rows, in order (what a test compares; a writev of 200 000 views
   *  costs the calling thread more than copying the rows, see copyInto). */
  views(): Buffer[] {
    const out: Buffer[] = [];
    for (let i = 0; i < this.rows; ) {
      const next = this.runEnd(i);
      const first = this.idx[i] as number;
      const last = this.idx[next - 1] as number;
      out.push(
        (this.chunks[this.chunkOf[first] as number] as Buffer).subarray(this.starts[first], this.ends[last]),
      );
      i = next;
    }
    return out;
  }

  /**
   * Copies the rows from position `from` on into `into`, whole runs of rows, as many as fit; returns the
   * next position and the bytes copied. A run larger than `into` is copied in part: then `from` comes back
   * with `bytes` = the part, and `skip` = the bytes of that run already copied, to pass back in.
   */
  copyInto(into: Buffer, from: number, skip = 0): { next: number; bytes: number; skip: number } {
    let at = 0;
    let i = from;
    while (i < this.rows) {
      const next = this.runEnd(i);
      const first = this.idx[i] as number;
      const last = this.idx[next - 1] as number;
      const chunk = this.chunks[this.chunkOf[first] as number] as Buffer;
      const start = (this.starts[first] as number) + skip;
      const end = this.ends[last] as number;
      const room = into.length - at;
      if (end - start > room) {
        // a run too large for what is left: the next call; or, into empty, as much of it as fits
        if (at > 0) break;
        chunk.copy(into, 0, start, start + room);
        return { next: i, bytes: room, skip: skip + room };
      }
      at += chunk.copy(into, at, start, end);
      skip = 0;
      i = next;
    }
    return { next: i, bytes: at, skip: 0 };
  }
}
