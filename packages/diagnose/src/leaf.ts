// `mp-otel rca`: diagnosis on any leaf table — one row per (time, dimension values…) with a bad count and a
// total — from a CSV file or a ClickHouse table. Detection and localization are the shared core (core.ts), the
// same as `diagnose` runs on the SLI cube.
import {
  type Detected,
  detectSeries,
  type LeafCell,
  localizeCells,
  type SegmentEvidence,
  type SeriesPoint,
} from './core.js';
import { LatticeTooLargeError } from './lattice.js';

export class RcaInputError extends Error {
  override name = 'RcaInputError';
}

export interface LeafRow {
  /** unix seconds */
  t: number;
  values: string[];
  bad: number;
  total: number;
}

export interface LeafTable {
  dims: string[];
  rows: LeafRow[];
}

export interface LeafLimits {
  maxBytes: number;
  maxRows: number;
  maxColumns: number;
  maxValueLength: number;
  maxDistinctValues: number;
}

export const LEAF_LIMITS: LeafLimits = {
  maxBytes: 64 * 1024 * 1024,
  maxRows: 1_000_000,
  maxColumns: 32,
  maxValueLength: 256,
  maxDistinctValues: 10_000,
};

export interface LeafColumns {
  time: string;
  bad: string;
  total: string;
  /** the dimensions (default: every other column) */
  dims?: string[];
}

/** A time cell: unix seconds (or milliseconds, when it is that large), or an ISO 8601 date. */
export function parseTimeCell(v: string): number | undefined {
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) {
    const x = Number(s);
    return x > 1e11 ? Math.floor(x / 1000) : Math.floor(x);
  }
  if (!/^\d{4}-\d{2}-\d{2}/.test(s)) return undefined;
  const ms = Date.parse(s.includes('T') || s.includes(' ') ? s.replace(' ', 'T') : s);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** RFC 4180 records (quoted fields, "" escapes, CRLF or LF), refusing what is over the limits. */
function* csvRecords(text: string, limits: LeafLimits): Generator<{ line: number; cells: string[] }> {
  let i = 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const start = line;
    const cells: string[] = [];
    let cell = '';
    for (;;) {
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= n) throw new RcaInputError(`line ${start}: unterminated quoted field`);
          const c = text[i]!;
          if (c === '"') {
            if (text[i + 1] === '"') {
              cell += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n') line++;
          cell += c;
          i++;
          if (cell.length > limits.maxValueLength)
            throw new RcaInputError(
              `line ${start}: a field is longer than ${limits.maxValueLength} characters`,
            );
        }
      }
      while (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
        if (text[i] === '"') throw new RcaInputError(`line ${start}: a quote inside an unquoted field`);
        cell += text[i];
        i++;
        if (cell.length > limits.maxValueLength)
          throw new RcaInputError(
            `line ${start}: a field is longer than ${limits.maxValueLength} characters`,
          );
      }
      cells.push(cell);
      if (cells.length > limits.maxColumns)
        throw new RcaInputError(`line ${start}: more than ${limits.maxColumns} columns`);
      cell = '';
      if (i < n && text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '\r') i++;
      if (text[i] === '\n') {
        i++;
        line++;
      }
      break;
    }
    if (cells.length === 1 && cells[0] === '') continue; // blank line
    yield { line: start, cells };
  }
}

/** Parses and validates a leaf table from CSV text (a header row, then one row per time × leaf). */
export function parseLeafCsv(text: string, cols: LeafColumns, limits: LeafLimits = LEAF_LIMITS): LeafTable {
  if (Buffer.byteLength(text) > limits.maxBytes)
    throw new RcaInputError(`the CSV is larger than ${limits.maxBytes} bytes`);
  const records = csvRecords(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, limits);
  const head = records.next();
  if (head.done) throw new RcaInputError('the CSV is empty');
  const header = head.value.cells.map((h) => h.trim());
  const dup = header.find((h, i) => header.indexOf(h) !== i);
  if (dup !== undefined) throw new RcaInputError(`column "${dup}" appears twice in the header`);
  const index = (name: string, what: string) => {
    const i = header.indexOf(name);
    if (i < 0)
      throw new RcaInputError(`${what} column "${name}" is not in the header (${header.join(', ')})`);
    return i;
  };
  const ti = index(cols.time, '--time');
  const bi = index(cols.bad, '--bad');
  const ni = index(cols.total, '--total');
  if (new Set([ti, bi, ni]).size < 3)
    throw new RcaInputError('--time, --bad and --total must be three columns');
  const dims = cols.dims ?? header.filter((_, i) => i !== ti && i !== bi && i !== ni);
  if (dims.length === 0) throw new RcaInputError('no dimension columns: the table needs at least one');
  const di = dims.map((d) => index(d, 'dimension'));
  const distinct = dims.map(() => new Set<string>());
  const rows: LeafRow[] = [];
  for (const { line, cells } of records) {
    if (cells.length !== header.length)
      throw new RcaInputError(`line ${line}: ${cells.length} fields, the header has ${header.length}`);
    if (rows.length >= limits.maxRows) throw new RcaInputError(`more than ${limits.maxRows} rows`);
    const t = parseTimeCell(cells[ti]!);
    if (t === undefined)
      throw new RcaInputError(
        `line ${line}: time "${cells[ti]}" is neither unix seconds nor an ISO 8601 date`,
      );
    const bad = Number(cells[bi]!.trim());
    const total = Number(cells[ni]!.trim());
    if (cells[bi]!.trim() === '' || !Number.isFinite(bad) || bad < 0)
      throw new RcaInputError(`line ${line}: ${cols.bad} "${cells[bi]}" is not a non-negative number`);
    if (cells[ni]!.trim() === '' || !Number.isFinite(total) || total < 0)
      throw new RcaInputError(`line ${line}: ${cols.total} "${cells[ni]}" is not a non-negative number`);
    if (bad > total)
      throw new RcaInputError(`line ${line}: ${cols.bad} (${bad}) exceeds ${cols.total} (${total})`);
    const values = di.map((i, d) => {
      const v = cells[i]!;
      distinct[d]!.add(v);
      if (distinct[d]!.size > limits.maxDistinctValues)
        throw new RcaInputError(
          `column "${dims[d]}" has more than ${limits.maxDistinctValues} distinct values`,
        );
      return v;
    });
    rows.push({ t, values, bad, total });
  }
  if (rows.length === 0) throw new RcaInputError('the CSV has a header but no rows');
  return { dims, rows };
}

