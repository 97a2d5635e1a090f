// docker-compose.yml, loaded by the Compose Specification's reference Go loader (compose-go v2, what
// `docker compose` uses: JSON-schema validation, interpolation, merge of anchors, dependency checks).
// No Docker engine runs here: images are not pulled or built, containers not started.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@mp-otel/devkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectorDir, ensureCollector, removeTempFiles, tempFile } from '../src/collector.js';

type Any = any;
const composeCheck = join(collectorDir, '_build', 'compose-check');
const composeFile = join(repoRoot(), 'docker-compose.yml');

function load(file: string, env: string[] = []): { ok: boolean; project?: Any; error?: string } {
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
    for (const name of ['clickhouse', 'collector', 'grafana', 'kong', 'image-service']) {
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
      'kong/kong.yml',
      'collector/config.yaml',
      'clickhouse/migrations',
      'catalog',
      'grafana',
    ]) {
      expect(sources).toContain(join(repoRoot(), p));
    }
    for (const p of ['kong/kong.yml', 'collector/config.yaml', 'clickhouse/migrations', 'catalog'])
      expect(existsSync(join(repoRoot(), p)), p).toBe(true);
    const env = (s: string) => project.services[s].environment;
    expect(env('collector').CLICKHOUSE_ENDPOINT).toMatch(/^tcp:\/\/clickhouse:9000/);
    expect(env('image-service').OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://collector:4318');
    expect(env('kong').KONG_DECLARATIVE_CONFIG).toBe('/kong/kong.yml');
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

  it('interpolates credentials from the environment', () => {
    const r = load(composeFile, ['CLICKHOUSE_PASSWORD=s3cret', 'CLICKHOUSE_USER=ops']);
    expect(r.ok).toBe(true);
    expect(r.project.services.collector.environment.CLICKHOUSE_PASSWORD).toBe('s3cret');
    expect(r.project.services.clickhouse.environment.CLICKHOUSE_USER).toBe('ops');
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
