// @ts-check
// package-lock.json in step with every package.json (run by `npm run lint`; README "Layout"). Fails when a
// dependency was added, removed or changed in the root's or a workspace's package.json, or a workspace was
// added, removed, renamed or re-versioned, and `npm install` at the root was not run to update the lock.
//  1. The manifests against the lock (pure; also test/check-lockfile.unit.test.ts): the lock's entry for
//     the root ("") and for each workspace folder records the package.json fields npm copies (name,
//     version, the four dependency maps; the root's workspace list); each must be equal. Each workspace
//     is linked as node_modules/<name>, and the lock has no entry for a folder that is no longer one.
//  2. `npm ci --dry-run --offline` on a copy of the manifests and the lock in a temporary folder: npm's own
//     check that every version the lock resolves satisfies its range and nothing is missing from it (what
//     `npm ci` on a clean clone would reject; e.g. a lock merged by hand). About a second; no network.
// Exit code 1 and one line per difference.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package.json fields this check reads (and npm copies into the lock).
 * @typedef {{
 *   name?: string, version?: string, workspaces?: string[],
 *   dependencies?: Record<string, string>, devDependencies?: Record<string, string>,
 *   peerDependencies?: Record<string, string>, optionalDependencies?: Record<string, string>,
 * }} Manifest
 * @typedef {Manifest & { resolved?: string, link?: boolean }} LockEntry
 * @typedef {{ lockfileVersion?: number, packages?: Record<string, LockEntry> }} Lockfile
 */

const DEPENDENCY_FIELDS = /** @type {const} */ ([
  'dependencies',
  'devDependencies',
  'peerDependencies',
  'optionalDependencies',
]);

/** @param {string} file */
const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

/**
 * The workspace folders (relative, `/`-separated) a root package.json names; `dir/*` patterns expanded.
 * @param {string} root
 * @param {string[]} patterns
 */
export function workspaceFolders(root, patterns) {
  /** @type {string[]} */
  const out = [];
  for (const pattern of patterns) {
    if (pattern.endsWith('/*')) {
      const parent = pattern.slice(0, -2);
      for (const entry of readdirSync(join(root, parent)).sort()) {
        if (existsSync(join(root, parent, entry, 'package.json'))) out.push(`${parent}/${entry}`);
      }
    } else out.push(pattern.replace(/\/+$/, ''));
  }
  return out;
}

/**
 * The root manifest and each workspace's, keyed by folder ('' for the root), as the lock keys them.
 * @param {string} root
 * @returns {Record<string, Manifest>}
 */
export function readManifests(root) {
  /** @type {Manifest} */
  const rootPkg = readJson(join(root, 'package.json'));
  /** @type {Record<string, Manifest>} */
  const out = { '': rootPkg };
  for (const dir of workspaceFolders(root, rootPkg.workspaces ?? []))
    out[dir] = readJson(join(root, dir, 'package.json'));
  return out;
}

/**
 * Every difference between the manifests and the lock, as readable lines (empty: in step).
 * @param {Record<string, Manifest>} manifests  from readManifests: '' is the root, other keys workspace folders
 * @param {Lockfile} lock
 * @returns {string[]}
 */
