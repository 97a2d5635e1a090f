// mp-otel's localization (@mp-otel/diagnose localizeTable, count mode: observed `real` vs the forecast
// `predict` of every leaf) on the files of one generated RiskLoc-format dataset.
// usage: node bench/rca/ours.mjs DATA_DIR DATASET [--files N] [--only f1,f2] [--layout sparse|dense] > predictions.jsonl
// Prints one JSON line per file: {file, predicted: ["a=a1&b=b2", ...], readSeconds, seconds (localizing)}.
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { localizeTable } from '@mp-otel/diagnose';

/**
 * A RiskLoc-format CSV (dimension columns, `real`, `predict`; one line a leaf) read in 64 MiB chunks straight
 * into columns (`CellTable`): a file of the H set is ~1.3 GB with 24 M leaves, more than one string or an object
 * per leaf can hold. Values are coded per dimension in order of first appearance, as `cellTable` does.
 * @param {string} path
 * @returns {import('@mp-otel/diagnose').CellTable}
 */
export function readRiskLocTable(path) {
  const fd = openSync(path, 'r');
  const chunk = Buffer.allocUnsafe(64 << 20);
  /**
   * A dimension's column: its values and their codes, and the previous line's value (most lines repeat all but
   * the last dimension's, which then costs a byte comparison, not a string)
   * @typedef {{ name: string; at: number; index: Map<string, number>; values: string[]; prev: Buffer; code: number }} Column
   */
  /** @type {Column[]} */
  let columns = [];
  let ri = -1;
  let pi = -1;
  let width = 0;
  let cap = 1 << 16;
  let rows = 0;
  let codes = new Int32Array(0);
  let obs = new Float64Array(cap);
  let exp = new Float64Array(cap);
  const ends = new Int32Array(256);
  /** @param {Buffer} buf @param {number} s @param {number} e */
  const line = (buf, s, e) => {
    while (e > s && (buf[e - 1] === 13 || buf[e - 1] === 32)) e--;
    while (s < e && buf[s] === 32) s++;
    if (s === e) return;
    if (width === 0) {
      const header = buf.toString('utf8', s, e).split(',');
      ri = header.indexOf('real');
      pi = header.indexOf('predict');
      width = header.length;
      // the reference code sorts the attributes by name; the order does not change a set
      columns = header.flatMap((name, at) =>
        at === ri || at === pi
          ? []
          : [{ name, at, index: new Map(), values: [], prev: Buffer.alloc(0), code: 0 }],
      );
      codes = new Int32Array(cap * columns.length);
      return;
    }
    let f = 0;
    for (let i = s; i < e && f < 255; i++) if (buf[i] === 44) ends[f++] = i;
    ends[f++] = e;
    if (rows === cap) {
      cap *= 2;
      const grow = (/** @type {any} */ a, /** @type {number} */ n) => {
        const b = new a.constructor(n);
        b.set(a);
        return b;
      };
      codes = grow(codes, cap * columns.length);
      obs = grow(obs, cap);
      exp = grow(exp, cap);
    }
    const start = (/** @type {number} */ k) => (k === 0 ? s : (ends[k - 1] ?? e) + 1);
    const end = (/** @type {number} */ k) => (k < f ? (ends[k] ?? e) : start(k));
    for (let d = 0; d < columns.length; d++) {
      const c = /** @type {Column} */ (columns[d]);
      const a = start(c.at);
      const b = end(c.at);
      let same = c.code > 0 && c.prev.length === b - a;
      for (let i = 0; same && i < c.prev.length; i++) same = c.prev[i] === buf[a + i];
      if (!same) {
        const v = buf.toString('utf8', a, b);
        let code = c.index.get(v);
        if (code === undefined) {
          c.values.push(v);
          code = c.values.length;
          c.index.set(v, code);
        }
        c.code = code;
        c.prev = Buffer.from(buf.subarray(a, b));
      }
      codes[rows * columns.length + d] = c.code;
    }
    obs[rows] = Number(buf.toString('latin1', start(ri), end(ri)));
    exp[rows] = Number(buf.toString('latin1', start(pi), end(pi)));
    rows++;
  };
  let carry = Buffer.alloc(0);
  try {
    for (;;) {
      const got = readSync(fd, chunk, 0, chunk.length, null);
      if (got === 0) break;
      const buf = carry.length ? Buffer.concat([carry, chunk.subarray(0, got)]) : chunk.subarray(0, got);
      let s = 0;
      for (let i = buf.indexOf(10, s); i !== -1; i = buf.indexOf(10, s)) {
        line(buf, s, i);
        s = i + 1;
      }
      carry = Buffer.from(buf.subarray(s));
    }
    if (carry.length) line(carry, 0, carry.length);
  } finally {
    closeSync(fd);
  }
  const predict = exp.subarray(0, rows);
  // count mode: a leaf's `n` is its forecast, as for the reference methods' "predict"
  return {
    dims: columns.map((c) => c.name),
    values: columns.map((c) => c.values),
    codes: codes.subarray(0, rows * columns.length),
    n: predict,
    obs: obs.subarray(0, rows),
    exp: predict,
  };
}

/** The set as the reference code's strings: "dim=value&dim=value", each element's pairs sorted. */
/** @param {Array<{ where: Record<string, string> }>} set */
export function predictionStrings(set) {
  return set.map((s) =>
    Object.entries(s.where)
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join('&'),
  );
}

/**
 * The predicted set for one file, and the seconds spent reading it and localizing.
 * @param {string} path @param {'sparse' | 'dense'} [layout]
 */
export function localizeFile(path, layout) {
  const t0 = performance.now();
  const table = readRiskLocTable(path);
  const t1 = performance.now();
  const r = localizeTable(table, { mode: 'count', maxDimensions: table.dims.length, layout });
  const t2 = performance.now();
  return { predicted: predictionStrings(r.set), readSeconds: (t1 - t0) / 1000, seconds: (t2 - t1) / 1000 };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [dataDir = '.', dataset = '', ...opts] = process.argv.slice(2);
  const dir = join(dataDir, dataset);
  const flag = (/** @type {string} */ name) =>
    opts.includes(name) ? opts[opts.indexOf(name) + 1] : undefined;
  let files =
    flag('--only')?.split(',') ??
    readdirSync(dir)
      .filter((f) => f.endsWith('.csv') && f !== 'injection_info.csv')
      .map((f) => f.slice(0, -4))
      .sort();
  if (flag('--files')) files = files.slice(0, Number(flag('--files')));
  const layout = /** @type {"sparse" | "dense" | undefined} */ (flag('--layout'));
  for (const file of files)
    process.stdout.write(`${JSON.stringify({ file, ...localizeFile(join(dir, `${file}.csv`), layout) })}\n`);
}
