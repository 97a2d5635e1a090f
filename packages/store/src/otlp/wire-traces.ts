// ExportTraceServiceRequest (protobuf) → otel_traces RowBinary, read straight off the wire: no protobufjs
// objects, no row objects, strings copied as UTF-8 bytes, each resource's attributes encoded once and
// copied onto its rows. It must write exactly what traceRows() + encodeTraceRow() write
// (test/wire-traces.unit.test.ts compares the bytes on generated requests); anything it does not handle
// identically — a wrong-length id, invalid UTF-8, an array/map attribute value, a duplicate or
// integer-like attribute key, an unexpected wire type — throws Fallback and the request takes the object
// path, which gives the same rows or the same 400.
import { isUtf8 } from 'node:buffer';
import { viewOf, Writer } from './rowbinary.js';
import {
  type Caps,
  charge,
  EVENT_CAPS,
  formatDouble,
  inWindow,
  limitAttributes,
  OTHER_CAPS,
  RESOURCE_CAPS,
  type RowContext,
  SPAN_CAPS,
  SPAN_KIND,
  STATUS_CODE,
} from './rows.js';
import type { RowMarks } from './sort-rows.js';

export class Fallback extends Error {}

const fallback = (why: string): never => {
  throw new Fallback(why);
};

const INT_KEY = /^(?:0|[1-9]\d{0,9})$/;
const keyCache = new Map<number, string>();

/** An attribute: its key, and its value as a byte range of the body or a rendered string. */
interface Attr {
  key: string;
  vs: number; // value bytes start (string values), -1 when `str` holds the value
  ve: number;
  str: string;
}

class Wire {
  pos = 0;
  /** the body's bytes, read several at a time */
  readonly view: DataView;
  constructor(readonly buf: Buffer) {
    this.view = viewOf(buf);
  }

  varint(): number {
    const b = this.buf;
    if (this.pos < b.length && (b[this.pos] as number) < 0x80) return b[this.pos++] as number;
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= b.length) fallback('truncated');
      const x = b[this.pos++] as number;
      if (mul < 2 ** 53) v += (x & 0x7f) * mul;
      mul *= 128;
      if (x < 0x80) return v;
    }
    return fallback('varint');
  }

  /** A varint as int32 (what protobufjs reads for enum and int32 fields). */
  int32(): number {
    const start = this.pos;
    this.varint();
    let v = 0;
    for (let i = 0, p = start; p < this.pos && i < 5; i++, p++)
      v |= ((this.buf[p] as number) & 0x7f) << (7 * i);
    return v | 0;
  }

  /** A varint as a signed 64-bit decimal (protobufjs Long → toString()). */
  int64String(): string {
    // up to 7 bytes (< 2^49): exact as a Number
    const b = this.buf;
    const start = this.pos;
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 7 && start + i < b.length; i++) {
      const x = b[start + i] as number;
      v += (x & 0x7f) * mul;
      if (x < 0x80) {
        this.pos = start + i + 1;
        return String(v);
      }
      mul *= 128;
    }
    let lo = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) fallback('truncated');
      const x = this.buf[this.pos++] as number;
      lo |= BigInt(x & 0x7f) << shift;
      shift += 7n;
      if (x < 0x80) return BigInt.asIntN(64, lo).toString();
    }
    return fallback('varint');
  }

  fixed64(): bigint {
    if (this.pos + 8 > this.buf.length) fallback('truncated');
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Length of a length-delimited field; the cursor is at its first byte. */
  len(end: number): number {
    const n = this.varint();
    if (this.pos + n > end) fallback('length past the end');
    return n;
  }

  skip(wt: number, end: number): void {
    if (wt === 0) this.varint();
    else if (wt === 1) this.pos += 8;
    else if (wt === 5) this.pos += 4;
    else if (wt === 2) this.pos += this.len(end);
    else fallback(`wire type ${wt}`);
    if (this.pos > end) fallback('truncated');
  }

  utf8(s: number, e: number): void {
    const b = this.buf;
    for (let i = s; i < e; i++)
      if ((b[i] as number) > 0x7f) {
        if (!isUtf8(b.subarray(s, e))) fallback('invalid UTF-8');
        return;
      }
  }

  string(s: number, e: number): string {
    this.utf8(s, e);
    return this.buf.toString('utf8', s, e);
  }

  /** An attribute key: ASCII keys come from a cache (keys repeat on every span). */
  key(s: number, e: number): string {
    const b = this.buf;
    const n = e - s;
    if (n > 64) return this.string(s, e);
    let h = n;
    for (let i = s; i < e; i++) {
      const c = b[i] as number;
      if (c > 0x7f) return this.string(s, e);
      h = Math.imul(h ^ c, 16777619);
    }
    const hit = keyCache.get(h);
    if (hit !== undefined && hit.length === n) {
      let same = true;
      for (let i = 0; i < n; i++)
        if (hit.charCodeAt(i) !== b[s + i]) {
          same = false;
          break;
        }
      if (same) return hit;
    }
    const k = b.toString('latin1', s, e);
    if (keyCache.size > 4096) keyCache.clear();
    keyCache.set(h, k);
    return k;
  }

  /** fixed64 into lo/hi (uint32 halves), no BigInt. */
  lo = 0;
  hi = 0;
  fixed64parts(): void {
    if (this.pos + 8 > this.buf.length) fallback('truncated');
    this.lo = this.buf.readUInt32LE(this.pos);
    this.hi = this.buf.readUInt32LE(this.pos + 4);
    this.pos += 8;
  }

  /** A bytes id: '' when empty or all zero, else hex; other lengths → Fallback (the object path's 400). */
  id(s: number, e: number, want: number): string {
    return this.idAt(s, e, want) < 0 ? '' : this.buf.toString('hex', s, e);
  }

  /** A bytes id's start (written as hex by Writer.hex), or -1 for '' (empty or all zero). */
  idAt(s: number, e: number, want: number): number {
    if (e === s) return -1;
    if (e - s !== want) fallback('id length');
    for (let i = s; i < e; i++) if (this.buf[i] !== 0) return s;
    return -1;
  }
}

