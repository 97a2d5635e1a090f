// `mp-otel up --console-port N` (the CLI, as a user runs it): the start line names the console, the console
// answers on 127.0.0.1, and Ctrl-C stops it with the store.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
