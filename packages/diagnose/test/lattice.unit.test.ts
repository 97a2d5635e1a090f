// The two lattice layouts (lattice.ts) give the same localization, and the dense one takes tables the sparse
// one cannot (millions of leaves × 63 combinations of 6 dimensions, as in the RiskLoc paper's H set).
import { describe, expect, test } from 'vitest';
import { selectKth } from '../src/core.js';
import { cellTable, type LeafCell, localizeCells, localizeTable } from '../src/index.js';
import { buildLattice, SPARSE_MAX_ENTRIES } from '../src/lattice.js';
import { rng } from './rng.js';

/** A random table: `sizes` values per dimension, a share of leaves missing, anomalies in given segments. */
function table(seed: number, sizes: number[], mode: 'rate' | 'count', faults: Array<Record<number, number>>) {
  const r = rng(seed);
  const cells: LeafCell[] = [];
  const walk = (d: number, acc: number[]) => {
    if (d === sizes.length) {
      if (r() < 0.15) return; // not every combination occurs
      const hit = faults.some((f) => Object.entries(f).every(([k, v]) => acc[Number(k)] === v));
      const values = acc.map((v, i) => `${String.fromCharCode(97 + i)}${v}`);
      if (mode === 'rate') {
        const n = Math.floor(50 + 500 * r());
        const p = 0.01 + 0.02 * r();
        const bad = Math.round(n * (hit ? p + 0.3 : p) * (0.8 + 0.4 * r()));
        cells.push({ values, n, obs: bad, exp: n * p });
      } else {
        const f = 10 + 300 * r();
        const v = f * (1 + 0.1 * (r() + r() + r() - 1.5)) * (hit ? 0.5 : 1);
        cells.push({ values, n: f, obs: v, exp: f });
      }
      return;
    }
    for (let v = 1; v <= sizes[d]!; v++) walk(d + 1, [...acc, v]);
  };
  walk(0, []);
  return { cells, dims: sizes.map((_, i) => String.fromCharCode(97 + i)) };
}