export interface RcaOptions {
  /** the anomalous moment (unix seconds): the end of the window; later rows are ignored */
  at?: number;
  /** time points of history used as the baseline (default 60) */
  lookback?: number;
  /** most dimensions in one combination (default 3) */
  maxDimensions?: number;
  /** alternatives after the root-cause set (default 5) */
  top?: number;
  /** smallest rise of the rate that counts as an anomaly (default 0.005) */
  minExcess?: number;
  /** change-point z-score that counts (default 5) */
  minZ?: number;
}

export interface RcaAnomaly {
  /** unix seconds of the first anomalous time point and of the last one diagnosed */
  onset: number;
  at: number;
  z: number;
  baselineRate: number;
  windowRate: number;
  /** where the change was detected: the whole table, or one dimension value */
  series: 'total' | Record<string, string>;
}

export interface RcaCulprit {
  where: Record<string, string>;
  score: number;
  inSet: boolean;
  inside: { total: number; bad: number; rate: number; expectedRate: number };
  outside: { total: number; bad: number; rate: number };
  /** share of the anomaly's excess bad events the combination accounts for */
  explains: number;
}

export interface RcaResult {
  anomaly?: RcaAnomaly;
  set: Array<Record<string, string>>;
  culprits: RcaCulprit[];
  rows: number;
  leaves: number;
}

/** Most segment series scanned for a change (one dimension value, then pairs, in the order first seen). */
const MAX_SERIES = 20_000;