/** SpanKind and StatusCode names as RowBinary Strings, and '' (a number out of range). */
const encoded = (s: string): Buffer => {
  const w = new Writer(s.length + 10);
  w.str(s);
  return Buffer.from(w.take());
};
const KIND_BIN = SPAN_KIND.map(encoded);
const STATUS_BIN = STATUS_CODE.map(encoded);
const EMPTY_BIN = encoded('');

/** The KeyValue just read: its key's byte range, its value as a byte range of the body or a rendered string. */
const kv = { ks: 0, ke: 0, vs: -1, ve: -1, str: '' };

/** Reads one KeyValue list item into `kv` (string values stay a byte range). */
function readKeyValue(w: Wire, end: number): void {
  let ks = 0;
  let ke = 0;
  let vs = -1;
  let ve = -1;
  let str = '';
  let kinds = 0;
  while (w.pos < end) {
    const tag = w.varint();
    const f = tag >>> 3;
    const wt = tag & 7;
    if (f === 1 && wt === 2) {
      // the last key wins (protobufjs); an earlier one must still be valid UTF-8, as the last is (Wire.key)
      if (ke > ks) w.utf8(ks, ke);
      const n = w.len(end);
      ks = w.pos;
      ke = w.pos + n;
      w.pos += n;
    } else if (f === 2 && wt === 2) {
      // AnyValue: the last value field wins (protobufjs replaces the message)
      const n = w.len(end);
      const vend = w.pos + n;
      vs = -1;
      ve = -1;
      str = '';
      kinds = 0;
      while (w.pos < vend) {
        const t = w.varint();
        const vf = t >>> 3;
        const vwt = t & 7;
        kinds++;
        if (vf === 1 && vwt === 2) {
          const m = w.len(vend);
          w.utf8(w.pos, w.pos + m);
          vs = w.pos;
          ve = w.pos + m;
          w.pos += m;
        } else if (vf === 2 && vwt === 0) str = w.varint() !== 0 ? 'true' : 'false';
        else if (vf === 3 && vwt === 0) str = w.int64String();
        else if (vf === 4 && vwt === 1) {
          if (w.pos + 8 > vend) fallback('truncated');
          str = formatDouble(w.buf.readDoubleLE(w.pos));
          w.pos += 8;
        } else if (vf === 7 && vwt === 2) {
          const m = w.len(vend);
          str = w.buf.toString('base64', w.pos, w.pos + m);
          w.pos += m;
        } else if (vf >= 1 && vf <= 7) fallback('array/map value or unexpected wire type');
        else {
          kinds--;
          w.skip(vwt, vend);
        }
      }
      if (kinds > 1) fallback('several value fields');
      if (kinds === 0) str = '';
      if (w.pos !== vend) fallback('truncated');
    } else w.skip(wt, end);
  }
  kv.ks = ks;
  kv.ke = ke;
  kv.vs = vs;
  kv.ve = ve;
  kv.str = str;
}

