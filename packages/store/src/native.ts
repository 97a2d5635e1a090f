// Native format transcoding between the plain layout chDB reads/writes (HTTP without
// client_protocol_version) and the layout a native client (clickhouse-go over HTTP, i.e. the collector's
// clickhouse exporter) uses when it sends client_protocol_version=N. Results it reads: every block starts
// with BlockInfo (field 1 is_overflows, field 2 bucket_num, 0) when N > 0, and every column carries a
// "custom serialization" flag byte after its type when N >= 54454. INSERT bodies it sends are plain
// (neither BlockInfo nor flags: observed from the exporter v0.152 build). Column data is the same in all
// layouts, so the transcoder only walks the data to find where each column ends.

export const REVISION_WITH_CUSTOM_SERIALIZATION = 54454;

export interface Layout {
  blockInfo: boolean;
  flags: boolean;
}
export const PLAIN: Layout = { blockInfo: false, flags: false };
export const outputLayout = (revision: number): Layout => ({
  blockInfo: revision > 0,
  flags: revision >= REVISION_WITH_CUSTOM_SERIALIZATION,
});
export const inputLayout = (_revision: number): Layout => PLAIN;

/** A ClickHouse data type, parsed (parseType). */
export type TypeNode =
  | { k: 'fixed'; size: number }
  | { k: 'string' }
  | { k: 'nullable'; of: TypeNode }
  | { k: 'array'; of: TypeNode }
  | { k: 'map'; key: TypeNode; value: TypeNode }
  | { k: 'tuple'; items: TypeNode[] }
  | { k: 'lc'; of: TypeNode };

const FIXED: Record<string, number> = {
  UInt8: 1,
  Int8: 1,
  Bool: 1,
  Enum8: 1,
  Nothing: 1,
  UInt16: 2,
  Int16: 2,
  Enum16: 2,
  Date: 2,
  BFloat16: 2,
  UInt32: 4,
  Int32: 4,
  Float32: 4,
  DateTime: 4,
  Date32: 4,
  IPv4: 4,
  Decimal32: 4,
  Time: 4,
  UInt64: 8,
  Int64: 8,
  Float64: 8,
  DateTime64: 8,
  Decimal64: 8,
  Time64: 8,
  UInt128: 16,
  Int128: 16,
  UUID: 16,
  IPv6: 16,
  Decimal128: 16,
  UInt256: 32,
  Int256: 32,
  Decimal256: 32,
};

export class NativeFormatError extends Error {}

function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = false;
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (quote) {
      cur += c;
      if (c === '\\') cur += s[++i] ?? '';
      else if (c === "'") quote = false;
      continue;
    }
    if (c === "'") quote = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += c;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

export function parseType(type: string): TypeNode {
  const s = type.trim();
  const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*(?:\(([\s\S]*)\))?$/.exec(s);
  if (!m) throw new NativeFormatError(`unsupported type ${type}`);
  const name = m[1] as string;
  const args = m[2] !== undefined ? splitTopLevel(m[2]) : [];
  switch (name) {
    case 'String':
      return { k: 'string' };
    case 'FixedString':
      return { k: 'fixed', size: Number(args[0]) };
    case 'Nullable':
      return { k: 'nullable', of: parseType(args[0] ?? '') };
    case 'LowCardinality':
      return { k: 'lc', of: parseType(args[0] ?? '') };
    case 'Array':
      return { k: 'array', of: parseType(args[0] ?? '') };
    case 'Map':
      return { k: 'map', key: parseType(args[0] ?? ''), value: parseType(args[1] ?? '') };
    case 'Tuple':
      return {
        k: 'tuple',
        items: args.map((a) => {
          const named = /^([A-Za-z_][A-Za-z0-9_]*)\s+(\S[\s\S]*)$/.exec(a);
          return parseType(named && !/^[A-Za-z_][A-Za-z0-9_]*\s*\(/.test(a) ? (named[2] as string) : a);
        }),
      };
    case 'Decimal': {
      const p = Number(args[0]);
      return { k: 'fixed', size: p <= 9 ? 4 : p <= 18 ? 8 : p <= 38 ? 16 : 32 };
    }
    default: {
      const size = FIXED[name];
      if (size === undefined) throw new NativeFormatError(`unsupported type in Native transcoding: ${type}`);
      return { k: 'fixed', size };
    }
  }
}

/** A cursor over ClickHouse-encoded bytes (LEB128 lengths, little-endian numbers); throws when they run out. */
export class Reader {
  off = 0;
  constructor(readonly b: Buffer) {}
  need(n: number) {
    if (this.off + n > this.b.length) throw new NativeFormatError('truncated Native data');
  }
  varint(): number {
    // most lengths are below 128: one byte, one check
    const first = this.b[this.off];
    if (first !== undefined && first < 0x80) {
      this.off++;
      return first;
    }
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      this.need(1);
      const byte = this.b[this.off++] as number;
      v += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return v;
      if (shift > 63) throw new NativeFormatError('bad varint');
    }
  }
  u64(): number {
    this.need(8);
    const v = this.b.readBigUInt64LE(this.off);
    this.off += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new NativeFormatError('size out of range');
    return Number(v);
  }
  skip(n: number) {
    this.need(n);
    this.off += n;
  }
  string(): string {
    const n = this.varint();
    this.need(n);
    const s = this.b.toString('utf8', this.off, this.off + n);
    this.off += n;
    return s;
  }
}

