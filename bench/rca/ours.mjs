// mp-otel's localization (@mp-otel/diagnose localizeCells, count mode: observed `real` vs the forecast
// `predict` of every leaf) on the files of one generated RiskLoc-format dataset.
// usage: node bench/rca/ours.mjs DATA_DIR DATASET [--files N] [--only f1,f2] > predictions.jsonl
// Prints one JSON line per file: {file, predicted: ["a=a1&b=b2", ...], seconds}.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { localizeCells } from '@mp-otel/diagnose';

/** @param {string} text */
export function readRiskLocCsv(text) {
  const lines = text.split('\n');
  const header = (lines[0] ?? '').trim().split(',');
  const ri = header.indexOf('real');
  const pi = header.indexOf('predict');
  const dimIdx = header.map((_, /** @type {number} */ i) => i).filter((i) => i !== ri && i !== pi);
  // the reference code sorts the attributes by name; the order does not change a set
  const dims = dimIdx.map((i) => header[i] ?? '');
  /** @type {Array<{ values: string[]; n: number; obs: number; exp: number }>} */
  const cells = [];
  for (let l = 1; l < lines.length; l++) {
    const line = (lines[l] ?? '').trim();
    if (!line) continue;
    const f = line.split(',');
    const real = Number(f[ri]);
    const predict = Number(f[pi]);
    cells.push({ values: dimIdx.map((i) => f[i] ?? ''), n: predict, obs: real, exp: predict });
  }
  return { dims, cells };
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

/** @param {string} path */
export function localizeFile(path) {
  const { dims, cells } = readRiskLocCsv(readFileSync(path, 'utf8'));
  const r = localizeCells(cells, dims, { mode: 'count', maxDimensions: dims.length });
  return predictionStrings(r.set);
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
  for (const file of files) {
    const t = performance.now();
    const predicted = localizeFile(join(dir, `${file}.csv`));
    process.stdout.write(`${JSON.stringify({ file, predicted, seconds: (performance.now() - t) / 1000 })}\n`);
  }
}