export function lockDrift(manifests, lock) {
  /** @type {string[]} */
  const out = [];
  const entries = lock.packages ?? {};
  if (!lock.packages) out.push('the lock has no "packages" map (lockfileVersion 2 or 3 expected)');
  for (const [dir, pkg] of Object.entries(manifests)) {
    const where = dir === '' ? 'the root package.json' : `${dir}/package.json`;
    const entry = entries[dir];
    if (!entry) {
      out.push(`${where}: the lock has no entry for this ${dir === '' ? 'root' : 'workspace'}`);
      continue;
    }
    for (const field of /** @type {const} */ (['name', 'version'])) {
      if (pkg[field] !== entry[field]) {
        out.push(
          `${where}: ${field} is ${pkg[field] ?? '(none)'}, the lock says ${entry[field] ?? '(none)'}`,
        );
      }
    }
    for (const field of DEPENDENCY_FIELDS) {
      const want = pkg[field] ?? {};
      const have = entry[field] ?? {};
      for (const name of new Set([...Object.keys(want), ...Object.keys(have)])) {
        if (want[name] === have[name]) continue;
        if (have[name] === undefined)
          out.push(`${where}: ${field}.${name} ${want[name]} is missing from the lock`);
        else if (want[name] === undefined)
          out.push(`${where}: ${field}.${name} is gone, the lock still has ${have[name]}`);
        else out.push(`${where}: ${field}.${name} is ${want[name]}, the lock says ${have[name]}`);
      }
    }
    const listed = (/** @type {string[] | undefined} */ w) => JSON.stringify([...(w ?? [])].sort());
    if (dir === '' && listed(pkg.workspaces) !== listed(entry.workspaces)) {
      out.push(`${where}: workspaces differ from the lock's (${(entry.workspaces ?? []).join(', ')})`);
    }
    if (dir !== '' && pkg.name) {
      const link = entries[`node_modules/${pkg.name}`];
      if (link?.link !== true || link.resolved !== dir) {
        out.push(`${where}: the lock does not link node_modules/${pkg.name} to ${dir}`);
      }
    }
  }
  for (const key of Object.keys(entries)) {
    if (key === '' || key.startsWith('node_modules/') || key.includes('/node_modules/')) continue;
    if (!(key in manifests)) out.push(`package-lock.json: an entry for ${key}, which is not a workspace`);
  }
  return out;
}

/**
 * `npm ci --dry-run --offline` over a copy of the manifests and the lock: npm's own in-sync check.
 * @param {string} root
 * @param {string[]} folders  workspace folders
 * @returns {string[]} npm's complaint, or nothing
 */
export function npmCiDryRun(root, folders) {
  const work = mkdtempSync(join(tmpdir(), 'mp-otel-lockcheck-'));
  try {
    for (const dir of ['', ...folders]) {
      mkdirSync(join(work, dir), { recursive: true });
      cpSync(join(root, dir, 'package.json'), join(work, dir, 'package.json'));
    }
    cpSync(join(root, 'package-lock.json'), join(work, 'package-lock.json'));
    const npm = process.env.npm_execpath;
    const args = [
      'ci',
      '--dry-run',
      '--offline',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
    ];
    const res = npm
      ? spawnSync(process.execPath, [npm, ...args], { cwd: work, encoding: 'utf8' })
      : spawnSync('npm', args, { cwd: work, encoding: 'utf8', shell: process.platform === 'win32' });
    if (res.error) return [`npm ci --dry-run could not run: ${res.error.message}`];
    if (res.status === 0) return [];
    const lines = `${res.stderr}`
      .split('\n')
      .map((l) => l.replace(/^npm (error|ERR!) ?/, '').trim())
      .filter((l) => /in sync|Missing:|Invalid:/.test(l));
    // offline, npm asks the registry only for what the lock does not resolve
    const lookedUp = /ENOTCACHED[\s\S]*?request to (\S+) failed/.exec(res.stderr)?.[1];
    if (lines.length === 0 && lookedUp) {
      lines.push(`npm had to look up ${lookedUp}: the lock does not resolve everything the manifests need`);
    }
    return lines.length > 0
      ? lines
      : [`npm ci --dry-run exited with ${res.status}: ${res.stderr.trim().slice(0, 500)}`];
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
  const manifests = readManifests(root);
  const problems = lockDrift(manifests, readJson(join(root, 'package-lock.json')));
  if (problems.length === 0) {
    problems.push(
      ...npmCiDryRun(
        root,
        Object.keys(manifests).filter((d) => d !== ''),
      ),
    );
  }
  for (const p of problems) console.error(`check-lockfile: ${p}`);
  if (problems.length > 0) {
    console.error(
      'check-lockfile: package-lock.json is out of step; run `npm install` at the repository root',
    );
    process.exit(1);
  }
  console.log('check-lockfile: ok');
}
