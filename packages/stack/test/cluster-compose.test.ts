// docker-compose.cluster.yml (2 shards × 2 replicas + ClickHouse Keeper ×3 + the collector tiers), loaded by
// the Compose Specification's reference Go loader (compose-go v2, collector/compose-check), and checked
// against the ClickHouse cluster's own config files: remote_servers hosts = the ClickHouse services, each
// node's macros, the Keeper ensemble, the sampler alias the front resolves. No Docker engine runs here.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@mp-otel/devkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { collectorDir, ensureCollector, removeTempFiles, tempFile } from '../src/collector.js';

type Any = any;
const root = repoRoot();
const composeCheck = join(collectorDir, '_build', 'compose-check');
const composeFile = join(root, 'docker-compose.cluster.yml');
const clusterDir = join(root, 'clickhouse', 'cluster');
const xml = (f: string) => readFileSync(join(clusterDir, f), 'utf8');

/** .env as collector/compose/init-env.mjs writes it (the file has no default secrets). */
const SECRETS = [
  'MP_OTEL_CLICKHOUSE_PASSWORD=s3cret-admin',
  'MP_OTEL_CLICKHOUSE_CLUSTER_SECRET=s3cret-cluster',
];

function load(file: string, env: string[] = SECRETS): Any {
  return JSON.parse(
    execFileSync(composeCheck, [...env.flatMap((e) => ['-env', e]), file], {
      stdio: 'pipe',
      maxBuffer: 64 << 20,
    }).toString(),
  );
}

/** remote_servers.xml → cluster name and shards of host names (a small reader for this one file's shape). */
function remoteServers() {
  const body =
    /<remote_servers[^>]*>([\s\S]*)<\/remote_servers>/.exec(xml('config.d/remote_servers.xml'))?.[1] ?? '';
  const name = /^\s*<(\w+)>/.exec(body)?.[1];
  const shards = [...body.matchAll(/<shard>([\s\S]*?)<\/shard>/g)].map((m) => ({
    internalReplication: /<internal_replication>true<\/internal_replication>/.test(m[1] as string),
    hosts: [...(m[1] as string).matchAll(/<host>([\w.-]+)<\/host>/g)].map((h) => h[1] as string),
  }));
  return { name, shards };
}

