// docker-compose.yml, loaded by the Compose Specification's reference Go loader (compose-go v2, what
// `docker compose` uses: JSON-schema validation, interpolation, merge of anchors, dependency checks).
// No Docker engine runs here: images are not pulled or built, containers not started.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '@mp-otel/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectorDir, ensureCollector, removeTempFiles, tempFile } from '../src/collector.js';

type Any = any;
const composeCheck = join(collectorDir, '_build', 'compose-check');
const composeFile = join(repoRoot(), 'docker-compose.yml');

/** The secrets docker-compose.yml requires (collector/compose/init-env.mjs generates them into .env). */
const SECRETS = [
  'MP_OTEL_CLICKHOUSE_PASSWORD',
  'MP_OTEL_CLICKHOUSE_MIGRATOR_PASSWORD',
  'MP_OTEL_CLICKHOUSE_WRITER_PASSWORD',
  'MP_OTEL_CLICKHOUSE_READER_PASSWORD',
  'GRAFANA_ADMIN_PASSWORD',
];
/** init-env.mjs also writes the cluster file's secret (docker-compose.cluster.yml). */
const CLUSTER_SECRETS = ['MP_OTEL_CLICKHOUSE_CLUSTER_SECRET'];
const secretEnv = SECRETS.map((s, i) => `${s}=secret-${i}-${s.toLowerCase()}`);

function load(file: string, env: string[] = secretEnv): { ok: boolean; project?: Any; error?: string } {
  try {
    const out = execFileSync(composeCheck, [...env.flatMap((e) => ['-env', e]), file], {
      stdio: 'pipe',
      maxBuffer: 64 << 20,
    });
    return { ok: true, project: JSON.parse(out.toString()) };
  } catch (e) {
    return { ok: false, error: String((e as { stderr?: Buffer }).stderr ?? e) };
  }
}

