// The compose rehearsal: for every service of docker-compose.yml, what its container would do, done here from
// a clean clone with the same command, environment and mounted files — against the embedded store where a
// ClickHouse server is needed. No Docker engine runs here, so:
//   - the Node image: `git clone` of this worktree's HEAD (committed files only), then exactly the RUN steps
//     of collector/compose/node.Dockerfile that work in its WORKDIR (npm ci, the build), with this machine's
//     Node (the image has Node 24: every locked package's engines range is checked against both);
//   - clickhouse: the embedded ClickHouse-compatible endpoint over chDB (ClickHouse 26.7), started bare —
//     clickhouse-init must do the migrations, catalog and geo itself; users.d is rendered, not enforced;
//   - collector: the binary built from collector/builder-config.yaml with the shipped config.yaml and the
//     compose environment; the native protocol (tcp://clickhouse:9000) cannot run against the embedded
//     endpoint, so CLICKHOUSE_ENDPOINT is the same settings over HTTP (compress and async_insert as shipped);
//   - kong: a loopback stand-in serving kong.yml's routes, key-auth and X-Real-IP (src/rehearsal.ts);
//   - grafana: its provisioning rendered with the compose environment; every dashboard query and alert rule
//     run with the plugin's macros expanded (@mp-otel/grafana) against the store clickhouse-init migrated.
// Compose service addresses (clickhouse:8123, collector:4318, image-service:3000, kong:8000) are mapped to
// loopback ports; nothing else in a command or an environment is changed.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createClient } from '@clickhouse/client';
import { repoRoot } from '@mp-otel/devkit';
import { evaluateAlerts, expandGrafanaEnvDeep, expandQuery, runDashboard } from '@mp-otel/grafana';
import { ChdbStore, startClickHouseHttp } from '@mp-otel/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  collectorBinary,
  ensureCollector,
  FEATURE_GATES,
  freePort,
  geoTestDb,
  kv,
  newSpanId,
  newTraceId,
  removeTempFiles,
  tempFile,
} from '../src/collector.js';
import {
  dockerfileSteps,
  dockerignored,
  type KongStandIn,
  serviceAddresses,
  startKongStandIn,
} from '../src/rehearsal.js';

type Any = any;
const root = repoRoot();
const composeCheck = join(root, 'collector', '_build', 'compose-check');
const SECRETS = {
  MP_OTEL_CLICKHOUSE_PASSWORD: 'rehearsal-admin-secret',
  MP_OTEL_CLICKHOUSE_MIGRATOR_PASSWORD: 'rehearsal-migrator-secret',
  MP_OTEL_CLICKHOUSE_WRITER_PASSWORD: 'rehearsal-ingest-secret',
  MP_OTEL_CLICKHOUSE_READER_PASSWORD: 'rehearsal-readonly-secret',
  GRAFANA_ADMIN_PASSWORD: 'rehearsal-grafana-secret',
};

/** docker-compose.yml as `docker compose config` resolves it (compose-go), with .env values. */
function composeProject(file: string, extra: Record<string, string> = {}): Any {
  const env = { ...SECRETS, ...extra };
  const out = execFileSync(
    composeCheck,
    [...Object.entries(env).flatMap(([k, v]) => ['-env', `${k}=${v}`]), file],
    { stdio: 'pipe', maxBuffer: 64 << 20 },
  );
  return JSON.parse(out.toString());
}

/** Runs a compose `command` (exec form) with its environment in the clone; resolves with exit code + output. */
function runCommand(
  argv: string[],
  env: Record<string, string>,
  cwd: string,
): { child: ChildProcess; done: Promise<{ code: number | null; output: string }>; output: () => string } {
  const [cmd, ...args] = argv;
  const child = spawn(cmd === 'node' ? process.execPath : (cmd as string), args, {
    cwd,
    // the image's environment: PATH and HOME of a container, the service's own variables, NODE_ENV from ENV
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  const done = new Promise<{ code: number | null; output: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, output })),
  );
  return { child, done, output: () => output };
}

