// otel_traces rows put in the table's sort order before their INSERT. MergeTree sorts every inserted block
// by the table's ORDER BY unless the block is already sorted (then it counts the ProfileEvent
// MergeTreeDataWriterBlocksAlreadySorted and skips the sort). Rows from phones arrive in no such order, and
// the sort permutes every column, the attribute maps included: measured here, one segment of 512 000 rows
// went into otel_traces at 273 000–287 000 rows/s in arrival order and at 424 000–452 000 sorted. Sorting
// in JavaScript costs less than that difference: the rows are walked once for their key, and the file write
// gathers them in order from views of the segment (nothing is copied in JavaScript).
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

/** Moves past one value of a RowBinary type at `p`; returns the new position. */
type Skip = (b: Buffer, p: number) => number;

/** A varint's value (its length in bytes is left in lastLen); more than 5 bytes is refused. */
function varint(b: Buffer, p: number): number {
  let v = 0;
  let shift = 1;
  for (let i = 0; i < 5; i++) {
    const c = b[p + i];
    if (c === undefined) throw new RangeError('truncated varint');
    v += (c & 0x7f) * shift;
    if (c < 0x80) {
      lastLen = i + 1;
      return v;
    }
    shift *= 128;
  }
  throw new RangeError('varint too long');
}
let lastLen = 0;

function sameBytes(b: Buffer, s1: number, e1: number, s2: number, e2: number): boolean {
  if (e1 - s1 !== e2 - s2) return false;
  for (let i = 0; i < e1 - s1; i++) if (b[s1 + i] !== b[s2 + i]) return false;
  return true;
}

function skipper(type: string): Skip {
  if (type === 'String')
    return (b, p) => {
      const n = varint(b, p);
      return p + lastLen + n;
    };
  if (type === 'DateTime64(9)' || type === 'UInt64') return (_, p) => p + 8;
  const arr = /^Array\((.*)\)$/.exec(type);
  if (arr) {
    const inner = skipper(arr[1] as string);
    return (b, p) => {
      const n = varint(b, p);
      p += lastLen;
      for (let i = 0; i < n; i++) p = inner(b, p);
      return p;
    };
  }
  const map = /^Map\((.*), (.*)\)$/.exec(type);
  if (map) {
    const k = skipper(map[1] as string);
    const v = skipper(map[2] as string);
    return (b, p) => {
      const n = varint(b, p);
      p += lastLen;
      for (let i = 0; i < n; i++) p = v(b, k(b, p));
      return p;
    };
  }
  throw new Error(`no RowBinary skipper for ${type}`);
}

const SKIPS = TRACE_COLUMNS.map(([, t]) => skipper(t));

/**
 * The otel_traces rows of a RowBinary buffer (TRACE_COLUMNS layout) in the table's sort order, as views of
 * `buf` to be written in turn; undefined when they already are in order (or the buffer does not parse, or
 * two (service, span name) pairs share a hash: then the engine sorts, as before).
 */
export function sortTraceRows(buf: Buffer): Buffer[] | undefined {
  if (buf.length > 0xffffffff) return undefined;
  let cap = 1024;
  let starts = new Uint32Array(cap);
  let pairOf = new Uint32Array(cap);
  let hi = new Int32Array(cap);
  let lo = new Uint32Array(cap);
  const pairs = new Map<number, number>(); // hash of (service, span name) bytes → pair id
  const pairRanges: number[] = []; // per pair: service start, end, span start, end
  let n = 0;
  let p = 0;
  try {
    while (p < buf.length) {
      if (n === cap) {
        cap *= 2;
        const grow = <T extends Uint32Array | Int32Array>(a: T, make: (c: number) => T): T => {
          const next = make(cap);
          next.set(a);
          return next;
        };
        starts = grow(starts, (c) => new Uint32Array(c));
        pairOf = grow(pairOf, (c) => new Uint32Array(c));
        hi = grow(hi, (c) => new Int32Array(c));
        lo = grow(lo, (c) => new Uint32Array(c));
      }
      starts[n] = p;
      let svcStart = 0;
      let svcEnd = 0;
      let spanStart = 0;
      let spanEnd = 0;
      for (let c = 0; c < SKIPS.length; c++) {
        if (c === TIME) {
          if (p + 8 > buf.length) throw new RangeError('truncated timestamp');
          lo[n] = buf.readUInt32LE(p);
          hi[n] = buf.readInt32LE(p + 4);
        } else if (c === SERVICE || c === SPAN) {
          const len = varint(buf, p);
          const s = p + lastLen;
          if (c === SERVICE) {
            svcStart = s;
            svcEnd = s + len;
          } else {
            spanStart = s;
            spanEnd = s + len;
          }
        }
        p = (SKIPS[c] as Skip)(buf, p);
      }
      if (p > buf.length) throw new RangeError('truncated row');
      // the pair's id: a hash of its bytes, checked byte by byte (no strings: this runs once per row)
      let h = Math.imul(svcEnd - svcStart, 16777619) >>> 0;
      for (let i = svcStart; i < svcEnd; i++) h = Math.imul(h ^ (buf[i] as number), 16777619);
      for (let i = spanStart; i < spanEnd; i++) h = Math.imul(h ^ (buf[i] as number), 16777619);
      let id = pairs.get(h);
      if (id === undefined) {
        id = pairRanges.length / 4;
        pairs.set(h, id);
        pairRanges.push(svcStart, svcEnd, spanStart, spanEnd);
      } else if (
        !sameBytes(buf, svcStart, svcEnd, pairRanges[4 * id] as number, pairRanges[4 * id + 1] as number) ||
        !sameBytes(
          buf,
          spanStart,
          spanEnd,
          pairRanges[4 * id + 2] as number,
          pairRanges[4 * id + 3] as number,
        )
      )
        return undefined; // two pairs with one hash: rare; the engine sorts this segment
      pairOf[n] = id;
      n++;
    }
  } catch {
    return undefined;
  }
  // rank the (service, span name) pairs as the engine compares them: bytes, then length
  const bytes = (i: number, k: number) => buf.subarray(pairRanges[4 * i + k], pairRanges[4 * i + k + 1]);
  const order = Array.from({ length: pairs.size }, (_, i) => i).sort(
    (a, b) => Buffer.compare(bytes(a, 0), bytes(b, 0)) || Buffer.compare(bytes(a, 2), bytes(b, 2)),
  );
  const rank = new Uint32Array(pairs.size);
  order.forEach((pair, r) => {
    rank[pair] = r;
  });
  const before = (a: number, b: number): number =>
    (rank[pairOf[a] as number] as number) - (rank[pairOf[b] as number] as number) ||
    (hi[a] as number) - (hi[b] as number) ||
    (lo[a] as number) - (lo[b] as number);
  let sorted = true;
  for (let i = 1; i < n && sorted; i++) if (before(i - 1, i) > 0) sorted = false;
  if (sorted) return undefined;
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  idx.sort(before);
  const end = (r: number) => (r + 1 < n ? (starts[r + 1] as number) : buf.length);
  // views, not copies: one per run of rows that were already next to each other (the file write gathers them)
  const out: Buffer[] = [];
  for (let i = 0; i < n; ) {
    const first = idx[i] as number;
    let last = first;
    while (i + 1 < n && idx[i + 1] === last + 1) last = idx[++i] as number;
    i++;
    out.push(buf.subarray(starts[first] as number, end(last)));
  }
  return out;
}
