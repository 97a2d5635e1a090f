// The lattice of segments over a table of leaves: every combination of at most `maxDims` dimensions' values
// that some leaf has (a "segment"), each leaf's membership, and sums over segments. Two layouts, one contract:
//
// - sparse: the segments that occur, found leaf by leaf (leaves × combinations of dimensions entries). Small
//   and exact for the SLI cube and most leaf tables.
// - dense: every segment of the full product of the dimensions' values (each value or "any"), indexed by its
//   mixed-radix key; leaf sums are spread to all segments by a sum over subsets, one dimension at a time
//   (dimensions × segments additions, independent of how many leaves there are). For tables with millions of
//   leaves and moderate dimensions, like the RiskLoc paper's H set (24 M leaves, 6 dimensions, 40.7 M segments).
//
// A segment's key is Σ code[d] × stride[d], with code 0 meaning "any value" and codes 1… naming values.

/** The leaves as columns; leaf i's code in dimension d (1-based, 0 never) at codes[i × dims + d]. */
export interface CellTable {
  dims: string[];
  /** per dimension, its values: code c names values[d][c - 1] */
  values: string[][];
  codes: Int32Array;
  n: Float64Array;
  obs: Float64Array;
  exp: Float64Array;
}

/** Per-segment sums. */
export interface Agg {
  n: Float64Array;
  obs: Float64Array;
  exp: Float64Array;
  /** Σ expected^kappa, for the overdispersion scale */
  ek: Float64Array;
}

export interface Lattice {
  /** segment ids are 0 … size − 1; not every id need be a segment (see `isSegment`) */
  size: number;
  /** segments: combinations of at most maxDims dimensions that some leaf has */
  segments: number;
  isSegment(id: number): boolean;
  /** per dimension: the segment's code (0 = any value) */
  decode(id: number): number[];
  /** the segment with these codes, if it is one */
  lookup(codes: number[]): number | undefined;
  /** how many dimensions the segment fixes */
  width(id: number): number;
  /** a membership test for one segment: leaf index → inside it */
  member(id: number): (leaf: number) => boolean;
  /** per-segment sums of one per-leaf value (into `out` when given, which is overwritten) */
  sum(leafValues: Float64Array, out?: Float64Array): Float64Array;
}

/** Above this many leaf × combination entries the sparse layout is not built (memory and time). */
export const SPARSE_MAX_ENTRIES = 40_000_000;
/**
 * Above this many segments the dense layout is not built: per segment, six sums of 8 bytes (the original ones and
 * the expectations re-summed as the set grows), a leaf count and a width, ~53 bytes: 64 M → ~3.4 GB.
 */
export const DENSE_MAX_SEGMENTS = 64 * 1024 * 1024;

/** The combinations of dimensions (as index lists) of 1 … maxDims dimensions, in lexicographic order. */
function dimensionMasks(dimCount: number, maxDims: number): number[][] {
  const masks: number[][] = [];
  const walk = (start: number, acc: number[]) => {
    if (acc.length > 0) masks.push(acc);
    if (acc.length === maxDims) return;
    for (let d = start; d < dimCount; d++) walk(d + 1, [...acc, d]);
  };
  walk(0, []);
  return masks;
}

/** A table whose lattice fits neither layout (the caller's input is too large, not broken). */
export class LatticeTooLargeError extends Error {
  override name = 'LatticeTooLargeError';
}

/** The sparse layout when it fits, else the dense one when that fits, else an error. `layout` forces one. */
export function buildLattice(t: CellTable, maxDims: number, layout?: 'sparse' | 'dense'): Lattice {
  const D = t.dims.length;
  const leaves = t.n.length;
  const radix = t.values.map((v) => v.length + 1);
  const strides: number[] = [];
  let size = 1;
  for (let d = 0; d < D; d++) {
    strides.push(size);
    size *= radix[d]!;
  }
  const masks = dimensionMasks(D, maxDims);
  const sparseFits = leaves * masks.length <= SPARSE_MAX_ENTRIES && size <= Number.MAX_SAFE_INTEGER;
  const denseFits = size <= DENSE_MAX_SEGMENTS;
  const use = layout ?? (sparseFits ? 'sparse' : denseFits ? 'dense' : undefined);
  if (use === undefined || (use === 'sparse' && !sparseFits) || (use === 'dense' && !denseFits))
    throw new LatticeTooLargeError(
      `too large to localize: ${leaves} leaves × ${masks.length} combinations of up to ${maxDims} dimensions, ${size} segments`,
    );
  const decodeKey = (key: number) => radix.map((r, d) => Math.floor(key / strides[d]!) % r);
  return use === 'sparse'
    ? sparseLattice(t, masks, strides, decodeKey)
    : denseLattice(t, maxDims, radix, strides, size, decodeKey);
}

