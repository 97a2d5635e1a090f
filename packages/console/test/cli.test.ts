// `mp-otel up --console-port N` (the CLI, as a user runs it): the start line names the console, the console
// answers on 127.0.0.1, and Ctrl-C stops it with the store.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ROOT, until } from './fixture.js';

const dataDir = mkdtempSync(join(tmpdir(), 'mp-otel-console-cli-'));
let child: ChildProcess | undefined;
afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

it('mp-otel up prints "mp-otel: console on http://127.0.0.1:PORT" and serves it until SIGINT', {
  timeout: 180_000,
}, async () => {
  let out = '';
  child = spawn(
    process.execPath,
    [
      join(ROOT, 'packages/cli/bin/mp-otel.mjs'),
      'up',
      '--data-dir',
      dataDir,
      '--otlp-port',
      '0',
      '--http-port',
      '0',
      '--console-port',
      '0',
      '--no-geo',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  const url = await until(
    async () => /^mp-otel: console on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(out)?.[1],
    150_000,
    `the start line in:\n${out}`,
  );
  const meta = (await (await fetch(`${url}/api/meta`)).json()) as { dashboards: unknown[] };
  expect(meta.dashboards).toHaveLength(11);
  expect((await fetch(`${url}/d/mp-overview`)).headers.get('content-security-policy')).toContain(
    "default-src 'none'",
  );
  const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
  child.kill('SIGINT');
  expect(await exited).toBe(0);
  await expect(fetch(`${url}/api/meta`)).rejects.toThrow();
});

it('a busy console port is a clear error, and the store does not stay up (exit 1)', {
  timeout: 180_000,
}, async () => {
  const busy = net.createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const port = (busy.address() as net.AddressInfo).port;
  try {
    const p = spawn(
      process.execPath,
      [
        join(ROOT, 'packages/cli/bin/mp-otel.mjs'),
        'up',
        '--data-dir',
        join(dataDir, 'busy'),
        '--otlp-port',
        '0',
        '--http-port',
        '0',
        '--console-port',
        String(port),
        '--no-geo',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    p.stderr!.on('data', (c) => (err += c));
    const code = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
    expect(code).toBe(1);
    expect(err).toContain(`the console cannot listen on 127.0.0.1:${port}`);
  } finally {
    busy.close();
  }
});
