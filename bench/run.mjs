// `npm run bench`: runs every bench/*.bench.mjs (or the ones named on the command line) and prints one table.
// A bench module default-exports an async function returning rows:
//   { suite, case, value, unit, baseline?, note? }  (baseline: the same measure for the real alternative,
//   taken in the same run; the ratio column is value / baseline)
/**
 * One row of the table.
 * @typedef {{ suite: string, case: string, value: number, unit: string, baseline?: number, note?: string }} BenchRow
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.mjs'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort();

/** @type {BenchRow[]} */
const rows = [];
for (const file of files) {
  const started = Date.now();
  process.stderr.write(`bench: ${file} …\n`);
  try {
    const mod = await import(pathToFileURL(join(here, file)).href);
    for (const row of await mod.default()) rows.push(row);
  } catch (err) {
    rows.push({
      suite: file,
      case: 'FAILED',
      value: Number.NaN,
      unit: '',
      note: String(/** @type {{ message?: unknown } | null | undefined} */ (err)?.message ?? err),
    });
  }
  process.stderr.write(`bench: ${file} done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

const fmt = (/** @type {unknown} */ v) =>
  v === undefined || v === null
    ? ''
    : typeof v === 'number'
      ? Number.isInteger(v)
        ? String(v)
        : v.toPrecision(4)
      : String(v);
const table = rows.map((r) => ({
  suite: r.suite,
  case: r.case,
  value: fmt(r.value),
  unit: r.unit ?? '',
  baseline: fmt(r.baseline),
  ratio: typeof r.baseline === 'number' && r.baseline !== 0 ? `${(r.value / r.baseline).toFixed(2)}x` : '',
  note: r.note ?? '',
}));
/** @typedef {keyof (typeof table)[number]} Column */
/** @type {Column[]} */
const cols = ['suite', 'case', 'value', 'unit', 'baseline', 'ratio', 'note'];
const width = /** @type {Record<Column, number>} */ (
  Object.fromEntries(cols.map((c) => [c, Math.max(c.length, ...table.map((r) => r[c].length))]))
);
const line = (/** @type {Record<Column, string>} */ r) =>
  `| ${cols.map((c) => r[c].padEnd(width[c])).join(' | ')} |`;
console.log(line(/** @type {Record<Column, string>} */ (Object.fromEntries(cols.map((c) => [c, c])))));
console.log(`|${cols.map((c) => '-'.repeat(width[c] + 2)).join('|')}|`);
for (const r of table) console.log(line(r));
if (rows.some((r) => r.case === 'FAILED')) process.exitCode = 1;
