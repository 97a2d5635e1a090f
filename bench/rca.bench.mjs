// Root-cause localization on the public synthetic datasets of the RiskLoc paper (Kalander, "RiskLoc:
// Localization of Multi-dimensional Root Causes by Weighted Risk", 2022), in one run with the reference
// implementations from the same repository, all scored by that repository's utils/evaluation.py
// (exact-match micro-F1 over all files: 2·TP / (2·TP + FP + FN)).
//
// `node bench/run.mjs rca`. What it needs, none of it committed here (bench/rca/.data is gitignored):
// - the RiskLoc authors' repository (MIT) at RISKLOC_DIR (default bench/rca/.data/riskloc), commit 08cd777.
//   Its real-world set data/RS is the project's held-out check: this bench neither reads nor runs it.
// - python3 with the packages in bench/rca/requirements.txt (a venv is made in bench/rca/.data/venv from PyPI
//   when missing).
// Datasets are generated with the repository's generate_dataset.py and the paper's settings (README there):
// S (seed 121) and L (seed 122); the generator draws files one after another from one seeded stream, so
// `--num N` gives the first N files of the paper's set; H (seed 123, 6 dimensions, 24 M leaves and ~1.3 GB a
// file) likewise.
// Sizes (environment): BENCH_RCA_FILES (default 40 files of S and of L; all methods that finish within the
// timeout), BENCH_RCA_SLOW_FILES (default 5: Squeeze, HotSpot and RobustSpot take minutes a file here),
// BENCH_RCA_TIMEOUT (seconds per file and method, default 60: a file that times out counts as predicting
// nothing, and the note says how many did); BENCH_RCA_H_FILES (default 2 files of H, 0 to skip it: a minute to
// generate each, and minutes per method) with BENCH_RCA_H_TIMEOUT (default 300 s a file). The slow methods
// are not run on H (they time out on S already). BENCH_RCA_JOBS (default 2) methods run at once.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = join(dirname(fileURLToPath(import.meta.url)), 'rca');
const data = join(here, '.data');
const refDir = process.env.RISKLOC_DIR ?? join(data, 'riskloc');
const files = Number(process.env.BENCH_RCA_FILES ?? 40);
const slowFiles = Number(process.env.BENCH_RCA_SLOW_FILES ?? 5);
const timeout = Number(process.env.BENCH_RCA_TIMEOUT ?? 60);
const hFiles = Number(process.env.BENCH_RCA_H_FILES ?? 2);
const hTimeout = Number(process.env.BENCH_RCA_H_TIMEOUT ?? 300);
const jobs = Math.max(1, Number(process.env.BENCH_RCA_JOBS ?? 2));

// the paper's settings (the repository's README)
const DATASETS = {
  S: ['--seed', '121'],
  L: [
    '--seed',
    '122',
    '--dims',
    '10',
    '24',
    '10',
    '15',
    '--noise-level',
    '0.0',
    '0.1',
    '--anomaly-severity',
    '0.5',
    '1.0',
    '--anomaly-deviation',
    '0.0',
    '0.0',
    '--num-anomaly',
    '1',
    '5',
    '--num-anomaly-elements',
    '1',
    '1',
    '--only-last-layer',
  ],
  H: ['--seed', '123', '--dims', '10', '5', '250', '20', '8', '12'],
};
/** @type {Record<string, { files: number; slowFiles: number; timeout: number }>} */
const SIZES = {
  S: { files, slowFiles, timeout },
  L: { files, slowFiles, timeout },
  H: { files: hFiles, slowFiles: 0, timeout: hTimeout },
};
const FAST = ['riskloc', 'autoroot', 'adtributor', 'r_adtributor'];
const SLOW = ['squeeze', 'hotspot', 'robustspot'];

function python() {
  const venv = join(data, 'venv');
  const py = join(venv, 'bin', 'python');
  if (!existsSync(py)) {
    mkdirSync(data, { recursive: true });
    execFileSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
    execFileSync(py, ['-m', 'pip', 'install', '-q', '-r', join(here, 'requirements.txt')], {
      stdio: 'inherit',
    });
  }
  return py;
}

/**
 * @typedef {{ tp?: number; fp?: number; fn?: number; error?: string }} FileResult
 * @typedef {{ method: string; tp: number; fp: number; fn: number; f1: number; files: number; errors: number; seconds: number }} Scored
 */

/** @param {string} text @returns {FileResult[]} */
function jsonl(text) {
  return text
    .split('\n')
    .filter((/** @type {string} */ l) => l.startsWith('{'))
    .map((/** @type {string} */ l) => JSON.parse(l));
}

/**
 * Runs a program to its end; resolves with its stdout (rejects with the end of its stderr on failure).
 * @param {string} program @param {string[]} args @returns {Promise<string>}
 */
function run(program, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    /** @type {Buffer[]} */
    const out = [];
    let err = '';
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => {
      err = (err + d).slice(-2000);
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(Buffer.concat(out).toString('utf8'))
        : reject(
            new Error(`${program} ${args.slice(0, 4).join(' ')} exited with ${code}: ${err.slice(-500)}`),
          ),
    );
  });
}