/** KeyValue list item → Attr. */
function keyValue(w: Wire, end: number, out: Attr[]): void {
  readKeyValue(w, end);
  out.push({ key: w.key(kv.ks, kv.ke), vs: kv.vs, ve: kv.ve, str: kv.str });
}

/** The end of a string value (bytes vs … ve) cut to `max` bytes, back to the start of a character. */
function cutValue(b: Buffer, vs: number, ve: number, max: number): number {
  if (ve - vs <= max) return ve;
  let e = vs + max;
  while (e > vs && ((b[e] as number) & 0xc0) === 0x80) e--;
  return e;
}

/** The key checks every list passes (the object path would not keep what they refuse identically). */
function checkKeys(keys: readonly string[], seen: Set<string>): void {
  if (keys.length <= 16) {
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string;
      const c = k.charCodeAt(0);
      if (c >= 48 && c <= 57 && INT_KEY.test(k)) fallback('integer-like key');
      for (let j = 0; j < i; j++) if (keys[j] === k) fallback('duplicate key');
    }
  } else {
    seen.clear();
    for (const k of keys) {
      if (seen.has(k) || INT_KEY.test(k)) fallback('duplicate or integer-like key');
      seen.add(k);
    }
  }
}

/**
 * A span's attributes as flat arrays, reused from span to span (no object per attribute), and the verdict
 * of the key checks for the last sequence of keys seen: the spans of one request nearly always repeat their
 * keys in the same order, so a span whose key bytes equal the previous verdict's reuses it instead of making
 * key strings, checking for duplicates and applying the limit again.
 */
class SpanAttrs {
  n = 0;
  ks = new Int32Array(32);
  ke = new Int32Array(32);
  vs = new Int32Array(32);
  ve = new Int32Array(32);
  str: string[] = [];
  // the verdict: for the key bytes `shapeKeys` (attribute i's at shapeOff[i] .. shapeOff[i + 1]) ...
  private shapeN = -1;
  private shapeKeys = Buffer.alloc(512);
  private shapeView = viewOf(this.shapeKeys);
  private shapeOff = new Int32Array(33);
  /** ... these attributes are kept (limitAttributes), in this order, ... */
  kept: number[] = [];
  /** ... their keys are this many UTF-16 units long together (attrBytes counts keys so), ... */
  keptKeyUnits = 0;
  /** ... and these enrichment keys are added (not among the kept), costing extraBytes. */
  extraKeys: string[] = [];
  extraBytes = 0;

  constructor(
    private readonly extra: Record<string, string> | undefined,
    private readonly seen: Set<string>,
  ) {}

  add(w: Wire, end: number): void {
    readKeyValue(w, end);
    const i = this.n++;
    if (i === this.ks.length) {
      const grow = (a: Int32Array) => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.ks = grow(this.ks);
      this.ke = grow(this.ke);
      this.vs = grow(this.vs);
      this.ve = grow(this.ve);
    }
    this.ks[i] = kv.ks;
    this.ke[i] = kv.ke;
    this.vs[i] = kv.vs;
    this.ve[i] = kv.ve;
    this.str[i] = kv.str;
  }

  /** Checks the keys (or finds them unchanged since the last check) and cuts the kept values to `caps`. */
  check(w: Wire, caps: Caps): void {
    if (!this.sameKeys(w)) this.judge(w, caps);
    for (const i of this.kept) {
      const vs = this.vs[i] as number;
      if (vs >= 0) this.ve[i] = cutValue(w.buf, vs, this.ve[i] as number, caps.valueBytes);
    }
  }

