// The localization core shared by `diagnose` (the SLI cube) and `rca` (any leaf table): a pure function of
// leaf cells (one per combination of dimension values, with what was observed in the anomalous window and
// what was expected there), returning the root-cause set and the ranked alternatives.
//
// Expectations are per leaf and summed up the lattice (Σ requests × the leaf's own smoothed baseline rate), so
// a segment is never compared with a pooled baseline that a high-baseline part of it inflates. Each segment
// is scored with the expectation-based scan statistic (Kulldorff 1997; Neill 2012): the log-likelihood ratio
// of "it deviates from what was expected" minus the same for everything outside it. A root-cause set is then
// grown greedily: the best segment is refined against its parents and children (a nested-model test on the
// part of the parent the child leaves out: does that remainder look like the anomaly, or like its baseline?),
// added, and its excess counted as explained; the next element is searched in what remains, until nothing
// significant is left. Alternatives are ranked after the set.

import { type Agg, buildLattice, type CellTable } from './lattice.js';

/** 'rate': binomial (bad of n requests, expected = n × baseline rate); 'count': observed vs expected values. */
export type Mode = 'rate' | 'count';

export interface LeafCell {
  /** one value per dimension, in the order of `dims` */
  values: string[];
  /** requests in the window (rate mode); ignored in count mode */
  n: number;
  /** observed bad events (rate) or observed value (count) in the window */
  obs: number;
  /** expected bad events (rate: n × the leaf's baseline rate) or expected value (count) */
  exp: number;
}

export interface SegmentEvidence {
  /** dimension → value */
  where: Record<string, string>;
  /** scan statistic: deviation inside minus deviation left outside */
  score: number;
  /** log-likelihood ratio of the deviation inside */
  llr: number;
  n: number;
  obs: number;
  exp: number;
  outside: { n: number; obs: number; exp: number };
  /** share of the anomaly's excess this segment accounts for (not capped: > 1 when the rest moved the other way) */
  explains: number;
  /** part of the root-cause set */
  inSet: boolean;
}

export interface LocalizeOptions {
  mode: Mode;
  /** most dimensions in one combination (default: all) */
  maxDimensions?: number;
  /** most elements in the root-cause set (default 10) */
  maxElements?: number;
  /** ranked alternatives returned after the set (default 5) */
  top?: number;
  /** +1: the KPI rose (default for rate mode); -1: it fell; 0: whichever way the total moved (count mode) */
  direction?: 1 | -1 | 0;
  /** smallest log-likelihood ratio (after overdispersion scaling) for an element of the set (default 10 in rate mode, max(12, ln #segments) in count mode) */
  threshold?: number;
  /** how much likelier a remainder must be under one model than the other for the nested test (log) */
  nestedMargin?: number;
  /** an element must account for at least this share of the excess still unexplained (default 0.02 in rate mode, 0 in count mode) */
  minShare?: number;
  /**
   * count mode: an element that is a single leaf must deviate (log-ratio) more than `mirror` × the largest
   * deviation of any leaf in the other direction (what the noise reaches; default 1, 0 to turn off)
   */
  mirror?: number;
  /** count mode: variance floor, as a quantile of the positive expectations (default 0.1) */
  floorQuantile?: number;
  /** rate mode: set growths tried from the most significant segments besides the greedy one (default 8) */
  setSeeds?: number;
  /** the lattice's layout (default: sparse when it fits, else dense; see lattice.ts); the result is the same */
  layout?: 'sparse' | 'dense';
}

export interface LocalizeResult {
  direction: 1 | -1;
  set: SegmentEvidence[];
  culprits: SegmentEvidence[];
  /** total observed and expected in the window */
  total: { n: number; obs: number; exp: number };
  /** the excess (in the anomaly's direction) the explanations are measured against */
  excess: number;
  /** overdispersion: variance = phi × expected^kappa (count mode; 1, 1 in rate mode) */
  phi: number;
  kappa: number;
  candidates: number;
}

