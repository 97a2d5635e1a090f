// Every statement `mp-otel migrate [--cluster NAME] --print` writes, parsed by ClickHouse's own parser
// (chDB 26.7: formatQuery and EXPLAIN AST). There is no ClickHouse server or Keeper here, so this is a
// parse check of the cluster DDL, not a run on a cluster: cluster-shards.test.ts executes the shard-local
// part of it. `--print` must not connect: the CLI is pointed at a listening socket that counts connections.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { query } from 'chdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// the workspace root (the store does not depend on devkit's repoRoot): nearest package.json with workspaces
function repoRoot(dir = dirname(fileURLToPath(import.meta.url))): string {
  const manifest = join(dir, 'package.json');
  if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).workspaces) return dir;
  if (dirname(dir) === dir) throw new Error('no workspace root');
  return repoRoot(dirname(dir));
}
const cli = join(repoRoot(), 'packages/cli/bin/mp-otel.mjs');
const lit = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const parse = (stmt: string): string =>
  query(`SELECT formatQuery(${lit(stmt)})`, 'TSVRaw').replace(/\n$/, '');
const ast = (stmt: string): string => query(`EXPLAIN AST ${stmt}`, 'TSVRaw');

let server: Server;
let connections = 0;
let url = '';
beforeAll(async () => {
  server = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function print(args: string[]): string[] {
  const res = spawnSync(process.execPath, [cli, 'migrate', '--print', '--url', url, ...args], {
    encoding: 'utf8',
    env: { ...process.env, MP_OTEL_CLICKHOUSE_URL: url },
  });
  expect(res.stderr).toBe('');
  expect(res.status).toBe(0);
  expect(res.stdout.endsWith(';\n')).toBe(true);
  return res.stdout.slice(0, -2).split(';\n\n');
}

describe.each([
  ['single node', [] as string[]],
  ['cluster', ['--cluster', 'mp_cluster']],
])('%s: mp-otel migrate --print', (mode, args) => {
  let stmts: string[] = [];
  beforeAll(() => {
    stmts = print(args);
  });

  it('prints the DDL without connecting anywhere', () => {
    expect(stmts.length).toBeGreaterThan(30);
    expect(connections).toBe(0);
  });

  it('every statement parses with ClickHouse’s parser (formatQuery and EXPLAIN AST), stably', () => {
    for (const s of stmts) {
      const formatted = parse(s);
      expect(formatted.length, s.slice(0, 80)).toBeGreaterThan(0);
      expect(parse(formatted), s.slice(0, 80)).toBe(formatted);
      expect(ast(s), s.slice(0, 80)).toMatch(/^(CreateQuery|InsertQuery|AlterQuery)/);
      if (mode === 'cluster' && !s.startsWith('INSERT')) expect(formatted).toContain('ON CLUSTER mp_cluster');
    }
  });

  it('the parser keeps the engines as rendered', () => {
    const formatted = stmts.map(parse).join('\n');
    if (mode === 'single node') {
      expect(formatted).not.toMatch(/Replicated|Distributed|ON CLUSTER/);
      expect(formatted).toMatch(/ENGINE = MergeTree/);
    } else {
      expect(formatted).toContain(
        "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/otel/otel_traces_local', '{replica}')",
      );
      expect(formatted).toContain(
        'ENGINE = Distributed(mp_cluster, otel, otel_traces_local, cityHash64(TraceId))',
      );
      expect(formatted).toContain(
        "ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/otel/mp_sli_1m_local', '{replica}')",
      );
      expect(formatted).not.toMatch(/ENGINE = (Aggregating|Replacing)?MergeTree\b/);
    }
  });
});

it('the parser check can fail: a broken statement and a wrong ON CLUSTER placement are refused', () => {
  expect(() => parse('CREATE TABLE x.y (a UInt8')).toThrow(/Syntax error/);
  expect(() => parse('CREATE TABLE x.y ON CLUSTER c ON CLUSTER c (a UInt8) ENGINE = Log')).toThrow(
    /Syntax error/,
  );
  expect(() =>
    parse(
      'CREATE DICTIONARY x.d (k UInt64) ON CLUSTER c PRIMARY KEY k SOURCE(NULL()) LAYOUT(FLAT()) LIFETIME(0)',
    ),
  ).toThrow(/Syntax error/);
});

it('refuses a cluster name that is not an identifier (exit 1, message, nothing printed)', () => {
  const res = spawnSync(process.execPath, [cli, 'migrate', '--print', '--cluster', "c' OR '1"], {
    encoding: 'utf8',
  });
  expect(res.status).toBe(1);
  expect(res.stdout).toBe('');
  expect(res.stderr).toMatch(/invalid cluster name/);
});
