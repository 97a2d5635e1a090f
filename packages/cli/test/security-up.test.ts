// Attacks on `mp-otel up` / `demo` as a user runs them (issue 11): the real CLI processes, real ports on
// 127.0.0.1. Each test fails if its hole came back.
import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rawRequest, repoRoot, waitFor } from '@mp-otel/devkit';
import { withMachineLock } from '@mp-otel/simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, childPids } from '../src/children.js';

const bin = join(repoRoot(), 'packages', 'cli', 'bin', 'mp-otel.mjs');
const work = mkdtempSync(join(tmpdir(), 'mp-otel-cli-sec-'));
const home = join(work, 'home');
mkdirSync(home);
// a clean environment: no credentials from the developer's shell, a private HOME for the registry
const env: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !k.startsWith('MP_OTEL_') && k !== 'XDG_STATE_HOME'),
);
env.HOME = home;

afterAll(() => rmSync(work, { recursive: true, force: true }));

function cli(args: string[], opts: { cwd?: string } = {}) {
  return new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: opts.cwd ?? work, env, stdio: 'pipe' });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.stderr.on('data', (c) => {
      err += c;
    });
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

/** A POST to the endpoint's root with headers as given (Host, Origin), answered as { status, text }. */
async function rawPost(url: string, headers: Record<string, string>, body: string) {
  const r = await rawRequest(new URL('/', url).href, { method: 'POST', headers, body });
  return { status: r.status, text: r.body };
}

describe('mp-otel up: the SQL endpoint of the real process', () => {
  let up: ChildProcess;
  let log = '';
  let sqlUrl = '';
  let otlpUrl = '';
  let credFile = '';
  const dataDir = join(work, 'data');

  beforeAll(async () => {
    up = spawn(
      process.execPath,
      [
        bin,
        'up',
        '--data-dir',
        dataDir,
        '--otlp-port',
        '0',
        '--http-port',
        '0',
        '--otlp-host',
        '0.0.0.0',
        '--no-geo',
      ],
      { cwd: work, env, stdio: 'pipe' },
    );
    up.stdout!.on('data', (c) => {
      log += c;
    });
    up.stderr!.on('data', (c) => {
      log += c;
    });
    await waitFor(() => log.includes('mp-otel: ready') || up.exitCode !== null, 120_000, 'mp-otel up');
    expect(log).toContain('mp-otel: ready');
    sqlUrl = /ClickHouse HTTP endpoint on (http:\/\/\S+) /.exec(log)![1]!;
    otlpUrl = /OTLP\/HTTP receiver on (http:\/\/\S+?)\/v1/.exec(log)![1]!;
    credFile = /generated in (\S+) \(owner-only\)/.exec(log)![1]!;
  }, 180_000);

  afterAll(async () => {
    if (up && up.exitCode === null) {
      const exited = new Promise((r) => up.once('exit', r));
      up.kill('SIGTERM');
      await exited;
    }
  });

  it('opening the OTLP listener to the network leaves the SQL listener on loopback', () => {
    expect(new URL(otlpUrl).hostname).toBe('0.0.0.0');
    expect(new URL(sqlUrl).hostname).toBe('127.0.0.1');
  });

  it('generates the administrator password on first start, owner-only, and says where', () => {
    expect(credFile).toBe(join(dataDir, 'mp-otel-credentials.json'));
    expect(statSync(credFile).mode & 0o777).toBe(0o600);
    const users = JSON.parse(readFileSync(credFile, 'utf8')).users;
    expect(users.admin.username).toBe('default');
    expect(log).toMatch(
      /SQL users default \(admin\), mp_reader \(read-only\), mp_writer \(insert-only\), mp_migrator \(DDL\)/,
    );
    expect(log).not.toContain(users.admin.password);
  });

  it('refuses anonymous SQL, file() as the administrator, and foreign Origin/Host', async () => {
    const anon = await fetch(`${sqlUrl}/`, {
      method: 'POST',
      body: "SELECT * FROM file('/etc/passwd', LineAsString)",
    });
    expect(anon.status).toBe(401);
    const users = JSON.parse(readFileSync(credFile, 'utf8')).users;
    const auth = `Basic ${Buffer.from(`${users.admin.username}:${users.admin.password}`).toString('base64')}`;
    const file = await fetch(`${sqlUrl}/`, {
      method: 'POST',
      body: "SELECT * FROM file('/etc/passwd', LineAsString)",
      headers: { Authorization: auth },
    });
    expect(file.status).toBe(403);
    expect(await file.text()).not.toMatch(/root:/);
    const port = new URL(sqlUrl).port;
    const evil = await rawPost(
      sqlUrl,
      {
        Host: `evil.example:${port}`,
        Origin: 'http://evil.example',
        'Content-Type': 'text/plain',
        Authorization: auth,
      },
      'SELECT 1',
    );
    expect(evil.status).toBe(403);
  });

  it('mp-otel query finds the credentials by itself, from any directory', async () => {
    const elsewhere = join(work, 'elsewhere');
    mkdirSync(elsewhere, { recursive: true });
    const r = await cli(['query', '--url', sqlUrl, 'SELECT 40 + 2 AS answer'], { cwd: elsewhere });
    expect(r.err).toBe('');
    expect(r.out).toContain('| 42     |');
    expect(r.code).toBe(0);
  });

  it("mp-otel credentials prints one role's user and password for Grafana or a collector", async () => {
    const r = await cli(['credentials', '--role', 'writer', '--url', sqlUrl], {
      cwd: join(work, 'elsewhere'),
    });
    expect(r.code).toBe(0);
    const m = /^CLICKHOUSE_USER='(.+)'\nCLICKHOUSE_PASSWORD='(.+)'\n$/.exec(r.out);
    expect(m?.[1]).toBe('mp_writer');
    const headers = { 'X-ClickHouse-User': m![1]!, 'X-ClickHouse-Key': m![2]! };
    const read = await fetch(`${sqlUrl}/`, {
      method: 'POST',
      body: 'SELECT count() FROM otel.otel_traces',
      headers,
    });
    expect(read.status).toBe(403);
    const desc = await fetch(`${sqlUrl}/`, { method: 'POST', body: 'DESC TABLE otel.otel_traces', headers });
    expect(desc.status).toBe(200);
  });
});