/** One-sided binomial log-likelihood ratio: observed k of n against rate p (0 unless k/n > p). */
export function binomialLlr(k: number, n: number, p: number): number {
  if (n <= 0 || k <= n * p) return 0;
  const q = Math.min(Math.max(p, 1e-6), 1 - 1e-6);
  const r = Math.min(k / n, 1 - 1e-9);
  return k * Math.log(r / q) + (n - k) * Math.log((1 - r) / (1 - q));
}

/** One-sided Poisson log-likelihood ratio: observed c against expected b (0 unless c > b). */
export function poissonLlr(c: number, b: number): number {
  const e = Math.max(b, 1e-6);
  return c <= e ? 0 : c * Math.log(c / e) - (c - e);
}

/** Poisson log-likelihood ratio of a drop: observed c below expected b (0 unless c < b). */
export function poissonDropLlr(c: number, b: number): number {
  if (c >= b || b <= 0) return 0;
  return c <= 0 ? b : c * Math.log(c / b) - (c - b);
}

/** Binomial log-likelihood of k of n at rate p1 minus at rate p0. */
function binomialLl(k: number, n: number, p1: number, p0: number): number {
  const c = (p: number) => Math.min(Math.max(p, 1e-9), 1 - 1e-9);
  return k * Math.log(c(p1) / c(p0)) + (n - k) * Math.log((1 - c(p1)) / (1 - c(p0)));
}

/**
 * The k-th smallest value (0-based) of a typed array, which is reordered: quickselect (Hoare partition, middle
 * pivot), linear on average; the values before k end up no larger than it.
 */