function sparseLattice(
  t: CellTable,
  masks: number[][],
  strides: number[],
  decodeKey: (key: number) => number[],
): Lattice {
  const D = t.dims.length;
  const leaves = t.n.length;
  const M = masks.length;
  const ids = new Map<number, number>();
  const keys: number[] = [];
  const leafSeg = new Int32Array(leaves * M);
  for (let i = 0; i < leaves; i++)
    for (let j = 0; j < M; j++) {
      let key = 0;
      for (const d of masks[j]!) key += t.codes[i * D + d]! * strides[d]!;
      let id = ids.get(key);
      if (id === undefined) {
        id = keys.length;
        ids.set(key, id);
        keys.push(key);
      }
      leafSeg[i * M + j] = id;
    }
  const widths = Uint8Array.from(keys, (k) => decodeKey(k).filter((c) => c > 0).length);
  return {
    size: keys.length,
    segments: keys.length,
    isSegment: () => true,
    decode: (id) => decodeKey(keys[id]!),
    lookup: (codes) => ids.get(codes.reduce((s, c, d) => s + c * strides[d]!, 0)),
    width: (id) => widths[id]!,
    member: (id) => (i) => {
      for (let j = 0; j < M; j++) if (leafSeg[i * M + j] === id) return true;
      return false;
    },
    sum: (v, out) => {
      const a = out?.fill(0) ?? new Float64Array(keys.length);
      for (let i = 0; i < leaves; i++) {
        const x = v[i]!;
        for (let j = 0; j < M; j++) a[leafSeg[i * M + j]!]! += x;
      }
      return a;
    },
  };
}

function denseLattice(
  t: CellTable,
  maxDims: number,
  radix: number[],
  strides: number[],
  size: number,
  decodeKey: (key: number) => number[],
): Lattice {
  const D = t.dims.length;
  const leaves = t.n.length;
  const leafKey = new Int32Array(leaves);
  for (let i = 0; i < leaves; i++) {
    let key = 0;
    for (let d = 0; d < D; d++) key += t.codes[i * D + d]! * strides[d]!;
    leafKey[i] = key;
  }
  // sum over subsets, in place: after dimension d, a key with code 0 in d holds the sum over all codes of d
  const spread = (arr: Float64Array | Int32Array) => {
    for (let d = 0; d < D; d++) {
      const s = strides[d]!;
      const r = radix[d]!;
      const block = s * r;
      if (s === 1)
        // the first dimension: its codes are adjacent
        for (let base = 0; base < size; base += block) {
          let acc = 0;
          for (let j = 1; j < r; j++) acc += arr[base + j]!;
          arr[base]! += acc;
        }
      else
        for (let base = 0; base < size; base += block)
          for (let j = 1; j < r; j++) {
            const from = base + j * s;
            for (let k = 0; k < s; k++) arr[base + k]! += arr[from + k]!;
          }
    }
  };
  const count = new Int32Array(size);
  for (let i = 0; i < leaves; i++) count[leafKey[i]!]!++;
  spread(count);
  // width of every key: one more than the key with its lowest non-zero code cleared
  const widths = new Uint8Array(size);
  for (let d = 0; d < D; d++) {
    const s = strides[d]!;
    const block = s * radix[d]!;
    for (let base = 0; base < size; base += block)
      for (let j = 1; j < radix[d]!; j++) {
        const from = base + j * s;
        for (let k = 0; k < s; k++) widths[from + k] = widths[base + k]! + 1;
      }
  }
  const isSegment = (id: number) => id > 0 && count[id]! > 0 && widths[id]! <= maxDims;
  let segments = 0;
  for (let id = 1; id < size; id++) if (isSegment(id)) segments++;
  return {
    size,
    segments,
    isSegment,
    decode: decodeKey,
    lookup: (codes) => {
      const key = codes.reduce((s, c, d) => s + c * strides[d]!, 0);
      return isSegment(key) ? key : undefined;
    },
    width: (id) => widths[id]!,
    member: (id) => {
      const codes = decodeKey(id);
      const fixed = codes.flatMap((c, d) => (c > 0 ? [d] : []));
      return (i) => {
        for (const d of fixed) if (t.codes[i * D + d] !== codes[d]) return false;
        return true;
      };
    },
    sum: (v, out) => {
      const a = out?.fill(0) ?? new Float64Array(size);
      for (let i = 0; i < leaves; i++) a[leafKey[i]!]! += v[i]!;
      spread(a);
      return a;
    },
  };
}