/** Polls an async condition until it holds (a condition wait, not a sleep). */
async function until<T>(
  fn: () => Promise<T | undefined | false>,
  timeoutMs: number,
  what: string,
  explain: () => Promise<string> | string = () => '',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${await explain()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const healthy = async (argv: string[], cwd: string): Promise<boolean> => {
  const r = runCommand(argv.slice(1), {}, cwd);
  return (await r.done).code === 0;
};

describe('compose rehearsal (docker-compose.yml from a clean clone, no Docker)', () => {
  let clone: string;
  let reused: string | undefined;
  let dataDir: string;
  let imagesDir = '';
  let project: Any;
  let store: ChdbStore | undefined;
  let ch: { url: string; close(): Promise<void> } | undefined;
  let db: ReturnType<typeof createClient>;
  let addr: ReturnType<typeof serviceAddresses>;
  let collectorHttp = '';
  let kong: KongStandIn | undefined;
  const children: ChildProcess[] = [];
  const database = 'otel';
  let imageServicePort = 0;
  let trafficHealthPort = 0;

  beforeAll(async () => {
    ensureCollector();
    // MP_OTEL_REHEARSAL_CLONE=DIR (development only): reuse a clone built by an earlier run, kept in DIR
    reused = process.env.MP_OTEL_REHEARSAL_CLONE;
    clone = reused ?? mkdtempSync(join(tmpdir(), 'mp-otel-rehearsal-'));
    dataDir = mkdtempSync(join(tmpdir(), 'mp-otel-rehearsal-store-'));
    if (!reused) execFileSync('git', ['clone', '--quiet', root, clone], { stdio: 'pipe' });
    project = composeProject(join(clone, 'docker-compose.yml'));
    store = new ChdbStore(dataDir);
    // the endpoint's users are the compose users, with the .env passwords: every service authenticates
    // as its own role and the endpoint enforces it (read-only, insert-only, DDL)
    const chEnv = project.services.clickhouse.environment;
    const credentials = {
      admin: { username: chEnv.CLICKHOUSE_USER, password: chEnv.CLICKHOUSE_PASSWORD },
      migrator: { username: 'mp_migrator', password: chEnv.MP_OTEL_CLICKHOUSE_MIGRATOR_PASSWORD },
      writer: { username: 'mp_writer', password: chEnv.MP_OTEL_CLICKHOUSE_WRITER_PASSWORD },
      reader: { username: 'mp_reader', password: chEnv.MP_OTEL_CLICKHOUSE_READER_PASSWORD },
    };
    ch = await startClickHouseHttp({ store, port: 0, credentials });
    // the test's own checks, as the administrator
    db = createClient({
      url: ch.url,
      database: 'system',
      username: credentials.admin.username,
      password: credentials.admin.password,
    });
    const [collectorPort, imagePort, healthPort] = [await freePort(), await freePort(), await freePort()];
    collectorHttp = `http://127.0.0.1:${collectorPort}`;
    imageServicePort = imagePort;
    trafficHealthPort = healthPort;
    const chPort = new URL(ch.url).port;
    addr = serviceAddresses({
      'tcp://clickhouse:9000': `http://127.0.0.1:${chPort}`, // native protocol: HTTP is the closest here
      'clickhouse:8123': `127.0.0.1:${chPort}`,
      'collector:4318': `127.0.0.1:${collectorPort}`,
      'image-service:3000': `127.0.0.1:${imagePort}`,
      '127.0.0.1:3000': `127.0.0.1:${imagePort}`, // the image service's own health check
      '127.0.0.1:9464': `127.0.0.1:${healthPort}`, // the traffic generator's health check
    });
  }, 120_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await kong?.close();
    await db?.close();
    await ch?.close();
    removeTempFiles();
    await store?.close();
    for (const d of [reused ? '' : clone, dataDir, imagesDir])
      if (d) rmSync(d, { recursive: true, force: true });
  });

  let collectorOutput = () => '';
  const collectorErrors = () =>
    collectorOutput()
      .split('\n')
      .filter((l) => /error|warn/i.test(l))
      .slice(-6)
      .join('\n');
  const svc = (name: string) => project.services[name];
  const q = async <T = Any>(sql: string): Promise<T[]> =>
    (await db.query({ query: sql, format: 'JSONEachRow' })).json<T>();

  it('the Node image: the RUN steps of node.Dockerfile pass on a clean clone (npm ci, the build)', () => {
    const steps = dockerfileSteps(
      readFileSync(join(clone, 'collector', 'compose', 'node.Dockerfile'), 'utf8'),
    );
    const from = steps.find((s) => s.instruction === 'FROM')?.args ?? '';
    expect(from).toMatch(/^node:(22|24)\.\d+\.\d+-[a-z]+-slim$/); // a supported LTS, exact tag
    expect(steps.find((s) => s.instruction === 'WORKDIR')?.args).toBe('/app');
    expect(steps.find((s) => s.instruction === 'COPY')?.args).toBe('. .');
    const runs = steps.filter((s) => s.instruction === 'RUN').map((s) => s.args);
    // steps on the app (WORKDIR) run here verbatim; steps on the image's own file system (the volume
    // mount point owned by the unprivileged user) cannot run outside a container and are listed
    const system = runs.filter((r) => /(^|\s)\/(?!app\b)/.test(r));
    expect(system).toEqual(['mkdir -p /data/images && chown node:node /data/images']);
    const app = runs.filter((r) => !system.includes(r));
    expect(app.join(' && ')).toMatch(/npm ci .*&& npm run build/);
    rmSync(join(clone, '.git'), { recursive: true, force: true }); // excluded from the build context
    for (const run of reused ? [] : app) {
      const started = Date.now();
      try {
        execFileSync('sh', ['-c', run], {
          cwd: clone,
          stdio: 'pipe',
          maxBuffer: 256 << 20,
          env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' },
        });
      } catch (e) {
        const err = e as { stdout?: Buffer; stderr?: Buffer };
        throw new Error(
          `RUN ${run} failed:\n${String(err.stdout ?? '').slice(-3000)}${String(err.stderr ?? '').slice(-3000)}`,
        );
      }
      console.log(`rehearsal: RUN ${run.slice(0, 60)}… ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
    // every service's entry point exists in the built image
    for (const p of [
      'packages/cli/dist/cli.js',
      'packages/store/migrations',
      'packages/node/dist',
      'packages/miniprogram/miniprogram_dist',
      'packages/devkit/dist',
    ])
      expect(existsSync(join(clone, p)), p).toBe(true);
  }, 1_500_000);

  it('.dockerignore keeps local builds, dependencies, data and secrets out of the build context', () => {
    const ignore = readFileSync(join(root, '.dockerignore'), 'utf8');
    // this worktree has local builds and dependencies: none of them is in the context
    const leaked: string[] = [];
    const walk = (dir: string, depth: number) => {
      for (const name of readdirSync(dir)) {
        const abs = join(dir, name);
        const rel = relative(root, abs);
        if (dockerignored(ignore, rel)) continue;
        if (/(^|\/)(dist|node_modules|miniprogram_dist|_build|\.data)$/.test(rel) || rel === '.env')
          leaked.push(rel);
        if (depth < 4 && statSync(abs).isDirectory()) walk(abs, depth + 1);
      }
    };
    walk(root, 0);
    expect(leaked).toEqual([]);
    for (const p of [
      'packages/cli/dist/cli.js',
      'node_modules/yaml',
      '.env',
      '.git/HEAD',
      'collector/_build/x',
    ])
      expect(dockerignored(ignore, p), p).toBe(true);
    // sources, lock and the files the images COPY stay in
    for (const p of [
      'package-lock.json',
      'packages/cli/src/cli.ts',
      'collector/go.sum.lock',
      'packages/stack/fixtures/geo-test.mmdb',
      'clickhouse/migrations/001_otel_traces.sql',
    ])
      expect(dockerignored(ignore, p), p).toBe(false);
  });

  it("every locked dependency runs on the image's Node and on this machine's", () => {
    const { satisfies } = createRequire(import.meta.url)('semver') as {
      satisfies: (v: string, range: string) => boolean;
    };
    const from = dockerfileSteps(
      readFileSync(join(root, 'collector', 'compose', 'node.Dockerfile'), 'utf8'),
    ).find((s) => s.instruction === 'FROM')?.args;
    const imageNode = from?.match(/^node:(\d+\.\d+\.\d+)/)?.[1] as string;
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
    const bad: string[] = [];
    for (const [name, p] of Object.entries<Any>(lock.packages)) {
      const range = p.engines?.node;
      if (!range || p.optional) continue; // optional platform packages are skipped by npm where they don't fit
      for (const v of [imageNode, process.versions.node])
        if (!satisfies(v, range)) bad.push(`${name}@${p.version} needs node ${range}, not ${v}`);
    }
    expect(bad).toEqual([]);
  });

  it('clickhouse-init: its command, as user mp_migrator, migrates a bare store and loads the catalog and geo', async () => {
    const s = svc('clickhouse-init');
    expect(s.environment.MP_OTEL_CLICKHOUSE_USER).toBe('mp_migrator');
    // chDB has one user (default): the users of clickhouse/users.d do not exist in it, so the dictionary's
    // source (which reads mp_ip_geo as MP_OTEL_DICT_USER on a server) authenticates as that user here — the
    // same {{dict_auth}} rendering, another name (the dictionary is loaded inside chDB, not through the
    // endpoint). The endpoint itself checks mp_migrator's password and role.
    expect(s.environment.MP_OTEL_DICT_USER).toBe('mp_reader');
    const env = { ...addr.env(s.environment), MP_OTEL_DICT_USER: 'default', MP_OTEL_DICT_PASSWORD: '' };
    const r = runCommand(s.command, env, clone);
    children.push(r.child);
    const { code, output } = await r.done;
    expect(code, output).toBe(0);
    const migrations = readdirSync(join(root, 'clickhouse', 'migrations')).filter((f) => f.endsWith('.sql'));
    const applied = await q<{ n: string }>(`SELECT count() AS n FROM ${database}.mp_schema_migrations`);
    expect(Number(applied[0]?.n)).toBe(migrations.length);
    const catalog = parse(readFileSync(join(clone, 'catalog', 'catalog.yaml'), 'utf8'));
    const routes = await q<{ name: string }>(`SELECT name FROM ${database}.mp_routes ORDER BY name`);
    expect(routes.map((x) => x.name)).toEqual(catalog.routes.map((x: Any) => x.name).sort());
    const geo = await q<{ n: string; carriers: string }>(
      `SELECT count() AS n, uniqExact(carrier) AS carriers FROM ${database}.mp_ip_geo`,
    );
    expect(Number(geo[0]?.n)).toBeGreaterThan(500_000);
    expect(Number(geo[0]?.carriers)).toBeGreaterThanOrEqual(4);
    // the dictionary the cube resolves province and carrier with answers (an address of a unicom range)
    const sample = await q<{ ip: number; carrier: string; province: string }>(
      `SELECT ip_start AS ip, carrier, province FROM ${database}.mp_ip_geo WHERE carrier = 'unicom' AND province != '' LIMIT 1`,
    );
    const lookup = await q<{ c: string }>(
      `SELECT dictGetOrDefault('${database}.mp_ip_geo_dict', 'carrier', toUInt64(0), toUInt32(${sample[0]?.ip}), '') AS c`,
    );
    expect(lookup[0]?.c).toBe('unicom');
    expect(output).toMatch(/loaded \d+ ranges into otel\.mp_ip_geo/);
  }, 300_000);

  it('collector: the shipped config.yaml with the compose environment writes into the store', async () => {
    const s = svc('collector');
    expect(s.environment.CLICKHOUSE_ENDPOINT).toBe('tcp://clickhouse:9000?dial_timeout=10s');
    expect(s.ports ?? []).toEqual([]);
    const env = addr.env(s.environment);
    expect(env.CLICKHOUSE_ENDPOINT).toMatch(/^http:\/\/127\.0\.0\.1:\d+\?dial_timeout=10s$/);
    // the config file the container mounts, and its command (binary from collector/Dockerfile's build)
    const mount = s.volumes.find((v: Any) => v.target === '/etc/mp-otel/config.yaml');
    const config = mount.source as string;
    expect(config).toBe(join(clone, 'collector', 'config.yaml'));
    expect(s.command).toEqual(['--config=/etc/mp-otel/config.yaml', FEATURE_GATES]);
    const r = runCommand(
      [
        collectorBinary,
        `--config=${config}`,
        // the collector's own metrics listen on localhost:8888 by default: inside its container that is
        // its own; on this shared machine another collector may hold it, so that port is mapped too
        `--config=${tempFile(
          'metrics-port.yaml',
          `service:\n  telemetry:\n    metrics:\n      readers:\n        - pull:\n            exporter:\n              prometheus:\n                host: 127.0.0.1\n                port: ${await freePort()}\n`,
        )}`,
        FEATURE_GATES,
      ],
      {
        ...env,
        MP_OTEL_GEOIP_DB: geoTestDb, // the compose default mount
        MP_OTEL_OTLP_HTTP_ENDPOINT: collectorHttp.replace('http://', ''),
        MP_OTEL_OTLP_GRPC_ENDPOINT: `127.0.0.1:${await freePort()}`,
        MP_OTEL_HEALTH_ENDPOINT: `127.0.0.1:${await freePort()}`,
        MP_OTEL_TAIL_DECISION_WAIT: '2s', // 10 s in production: only the wait is shortened here
        // compress: lz4 (shipped) over HTTP means ClickHouse's compressed block format (CityHash128-checked
        // LZ4 blocks, `compress=1`/`decompress=1`), which the embedded endpoint does not speak: the exporter
        // fails its server hello ("raw size should be 0 < 1835093616"). Run uncompressed; async_insert as shipped.
        CLICKHOUSE_COMPRESS: 'none',
      },
      clone,
    );
    children.push(r.child);
    collectorOutput = r.output;
    await until(
      async () => {
        if (r.child.exitCode !== null) throw new Error(`collector exited:\n${r.output()}`);
        return fetch(`${collectorHttp}/v1/traces`, { method: 'OPTIONS' }).then(
          () => true,
          () => false,
        );
      },
      30_000,
      'collector listening',
    );
    // async_insert as shipped (the config's default, compose does not override it)
    expect(env.CLICKHOUSE_ASYNC_INSERT).toBeUndefined();
    expect(readFileSync(config, 'utf8')).toContain(`async_insert: $${'{'}env:CLICKHOUSE_ASYNC_INSERT:-true}`);
    const traceId = newTraceId();
    const body = {
      resourceSpans: [
        {
          resource: { attributes: kv({ 'service.name': 'rehearsal-probe', 'os.name': 'ios' }) },
          scopeSpans: [
            {
              scope: { name: 'rehearsal' },
              spans: [
                {
                  traceId,
                  spanId: newSpanId(),
                  name: 'GET',
                  kind: 3,
                  startTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
                  endTimeUnixNano: String(BigInt(Date.now() + 20) * 1_000_000n),
                  attributes: kv({ 'http.request.method': 'GET', 'http.response.status_code': 500 }),
                  status: { code: 2 },
                },
              ],
            },
          ],
        },
      ],
    };
    const res = await fetch(`${collectorHttp}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    await until(
      async () =>
        (await q(`SELECT 1 FROM ${database}.otel_traces WHERE TraceId = '${traceId}'`)).length > 0 ||
        undefined,
      60_000,
      `the probe span in ${database}.otel_traces`,
    ).catch((e) => {
      const errors = r
        .output()
        .split('\n')
        .filter((l) => /error|warn/i.test(l))
        .slice(-8)
        .join('\n');
      throw new Error(`${(e as Error).message}; collector errors:\n${errors}`);
    });
  }, 120_000);

  it('image-service: its command serves and passes its health check', async () => {
    const s = svc('image-service');
    const env = addr.env({ ...s.environment, PORT: String(imageServicePort) });
    env.STORAGE_DIR = mkdtempSync(join(tmpdir(), 'mp-otel-rehearsal-images-'));
    imagesDir = env.STORAGE_DIR;
    const r = runCommand(s.command, env, join(clone, s.working_dir.replace(/^\/app\/?/, '')));
    children.push(r.child);
    const check = addr.apply(JSON.stringify(s.healthcheck.test));
    await until(
      async () => {
        if (r.child.exitCode !== null) throw new Error(`image-service exited:\n${r.output()}`);
        return (await healthy(JSON.parse(check), clone)) || undefined;
      },
      30_000,
      'image-service healthy',
    );
  }, 60_000);

  it("traffic → Kong (kong.yml's routes and key-auth) → image service and collector: data flows", async () => {
    const kongDoc = parse(readFileSync(join(clone, 'kong', 'kong.yml'), 'utf8'));
    kong = await startKongStandIn(kongDoc, addr.apply);
    // telemetry without the app's key is refused at the edge, with a wrong one too
    for (const headers of [{}, { 'x-mp-otel-key': 'mpk_not_in_the_catalog' }] as Record<string, string>[]) {
      const res = await fetch(`${kong.url}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: '{}',
      });
      expect(res.status).toBe(401);
    }
    const probes = kong.log.length;
    const s = svc('traffic');
    const env = serviceAddresses({ 'http://kong:8000': kong.url }).env(addr.env(s.environment));
    env.TRAFFIC_RPS = '20';
    env.TRAFFIC_MAX_REQUESTS = '16';
    env.TRAFFIC_HEALTH_PORT = String(trafficHealthPort);
    const r = runCommand(s.command, env, clone);
    children.push(r.child);
    const check = JSON.parse(addr.apply(JSON.stringify(s.healthcheck.test)));
    await until(async () => (await healthy(check, clone)) || undefined, 20_000, 'traffic healthy');
    const { code, output } = await r.done;
    expect(code, output).toBe(0);
    const log = kong.log.slice(probes);
    const routed = new Set(log.filter((l) => l.status < 500).map((l) => l.route));
    expect([...routed].sort()).toEqual(['download.image', 'telemetry', 'upload.image']);
    expect(log.filter((l) => l.route === 'telemetry' && l.status === 200).length).toBeGreaterThan(0);
    expect(log.filter((l) => l.route === 'telemetry' && l.status === 401)).toEqual([]);
    // client spans (through Kong) and the image service's server spans (direct) reach the store
    await until(
      async () => {
        const rows = await q<{ s: string; n: string }>(
          `SELECT ServiceName AS s, count() AS n FROM ${database}.otel_traces GROUP BY s`,
        );
        const names = rows.map((x) => x.s);
        return (names.includes('demo-miniprogram') && names.includes('image-service')) || undefined;
      },
      60_000,
      'client and backend spans in otel_traces',
      async () =>
        `services: ${JSON.stringify(await q(`SELECT ServiceName, count() FROM ${database}.otel_traces GROUP BY 1`))}\n` +
        `kong: ${JSON.stringify(
          Object.entries(
            log.reduce<Record<string, number>>((a, l) => {
              const k = `${l.method} ${l.path} ${l.status}`;
              a[k] = (a[k] ?? 0) + 1;
              return a;
            }, {}),
          ),
        )}\nlogs: ${JSON.stringify(await q(`SELECT ServiceName, count() FROM ${database}.otel_logs GROUP BY 1`))}\ncollector: ${collectorErrors()}\ntraffic: ${output.slice(-800)}`,
    );
    const named = await q<{ n: string }>(
      `SELECT count() AS n FROM ${database}.otel_traces WHERE ServiceName = 'demo-miniprogram' AND SpanAttributes['mp.route_name'] != ''`,
    );
    expect(Number(named[0]?.n)).toBeGreaterThan(0);
  }, 120_000);

  it('grafana: the provisioning rendered with the compose environment names compose’s ClickHouse, database and read-only user', () => {
    const render = (p: Any) =>
      expandGrafanaEnvDeep(
        parse(readFileSync(join(clone, 'grafana', 'provisioning', 'datasources', 'clickhouse.yaml'), 'utf8')),
        p.services.grafana.environment,
      ).datasources[0];
    for (const dbName of ['otel', 'prod_otel']) {
      const p = composeProject(join(clone, 'docker-compose.yml'), { CLICKHOUSE_DATABASE: dbName });
      const ds = render(p);
      expect(ds.jsonData.host).toBe('clickhouse');
      expect(Object.keys(p.services)).toContain(ds.jsonData.host);
      expect(Number(ds.jsonData.port)).toBe(8123); // the ClickHouse HTTP port (the plugin parses the string)
      expect(ds.jsonData.protocol).toBe('http');
      // the database moves with CLICKHOUSE_DATABASE everywhere at once
      for (const d of [
        ds.jsonData.defaultDatabase,
        ds.jsonData.logs.defaultDatabase,
        ds.jsonData.traces.defaultDatabase,
      ])
        expect(d).toBe(dbName);
      expect(p.services.clickhouse.environment.CLICKHOUSE_DB).toBe(dbName);
      expect(p.services['clickhouse-init'].environment.MP_OTEL_DB).toBe(dbName);
      expect(p.services.collector.environment.CLICKHOUSE_DATABASE).toBe(dbName);
      expect(p.services.clickhouse.environment.MP_OTEL_CLICKHOUSE_READER_GRANT).toContain(` ON ${dbName}.*`);
      // the read-only user, with its password, exists in the server's users.d
      expect(ds.jsonData.username).toBe('mp_reader');
      expect(ds.secureJsonData.password).toBe(SECRETS.MP_OTEL_CLICKHOUSE_READER_PASSWORD);
    }
    const users = readFileSync(join(clone, 'clickhouse', 'users.d', 'mp-otel-users.xml'), 'utf8');
    for (const [u, role] of [
      ['mp_reader', 'READER'],
      ['mp_writer', 'WRITER'],
      ['mp_migrator', 'MIGRATOR'],
    ])
      expect(users).toMatch(
        new RegExp(`<${u}>[\\s\\S]*from_env="MP_OTEL_CLICKHOUSE_${role}_PASSWORD"[\\s\\S]*</${u}>`),
      );
    expect(users).toMatch(/<mp_reader>\s*<readonly>2<\/readonly>/);
    // the dashboard provider points where compose mounts the dashboards
    const provider = parse(
      readFileSync(join(clone, 'grafana', 'provisioning', 'dashboards', 'mp-otel.yaml'), 'utf8'),
    );
    const mount = project.services.grafana.volumes.find((v: Any) => v.target === '/etc/mp-otel/grafana');
    expect(mount.source.endsWith('/grafana')).toBe(true);
    expect(provider.providers[0].options.path).toBe('/etc/mp-otel/grafana/dashboards');
    expect(existsSync(join(clone, 'grafana', 'dashboards'))).toBe(true);
  });

  it('every dashboard query and alert rule runs on the store clickhouse-init migrated; carrier and province have data', async () => {
    // Phones on China's carriers, as Kong delivers them: X-Real-IP set from the socket. Addresses are taken
    // from the geo ranges clickhouse-init loaded, one per carrier.
    const ips = await q<{ ip: string; carrier: string; province: string }>(
      `SELECT IPv4NumToString(toUInt32(ip_start + 1)) AS ip, carrier, province FROM ${database}.mp_ip_geo
       WHERE carrier IN ('unicom', 'telecom', 'mobile') AND province != '' ORDER BY ip_start LIMIT 1 BY carrier`,
    );
    expect(ips.length).toBe(3);
    for (const { ip } of ips) {
      // the backend sees the phone's address in X-Forwarded-For, which Kong sets from the socket
      const down = await fetch(`http://127.0.0.1:${imageServicePort}/images/img-1`, {
        headers: { 'x-forwarded-for': ip },
      });
      await down.arrayBuffer();
      const now = BigInt(Date.now()) * 1_000_000n;
      const res = await fetch(`${collectorHttp}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-real-ip': ip },
        body: JSON.stringify({
          resourceSpans: [
            {
              resource: {
                attributes: kv({
                  'service.name': 'demo-miniprogram',
                  'mp.platform': 'wechat',
                  'os.name': 'android',
                  'mp.base_library.version': '3.5.0',
                  'network.connection.type': '4g',
                }),
              },
              scopeSpans: [
                {
                  scope: { name: 'rehearsal' },
                  spans: [
                    {
                      traceId: newTraceId(),
                      spanId: newSpanId(),
                      name: 'GET download.image',
                      kind: 3,
                      startTimeUnixNano: String(now),
                      endTimeUnixNano: String(now + 30_000_000n),
                      attributes: kv({
                        'http.request.method': 'GET',
                        'url.full': 'https://api.example.com/images/img-1',
                        'mp.route_name': 'download.image',
                        'error.type': 'timeout',
                      }),
                      status: { code: 2 },
                    },
                  ],
                },
              ],
            },
          ],
        }),
      });
      expect(res.status).toBe(200);
    }
    await until(
      async () => {
        const rows = await q<{ l: string; c: string }>(
          `SELECT DISTINCT Layer AS l, Carrier AS c FROM ${database}.mp_sli_1m WHERE Carrier IN ('unicom', 'telecom', 'mobile') AND Province != ''`,
        );
        return (
          (rows.filter((r) => r.l === 'client').length >= 3 &&
            rows.filter((r) => r.l === 'backend').length >= 3) ||
          undefined
        );
      },
      60_000,
      'carrier rows in the cube',
      async () =>
        `spans with client.address: ${JSON.stringify(await q(`SELECT SpanAttributes['client.address'] AS ip, count() FROM ${database}.otel_traces WHERE ServiceName = 'demo-miniprogram' GROUP BY ip`))}\n` +
        `cube: ${JSON.stringify(await q(`SELECT Layer, Route, Carrier, Province, sum(Requests) FROM ${database}.mp_sli_1m GROUP BY ALL`))}\ncollector: ${collectorErrors()}`,
    );
    // as Grafana's datasource connects: its user (the read-only one), its password, its default database
    const gf = project.services.grafana.environment;
    const grafanaDb = createClient({
      url: ch?.url,
      database: gf.CLICKHOUSE_DATABASE,
      username: gf.CLICKHOUSE_USER,
      password: gf.CLICKHOUSE_PASSWORD,
    });
    const dashDir = join(clone, 'grafana', 'dashboards');
    const failures: string[] = [];
    let queries = 0;
    const geoVariables: Record<string, number> = {};
    for (const file of readdirSync(dashDir).filter((f) => f.endsWith('.json'))) {
      const dashboard = JSON.parse(readFileSync(join(dashDir, file), 'utf8'));
      // as Grafana's datasource: queries run with the compose database as the default database
      const results = await runDashboard(dashboard, { client: grafanaDb, to: Date.now() + 60_000 });
      for (const r of results) {
        queries++;
        if (r.error) failures.push(`${file} ${r.source} "${r.title}" ${r.refId}: ${r.error.slice(0, 300)}`);
        if (r.source === 'variable' && /carrier|province/i.test(r.title))
          geoVariables[`${file}:${r.title}`] = r.rows.length;
      }
    }
    expect(failures).toEqual([]);
    expect(queries).toBeGreaterThan(50);
    expect(Object.keys(geoVariables).length).toBeGreaterThan(0);
    for (const [v, n] of Object.entries(geoVariables)) expect(n, v).toBeGreaterThan(0);
    // the provisioned alert rules' queries, as Grafana runs them (file provisioning does not interpolate
    // the model, so the macros reach the plugin)
    const rules = parse(
      readFileSync(join(clone, 'grafana', 'provisioning', 'alerting', 'mp-otel-rules.yaml'), 'utf8'),
    ).groups.flatMap((g: Any) => g.rules);
    expect(rules.length).toBeGreaterThan(0);
    const at = Date.now();
    for (const rule of rules) {
      const a = rule.data.find((d: Any) => d.refId === 'A');
      const sql = expandQuery(a.model.rawSql, {
        from: at - a.relativeTimeRange.from * 1000,
        to: at,
        intervalMs: 60_000,
      });
      const rs = await grafanaDb.query({ query: sql, format: 'JSONEachRow' });
      const rows = await rs.json<Any>();
      expect(rows.length, rule.title).toBeGreaterThanOrEqual(0);
      // labels are interpolated by Grafana: they must not contain `$`
      expect(JSON.stringify(rule.labels ?? {}), rule.title).not.toContain('$');
    }
    const evaluated = await evaluateAlerts({
      catalog: parse(readFileSync(join(clone, 'catalog', 'catalog.yaml'), 'utf8')),
      client: grafanaDb,
      database,
      at,
    });
    await grafanaDb.close();
    expect(evaluated.every((e: Any) => !e.error)).toBe(true);
  }, 300_000);

  it('production diagnosis: timeouts on one carrier, fed through the shipped collector config, name carrier=unicom', async () => {
    // the simulator (phones with addresses of their carrier's ranges, delivered with the X-Real-IP Kong sets)
    // sends through the collector running the shipped config; diagnosis reads the store as `mp_reader` would
    const started = Date.now();
    const sim = runCommand(
      [
        'node',
        'packages/cli/bin/mp-otel.mjs',
        'simulate',
        '--scenario',
        'packages/simulator/scenarios/carrier-timeouts.yaml',
        '--otlp-url',
        collectorHttp,
      ],
      {},
      clone,
    );
    children.push(sim.child);
    const simulated = await sim.done;
    expect(simulated.code, simulated.output.slice(-2000)).toBe(0);
    const fault = simulated.output.match(/fault "[^"]+" \(timeout\): (\S+) … (\S+)/);
    expect(fault, simulated.output.slice(-2000)).not.toBeNull();
    const at = new Date(Date.parse(fault?.[1] as string) + 10 * 60_000).toISOString();
    const ro = project.services.grafana.environment;
    const simulatedAt = Date.now();
    let diagnoses = 0;
    let diagnosis: Any;
    // spans still in the collector's tail-sampling wait and batch: diagnose once they are in the cube
    await until(
      async () => {
        const d = runCommand(
          [
            'node',
            'packages/cli/bin/mp-otel.mjs',
            'diagnose',
            '--url',
            ch?.url as string,
            '--route',
            'download.image',
            '--kpi',
            'error_rate',
            '--at',
            at,
            '--json',
          ],
          {
            MP_OTEL_DB: database,
            MP_OTEL_CLICKHOUSE_USER: ro.CLICKHOUSE_USER,
            MP_OTEL_CLICKHOUSE_PASSWORD: ro.CLICKHOUSE_PASSWORD,
          },
          clone,
        );
        const { code, output } = await d.done;
        if (code !== 0) throw new Error(output);
        diagnoses++;
        diagnosis = JSON.parse(output.slice(output.indexOf('{')));
        return diagnosis.culprits?.[0]?.where?.carrier === 'unicom' || undefined;
      },
      // a condition wait: the collector's tail-sampling wait (10 s) and batch, then one `diagnose` process per
      // try (each a few seconds on a busy machine); generous so that a slow machine waits instead of failing
      400_000,
      'a diagnosis naming carrier=unicom',
      () => JSON.stringify(diagnosis?.culprits?.slice(0, 3) ?? diagnosis),
    );
    expect(diagnosis.anomaly).toBeDefined();
    expect(diagnosis.culprits[0].where).toMatchObject({ carrier: 'unicom' });
    const top = diagnosis.culprits[0];
    console.log(
      `rehearsal: simulated in ${((simulatedAt - started) / 1000).toFixed(0)} s, named after ${((Date.now() - simulatedAt) / 1000).toFixed(0)} s more (${diagnoses} diagnose runs); diagnosis at ${at}: ${JSON.stringify(top.where)} rate ${(100 * top.inside.rate).toFixed(1)}% inside vs ${(100 * top.outside.rate).toFixed(1)}% outside, explains ${(100 * top.explains).toFixed(0)}%; layer ${diagnosis.verdict?.layer ?? '?'}`,
    );
  }, 900_000);
});