export function selectKth(xs: Float64Array, k: number): number {
  let lo = 0;
  let hi = xs.length - 1;
  while (lo < hi) {
    const pivot = xs[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (xs[i]! < pivot) i++;
      while (xs[j]! > pivot) j--;
      if (i <= j) {
        const x = xs[i]!;
        xs[i++] = xs[j]!;
        xs[j--] = x;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return xs[k]!;
  }
  return xs[k]!;
}

/** Median of a typed array (reordered). */
function median(xs: Float64Array): number {
  if (xs.length === 0) return 0;
  const m = xs.length >> 1;
  const upper = selectKth(xs, m);
  if (xs.length % 2) return upper;
  // the lower middle: the largest of the values selected below m
  let lower = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < m; i++) if (xs[i]! > lower) lower = xs[i]!;
  return (lower + upper) / 2;
}

/**
 * Overdispersion of observed vs expected values: variance ≈ phi × expected^kappa, kappa ∈ {1 (Poisson-like
 * counts), 2 (relative noise, as forecasts have)}, chosen as the one whose scaled residuals do not grow with the
 * expected value; phi from the median (robust to the anomalous leaves, which are few).
 */
export function dispersion(cells: LeafCell[]): { phi: number; kappa: number } {
  return dispersionOf(
    Float64Array.from(cells, (c) => c.obs),
    Float64Array.from(cells, (c) => c.exp),
  );
}

function dispersionOf(obs: Float64Array, exp: Float64Array): { phi: number; kappa: number } {
  let m = 0;
  for (let i = 0; i < exp.length; i++) if (exp[i]! > 0) m++;
  if (m < 20) return { phi: 1, kappa: 1 };
  const e = new Float64Array(m);
  const r2 = new Float64Array(m);
  for (let i = 0, j = 0; i < exp.length; i++)
    if (exp[i]! > 0) {
      e[j] = exp[i]!;
      r2[j++] = (obs[i]! - exp[i]!) ** 2;
    }
  // the lower half by expected value (ties in leaf order): below the half-th smallest, then ties
  const half = m >> 1;
  const cut = selectKth(Float64Array.from(e), half);
  let ties = half;
  for (let j = 0; j < m; j++) if (e[j]! < cut) ties--;
  const low = new Uint8Array(m);
  for (let j = 0; j < m; j++) if (e[j]! < cut || (e[j] === cut && ties-- > 0)) low[j] = 1;
  let best = { phi: 1, kappa: 1, skew: Number.POSITIVE_INFINITY };
  for (const kappa of [1, 2]) {
    const lo = new Float64Array(half);
    const hi = new Float64Array(m - half);
    const all = new Float64Array(m);
    for (let j = 0, a = 0, b = 0; j < m; j++) {
      const x = r2[j]! / e[j]! ** kappa;
      all[j] = x;
      if (low[j]) lo[a++] = x;
      else hi[b++] = x;
    }
    const skew = Math.abs(Math.log(Math.max(median(hi), 1e-12) / Math.max(median(lo), 1e-12)));
    if (skew < best.skew) {
      // the median of a chi-square with one degree of freedom is 0.455
      best = { phi: median(all) / 0.455, kappa, skew };
    }
  }
  return { phi: Math.max(best.phi, 1e-9), kappa: best.kappa };
}

/** Cell objects as columns, each dimension's values coded in order of first appearance. */
export function cellTable(cells: LeafCell[], dims: string[]): CellTable {
  const D = dims.length;
  const index = dims.map(() => new Map<string, number>());
  const values: string[][] = dims.map(() => []);
  const codes = new Int32Array(cells.length * D);
  cells.forEach((c, i) => {
    for (let d = 0; d < D; d++) {
      const v = c.values[d]!;
      let code = index[d]!.get(v);
      if (code === undefined) {
        values[d]!.push(v);
        code = values[d]!.length;
        index[d]!.set(v, code);
      }
      codes[i * D + d] = code;
    }
  });
  return {
    dims,
    values,
    codes,
    n: Float64Array.from(cells, (c) => c.n),
    obs: Float64Array.from(cells, (c) => c.obs),
    exp: Float64Array.from(cells, (c) => c.exp),
  };
}

/** The table without the dimensions that have a single value (their segments are the whole table). */
function dropConstantDims(t: CellTable): CellTable {
  const D = t.dims.length;
  const leaves = t.n.length;
  const keep = t.dims.flatMap((_, d) => {
    const first = t.codes[d];
    for (let i = 1; i < leaves; i++) if (t.codes[i * D + d] !== first) return [d];
    return [];
  });
  if (keep.length === D) return t;
  const codes = new Int32Array(leaves * keep.length);
  for (let i = 0; i < leaves; i++)
    keep.forEach((d, k) => {
      codes[i * keep.length + k] = t.codes[i * D + d]!;
    });
  return { ...t, dims: keep.map((d) => t.dims[d]!), values: keep.map((d) => t.values[d]!), codes };
}

/** Localizes the anomaly in a table of leaf cells. */
export function localizeCells(cells: LeafCell[], dims: string[], o: LocalizeOptions): LocalizeResult {
  return localizeTable(cellTable(cells, dims), o);
}

/** Localizes the anomaly in a table of leaves given as columns (for tables of millions of leaves). */
export function localizeTable(table: CellTable, o: LocalizeOptions): LocalizeResult {
  const leaves = table.n.length;
  const total = { n: 0, obs: 0, exp: 0 };
  for (let i = 0; i < leaves; i++) {
    total.n += table.n[i]!;
    total.obs += table.obs[i]!;
    total.exp += table.exp[i]!;
  }
  const { phi, kappa } = o.mode === 'count' ? dispersionOf(table.obs, table.exp) : { phi: 1, kappa: 1 };
  let direction: 1 | -1 = o.direction === -1 ? -1 : 1;
  if (o.mode === 'count' && (o.direction ?? 0) === 0) direction = total.obs >= total.exp ? 1 : -1;
  const empty: LocalizeResult = {
    direction,
    set: [],
    culprits: [],
    total,
    excess: 0,
    phi,
    kappa,
    candidates: 0,
  };
  if (leaves === 0 || table.dims.length === 0) return empty;
  // a dimension with one value localizes nothing (its segments are the whole table): leave it out
  const varying = dropConstantDims(table);
  const dims = varying.dims;
  const maxDims = Math.min(o.maxDimensions ?? table.dims.length, dims.length);
  if (dims.length === 0 || maxDims <= 0) return empty;
  const l = buildLattice(varying, maxDims, o.layout);
  const S = l.size;
  const cellN = varying.n;
  const cellObs = varying.obs;
  // count mode: the variance of a (nearly) zero forecast is not (nearly) zero: below the 10th percentile of the
  // positive expectations, a leaf's variance is that percentile's (no single leaf gets unbounded evidence)
  const floor =
    o.mode === 'count' && (o.floorQuantile ?? 0.1) > 0
      ? (() => {
          const pos = varying.exp.filter((e) => e > 0);
          const q = Math.min(pos.length - 1, Math.floor(pos.length * (o.floorQuantile ?? 0.1)));
          return pos.length ? selectKth(pos, q) : 0;
        })()
      : 0;
  const exp = Float64Array.from(varying.exp);
  const ekLeaf = Float64Array.from(exp, (e) => Math.max(e, floor) ** kappa);

  // The deviation of a group of leaves in the anomaly's direction, as a log-likelihood ratio.
  const llr = (n: number, ob: number, ex: number, ek: number): number => {
    if (o.mode === 'rate') return direction > 0 ? binomialLlr(ob, n, n > 0 ? ex / n : 0) : 0;
    const scale = ek > 0 ? Math.max(ex, 0) / (phi * ek) : 1 / phi;
    return scale * (direction > 0 ? poissonLlr(ob, ex) : poissonDropLlr(ob, ex));
  };
  // Log-likelihood of a remainder under "it shares the anomaly of `like`" minus under "it is at its baseline".
  const sharesAnomaly = (
    r: { n: number; obs: number; exp: number; ek: number },
    like: { n: number; obs: number; exp: number },
  ): number => {
    if (o.mode === 'rate') {
      if (r.n <= 0 || like.n <= 0) return 0;
      const p0 = r.exp / r.n;
      const p1 = Math.min(p0 + Math.max(0, (like.obs - like.exp) / like.n), 1 - 1e-6);
      return binomialLl(r.obs, r.n, p1, p0);
    }
    if (r.exp <= 0 || like.exp <= 0) return 0;
    // the anomaly's effect, at most a factor of 2 either way: "moved at least that far" vs "did not move"
    const ratio = Math.min(Math.max(like.obs / like.exp, 0.5), 2);
    const e1 = r.exp * ratio;
    const scale = r.ek > 0 ? r.exp / (phi * r.ek) : 1 / phi;
    return scale * (r.obs * Math.log(e1 / r.exp) - (e1 - r.exp));
  };

  const threshold = o.threshold ?? (o.mode === 'rate' ? 10 : Math.max(12, Math.log(l.segments)));
  const margin = o.nestedMargin ?? 2;
  const minShare = o.minShare ?? (o.mode === 'rate' ? 0.02 : 0);
  const maxElements = o.maxElements ?? 10;

  // the sums over the original expectations, and the sums the set's growth re-aggregates: only expectations
  // change as elements are explained, so requests and observations are shared
  const baseAgg: Agg = { n: l.sum(cellN), obs: l.sum(cellObs), exp: l.sum(exp), ek: l.sum(ekLeaf) };
  let work: Agg | undefined;
  let a = baseAgg;
  const reaggregate = () => {
    work = { n: baseAgg.n, obs: baseAgg.obs, exp: l.sum(exp, work?.exp), ek: l.sum(ekLeaf, work?.ek) };
    a = work;
  };
  const totalOf = () => {
    const t = { n: total.n, obs: total.obs, exp: 0, ek: 0 };
    for (let i = 0; i < leaves; i++) {
      t.exp += exp[i]!;
      t.ek += ekLeaf[i]!;
    }
    return t;
  };
  const excessOf = (ob: number, ex: number) => direction * (ob - ex);
  const scoreOf = (id: number, t: ReturnType<typeof totalOf>) =>
    llr(a.n[id]!, a.obs[id]!, a.exp[id]!, a.ek[id]!) -
    llr(t.n - a.n[id]!, t.obs - a.obs[id]!, t.exp - a.exp[id]!, t.ek - a.ek[id]!);
  const segOf = (id: number) => ({ n: a.n[id]!, obs: a.obs[id]!, exp: a.exp[id]!, ek: a.ek[id]! });
  const minus = (p: ReturnType<typeof segOf>, c: ReturnType<typeof segOf>) => ({
    n: p.n - c.n,
    obs: p.obs - c.obs,
    exp: p.exp - c.exp,
    ek: p.ek - c.ek,
  });
  const width = (id: number) => l.width(id);
  const isAncestor = (p: number, c: number) => {
    const pc = l.decode(p);
    const cc = l.decode(c);
    return p !== c && pc.every((x, d) => x === 0 || x === cc[d]);
  };
  const children = (id: number): number[] => {
    const codes = l.decode(id);
    if (width(id) >= maxDims) return [];
    const out: number[] = [];
    codes.forEach((c, d) => {
      if (c !== 0) return;
      for (let v = 1; v <= varying.values[d]!.length; v++) {
        const child = l.lookup(codes.map((x, i) => (i === d ? v : x)));
        if (child !== undefined) out.push(child);
      }
    });
    return out;
  };
  const parents = (id: number): number[] => {
    const codes = l.decode(id);
    if (width(id) <= 1) return [];
    return codes.flatMap((c, d) => {
      if (c === 0) return [];
      const p = l.lookup(codes.map((x, i) => (i === d ? 0 : x)));
      return p === undefined ? [] : [p];
    });
  };
  /** Moves a segment to the parent or child that explains the same anomaly at the right granularity. */
  const refine = (start: number, t: ReturnType<typeof totalOf>): number => {
    let id = start;
    const seen = new Set<number>([id]);
    for (let step = 0; step < 12; step++) {
      const self = segOf(id);
      // broader: the part of a parent this segment leaves out shares its anomaly
      let next: number | undefined;
      let best = Number.NEGATIVE_INFINITY;
      for (const p of parents(id)) {
        const rest = minus(segOf(p), self);
        if (sharesAnomaly(rest, self) > margin && excessOf(rest.obs, rest.exp) > 0) {
          const s = scoreOf(p, t);
          if (s > best) {
            best = s;
            next = p;
          }
        }
      }
      // narrower: a child carries the whole anomaly when what it leaves out of this segment shows no
      // significant excess of its own and looks more like its baseline than like the child
      if (next === undefined) {
        for (const c of children(id)) {
          const cs = segOf(c);
          if (excessOf(cs.obs, cs.exp) <= 0) continue;
          const rest = minus(self, cs);
          if (llr(rest.n, rest.obs, rest.exp, rest.ek) < margin + 1 && sharesAnomaly(rest, cs) < 0) {
            const s = scoreOf(c, t);
            if (s > best) {
              best = s;
              next = c;
            }
          }
        }
      }
      if (next === undefined || seen.has(next)) break;
      seen.add(next);
      id = next;
    }
    return id;
  };

  const where = (id: number): Record<string, string> => {
    const codes = l.decode(id);
    const w: Record<string, string> = {};
    codes.forEach((c, d) => {
      if (c > 0) w[dims[d]!] = varying.values[d]![c - 1]!;
    });
    return w;
  };

  // count mode: forecast noise goes both ways (on a log scale), an anomaly one way. The largest log-ratio of a
  // single leaf the other way is what noise alone reaches there: an element that is one leaf must go further.
  const logRatio = (ob: number, ex: number) => direction * Math.log((ob + floor) / (ex + floor));
  let leafMirror = Number.NEGATIVE_INFINITY;
  if (o.mode === 'count' && (o.mirror ?? 1) > 0 && floor > 0)
    for (let i = 0; i < leaves; i++)
      leafMirror = Math.max(leafMirror, -logRatio(cellObs[i]!, varying.exp[i]!) * (o.mirror ?? 1));
  const t0 = totalOf();
  const initialExcess = excessOf(t0.obs, t0.exp);
  const exp0 = Float64Array.from(exp);
  const ek0 = Float64Array.from(ekLeaf);
  const covered = new Uint8Array(leaves);
  const skipped = (id: number, t: { n: number }) =>
    !l.isSegment(id) || (o.mode === 'rate' && a.n[id]! >= t.n);
  /** The best segment now (most significant; ties to the fewer dimensions), or -1. */
  const bestNow = (t: ReturnType<typeof totalOf>): number => {
    let bestId = -1;
    let bestScore = 0;
    for (let id = 0; id < S; id++) {
      if (skipped(id, t)) continue;
      const s = scoreOf(id, t);
      if (
        s > bestScore + 1e-9 ||
        (bestId >= 0 && Math.abs(s - bestScore) <= 1e-9 && width(id) < width(bestId))
      ) {
        bestScore = s;
        bestId = id;
      }
    }
    return bestId;
  };
  /**
   * The segments (not skipped, not in `exclude`) with a positive score, ordered by `order`, at least the first
   * `k` of them: everything scoring at least the k-th best score, so any order by score first is exact.
   */
  const ranked = (
    k: number,
    t: ReturnType<typeof totalOf>,
    exclude: number[],
    order: (x: { id: number; score: number }, y: { id: number; score: number }) => number,
  ) => {
    // each segment scored once (0: skipped, excluded or not positive); the cut is the k-th best by selection
    const scores = new Float64Array(S);
    let m = 0;
    for (let id = 0; id < S; id++) {
      if (skipped(id, t) || exclude.includes(id)) continue;
      const s = scoreOf(id, t);
      if (s > 0) {
        scores[id] = s;
        m++;
      }
    }
    const positive = scores.filter((x) => x > 0);
    const cut = m > k ? selectKth(positive, m - k) : 0;
    const out: Array<{ id: number; score: number }> = [];
    for (let id = 0; id < S; id++) {
      const s = scores[id]!;
      if (s > 0 && s >= cut) out.push({ id, score: s });
    }
    return { list: out.sort(order), complete: m <= k };
  };
  /** Grows a root-cause set greedily from the original expectations (its first element `seed` if given). */
  const grow = (seed?: number): number[] => {
    exp.set(exp0);
    ekLeaf.set(ek0);
    covered.fill(0);
    reaggregate();
    const ids: number[] = [];
    for (let k = 0; k < maxElements; k++) {
      const t = totalOf();
      const remaining = excessOf(t.obs, t.exp);
      const picked = k === 0 && seed !== undefined ? seed : bestNow(t);
      if (picked < 0) break;
      const id = admit(refine(picked, t), remaining, ids);
      if (id < 0) break;
      ids.push(id);
      // explained: its leaves are now expected at what they showed
      const inside = l.member(id);
      for (let i = 0; i < leaves; i++)
        if (inside(i)) {
          covered[i] = 1;
          exp[i] = cellObs[i]!;
          ekLeaf[i] = Math.max(cellObs[i]!, floor) ** kappa;
        }
      reaggregate();
    }
    return ids;
  };
  /** `id` when it may join the set (significant, a real share of what remains, not everything), else -1. */
  const admit = (id: number, remaining: number, ids: number[]): number => {
    const seg = segOf(id);
    const ex = excessOf(seg.obs, seg.exp);
    if (llr(seg.n, seg.obs, seg.exp, seg.ek) < threshold) return -1;
    if (width(id) === dims.length && logRatio(seg.obs, seg.exp) <= leafMirror) return -1;
    const scale = Math.max(remaining, initialExcess, 0);
    if (scale > 0 && ex < minShare * scale) return -1;
    if (ids.includes(id)) return -1;
    // a set that covers every leaf localizes nothing (the whole table moved)
    const inside = l.member(id);
    for (let i = 0; i < leaves; i++)
      if (!covered[i] && !inside(i) && (o.mode === 'count' || cellN[i]! > 0)) return id;
    return -1;
  };
  /**
   * Rate mode: how well a set explains the window, as a penalised log-likelihood over the leaves — each leaf
   * of an element at its baseline rate plus that element's excess rate, every other leaf at its baseline —
   * minus `threshold` per element. Greedy growth takes the most significant segment first, and a broad
   * segment that mixes two failing groups with healthy traffic (both causes together, say) can be more
   * significant than either cause; as a set it fits worse than the two, which this measures.
   */
  const fitOf = (ids: number[]): number => {
    const elementOf = new Int32Array(leaves).fill(-1);
    const sums = ids.map(() => ({ n: 0, obs: 0, exp: 0 }));
    const members = ids.map((id) => l.member(id));
    for (let i = 0; i < leaves; i++)
      for (let e = 0; e < ids.length; e++)
        if (members[e]!(i)) {
          elementOf[i] = e;
          sums[e]!.n += cellN[i]!;
          sums[e]!.obs += cellObs[i]!;
          sums[e]!.exp += exp0[i]!;
          break;
        }
    const lift = sums.map((x) => (x.n > 0 ? Math.max(0, (x.obs - x.exp) / x.n) : 0));
    let ll = 0;
    for (let i = 0; i < leaves; i++) {
      if (cellN[i]! <= 0) continue;
      const p0 = exp0[i]! / cellN[i]!;
      const p = elementOf[i]! >= 0 ? p0 + lift[elementOf[i]!]! : p0;
      ll += binomialLl(cellObs[i]!, cellN[i]!, p, 0.5) - cellN[i]! * Math.log(2); // = k ln p + (n-k) ln(1-p), clamped
    }
    return ll - threshold * ids.length;
  };
  let setIds = grow();
  if (o.mode === 'rate' && setIds.length > 0) {
    // the same growth started from each of the most significant segments (refined) instead: keep the set
    // that explains the window best
    const t = t0;
    a = baseAgg;
    const k = o.setSeeds ?? 8;
    const seeds = ranked(k, t, [], (x, y) => y.score - x.score)
      .list.slice(0, k)
      .map((x) => x.id);
    let bestFit = fitOf(setIds);
    // seeds that refine to a first element already tried would grow the same set: skip them
    const firsts = new Set([setIds[0]!]);
    for (const seed of seeds) {
      a = baseAgg; // refine reads the aggregate: the original expectations, as the growth starts from
      const first = refine(seed, t);
      if (firsts.has(first)) continue;
      firsts.add(first);
      const ids = grow(first);
      if (ids.length === 0) continue;
      const f = fitOf(ids);
      if (f > bestFit + margin) {
        bestFit = f;
        setIds = ids;
      }
    }
  }

  // evidence, measured against the original expectations
  a = baseAgg;
  const t = t0;
  const setExcess = setIds.reduce((s, id) => s + Math.max(0, excessOf(a.obs[id]!, a.exp[id]!)), 0);
  const denominator = initialExcess > 0 ? initialExcess : setExcess;
  const evidence = (id: number, inSet: boolean): SegmentEvidence => ({
    where: where(id),
    score: scoreOf(id, t),
    llr: llr(a.n[id]!, a.obs[id]!, a.exp[id]!, a.ek[id]!),
    n: a.n[id]!,
    obs: a.obs[id]!,
    exp: a.exp[id]!,
    outside: { n: t.n - a.n[id]!, obs: t.obs - a.obs[id]!, exp: t.exp - a.exp[id]! },
    explains: denominator > 0 ? excessOf(a.obs[id]!, a.exp[id]!) / denominator : 0,
    inSet,
  });
  const set = setIds.map((id) => evidence(id, true));
  // Occam for the alternatives: a combination narrower than one already listed is left out when the part of
  // the broader one it leaves out shares its anomaly (it says the same, less completely)
  const top = o.top ?? 5;
  const listed = [...setIds];
  const extra: number[] = [];
  for (let k = 256; ; k *= 4) {
    const { list, complete } = ranked(k, t, setIds, (x, y) => y.score - x.score || width(x.id) - width(y.id));
    listed.length = setIds.length;
    extra.length = 0;
    for (const x of list) {
      if (extra.length >= top) break;
      const self = segOf(x.id);
      const narrower = listed.some(
        (p) =>
          isAncestor(p, x.id) &&
          (sharesAnomaly(minus(segOf(p), self), self) > -margin || segOf(p).n === self.n),
      );
      if (narrower) continue;
      listed.push(x.id);
      extra.push(x.id);
    }
    if (extra.length >= top || complete) break;
  }
  const culprits = [...set, ...extra.map((id) => evidence(id, false))];
  return {
    direction,
    set,
    culprits,
    total: { n: t.n, obs: t.obs, exp: t.exp },
    excess: denominator,
    phi,
    kappa,
    candidates: l.segments,
  };
}

// ---- detection -------------------------------------------------------------------------------------------

export interface SeriesPoint {
  t: number;
  n: number;
  bad: number;
}

export interface ChangePoint {
  /** index of the first anomalous point */
  k: number;
  z: number;
  /** baseline rate (or mean per point, for volume) and window rate */
  p0: number;
  pw: number;
}

/**
 * Change-point scan of one series (points in time order, ending at the moment diagnosed): for each onset k
 * (at least `minBaseline` points before it), the binomial (or Poisson, `volume`) excess of points k.. over the
 * rate of the points before k, as a z-score; the best onset wins. Prefix sums: linear in the series length.
 */
export function changePoint(points: SeriesPoint[], volume = false, minBaseline = 3): ChangePoint | undefined {
  const N = points.length;
  const cn = new Float64Array(N + 1);
  const cb = new Float64Array(N + 1);
  for (let i = 0; i < N; i++) {
    cn[i + 1] = cn[i]! + points[i]!.n;
    cb[i + 1] = cb[i]! + points[i]!.bad;
  }
  let best: ChangePoint | undefined;
  for (let k = Math.max(1, minBaseline); k < N; k++) {
    let z: number;
    let p0: number;
    let pw: number;
    if (volume) {
      const mean = cn[k]! / k;
      const observed = cn[N]! - cn[k]!;
      const expected = mean * (N - k);
      z = (observed - expected) / Math.sqrt(Math.max(expected, 1));
      p0 = mean;
      pw = observed / (N - k);
    } else {
      const nb = cn[k]!;
      const eb = cb[k]!;
      const nw = cn[N]! - nb;
      const ew = cb[N]! - eb;
      if (nb <= 0 || nw <= 0) continue;
      p0 = Math.max((eb + 0.5) / (nb + 1), 0.001); // never assume a perfect baseline
      pw = ew / nw;
      // two-sample: a baseline of a few minutes is itself uncertain (its noise must not pass for an onset)
      const pooled = Math.max((eb + ew + 0.5) / (nb + nw + 1), 0.001);
      z = (pw - p0) / Math.sqrt(pooled * (1 - pooled) * (1 / nw + 1 / nb));
    }
    if (!best || z > best.z) best = { k, z, p0, pw };
  }
  return best;
}

export interface Detected extends ChangePoint {
  /** where the change was found: the whole series, or one segment */
  series: 'total' | Record<string, string>;
}

export interface DetectOptions {
  /** change-point z-score that counts for the total (default 5); a segment needs one more */
  minZ?: number;
  /** smallest rise of the rate that counts for the total (default 0.005); a segment needs five times it */
  minExcess?: number;
  /** volume (Poisson) instead of a rate; segments are then not scanned */
  volume?: boolean;
  /** smallest history before an onset, in points (default 3) */
  minBaseline?: number;
}

/**
 * An anomaly in a series ending at its last point: a change point of the total, else of one segment (a
 * problem confined to a small segment moves the total little). A segment's change must be larger, since many
 * are tried: z ≥ minZ + 1, five times the rise, and at least ten excess bad events.
 */
export function detectSeries(
  total: SeriesPoint[],
  segments: Array<{ where: Record<string, string>; points: SeriesPoint[] }>,
  o: DetectOptions = {},
): Detected | undefined {
  const minZ = o.minZ ?? 5;
  const minExcess = o.minExcess ?? 0.005;
  const cp = changePoint(total, o.volume ?? false, o.minBaseline ?? 3);
  if (cp && cp.z >= minZ && (o.volume ? cp.pw >= cp.p0 * 1.5 : cp.pw - cp.p0 >= minExcess))
    return { ...cp, series: 'total' };
  if (o.volume) return undefined;
  let best: Detected | undefined;
  for (const sgm of segments) {
    const pts = sgm.points;
    const c = changePoint(pts, false, o.minBaseline ?? 3);
    if (!c || c.z < minZ + 1 || c.pw - c.p0 < 5 * minExcess) continue;
    let nw = 0;
    let bw = 0;
    for (let i = c.k; i < pts.length; i++) {
      nw += pts[i]!.n;
      bw += pts[i]!.bad;
    }
    if (bw - nw * c.p0 < 10) continue;
    if (!best || c.z > best.z) best = { ...c, series: sgm.where };
  }
  return best;
}
