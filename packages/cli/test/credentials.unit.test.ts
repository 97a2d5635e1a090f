// Where the CLI takes SQL credentials from, and where it never sends them.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientAuth } from '../src/credentials.js';

const dir = mkdtempSync(join(tmpdir(), 'mp-otel-cli-cred-'));
const home = join(dir, 'home');
const cwd = process.cwd();
beforeAll(() => {
  mkdirSync(join(dir, '.data', 'mp-otel'), { recursive: true });
  writeFileSync(
    join(dir, '.data', 'mp-otel', 'mp-otel-credentials.json'),
    JSON.stringify({
      version: 1,
      users: {
        admin: { username: 'default', password: 'local-admin' },
        reader: { username: 'mp_reader', password: 'local-reader' },
      },
    }),
    { mode: 0o600 },
  );
  process.chdir(dir);
});
afterAll(() => {
  process.chdir(cwd);
  rmSync(dir, { recursive: true, force: true });
});

describe('clientAuth', () => {
  const env = { HOME: home };
  it('uses the local data directory for a local endpoint, per role', () => {
    expect(clientAuth({ url: 'http://127.0.0.1:8123' }, env)).toMatchObject({ password: 'local-admin' });
    expect(clientAuth({ url: 'http://localhost:8123', role: 'reader' }, env)).toMatchObject({
      username: 'mp_reader',
      password: 'local-reader',
    });
    expect(clientAuth({ url: 'http://127.0.0.1:8123', role: 'writer', strictRole: true }, env).source).toBe(
      'none',
    );
  });

  it("never sends the local data directory's passwords to another server", () => {
    for (const url of ['http://10.0.0.5:8123', 'http://clickhouse:8123', 'https://evil.example'])
      expect(clientAuth({ url }, env)).toMatchObject({ username: 'default', password: '', source: 'none' });
  });

  it('flags and the environment come first', () => {
    expect(clientAuth({ url: 'http://127.0.0.1:8123', user: 'u', password: 'p' }, env)).toMatchObject({
      username: 'u',
      password: 'p',
    });
    expect(
      clientAuth({ url: 'http://clickhouse:8123' }, { ...env, MP_OTEL_CLICKHOUSE_PASSWORD: 'from-env' }),
    ).toMatchObject({ username: 'default', password: 'from-env' });
    expect(
      clientAuth(
        { url: 'http://clickhouse:8123', user: 'ops' },
        { ...env, MP_OTEL_CLICKHOUSE_PASSWORD: 'from-env' },
      ),
    ).toMatchObject({ username: 'ops', password: 'from-env' });
  });
});