  private sameKeys(w: Wire): boolean {
    const n = this.n;
    if (n !== this.shapeN) return false;
    const b = w.buf;
    const bv = w.view;
    const sk = this.shapeKeys;
    const sv = this.shapeView;
    const off = this.shapeOff;
    for (let i = 0; i < n; i++) {
      const s = this.ks[i] as number;
      const len = (this.ke[i] as number) - s;
      const o = off[i] as number;
      if ((off[i + 1] as number) - o !== len) return false;
      // four bytes a step (keys are ~10-30 bytes), then the rest
      let j = 0;
      for (; j + 4 <= len; j += 4) if (bv.getUint32(s + j) !== sv.getUint32(o + j)) return false;
      for (; j < len; j++) if (b[s + j] !== sk[o + j]) return false;
    }
    return true;
  }

  /** The key checks and the limit, as capAttrs applies them, remembered for these key bytes. */
  private judge(w: Wire, caps: Caps): void {
    const n = this.n;
    this.shapeN = -1; // until the checks pass
    const keys: string[] = [];
    for (let i = 0; i < n; i++) keys.push(w.key(this.ks[i] as number, this.ke[i] as number));
    checkKeys(keys, this.seen);
    const kept = limitAttributes(
      keys.map((key, i) => ({ key, i })),
      caps,
    );
    this.kept = kept.map((a) => a.i);
    this.keptKeyUnits = 0;
    for (const a of kept) this.keptKeyUnits += a.key.length;
    const extra = this.extra ?? {};
    this.extraKeys = Object.keys(extra).filter((k) => !kept.some((a) => a.key === k));
    this.extraBytes = 0;
    for (const k of this.extraKeys) this.extraBytes += k.length + (extra[k] as string).length + 6;
    let total = 0;
    for (let i = 0; i < n; i++) total += (this.ke[i] as number) - (this.ks[i] as number);
    if (this.shapeKeys.length < total) {
      this.shapeKeys = Buffer.alloc(total * 2);
      this.shapeView = viewOf(this.shapeKeys);
    }
    if (this.shapeOff.length < n + 1) this.shapeOff = new Int32Array(n * 2 + 1);
    let o = 0;
    for (let i = 0; i < n; i++) {
      this.shapeOff[i] = o;
      o += w.buf.copy(this.shapeKeys, o, this.ks[i] as number, this.ke[i] as number);
    }
    this.shapeOff[n] = o;
    this.shapeN = n;
  }

  /** Estimated bytes of the kept attributes as attrBytes() counts them, the enrichment's included. */
  bytes(): number {
    let n = 2 + this.keptKeyUnits + 6 * this.kept.length + this.extraBytes;
    for (const i of this.kept) {
      const vs = this.vs[i] as number;
      n += vs >= 0 ? (this.ve[i] as number) - vs : (this.str[i] as string).length;
    }
    return n;
  }

  /** The kept attributes and the enrichment as a Map(String, String), as writeAttrs writes them. */
  write(out: Writer, w: Wire): void {
    const b = w.buf;
    const bv = w.view;
    out.varint(this.kept.length + this.extraKeys.length);
    for (const i of this.kept) {
      out.bytesVia(b, bv, this.ks[i] as number, this.ke[i] as number);
      const vs = this.vs[i] as number;
      if (vs >= 0) out.bytesVia(b, bv, vs, this.ve[i] as number);
      else out.str(this.str[i] as string);
    }
    const extra = this.extra as Record<string, string>;
    for (const k of this.extraKeys) {
      out.str(k);
      out.str(extra[k] as string);
    }
  }
}

/** Applies limit() + truncate_all() like attrsToMap; returns the kept attributes (no duplicates allowed). */
function capAttrs(w: Wire, list: Attr[], caps: Caps, seen: Set<string>): Attr[] {
  checkKeys(
    list.map((a) => a.key),
    seen,
  );
  const kept = limitAttributes(list, caps);
  for (const a of kept) if (a.vs >= 0) a.ve = cutValue(w.buf, a.vs, a.ve, caps.valueBytes);
  return kept;
}

/** Estimated bytes as mapBytes() counts them (UTF-16 units there; bytes here, never fewer). */
function attrBytes(list: Attr[]): number {
  let n = 2;
  for (const a of list) n += a.key.length + (a.vs >= 0 ? a.ve - a.vs : a.str.length) + 6;
  return n;
}