describe('docker-compose.yml (compose-go loader)', () => {
  let project: Any;
  beforeAll(() => {
    ensureCollector(); // also builds collector/_build/compose-check
    const r = load(composeFile);
    if (!r.ok) throw new Error(r.error);
    project = r.project;
  });

  afterAll(() => removeTempFiles());

  it('loads, with the whole stack', () => {
    expect(Object.keys(project.services).sort()).toEqual([
      'clickhouse',
      'clickhouse-init',
      'collector',
      'grafana',
      'image-service',
      'kong',
      'traffic',
    ]);
  });

  it('pins every image tag (no latest, no untagged)', () => {
    for (const [name, s] of Object.entries<Any>(project.services)) {
      expect(s.image, name).toMatch(/^[\w./-]+:[\w.-]+$/);
      expect(s.image, name).not.toMatch(/:latest$/);
    }
  });

  it('has health checks on every long-running service and orders start-up by them', () => {
    for (const name of ['clickhouse', 'collector', 'grafana', 'kong', 'image-service', 'traffic']) {
      expect(project.services[name].healthcheck?.test?.length, name).toBeGreaterThan(1);
    }
    expect(project.services['clickhouse-init'].depends_on.clickhouse.condition).toBe('service_healthy');
    expect(project.services.collector.depends_on['clickhouse-init'].condition).toBe(
      'service_completed_successfully',
    );
    expect(project.services.kong.depends_on.collector.condition).toBe('service_healthy');
  });

  it('uses one network and named volumes for state', () => {
    for (const [name, s] of Object.entries<Any>(project.services))
      expect(Object.keys(s.networks), name).toEqual(['mp-otel']);
    expect(Object.keys(project.volumes).sort()).toEqual([
      'clickhouse-data',
      'clickhouse-logs',
      'grafana-data',
      'image-data',
    ]);
    const named = (s: string) =>
      project.services[s].volumes.filter((v: Any) => v.type === 'volume').map((v: Any) => v.source);
    expect(named('clickhouse')).toContain('clickhouse-data');
    expect(named('grafana')).toContain('grafana-data');
  });

  it("mounts the repository's own configs (all present), with the parts wired to each other", () => {
    const binds = Object.values<Any>(project.services).flatMap((s) =>
      (s.volumes ?? []).filter((v: Any) => v.type === 'bind'),
    );
    const sources = binds.map((v: Any) => v.source);
    for (const p of [
      'kong',
      'collector/config.yaml',
      'clickhouse/users.d/mp-otel-users.xml',
      'catalog',
      'grafana',
    ]) {
      expect(sources).toContain(join(repoRoot(), p));
      expect(existsSync(join(repoRoot(), p)), p).toBe(true);
    }
    const env = (s: string) => project.services[s].environment;
    expect(env('collector').CLICKHOUSE_ENDPOINT).toMatch(/^tcp:\/\/clickhouse:9000/);
    expect(env('image-service').OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://collector:4318');
    // the simulated phones send telemetry where real ones do: through Kong
    expect(env('traffic').OTLP_ENDPOINT).toBe('http://kong:8000');
    expect(env('kong').KONG_DECLARATIVE_CONFIG).toBe('/kong/kong.yml');
    for (const inc of [env('kong').KONG_NGINX_HTTP_INCLUDE, env('kong').KONG_NGINX_PROXY_INCLUDE])
      expect(existsSync(join(repoRoot(), inc.replace(/^\/kong\//, 'kong/'))), inc).toBe(true);
    expect(env('grafana').GF_PLUGINS_PREINSTALL_SYNC).toMatch(
      /^grafana-clickhouse-datasource@\d+\.\d+\.\d+$/,
    );
    // the catalog's service URL is the compose service + port Kong proxies to
    const catalog = readFileSync(join(repoRoot(), 'catalog', 'catalog.yaml'), 'utf8');
    expect(catalog).toContain(`http://image-service:${env('image-service').PORT}`);
    // the collector image is built by collector/Dockerfile from the committed lock
    expect(project.services.collector.build.dockerfile).toBe('collector/Dockerfile');
    expect(existsSync(join(collectorDir, 'Dockerfile'))).toBe(true);
    expect(existsSync(join(repoRoot(), project.services.traffic.command[1]))).toBe(true);
  });

  it('collector/Dockerfile repeats the tested build: same builder version, committed lock, shipped config', () => {
    const dockerfile = readFileSync(join(collectorDir, 'Dockerfile'), 'utf8');
    const manifest = readFileSync(join(collectorDir, 'builder-config.yaml'), 'utf8');
    const core = manifest.match(/go\.opentelemetry\.io\/collector\/service (v[\d.]+)/)?.[1];
    expect(core).toBeDefined();
    expect(dockerfile).toContain(`go.opentelemetry.io/collector/cmd/builder@${core}`);
    const copies = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) =>
      (m[1] ?? '').split(/\s+/),
    );
    expect(copies).toContain('collector/go.sum.lock');
    for (const src of copies) expect(existsSync(join(repoRoot(), src)), src).toBe(true);
    expect(dockerfile).toContain('--feature-gates=processor.tailsamplingprocessor.recordpolicy');
    expect(project.services.collector.command).toContain(
      '--feature-gates=processor.tailsamplingprocessor.recordpolicy',
    );
  });

  it('interpolates credentials from the environment, one least-privilege user per service', () => {
    const r = load(composeFile, [...secretEnv, 'MP_OTEL_CLICKHOUSE_USER=ops']);
    expect(r.ok).toBe(true);
    const env = (s: string) => r.project.services[s].environment;
    expect(env('clickhouse').CLICKHOUSE_USER).toBe('ops');
    expect(env('clickhouse').CLICKHOUSE_PASSWORD).toBe('secret-0-mp_otel_clickhouse_password');
    expect(env('clickhouse-init').MP_OTEL_CLICKHOUSE_USER).toBe('mp_migrator');
    expect(env('clickhouse-init').MP_OTEL_CLICKHOUSE_PASSWORD).toBe(
      env('clickhouse').MP_OTEL_CLICKHOUSE_MIGRATOR_PASSWORD,
    );
    expect(env('collector').CLICKHOUSE_USER).toBe('mp_writer');
    expect(env('collector').CLICKHOUSE_PASSWORD).toBe(env('clickhouse').MP_OTEL_CLICKHOUSE_WRITER_PASSWORD);
    expect(env('grafana').CLICKHOUSE_USER).toBe('mp_reader');
    expect(env('grafana').CLICKHOUSE_PASSWORD).toBe(env('clickhouse').MP_OTEL_CLICKHOUSE_READER_PASSWORD);
  });

  it('has no default secret: without .env it stops with an error naming each missing variable', () => {
    const r = load(composeFile, []);
    expect(r.ok).toBe(false);
    for (const s of SECRETS) expect(r.error).toContain(`required variable ${s} is missing`);
    expect(r.error).toContain('collector/compose/init-env.mjs');
    // and no password-like default survives anywhere in the file
    const text = readFileSync(composeFile, 'utf8');
    expect(text).not.toMatch(/PASSWORD[A-Z_]*:-/);
    expect(text).not.toMatch(/:-(mp-otel|password|secret)\}/);
  });

  it('init-env.mjs writes an owner-only .env with every secret, keeps existing values', async () => {
    const { initEnv, SECRETS: generated }: Any = await import(
      pathToFileURL(join(repoRoot(), 'collector', 'compose', 'init-env.mjs')).href
    );
    expect([...generated].sort()).toEqual([...SECRETS, ...CLUSTER_SECRETS].sort());
    const file = tempFile('.env', 'MP_OTEL_CLICKHOUSE_WRITER_PASSWORD=kept\n');
    const added = initEnv(file);
    expect(added).not.toContain('MP_OTEL_CLICKHOUSE_WRITER_PASSWORD');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const values = Object.fromEntries(
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => /^[A-Z_]+=/.test(l))
        .map((l) => l.split('=', 2)),
    );
    expect(values.MP_OTEL_CLICKHOUSE_WRITER_PASSWORD).toBe('kept');
    for (const s of SECRETS.filter((x) => x !== 'MP_OTEL_CLICKHOUSE_WRITER_PASSWORD'))
      expect(values[s], s).toMatch(/^\S{24,}$/);
    expect(new Set(SECRETS.map((s) => values[s])).size).toBe(SECRETS.length);
    expect(initEnv(file)).toEqual([]);
    // and compose loads with exactly that file's values
    expect(
      load(
        composeFile,
        Object.entries(values).map(([k, v]) => `${k}=${v}`),
      ).ok,
    ).toBe(true);
  });

  it('publishes only Kong, ClickHouse HTTP and Grafana, on loopback unless asked; never the collector', () => {
    const published = Object.entries<Any>(project.services).flatMap(([name, s]) =>
      (s.ports ?? []).map((p: Any) => ({ name, ...p })),
    );
    expect(published.map((p) => `${p.name}:${p.target}`).sort()).toEqual([
      'clickhouse:8123',
      'grafana:3000',
      'kong:8000',
    ]);
    for (const p of published) expect(p.host_ip, p.name).toBe('127.0.0.1');
    expect(project.services.collector.ports ?? []).toEqual([]);
    const open = load(composeFile, [...secretEnv, 'MP_OTEL_EDGE_ADDRESS=0.0.0.0']);
    expect(open.project.services.kong.ports[0].host_ip).toBe('0.0.0.0');
    expect(open.project.services.grafana.ports[0].host_ip).toBe('127.0.0.1');
  });

  it('puts no secret on a command line and enables no anonymous Grafana viewer', () => {
    const secrets = secretEnv.map((e) => e.split('=')[1] as string);
    for (const [name, s] of Object.entries<Any>(project.services)) {
      const argv = JSON.stringify([s.command ?? [], s.entrypoint ?? [], s.healthcheck?.test ?? []]);
      for (const secret of secrets) expect(argv, name).not.toContain(secret);
      expect(argv, name).not.toMatch(/--password|PASSWORD/);
    }
    expect(project.services.grafana.environment.GF_AUTH_ANONYMOUS_ENABLED).toBe('false');
  });

  it('the loader rejects a broken file (the check can fail)', () => {
    const text = readFileSync(composeFile, 'utf8');
    const badDep = tempFile(
      'docker-compose.yml',
      text.replace('condition: service_completed_successfully', 'condition: service_finished'),
    );
    expect(load(badDep).ok).toBe(false);
    const badKey = tempFile(
      'docker-compose.yml',
      text.replace('    restart: unless-stopped\n', '    restart: unless-stopped\n    helthcheck: {}\n'),
    );
    expect(load(badKey).ok).toBe(false);
  });
});