describe('docker-compose.cluster.yml (compose-go loader)', () => {
  let project: Any;
  beforeAll(() => {
    ensureCollector(); // also builds collector/_build/compose-check
    project = load(composeFile);
  });

  it('loads: 4 ClickHouse nodes, 3 Keepers, the init job, 1 front and 3 samplers', () => {
    expect(Object.keys(project.services).sort()).toEqual([
      'ch-s1-r1',
      'ch-s1-r2',
      'ch-s2-r1',
      'ch-s2-r2',
      'clickhouse-init',
      'collector-front',
      'collector-sampler-1',
      'collector-sampler-2',
      'collector-sampler-3',
      'keeper-1',
      'keeper-2',
      'keeper-3',
      'queue-permissions',
    ]);
    for (const [name, s] of Object.entries<Any>(project.services)) {
      expect(s.image, name).toMatch(/^[\w./-]+:[\w.-]+$/);
      expect(s.image, name).not.toMatch(/:latest$/);
    }
  });

  it('remote_servers = 2 shards × 2 replicas of exactly the ClickHouse services, internal replication on', () => {
    const rs = remoteServers();
    expect(rs.name).toBe('mp');
    expect(rs.shards).toEqual([
      { internalReplication: true, hosts: ['ch-s1-r1', 'ch-s1-r2'] },
      { internalReplication: true, hosts: ['ch-s2-r1', 'ch-s2-r2'] },
    ]);
    const nodes = Object.keys(project.services).filter((n) => n.startsWith('ch-'));
    expect(nodes.sort()).toEqual(rs.shards.flatMap((s) => s.hosts).sort());
    // each node: its hostname, its shard's macro, a cluster-unique replica macro, the config files mounted
    rs.shards.forEach((shard, i) => {
      for (const host of shard.hosts) {
        const s = project.services[host];
        expect(s.hostname).toBe(host);
        expect(s.environment.CLICKHOUSE_SHARD).toBe(String(i + 1).padStart(2, '0'));
        expect(s.environment.CLICKHOUSE_REPLICA).toBe(host);
        expect(s.environment.CLICKHOUSE_CLUSTER_SECRET).toBeTruthy();
        const mounts = s.volumes.map((v: Any) => `${v.source}:${v.target}`);
        for (const f of ['config.d/remote_servers.xml', 'config.d/macros.xml', 'config.d/keeper.xml'])
          expect(
            mounts.some((m: string) =>
              m.startsWith(`${join(clusterDir, f)}:/etc/clickhouse-server/config.d/`),
            ),
          ).toBe(true);
        expect(
          mounts.some((m: string) =>
            m.startsWith(
              `${join(clusterDir, 'users.d/cluster-profile.xml')}:/etc/clickhouse-server/users.d/`,
            ),
          ),
        ).toBe(true);
        expect(s.volumes.some((v: Any) => v.type === 'volume' && v.source === `${host}-data`)).toBe(true);
      }
    });
    expect(xml('config.d/macros.xml')).toMatch(/<shard from_env="CLICKHOUSE_SHARD"\/>/);
    expect(xml('config.d/macros.xml')).toMatch(/<replica from_env="CLICKHOUSE_REPLICA"\/>/);
  });

  it('the Keeper ensemble: 3 services, their server ids, the Raft configuration and the nodes’ zookeeper list agree', () => {
    const keepers = ['keeper-1', 'keeper-2', 'keeper-3'];
    const raft = [
      ...xml('keeper/keeper.xml').matchAll(/<server><id>(\d+)<\/id><hostname>([\w-]+)<\/hostname>/g),
    ].map((m) => [m[2], m[1]]);
    expect(raft).toEqual(keepers.map((k, i) => [k, String(i + 1)]));
    const zk = [
      ...xml('config.d/keeper.xml').matchAll(/<node><host>([\w-]+)<\/host><port>(\d+)<\/port><\/node>/g),
    ];
    expect(zk.map((m) => m[1])).toEqual(keepers);
    expect(new Set(zk.map((m) => m[2]))).toEqual(
      new Set([/<tcp_port>(\d+)<\/tcp_port>/.exec(xml('keeper/keeper.xml'))?.[1]]),
    );
    keepers.forEach((k, i) => {
      const s = project.services[k];
      expect(s.hostname).toBe(k);
      expect(s.environment.KEEPER_SERVER_ID).toBe(String(i + 1));
      expect(s.volumes.some((v: Any) => v.source === join(clusterDir, 'keeper/keeper.xml'))).toBe(true);
    });
    for (const n of ['ch-s1-r1', 'ch-s2-r2'])
      expect(Object.keys(project.services[n].depends_on).sort()).toEqual(keepers);
  });

  it('migrates ON CLUSTER for the remote_servers cluster once every node is healthy, then loads the catalog and geo', () => {
    const init = project.services['clickhouse-init'];
    const cmd = init.command.join(' ');
    expect(cmd).toMatch(/mp-otel\.mjs migrate --cluster mp --url http:\/\/ch-s1-r1:8123/);
    expect(cmd).toMatch(/catalog load/);
    expect(cmd).toMatch(/geo load/);
    // no secret on a command line: the CLI reads them from its environment
    expect(cmd).not.toMatch(/--password|PASSWORD|s3cret/);
    expect(init.environment.MP_OTEL_CLICKHOUSE_PASSWORD).toBe('s3cret-admin');
    for (const n of ['ch-s1-r1', 'ch-s1-r2', 'ch-s2-r1', 'ch-s2-r2'])
      expect(init.depends_on[n].condition).toBe('service_healthy');
  });

  it('collector tiers: the front resolves the samplers’ shared alias; each sampler keeps its own queue volume', () => {
    const front = project.services['collector-front'];
    expect(front.command).toEqual([
      '--config=/etc/mp-otel/config.yaml',
      '--config=/etc/mp-otel/tiers/front.yaml',
      '--feature-gates=processor.tailsamplingprocessor.recordpolicy',
    ]);
    const samplers = ['collector-sampler-1', 'collector-sampler-2', 'collector-sampler-3'];
    const queues = new Set<string>();
    for (const n of samplers) {
      const s = project.services[n];
      expect(s.networks['mp-otel'].aliases).toContain(front.environment.MP_OTEL_SAMPLER_HOSTNAME);
      expect(s.command).toContain('--config=/etc/mp-otel/tiers/sampler.yaml');
      expect(s.environment.MP_OTEL_TIER_GRPC_ENDPOINT).toBe(
        `0.0.0.0:${front.environment.MP_OTEL_SAMPLER_PORT}`,
      );
      const q = s.volumes.find((v: Any) => v.target === s.environment.MP_OTEL_QUEUE_DIR);
      expect(q?.type, n).toBe('volume');
      queues.add(q.source);
      expect(s.environment.CLICKHOUSE_ENDPOINT).toMatch(/^tcp:\/\/ch-s\d-r\d:9000/);
      expect(front.depends_on[n].condition).toBe('service_healthy');
    }
    expect(queues.size).toBe(3);
    expect(front.volumes.find((v: Any) => v.target === front.environment.MP_OTEL_QUEUE_DIR)?.type).toBe(
      'volume',
    );
    // the queue volumes are made writable for the collector's uid before the collectors start
    const perms = project.services['queue-permissions'];
    expect(perms.command.slice(0, 3)).toEqual(['chown', '-R', '10001:10001']);
    expect(perms.volumes.map((v: Any) => v.source).sort()).toEqual(['front-queue', ...[...queues]].sort());
  });

  it('mounts only files that exist, and the tier configs name the queue directory the compose file sets', () => {
    for (const s of Object.values<Any>(project.services))
      for (const v of s.volumes ?? [])
        if (v.type === 'bind') expect(existsSync(v.source), v.source).toBe(true);
    const front = parse(readFileSync(join(root, 'collector/tiers/front.yaml'), 'utf8'));
    expect(front.extensions['file_storage/queue'].directory).toMatch(/MP_OTEL_QUEUE_DIR/);
    expect(front.exporters.loadbalancing.resolver.dns.hostname).toMatch(/MP_OTEL_SAMPLER_HOSTNAME/);
  });

  it('the loader can fail: a dependency on a missing service, or a bad anchor, is refused', () => {
    const text = readFileSync(composeFile, 'utf8');
    for (const broken of [
      text.replace(
        '      ch-s2-r2:\n        condition: service_healthy\n    networks',
        '      ch-s9-r9:\n        condition: service_healthy\n    networks',
      ),
      text.replace('command: *sampler-command', 'command: *no-such-anchor'),
    ]) {
      expect(broken).not.toBe(text);
      const f = tempFile('docker-compose.cluster.yml', broken);
      expect(() => load(f)).toThrow();
    }
    removeTempFiles();
  });

  it('no default secret, published ports on loopback unless asked', () => {
    expect(() => load(composeFile, [])).toThrow(/MP_OTEL_CLICKHOUSE_PASSWORD/);
    const text = readFileSync(composeFile, 'utf8');
    expect(text).not.toMatch(/(PASSWORD|SECRET)[A-Z_]*:-/);
    const published = Object.entries<Any>(project.services).flatMap(([name, s]) =>
      (s.ports ?? []).map((p: Any) => ({ name, ...p })),
    );
    expect(published.length).toBeGreaterThan(0);
    for (const p of published) expect(p.host_ip, `${p.name}:${p.target}`).toBe('127.0.0.1');
    expect(project.services['ch-s1-r1'].environment.CLICKHOUSE_CLUSTER_SECRET).toBe('s3cret-cluster');
  });
});