function writeAttrs(out: Writer, w: Wire, list: Attr[], extra?: Record<string, string>): void {
  let extraKeys: string[] = [];
  if (extra) {
    extraKeys = Object.keys(extra).filter((k) => !list.some((a) => a.key === k));
  }
  out.varint(list.length + extraKeys.length);
  for (const a of list) {
    out.str(a.key);
    if (a.vs >= 0) out.bytes(w.buf, a.vs, a.ve);
    else out.str(a.str);
  }
  for (const k of extraKeys) {
    out.str(k);
    out.str((extra as Record<string, string>)[k] as string);
  }
}

function attrList(w: Wire, end: number, into: Attr[]): void {
  const n = w.len(end);
  keyValue(w, w.pos + n, into);
}

interface Event {
  tLo: number;
  tHi: number;
  ns: number;
  ne: number;
  attrs: Attr[];
}
interface Link {
  traceId: string;
  spanId: string;
  ts: number;
  te: number;
  attrs: Attr[];
}

/**
 * Writes the rows of one ExportTraceServiceRequest into `out`; returns the number of rows.
 * ctx.rejected / bytes are updated as traceRows() does. Throws Fallback (caller uses the object path).
 */
export function wireTraceRows(body: Buffer, ctx: RowContext, out: Writer, marks?: RowMarks): number {
  const w = new Wire(body);
  const seen = new Set<string>();
  const extra = ctx.enrich?.attributes;
  const sa = new SpanAttrs(extra, seen);
  const split = (v: bigint) => ({ lo: Number(v & 0xffffffffn), hi: Number((v >> 32n) & 0xffffffffn) });
  const win = ctx.window
    ? (() => {
        const a = split(ctx.window.minNs < 0n ? 0n : ctx.window.minNs);
        const b = split(ctx.window.maxNs > 2n ** 64n - 1n ? 2n ** 64n - 1n : ctx.window.maxNs);
        return { minLo: a.lo, minHi: a.hi, maxLo: b.lo, maxHi: b.hi };
      })()
    : undefined;
  let rows = 0;
  const end = body.length;
  while (w.pos < end) {
    const tag = w.varint();
    if (tag >>> 3 !== 1 || (tag & 7) !== 2) {
      w.skip(tag & 7, end);
      continue;
    }
    // ResourceSpans
    const rsEndLen = w.len(end);
    const rsEnd = w.pos + rsEndLen;
    let resAttrs: Attr[] = [];
    const scopes: [number, number][] = [];
    while (w.pos < rsEnd) {
      const t = w.varint();
      const f = t >>> 3;
      const wt = t & 7;
      if (f === 1 && wt === 2) {
        // Resource: last one wins
        const rEndLen = w.len(rsEnd);
        const rEnd = w.pos + rEndLen;
        resAttrs = [];
        while (w.pos < rEnd) {
          const rt = w.varint();
          if (rt >>> 3 === 1 && (rt & 7) === 2) attrList(w, rEnd, resAttrs);
          else w.skip(rt & 7, rEnd);
        }
      } else if (f === 2 && wt === 2) {
        const n = w.len(rsEnd);
        scopes.push([w.pos, w.pos + n]);
        w.pos += n;
      } else w.skip(wt, rsEnd);
    }
    if (w.pos !== rsEnd) fallback('truncated');
    const res = capAttrs(w, resAttrs, RESOURCE_CAPS, seen);
    const resW = new Writer(256);
    writeAttrs(resW, w, res);
    const resBin = resW.take();
    const resBytes = attrBytes(res);
    const svcAttr = res.find((a) => a.key === 'service.name');
    const svc = svcAttr
      ? svcAttr.vs >= 0
        ? w.buf.toString('utf8', svcAttr.vs, svcAttr.ve)
        : svcAttr.str
      : '';
    const afterRs = w.pos;
    for (const [ss, se] of scopes) {
      w.pos = ss;
      let scopeName = '';
      let scopeVersion = '';
      const spans: [number, number][] = [];
      while (w.pos < se) {
        const t = w.varint();
        const f = t >>> 3;
        const wt = t & 7;
        if (f === 1 && wt === 2) {
          const sEndLen = w.len(se);
          const sEnd = w.pos + sEndLen;
          scopeName = '';
          scopeVersion = '';
          while (w.pos < sEnd) {
            const st = w.varint();
            const sf = st >>> 3;
            if ((sf === 1 || sf === 2) && (st & 7) === 2) {
              const n = w.len(sEnd);
              const v = w.string(w.pos, w.pos + n);
              w.pos += n;
              if (sf === 1) scopeName = v;
              else scopeVersion = v;
            } else w.skip(st & 7, sEnd);
          }
        } else if (f === 2 && wt === 2) {
          const n = w.len(se);
          spans.push([w.pos, w.pos + n]);
          w.pos += n;
        } else w.skip(wt, se);
      }
      // what every row of this scope repeats, from ServiceName to ScopeVersion, encoded once
      const headW = new Writer(resBin.length + 256);
      headW.str(svc);
      headW.raw(resBin);
      headW.str(scopeName);
      headW.str(scopeVersion);
      const scopeHead = headW.take();
      for (const [ps, pe] of spans) {
        w.pos = ps;
        let traceId = -1; // ids: their start in the body, -1 for ''
        let spanId = -1;
        let parentId = -1;
        let tsS = 0;
        let tsE = 0;
        let nameS = 0;
        let nameE = 0;
        let kind = 0;
        let sLo = 0;
        let sHi = 0;
        let eLo = 0;
        let eHi = 0;
        sa.n = 0;
        const events: Event[] = [];
        const links: Link[] = [];
        let statusCode = 0;
        let msgS = 0;
        let msgE = 0;
        while (w.pos < pe) {
          const t = w.varint();
          const f = t >>> 3;
          const wt = t & 7;
          if (wt === 2 && f !== 6 && f !== 7 && f !== 8) {
            const n = w.len(pe);
            const s = w.pos;
            const e = s + n;
            switch (f) {
              case 1:
                traceId = w.idAt(s, e, 16);
                break;
              case 2:
                spanId = w.idAt(s, e, 8);
                break;
              case 3:
                w.utf8(s, e);
                tsS = s;
                tsE = e;
                break;
              case 4:
                parentId = w.idAt(s, e, 8);
                break;
              case 5:
                w.utf8(s, e);
                nameS = s;
                nameE = e;
                break;
              case 9:
                sa.add(w, e);
                break;
              case 11: {
                const ev: Event = { tLo: 0, tHi: 0, ns: 0, ne: 0, attrs: [] };
                while (w.pos < e) {
                  const et = w.varint();
                  const ef = et >>> 3;
                  const ewt = et & 7;
                  if (ef === 1 && ewt === 1) {
                    w.fixed64parts();
                    ev.tLo = w.lo;
                    ev.tHi = w.hi;
                  } else if (ef === 2 && ewt === 2) {
                    const m = w.len(e);
                    w.utf8(w.pos, w.pos + m);
                    ev.ns = w.pos;
                    ev.ne = w.pos + m;
                    w.pos += m;
                  } else if (ef === 3 && ewt === 2) attrList(w, e, ev.attrs);
                  else if (ef >= 1 && ef <= 3) fallback('wire type');
                  else w.skip(ewt, e);
                }
                events.push(ev);
                break;
              }
              case 13: {
                const l: Link = { traceId: '', spanId: '', ts: 0, te: 0, attrs: [] };
                while (w.pos < e) {
                  const lt = w.varint();
                  const lf = lt >>> 3;
                  const lwt = lt & 7;
                  if (lwt === 2 && lf >= 1 && lf <= 4) {
                    const m = w.len(e);
                    const a = w.pos;
                    if (lf === 1) l.traceId = w.id(a, a + m, 16);
                    else if (lf === 2) l.spanId = w.id(a, a + m, 8);
                    else if (lf === 3) {
                      w.utf8(a, a + m);
                      l.ts = a;
                      l.te = a + m;
                    } else {
                      w.pos = a;
                      keyValue(w, a + m, l.attrs);
                    }
                    w.pos = a + m;
                  } else if (lf >= 1 && lf <= 4) fallback('wire type');
                  else w.skip(lwt, e);
                }
                links.push(l);
                break;
              }
              case 15: {
                statusCode = 0;
                msgS = 0;
                msgE = 0;
                while (w.pos < e) {
                  const st = w.varint();
                  const sf = st >>> 3;
                  const swt = st & 7;
                  if (sf === 2 && swt === 2) {
                    const m = w.len(e);
                    w.utf8(w.pos, w.pos + m);
                    msgS = w.pos;
                    msgE = w.pos + m;
                    w.pos += m;
                  } else if (sf === 3 && swt === 0) statusCode = w.int32();
                  else if (sf === 2 || sf === 3) fallback('wire type');
                  else w.skip(swt, e);
                }
                break;
              }
              default:
                if (f === 10 || f === 12 || f === 14 || f === 16) fallback('wire type');
            }
            w.pos = e;
          } else if (f === 6 && wt === 0) kind = w.int32();
          else if (f === 7 && wt === 1) {
            w.fixed64parts();
            sLo = w.lo;
            sHi = w.hi;
          } else if (f === 8 && wt === 1) {
            w.fixed64parts();
            eLo = w.lo;
            eHi = w.hi;
          } else if (f >= 1 && f <= 15 && !(f === 10 || f === 12 || f === 14)) fallback('wire type');
          else w.skip(wt, pe);
        }
        if (w.pos !== pe) fallback('truncated');
        const inside =
          !win ||
          ((sHi > win.minHi || (sHi === win.minHi && sLo >= win.minLo)) &&
            (sHi < win.maxHi || (sHi === win.maxHi && sLo <= win.maxLo)));
        if (!inside && !inWindow(ctx, (BigInt(sHi) << 32n) | BigInt(sLo))) continue;
        sa.check(w, SPAN_CAPS);
        const evAttrs = events.map((ev) => capAttrs(w, ev.attrs, EVENT_CAPS, seen));
        const lkAttrs = links.map((l) => capAttrs(w, l.attrs, OTHER_CAPS, seen));
        let bytes = 400 + resBytes + sa.bytes() + (nameE - nameS) + (msgE - msgS);
        for (const a of evAttrs) bytes += 60 + attrBytes(a);
        for (const a of lkAttrs) bytes += 80 + attrBytes(a);
        charge(ctx, bytes, 'span');
        // the row, in TRACE_COLUMNS order
        const rowAt = out.pos;
        if (sHi >= 0x80000000) out.u64parts(0xffffffff, 0x7fffffff);
        else out.u64parts(sLo, sHi);
        out.hexId(w.buf, traceId, 16);
        out.hexId(w.buf, spanId, 8);
        out.hexId(w.buf, parentId, 8);
        out.bytes(w.buf, tsS, tsE);
        const nameAt = out.pos;
        out.bytes(w.buf, nameS, nameE);
        out.raw(KIND_BIN[kind] ?? EMPTY_BIN);
        const svcAt = out.pos;
        out.raw(scopeHead);
        sa.write(out, w);
        if (eHi > sHi || (eHi === sHi && eLo > sLo)) {
          let dLo = eLo - sLo;
          let dHi = eHi - sHi;
          if (dLo < 0) {
            dLo += 0x100000000;
            dHi -= 1;
          }
          out.u64parts(dLo, dHi);
        } else out.u64parts(0, 0);
        out.raw(STATUS_BIN[statusCode] ?? EMPTY_BIN);
        out.bytes(w.buf, msgS, msgE);
        out.varint(events.length);
        for (const ev of events) {
          if (ev.tHi >= 0x80000000) out.u64parts(0xffffffff, 0x7fffffff);
          else out.u64parts(ev.tLo, ev.tHi);
        }
        out.varint(events.length);
        for (const ev of events) out.bytes(w.buf, ev.ns, ev.ne);
        out.varint(events.length);
        for (const a of evAttrs) writeAttrs(out, w, a);
        out.varint(links.length);
        for (const l of links) out.str(l.traceId);
        out.varint(links.length);
        for (const l of links) out.str(l.spanId);
        out.varint(links.length);
        for (const l of links) out.bytes(w.buf, l.ts, l.te);
        out.varint(links.length);
        for (const a of lkAttrs) writeAttrs(out, w, a);
        marks?.add(rowAt, nameAt, svcAt);
        rows++;
      }
    }
    w.pos = afterRs;
  }
  return rows;
}
