#!/usr/bin/env node
// `npm run build:collector`: builds the mp-otel OpenTelemetry Collector distribution described by
// collector/builder-config.yaml into collector/_build/mp-otel-collector.
//
// Steps (each skipped when already done):
//   1. install the pinned OpenTelemetry Collector Builder (ocb) into collector/_build/bin via `go install`;
//   2. generate the distribution's Go sources (`builder --skip-get-modules --skip-compilation`);
//   3. copy the committed dependency lock (collector/go.mod.lock + collector/go.sum.lock) over the generated
//      go.mod/go.sum, so every build compiles the same module versions with the same hashes;
//   4. `go build` (niced) reusing Go's default GOCACHE / GOMODCACHE.
// The build is skipped entirely when the binary is newer than the manifest and the lock (use --force to
// rebuild). When the manifest changed, the lock is re-resolved and rewritten (`--relock` forces that).
//
// Why not plain `builder --config …`: the builder runs `go mod tidy`, which also resolves the *test*
// dependencies of every imported module; the module proxy reachable from this project's machines does not
// serve all of those (nor all checksum-database entries). `go build -mod=mod` only needs the modules that
// are compiled, and the committed go.sum.lock pins their hashes (GOSUMDB is therefore not consulted).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const collectorDir = join(root, 'collector');
const manifest = join(collectorDir, 'builder-config.yaml');
const buildDir = join(collectorDir, '_build');
const binDir = join(buildDir, 'bin');
const binary = join(buildDir, 'mp-otel-collector');
const modLock = join(collectorDir, 'go.mod.lock');
const sumLock = join(collectorDir, 'go.sum.lock');

const composeCheckDir = join(collectorDir, 'compose-check');
const composeCheck = join(buildDir, 'compose-check');

const args = new Set(process.argv.slice(2));
const force = args.has('--force');
const relock = args.has('--relock');
const quiet = args.has('--quiet');
const log = (/** @type {string} */ msg) => {
  if (!quiet) process.stderr.write(`build-collector: ${msg}\n`);
};

const manifestText = readFileSync(manifest, 'utf8');
const manifestHash = createHash('sha256').update(manifestText).digest('hex').slice(0, 16);
const builderVersion = manifestText.match(/go\.opentelemetry\.io\/collector\/service (v\d+\.\d+\.\d+)/)?.[1];
if (!builderVersion) throw new Error('cannot find the core version (service module) in builder-config.yaml');

const mtime = (/** @type {string} */ p) => (existsSync(p) ? statSync(p).mtimeMs : 0);
const lockHeader = `// mp-otel lock for builder-config.yaml sha256:${manifestHash}`;
const lockIsCurrent = () => existsSync(modLock) && readFileSync(modLock, 'utf8').startsWith(lockHeader);

const goEnv = {
  ...process.env,
  // Hashes come from the committed go.sum files; the proxy's checksum-database mirror is incomplete.
  GOSUMDB: 'off',
  GOFLAGS: '-mod=mod',
  CGO_ENABLED: '0',
  GOTOOLCHAIN: 'local',
};
/**
 * @param {string} cmd
 * @param {string[]} argv
 * @param {import('node:child_process').SpawnSyncOptions} [opts]
 */
const run = (cmd, argv, opts = {}) => {
  log(`$ ${[cmd, ...argv].join(' ')}`);
  const started = Date.now();
  const res = spawnSync(cmd, argv, { stdio: quiet ? 'pipe' : 'inherit', env: goEnv, ...opts });
  if (res.error) throw res.error;
  if (res.status !== 0) {
    if (quiet) process.stderr.write(`${res.stdout ?? ''}${res.stderr ?? ''}`);
    throw new Error(`${cmd} exited with ${res.status}`);
  }
  log(`  done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return res;
};
const hasNice = spawnSync('nice', ['--version'], { stdio: 'ignore' }).status === 0;
/** @type {typeof run} */
const niced = (cmd, argv, opts) =>
  hasNice ? run('nice', ['-n', '15', cmd, ...argv], opts) : run(cmd, argv, opts);

// compose-check: the Compose Specification's reference loader, used by the docker-compose.yml test.
mkdirSync(buildDir, { recursive: true });
const composeInputs = ['main.go', 'go.mod', 'go.sum'].map((f) => mtime(join(composeCheckDir, f)));
if (force || !existsSync(composeCheck) || composeInputs.some((t) => t > mtime(composeCheck))) {
  niced('go', ['build', '-trimpath', '-o', composeCheck, '.'], { cwd: composeCheckDir });
}

if (
  !force &&
  !relock &&
  existsSync(binary) &&
  mtime(binary) > mtime(manifest) &&
  mtime(binary) > mtime(modLock) &&
  lockIsCurrent()
) {
  log(`up to date: ${binary}`);
  process.exit(0);
}

mkdirSync(binDir, { recursive: true });
const builder = join(binDir, 'builder');
const builderStamp = join(binDir, 'builder.version');
if (
  !existsSync(builder) ||
  !existsSync(builderStamp) ||
  readFileSync(builderStamp, 'utf8') !== builderVersion
) {
  niced('go', ['install', `go.opentelemetry.io/collector/cmd/builder@${builderVersion}`], {
    env: { ...goEnv, GOBIN: binDir, GOFLAGS: '' },
  });
  writeFileSync(builderStamp, builderVersion);
}

// 2. sources (the builder resolves output_path relative to the manifest's directory when run there)
run(builder, ['--config', manifest, '--skip-get-modules', '--skip-compilation'], { cwd: collectorDir });

// 3. lock
const useLock = !relock && lockIsCurrent() && existsSync(sumLock);
if (useLock) {
  const body = readFileSync(modLock, 'utf8').split('\n').slice(1).join('\n');
  writeFileSync(join(buildDir, 'go.mod'), body);
  copyFileSync(sumLock, join(buildDir, 'go.sum'));
  log('using the committed dependency lock (collector/go.mod.lock, collector/go.sum.lock)');
} else {
  log('no current lock: resolving module versions (go build -mod=mod) and writing a new lock');
}

// 4. compile
const started = Date.now();
niced('go', ['build', '-trimpath', '-ldflags=-s -w', '-o', binary, '.'], { cwd: buildDir });
if (!useLock) {
  writeFileSync(modLock, `${lockHeader}\n${readFileSync(join(buildDir, 'go.mod'), 'utf8')}`);
  copyFileSync(join(buildDir, 'go.sum'), sumLock);
  log('wrote collector/go.mod.lock and collector/go.sum.lock (commit them)');
}
log(`built ${binary} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