function skipPrefix(t: TypeNode, r: Reader): void {
  switch (t.k) {
    case 'lc':
      r.skip(8); // keys serialization version
      return;
    case 'nullable':
    case 'array':
      skipPrefix(t.of, r);
      return;
    case 'map':
      skipPrefix(t.key, r);
      skipPrefix(t.value, r);
      return;
    case 'tuple':
      for (const i of t.items) skipPrefix(i, r);
      return;
    default:
      return;
  }
}

const INDEX_SIZE = [1, 2, 4, 8];

function skipData(t: TypeNode, n: number, r: Reader): void {
  if (n === 0) return;
  switch (t.k) {
    case 'fixed':
      r.skip(n * t.size);
      return;
    case 'string':
      for (let i = 0; i < n; i++) r.skip(r.varint());
      return;
    case 'nullable':
      r.skip(n);
      skipData(t.of, n, r);
      return;
    case 'array':
    case 'map': {
      r.skip((n - 1) * 8);
      const total = r.u64();
      if (t.k === 'array') skipData(t.of, total, r);
      else {
        skipData(t.key, total, r);
        skipData(t.value, total, r);
      }
      return;
    }
    case 'tuple':
      for (const i of t.items) skipData(i, n, r);
      return;
    case 'lc': {
      const dict = t.of.k === 'nullable' ? t.of.of : t.of;
      let rows = 0;
      while (rows < n) {
        const flags = r.u64();
        const indexSize = INDEX_SIZE[flags & 0xff];
        if (indexSize === undefined) throw new NativeFormatError('bad LowCardinality index type');
        if (flags & (1 << 9)) skipData(dict, r.u64(), r);
        const count = r.u64();
        r.skip(count * indexSize);
        rows += count;
        if (count === 0) break;
      }
      return;
    }
  }
}

function putVarint(out: number[], v: number): void {
  let x = v;
  while (x >= 0x80) {
    out.push((x % 0x80) | 0x80);
    x = Math.floor(x / 0x80);
  }
  out.push(x);
}

function putString(parts: Buffer[], s: string): void {
  const b = Buffer.from(s, 'utf8');
  const len: number[] = [];
  putVarint(len, b.length);
  parts.push(Buffer.from(len), b);
}

/** Re-encodes Native data from one layout into another. */
export function transcodeNative(input: Uint8Array, from: Layout, to: Layout): Buffer {
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (from.blockInfo === to.blockInfo && from.flags === to.flags) return buf;
  const r = new Reader(buf);
  const parts: Buffer[] = [];
  while (r.off < buf.length) {
    if (from.blockInfo) {
      for (;;) {
        const field = r.varint();
        if (field === 0) break;
        if (field === 1) r.skip(1);
        else if (field === 2) r.skip(4);
        else throw new NativeFormatError(`unknown BlockInfo field ${field}`);
      }
    }
    const head: number[] = [];
    if (to.blockInfo) head.push(1, 0, 2, 0xff, 0xff, 0xff, 0xff, 0); // is_overflows=false, bucket_num=-1, end
    const cols = r.varint();
    const rows = r.varint();
    putVarint(head, cols);
    putVarint(head, rows);
    parts.push(Buffer.from(head));
    for (let c = 0; c < cols; c++) {
      const name = r.string();
      const type = r.string();
      if (from.flags) {
        r.need(1);
        if (r.b[r.off++] !== 0)
          throw new NativeFormatError(`column ${name}: custom (sparse) serialization is not supported`);
      }
      const start = r.off;
      const t = parseType(type);
      skipPrefix(t, r);
      skipData(t, rows, r);
      putString(parts, name);
      putString(parts, type);
      if (to.flags) parts.push(Buffer.from([0]));
      parts.push(buf.subarray(start, r.off));
    }
  }
  return Buffer.concat(parts);
}