/** Detects the anomaly (or takes `at`) and localizes it in the leaf table. */
export function rcaLeafTable(table: LeafTable, o: RcaOptions = {}): RcaResult {
  const rows = o.at === undefined ? table.rows : table.rows.filter((r) => r.t <= o.at!);
  const times = [...new Set(rows.map((r) => r.t))].sort((x, y) => x - y);
  const ti = new Map(times.map((t, i) => [t, i]));
  const empty = (): SeriesPoint[] => times.map((t) => ({ t, n: 0, bad: 0 }));
  const total = empty();
  const segs = new Map<string, { where: Record<string, string>; points: SeriesPoint[] }>();
  for (const r of rows) {
    const i = ti.get(r.t)!;
    total[i]!.n += r.total;
    total[i]!.bad += r.bad;
    const add = (key: string, where: () => Record<string, string>) => {
      let s = segs.get(key);
      if (!s) {
        if (segs.size >= MAX_SERIES) return;
        s = { where: where(), points: empty() };
        segs.set(key, s);
      }
      s.points[i]!.n += r.total;
      s.points[i]!.bad += r.bad;
    };
    // one dimension value, and pairs of them: a problem confined to a small segment shows there
    const dims = table.dims;
    for (let d = 0; d < dims.length; d++) {
      const v = r.values[d]!;
      add(`${d}\u0000${v}`, () => ({ [dims[d]!]: v }));
      for (let e = d + 1; e < dims.length; e++) {
        const w = r.values[e]!;
        add(`${d}\u0000${v}\u0000${e}\u0000${w}`, () => ({ [dims[d]!]: v, [dims[e]!]: w }));
      }
    }
  }
  const result: RcaResult = { set: [], culprits: [], rows: rows.length, leaves: 0 };
  if (times.length < 2) return result;
  // the newest anomaly: scan back from the last time point (or only `at`'s, when given)
  let found: { d: Detected; end: number } | undefined;
  const last = times.length - 1;
  const ends = o.at === undefined ? Math.min(times.length, 60) : 1;
  for (let j = 0; j < ends && !found; j++) {
    const end = last - j;
    const from = Math.max(0, end - (o.lookback ?? 60));
    const d = detectSeries(
      total.slice(from, end + 1),
      [...segs.values()].map((x) => ({ where: x.where, points: x.points.slice(from, end + 1) })),
      { minZ: o.minZ, minExcess: o.minExcess },
    );
    if (d) d.k += from;
    if (d) found = { d, end };
  }
  if (!found) return result;
  const { d, end } = found;
  const onset = times[d.k]!;
  const at = times[end]!;
  const from = times[Math.max(0, d.k - (o.lookback ?? 60))]!;
  result.anomaly = { onset, at, z: d.z, baselineRate: d.p0, windowRate: d.pw, series: d.series };
  // leaves: window and baseline counts per combination of dimension values
  const leaves = new Map<string, { values: string[]; nw: number; bw: number; nb: number; bb: number }>();
  for (const r of rows) {
    if (r.t < from || r.t > at) continue;
    const key = r.values.join('\u0000');
    let leaf = leaves.get(key);
    if (!leaf) {
      leaf = { values: r.values, nw: 0, bw: 0, nb: 0, bb: 0 };
      leaves.set(key, leaf);
    }
    if (r.t >= onset) {
      leaf.nw += r.total;
      leaf.bw += r.bad;
    } else {
      leaf.nb += r.total;
      leaf.bb += r.bad;
    }
  }
  const cells = rateCells([...leaves.values()]);
  result.leaves = cells.length;
  let loc: ReturnType<typeof localizeCells>;
  try {
    loc = localizeCells(cells, table.dims, {
      mode: 'rate',
      maxDimensions: o.maxDimensions ?? 3,
      top: o.top ?? 5,
    });
  } catch (err) {
    // a refusal of this input, like the CSV's limits: fewer dimensions or combinations would fit
    if (err instanceof LatticeTooLargeError)
      throw new RcaInputError(`${err.message}; lower --max-dimensions or use fewer dimension columns`);
    throw err;
  }
  result.set = loc.set.map((s) => s.where);
  result.culprits = loc.culprits.map(toRcaCulprit);
  return result;
}

/** Rate-mode cells: each leaf expected at its own baseline rate, shrunk toward the table's for thin history. */
export function rateCells(
  leaves: Array<{ values: string[]; nw: number; bw: number; nb: number; bb: number }>,
  prior = 50,
): LeafCell[] {
  let nb = 0;
  let bb = 0;
  for (const l of leaves) {
    nb += l.nb;
    bb += l.bb;
  }
  const p0 = Math.max((bb + 0.5) / (nb + 1), 0.001);
  return leaves
    .filter((l) => l.nw > 0)
    .map((l) => ({
      values: l.values,
      n: l.nw,
      obs: l.bw,
      exp: l.nw * ((l.bb + prior * p0) / (l.nb + prior)),
    }));
}

function toRcaCulprit(s: SegmentEvidence): RcaCulprit {
  return {
    where: s.where,
    score: s.score,
    inSet: s.inSet,
    inside: {
      total: s.n,
      bad: s.obs,
      rate: s.n > 0 ? s.obs / s.n : 0,
      expectedRate: s.n > 0 ? s.exp / s.n : 0,
    },
    outside: {
      total: s.outside.n,
      bad: s.outside.obs,
      rate: s.outside.n > 0 ? s.outside.obs / s.outside.n : 0,
    },
    explains: s.explains,
  };
}

export function formatRca(r: RcaResult): string {
  if (!r.anomaly) return `rca: no anomaly in ${r.rows} rows`;
  const a = r.anomaly;
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  const iso = (t: number) => new Date(t * 1000).toISOString();
  const w = (x: Record<string, string>) =>
    Object.entries(x)
      .map(([k, v]) => `${k}=${v}`)
      .join(' AND ');
  const lines = [
    `anomaly: rate ${pct(a.baselineRate)} → ${pct(a.windowRate)} from ${iso(a.onset)} to ${iso(a.at)} (z=${a.z.toFixed(1)}${a.series === 'total' ? '' : `, detected in ${w(a.series)}`})`,
    r.set.length
      ? `root cause: ${r.set.map((s) => `{${w(s)}}`).join(' + ')}`
      : 'root cause: not localized to a combination of dimension values',
    'culprits (the set first, then alternatives):',
    ...r.culprits.map(
      (c, i) =>
        `  ${i + 1}.${c.inSet ? '*' : ' '} ${w(c.where)}  score=${c.score.toFixed(1)}  rate ${pct(c.inside.rate)} inside (expected ${pct(c.inside.expectedRate)}) vs ${pct(c.outside.rate)} outside; explains ${(100 * c.explains).toFixed(0)}% of the excess; ${Math.round(c.inside.bad)}/${Math.round(c.inside.total)}`,
    ),
  ];
  return lines.join('\n');
}