describe('bad flags get clear errors', () => {
  it.each([
    [['up', '--ttl-days', 'abc'], /--ttl-days: expected a number of days .* got "abc"/],
    [['migrate', '--ttl-days=-1'], /--ttl-days: expected a number of days/],
    [['up', '--otlp-port', '99999'], /--otlp-port: expected a port/],
    [['up', '--http-port', '12ab'], /--http-port: expected a port/],
    [['diagnose', '--kpi', 'bogus'], /--kpi: expected one of error_rate, slow_ratio, volume, got "bogus"/],
    [['diagnose', '--at', 'yesterday-ish'], /--at: not a time/],
    [['diagnose', '--at', '0'], /--at: 0 is not a moment telemetry can come from/],
    [['query', '--url', 'ftp://x', 'SELECT 1'], /--url: expected an http:\/\/ or https:\/\/ URL/],
    [['up', '--sql-host', 'http://0.0.0.0'], /--sql-host: expected an address/],
    [['up', '--no-such-flag'], /Unknown option '--no-such-flag'/],
  ])('%j', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('MP_OTEL_TTL_DAYS=abc is refused like --ttl-days abc', async () => {
    const saved = env.MP_OTEL_TTL_DAYS;
    env.MP_OTEL_TTL_DAYS = 'abc';
    try {
      const r = await cli(['migrate']);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/MP_OTEL_TTL_DAYS: expected a number of days/);
    } finally {
      env.MP_OTEL_TTL_DAYS = saved;
    }
  });

  it('diagnose on an empty store says there is no data (not "Value -3600 cannot be parsed as UInt32")', async () => {
    const r = await cli(['diagnose', '--data-dir', join(work, 'empty-store')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no telemetry in otel\.mp_sli_1m yet/);
    expect(r.err).not.toMatch(/-3600/);
  }, 120_000);
});

describe('mp-otel demo --data-dir', () => {
  it('never deletes a folder it did not create', async () => {
    const mine = join(work, 'precious');
    mkdirSync(join(mine, 'sub'), { recursive: true });
    writeFileSync(join(mine, 'thesis.tex'), 'years of work');
    writeFileSync(join(mine, 'sub', 'notes.txt'), 'more');
    const r = await cli(['demo', '--data-dir', mine]);
    expect([r.code, r.err]).toEqual([1, expect.any(String)]);
    expect(r.err).toMatch(/not empty and was not created by mp-otel demo .*nothing was deleted/);
    expect(readFileSync(join(mine, 'thesis.tex'), 'utf8')).toBe('years of work');
    expect(readFileSync(join(mine, 'sub', 'notes.txt'), 'utf8')).toBe('more');
    expect(readdirSync(mine).sort()).toEqual(['sub', 'thesis.tex']);
    // a file given as the folder is refused as well
    const r2 = await cli(['demo', '--data-dir', join(mine, 'thesis.tex')]);
    expect(r2.code).toBe(1);
    expect(existsSync(join(mine, 'thesis.tex'))).toBe(true);
  });

  it('stops its image-service children on SIGTERM', async () => {
    const seed = readFileSync(
      join(repoRoot(), 'packages', 'simulator', 'scenarios', 'seed-incident.yaml'),
      'utf8',
    );
    const scenario = join(work, 'small.yaml');
    writeFileSync(
      scenario,
      seed
        .replace(/^clients: \d+/m, 'clients: 2')
        .replace(/^requests_per_second: \d+/m, 'requests_per_second: 2')
        .replace(/^duration_minutes: \d+/m, 'duration_minutes: 600'),
    );
    await withMachineLock(async () => {
      // a temporary directory of its own: what the demo leaves there after the signal is visible. Its
      // simulation lock is then in there too, so this test holds the machine-wide one for it
      const temp = join(work, 'demo-tmp');
      mkdirSync(temp);
      const demo = spawn(
        process.execPath,
        [bin, 'demo', '--scenario', scenario, '--data-dir', join(work, 'demo')],
        {
          cwd: work,
          env: { ...env, TMPDIR: temp },
          stdio: 'pipe',
        },
      );
      let out = '';
      demo.stdout!.on('data', (c) => {
        out += c;
      });
      demo.stderr!.on('data', (c) => {
        out += c;
      });
      const exited = new Promise<string>((r) => demo.once('exit', (code, signal) => r(`${code} ${signal}`)));
      // the image-service nodes (node … src/server.js) are children of the demo once the simulation runs
      let nodes: number[] = [];
      try {
        // (made with mkdtemp: the pid, then a random suffix)
        const scratch = () => readdirSync(temp).some((f) => f.startsWith(`mp-otel-rowbinary-${demo.pid}-`));
        await waitFor(
          () => {
            nodes = childPids(demo.pid).filter((p) => {
              try {
                return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('src/server.js');
              } catch {
                return false;
              }
            });
            // and the row writer's scratch folder, which its 'exit' listener removes, exists by then
            return (nodes.length >= 2 && scratch()) || demo.exitCode !== null;
          },
          600_000,
          'the image-service nodes and the first RowBinary insert',
        );
        expect(nodes.length, out).toBe(2);
        demo.kill('SIGTERM');
        // it dies of the signal after its cleanup (a shell reports 143), not of a crash in exit()
        expect(await exited, out).toBe('null SIGTERM');
        expect(out).toContain('SIGTERM: stopping child processes and closing the store');
        // the exit listeners ran: the row writer's scratch folder and the simulation's work folder are gone
        expect(readdirSync(temp)).toEqual([]);
        await waitFor(() => !nodes.some(alive), 30_000, 'the nodes to exit');
        expect(nodes.filter(alive)).toEqual([]);
        expect(existsSync(join(work, 'demo', '.mp-otel-demo'))).toBe(true);
      } finally {
        // a failed wait or check: stop the demo and the nodes it started, so none outlives the test
        const left = [
          ...nodes,
          ...(demo.exitCode === null && demo.signalCode === null ? childPids(demo.pid) : []),
        ];
        if (demo.exitCode === null && demo.signalCode === null) demo.kill('SIGKILL');
        for (const p of left.filter(alive))
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            // gone already
          }
      }
    });
  }, 700_000);
});