describe('sparse and dense lattices', () => {
  const cases: Array<{
    mode: 'rate' | 'count';
    seed: number;
    sizes: number[];
    faults: Array<Record<number, number>>;
  }> = [
    { mode: 'count', seed: 1, sizes: [6, 5, 4, 3], faults: [{ 0: 2, 1: 3 }, { 2: 4 }] },
    { mode: 'count', seed: 2, sizes: [8, 4, 5], faults: [{ 0: 1, 1: 1, 2: 1 }, { 0: 7 }] },
    { mode: 'rate', seed: 3, sizes: [5, 4, 6, 2], faults: [{ 1: 2, 3: 1 }] },
    {
      mode: 'rate',
      seed: 4,
      sizes: [3, 7, 4],
      faults: [
        { 0: 1, 1: 2 },
        { 0: 3, 1: 5 },
      ],
    },
  ];
  for (const c of cases)
    test(`${c.mode} mode, dimensions ${c.sizes.join('×')}: the same set, culprits and evidence`, () => {
      const { cells, dims } = table(c.seed, c.sizes, c.mode, c.faults);
      for (const maxDimensions of [2, dims.length]) {
        const sparse = localizeCells(cells, dims, { mode: c.mode, maxDimensions, layout: 'sparse' });
        const dense = localizeCells(cells, dims, { mode: c.mode, maxDimensions, layout: 'dense' });
        expect(sparse.set.length).toBeGreaterThan(0);
        expect(dense.candidates).toBe(sparse.candidates);
        expect(dense.culprits.map((x) => [x.where, x.inSet])).toEqual(
          sparse.culprits.map((x) => [x.where, x.inSet]),
        );
        dense.culprits.forEach((x, i) => {
          const y = sparse.culprits[i]!;
          expect(x.score).toBeCloseTo(y.score, 6);
          expect(x.obs).toBeCloseTo(y.obs, 6);
          expect(x.exp).toBeCloseTo(y.exp, 6);
          expect(x.explains).toBeCloseTo(y.explains, 9);
        });
      }
    });

  test('segments: every combination some leaf has, each once, with its width', () => {
    const { cells, dims } = table(5, [4, 3, 5], 'count', []);
    const t = cellTable(cells, dims);
    for (const maxDims of [1, 2, 3]) {
      const sparse = buildLattice(t, maxDims, 'sparse');
      const dense = buildLattice(t, maxDims, 'dense');
      const list = (l: typeof sparse) => {
        const out: string[] = [];
        for (let id = 0; id < l.size; id++)
          if (l.isSegment(id)) out.push(`${l.decode(id).join('.')}/${l.width(id)}`);
        return out.sort();
      };
      expect(list(dense)).toEqual(list(sparse));
      expect(dense.segments).toBe(sparse.segments);
      // membership: a leaf is in a segment exactly when it has the segment's values
      for (let id = 0; id < dense.size; id += 7) {
        if (!dense.isSegment(id)) continue;
        const codes = dense.decode(id);
        const inside = dense.member(id);
        const sparseId = sparse.lookup(codes)!;
        const inSparse = sparse.member(sparseId);
        for (let i = 0; i < cells.length; i++) {
          const want = codes.every((c, d) => c === 0 || t.codes[i * dims.length + d] === c);
          expect(inside(i)).toBe(want);
          expect(inSparse(i)).toBe(want);
        }
      }
    }
  });

  test('a table too large for the sparse layout (700,000 leaves × 63 combinations) is localized densely', () => {
    const sizes = [10, 10, 10, 10, 10, 7];
    const D = sizes.length;
    const leaves = sizes.reduce((a, b) => a * b, 1);
    expect(leaves * 63).toBeGreaterThan(SPARSE_MAX_ENTRIES);
    const r = rng(9);
    const codes = new Int32Array(leaves * D);
    const n = new Float64Array(leaves);
    const obs = new Float64Array(leaves);
    for (let i = 0; i < leaves; i++) {
      let x = i;
      for (let d = D - 1; d >= 0; d--) {
        codes[i * D + d] = (x % sizes[d]!) + 1;
        x = Math.floor(x / sizes[d]!);
      }
      const at = (d: number) => codes[i * D + d];
      const f = 10 + 100 * r();
      n[i] = f;
      let v = f * (1 + 0.1 * (r() + r() + r() - 1.5));
      // a two-value element (a3 ∧ c5: 7,000 leaves) and a one-leaf element
      if ((at(0) === 3 && at(2) === 5) || i === 123_456) v = f * 2.5;
      obs[i] = v;
    }
    const values = sizes.map((s, d) =>
      Array.from({ length: s }, (_, v) => `${String.fromCharCode(97 + d)}${v + 1}`),
    );
    const t = { dims: values.map((_, d) => String.fromCharCode(97 + d)), values, codes, n, obs, exp: n };
    expect(() => localizeTable(t, { mode: 'count', layout: 'sparse' })).toThrow(/too large to localize/);
    const res = localizeTable(t, { mode: 'count' });
    const leaf = [...codes.subarray(123_456 * D, 123_457 * D)].map(
      (c, d) => [String.fromCharCode(97 + d), `${String.fromCharCode(97 + d)}${c}`] as const,
    );
    expect(res.set.map((s) => s.where)).toEqual(
      expect.arrayContaining([{ a: 'a3', c: 'c5' }, Object.fromEntries(leaf)]),
    );
    expect(res.set).toHaveLength(2);
  }, 120_000);
});

test('selectKth: the k-th smallest, as a sort would place it, with ties and a few distinct values', () => {
  const r = rng(11);
  for (const [n, distinct] of [
    [1, 1],
    [2, 2],
    [101, 1000],
    [1000, 3],
    [4096, 1_000_000],
  ] as const)
    for (let trial = 0; trial < 5; trial++) {
      const xs = Float64Array.from({ length: n }, () => Math.floor(r() * distinct) - distinct / 2);
      const sorted = Float64Array.from(xs).sort();
      for (const k of [0, n >> 1, n - 1, Math.floor(r() * n)]) {
        const copy = Float64Array.from(xs);
        expect(selectKth(copy, k)).toBe(sorted[k]);
        // everything before k is no larger
        for (let i = 0; i < k; i++) expect(copy[i]!).toBeLessThanOrEqual(sorted[k]!);
      }
    }
});
