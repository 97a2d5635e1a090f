// clickhouse/cluster/config.d/*.xml loaded by ClickHouse's own config processor (chDB started with them as
// its configuration, the node's environment set as docker-compose.cluster.yml sets it): the cluster "mp"
// the migrations are rendered for, 2 shards × 2 replicas, the macros from the environment, the Keeper
// DDL queue path. The users.d profile's settings are checked to be real settings with valid values. No
// server, no Keeper here: what the nodes do with this configuration together is not run.
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Session } from 'chdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

function repoRoot(dir = dirname(fileURLToPath(import.meta.url))): string {
  const manifest = join(dir, 'package.json');
  if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).workspaces) return dir;
  if (dirname(dir) === dir) throw new Error('no workspace root');
  return repoRoot(dirname(dir));
}
const clusterDir = join(repoRoot(), 'clickhouse', 'cluster');
const tmp = mkdtempSync(join(tmpdir(), 'mp-otel-chconfig-'));
let session: Session;
const q = (sql: string) => session.query(sql, 'TSVRaw').trim();

beforeAll(() => {
  mkdirSync(join(tmp, 'etc', 'config.d'), { recursive: true });
  writeFileSync(join(tmp, 'etc', 'config.xml'), '<clickhouse></clickhouse>\n');
  cpSync(join(clusterDir, 'config.d'), join(tmp, 'etc', 'config.d'), { recursive: true });
  // what docker-compose.cluster.yml gives ch-s2-r1
  process.env.CLICKHOUSE_SHARD = '02';
  process.env.CLICKHOUSE_REPLICA = 'ch-s2-r1';
  process.env.CLICKHOUSE_CLUSTER_SECRET = 'test-secret';
  session = new Session(join(tmp, 'data'), {
    connectionArgs: [`--config-file=${join(tmp, 'etc', 'config.xml')}`],
  });
});
afterAll(() => {
  session?.cleanup?.();
  rmSync(tmp, { recursive: true, force: true });
});

describe('clickhouse/cluster config, read by ClickHouse', () => {
  it('every file is well-formed XML (ClickHouse refuses to start otherwise; "--" in a comment is enough)', () => {
    for (const f of readdirSync(join(clusterDir, 'config.d'))) expect(f).toMatch(/\.xml$/);
    expect(q('SELECT 1')).toBe('1');
  });

  it('defines the cluster "mp": 2 shards × 2 replicas of the compose hosts, port 9000', () => {
    expect(
      q(
        "SELECT shard_num, replica_num, host_name, port FROM system.clusters WHERE cluster = 'mp' ORDER BY shard_num, replica_num FORMAT CSV",
      ),
    ).toBe(
      ['1,1,"ch-s1-r1",9000', '1,2,"ch-s1-r2",9000', '2,1,"ch-s2-r1",9000', '2,2,"ch-s2-r2",9000'].join('\n'),
    );
  });

  it('takes {shard} and {replica} from the environment and names the cluster in {cluster}', () => {
    expect(q("SELECT getMacro('shard'), getMacro('replica'), getMacro('cluster')")).toBe('02\tch-s2-r1\tmp');
  });

  it('puts the ON CLUSTER queue in Keeper', () => {
    expect(q("SELECT value FROM system.server_settings WHERE name = 'distributed_ddl.path'")).toBe(
      '/clickhouse/task_queue/ddl',
    );
  });

  it('the read profile (users.d) sets real settings to valid values', () => {
    const xml = readFileSync(join(clusterDir, 'users.d', 'cluster-profile.xml'), 'utf8');
    const body = /<default>([\s\S]*?)<\/default>/.exec(xml)?.[1] ?? '';
    const settings = [...body.matchAll(/<(\w+)>([^<]*)<\/\1>/g)].map(
      (m) => [m[1] as string, m[2] as string] as const,
    );
    expect(settings.map(([k]) => k)).toEqual([
      'optimize_skip_unused_shards',
      'distributed_product_mode',
      'distributed_ddl_task_timeout',
    ]);
    for (const [k, v] of settings) {
      const lit = /^\d+$/.test(v) ? v : `'${v}'`;
      const got = q(`SELECT toString(getSetting('${k}')) SETTINGS ${k} = ${lit}`);
      expect([v, v === '1' ? 'true' : v], k).toContain(got);
    }
    // a wrong value would be refused: the check can fail
    expect(() => q("SELECT 1 SETTINGS distributed_product_mode = 'globall'")).toThrow();
  });
});