/**
 * Runs the tasks BENCH_RCA_JOBS (default 2: each method is one single-threaded process, one a core here) at a
 * time; resolves with their results in order.
 * @template T @param {Array<() => Promise<T>>} tasks @returns {Promise<T[]>}
 */
async function pool(tasks) {
  /** @type {T[]} */
  const results = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await /** @type {() => Promise<T>} */ (tasks[i])();
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, tasks.length) }, worker));
  return results;
}

/** @param {FileResult[]} results */
function micro(results) {
  const s = results.reduce(
    (a, r) => ({ tp: a.tp + (r.tp ?? 0), fp: a.fp + (r.fp ?? 0), fn: a.fn + (r.fn ?? 0) }),
    /** @type {{ tp: number; fp: number; fn: number }} */ ({ tp: 0, fp: 0, fn: 0 }),
  );
  return { ...s, f1: (2 * s.tp) / Math.max(1, 2 * s.tp + s.fp + s.fn) };
}

export default async function () {
  if (!existsSync(join(refDir, 'generate_dataset.py')))
    throw new Error(
      `no RiskLoc checkout at ${refDir}: put the RiskLoc authors' repository (shaido987/riskloc, commit 08cd777) there, or set RISKLOC_DIR`,
    );
  const py = python();
  const root = join(data, 'data');
  const rows = [];
  for (const [name, args] of Object.entries(DATASETS)) {
    const size = SIZES[name] ?? { files: 0, slowFiles: 0, timeout: 0 };
    if (size.files === 0) continue;
    const dir = join(root, name);
    const have = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.csv')).length - 1 : 0;
    if (have < size.files) {
      process.stderr.write(`rca: generating ${size.files} files of ${name} …\n`);
      execFileSync(
        py,
        [
          'generate_dataset.py',
          '--num',
          String(size.files),
          '--dataset-name',
          name,
          '--data-root',
          root,
          ...args,
        ],
        { cwd: refDir, stdio: ['ignore', 'ignore', 'inherit'] },
      );
    }
    const all = readdirSync(dir)
      .filter((f) => f.endsWith('.csv') && f !== 'injection_info.csv')
      .map((f) => f.slice(0, -4))
      .sort()
      .slice(0, size.files);
    const slow = all.slice(0, size.slowFiles);
    /** @type {(subset: string[], method: string, run: (subset: string[]) => Promise<FileResult[]>) => () => Promise<Scored>} */
    const score = (subset, method, run) => async () => {
      const t = Date.now();
      const results = await run(subset);
      const m = micro(results);
      const errors = results.filter((r) => r.error).length;
      process.stderr.write(
        `rca: ${name} ${method} on ${subset.length} files: ${((Date.now() - t) / 1000).toFixed(0)} s\n`,
      );
      return { method, ...m, files: subset.length, errors, seconds: (Date.now() - t) / 1000 };
    };
    // ours: predictions from Node, scored by the reference scorer
    const ours = async (/** @type {string[]} */ subset) => {
      const predictions = join(data, `ours-${name}-${subset.length}.jsonl`);
      writeFileSync(
        predictions,
        await run('node', [join(here, 'ours.mjs'), root, name, '--only', subset.join(',')]),
      );
      return jsonl(await run(py, [join(here, 'reference.py'), refDir, root, name, '--score', predictions]));
    };
    const reference = (/** @type {string} */ algorithm) => async (/** @type {string[]} */ subset) =>
      jsonl(
        await run(py, [
          join(here, 'reference.py'),
          refDir,
          root,
          name,
          algorithm,
          '--only',
          subset.join(','),
          '--timeout',
          String(size.timeout),
        ]),
      );
    // one pool at a time (the subsets may be equal, and so the predictions file's name)
    const lists = [
      await pool([score(all, 'mp-otel', ours), ...FAST.map((a) => score(all, a, reference(a)))]),
      size.slowFiles > 0
        ? await pool([score(slow, 'mp-otel', ours), ...SLOW.map((a) => score(slow, a, reference(a)))])
        : [],
    ];
    for (const [group, list] of /** @type {Array<[string, Scored[]]>} */ ([
      [`${name}, first ${all.length} files`, lists[0]],
      [`${name}, first ${slow.length} files`, lists[1]],
    ])) {
      if (list.length === 0) continue;
      const best = list.filter((r) => r.method !== 'mp-otel').sort((x, y) => y.f1 - x.f1)[0];
      for (const r of list) {
        process.stderr.write(
          `rca: ${group} ${r.method}: F1 ${r.f1.toFixed(3)} (${r.seconds.toFixed(0)} s)\n`,
        );
        rows.push({
          suite: 'rca micro-F1',
          case: `${group}: ${r.method}`,
          value: r.f1,
          unit: 'F1',
          baseline: r.method === 'mp-otel' ? best?.f1 : undefined,
          note: `TP ${r.tp} FP ${r.fp} FN ${r.fn}; ${r.seconds.toFixed(0)} s${r.errors ? `; ${r.errors} of ${r.files} files timed out (${size.timeout} s) or failed` : ''}${r.method === 'mp-otel' ? `; baseline = best reference (${best?.method})` : ''}`,
        });
      }
    }
  }
  return rows;
}
