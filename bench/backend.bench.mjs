// Image service with the @mp-otel/node preset (`--import @mp-otel/node/register`, exporting OTLP/HTTP to a
// local sink) against the same service without it, under autocannon on loopback. One run, ratio = preset /
// bare (and, for CPU per request, against a plain sdk-node + instrumentation-http setup). Cases: download of
// a 100 KB image (GET /images/:id) and upload of a 16 KB image (POST /upload).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const serviceDir = join(root, 'examples', 'image-service');
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CONNECTIONS = 10;
const BOUNDARY = 'benchBoundary42';

/** @param {number} size */
function png(size) {
  const b = Buffer.alloc(size, 9);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b);
  return b;
}
/** @param {Buffer} data */
function multipart(data) {
  return Buffer.concat([
    Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="b.png"\r\nContent-Type: image/png\r\n\r\n`,
    ),
    data,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
}

/** A collector stand-in that accepts every OTLP request (protobuf by default, as in production). */
async function otlpSink() {
  let requests = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await /** @type {Promise<void>} */ (new Promise((r) => server.listen(0, '127.0.0.1', r)));
  return {
    url: `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}`,
    requests: () => requests,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(r);
      }),
  };
}

const PLAIN_OTEL = join(root, 'packages', 'node', 'test', 'fixtures', 'plain-otel-register.mjs');
const IMPORTS = { bare: [], preset: ['--import', '@mp-otel/node/register'], plain: ['--import', PLAIN_OTEL] };

/** @typedef {keyof typeof IMPORTS} Variant */

/**
 * @param {Variant} variant
 * @param {string} sinkUrl
 * @param {string} storage
 */
async function startService(variant, sinkUrl, storage) {
  const args = [...IMPORTS[variant], 'src/server.js'];
  const child = spawn(process.execPath, args, {
    cwd: serviceDir,
    env: {
      PATH: process.env.PATH,
      PORT: '0',
      HOST: '127.0.0.1',
      STORAGE_DIR: storage,
      OTEL_SERVICE_NAME: 'image-service-bench',
      OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
      MP_OTEL_CONSOLE_LOGS: 'true',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('service did not start')), 20_000);
    child.stdout.on('data', (c) => {
      out += c;
      const m = /listening on (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', () => reject(new Error(`service exited: ${out}`)));
  });
  child.stdout.resume();
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    stop: () =>
      new Promise((r) => {
        child.once('exit', r);
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

/** CPU time (user + system, all threads) the process has used, in ms; undefined off Linux. */
/** @param {number | undefined} pid */
function cpuMs(pid) {
  const file = `/proc/${pid}/stat`;
  if (!existsSync(file)) return undefined;
  const fields = /** @type {string} */ (readFileSync(file, 'utf8').split(') ')[1]).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks at USER_HZ = 100
}

/**
 * @param {number | undefined} pid
 * @param {import('autocannon').Options} opts
 */
async function load(pid, opts) {
  const before = cpuMs(pid);
  const result = await autocannon({ connections: CONNECTIONS, duration: DURATION_S, ...opts });
  const after = cpuMs(pid);
  if (result.errors || result.non2xx) {
    throw new Error(`load run had ${result.errors} errors, ${result.non2xx} non-2xx`);
  }
  const cpu =
    before === undefined || after === undefined
      ? undefined
      : ((after - before) * 1000) / result.requests.total;
  return { rps: result.requests.average, p99: result.latency.p99, cpu };
}

/**
 * @typedef {{ rps: number, p99: number, cpu: number | undefined }} Measured
 * @typedef {{ download: Measured, upload: Measured }} Run
 */

/**
 * @param {Variant} variant
 * @param {string} sinkUrl
 * @returns {Promise<Run>}
 */
async function measure(variant, sinkUrl) {
  const storage = mkdtempSync(join(tmpdir(), 'mp-otel-bench-'));
  const svc = await startService(variant, sinkUrl, storage);
  try {
    const up = await fetch(`${svc.url}/upload`, {
      method: 'POST',
      body: multipart(png(100 * 1024)),
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
    });
    const { url } = await up.json();
    // Warm-up (JIT, keep-alive sockets), not measured.
    await autocannon({ url: `${svc.url}${url}`, connections: CONNECTIONS, duration: 1 });
    const download = await load(svc.pid, { url: `${svc.url}${url}` });
    const upload = await load(svc.pid, {
      url: `${svc.url}/upload`,
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      body: multipart(png(16 * 1024)),
    });
    return { download, upload };
  } finally {
    await svc.stop();
    rmSync(storage, { recursive: true, force: true });
  }
}

export default async function bench() {
  const sink = await otlpSink();
  try {
    // Interleaved rounds (bare, preset, bare, preset, …); best of the rounds per variant, which damps the
    // noise of other processes sharing the machine.
    /** @type {Record<Variant, Run[]>} */
    const runs = { bare: [], preset: [], plain: [] };
    let exported = 0;
    for (let i = 0; i < ROUNDS; i++) {
      runs.bare.push(await measure('bare', sink.url));
      const before = sink.requests();
      runs.preset.push(await measure('preset', sink.url));
      exported += sink.requests() - before;
      runs.plain.push(await measure('plain', sink.url));
    }
    /**
     * @param {Run[]} list
     * @param {keyof Run} key
     * @returns {Measured}
     */
    const bestOf = (list, key) => ({
      rps: Math.max(...list.map((r) => r[key].rps)),
      p99: Math.min(...list.map((r) => r[key].p99)),
      // cpu is undefined in every run or in none (it depends on /proc only).
      cpu:
        /** @type {Run} */ (list[0])[key].cpu === undefined
          ? undefined
          : Math.min(...list.map((r) => /** @type {number} */ (r[key].cpu))),
    });
    const best = (/** @type {Run[]} */ list) => ({
      download: bestOf(list, 'download'),
      upload: bestOf(list, 'upload'),
    });
    const bare = best(runs.bare);
    const withPreset = best(runs.preset);
    const plain = best(runs.plain);
    const note = `${CONNECTIONS} conns, ${DURATION_S} s, best of ${ROUNDS} interleaved rounds; ratio = preset/bare`;
    /** @type {import('./run.mjs').BenchRow[]} */
    const rows = [];
    /** @type {[string, keyof Run][]} */
    const cases = [
      ['GET /images/:id 100 KB', 'download'],
      ['POST /upload 16 KB multipart', 'upload'],
    ];
    for (const [name, key] of cases) {
      rows.push({
        suite: 'backend preset',
        case: `${name} throughput`,
        value: withPreset[key].rps,
        unit: 'req/s',
        baseline: bare[key].rps,
        note,
      });
      rows.push({
        suite: 'backend preset',
        case: `${name} p99 latency`,
        value: withPreset[key].p99,
        unit: 'ms',
        baseline: bare[key].p99,
        note,
      });
      const cpu = withPreset[key].cpu;
      if (cpu !== undefined) {
        rows.push({
          suite: 'backend preset',
          case: `${name} server CPU per request`,
          value: cpu,
          unit: 'µs',
          baseline: bare[key].cpu,
          note: 'service process user+system CPU / requests served (less sensitive to other load on the machine)',
        });
        rows.push({
          suite: 'backend preset',
          case: `${name} server CPU per request, vs plain sdk-node + instrumentation-http`,
          value: cpu,
          unit: 'µs',
          baseline: plain[key].cpu,
          note: 'baseline: stock NodeSDK + HttpInstrumentation, no preset features',
        });
      }
    }
    if (exported === 0) throw new Error('the preset run exported nothing to the OTLP sink');
    return rows;
  } finally {
    await sink.close();
  }
}
