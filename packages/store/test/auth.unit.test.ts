// Credentials of the SQL endpoint: generated once, kept owner-only, environment wins and is never written.
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { authenticate, presentedUser, resolveCredentials } from '../src/auth.js';

const dirs: string[] = [];
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'mp-otel-auth-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('resolveCredentials', () => {
  it('generates every password once, 0600, and keeps them across restarts', () => {
    const d = dir();
    const a = resolveCredentials(d, {});
    expect(a.generated.sort()).toEqual(['admin', 'migrator', 'reader', 'writer']);
    expect(statSync(a.file).mode & 0o777).toBe(0o600);
    const b = resolveCredentials(d, {});
    expect(b.generated).toEqual([]);
    expect(b.credentials).toEqual(a.credentials);
    // a widened file is made owner-only again
    chmodSync(a.file, 0o644);
    resolveCredentials(d, {});
    expect(statSync(a.file).mode & 0o777).toBe(0o600);
  });

  it('takes users and passwords from the environment and never writes those passwords', () => {
    const d = dir();
    const r = resolveCredentials(d, {
      MP_OTEL_CLICKHOUSE_USER: 'ops',
      MP_OTEL_CLICKHOUSE_PASSWORD: 'env-secret-1',
      MP_OTEL_CLICKHOUSE_READER_USER: 'grafana',
    });
    expect(r.credentials.admin).toEqual({ username: 'ops', password: 'env-secret-1' });
    expect(r.credentials.reader.username).toBe('grafana');
    expect(r.fromEnv).toEqual(['admin']);
    const text = readFileSync(r.file, 'utf8');
    expect(text).not.toContain('env-secret-1');
    expect(text).toContain('grafana');
  });

  it('refuses two roles with one name and names that are not names', () => {
    expect(() => resolveCredentials(dir(), { MP_OTEL_CLICKHOUSE_READER_USER: 'default' })).toThrow(
      /share the user name/,
    );
    expect(() => resolveCredentials(dir(), { MP_OTEL_CLICKHOUSE_USER: 'a b' })).toThrow(/user name/);
  });
});

describe('authenticate', () => {
  const creds = resolveCredentials(dir(), {}).credentials;
  const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
  const u = new URL('http://127.0.0.1/');
  it('maps each user to its role and refuses everything else with AUTHENTICATION_FAILED', () => {
    for (const role of ['admin', 'migrator', 'writer', 'reader'] as const) {
      const c = creds[role];
      const basic = `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
      expect(authenticate(creds, req({ authorization: basic }), u).role).toBe(role);
    }
    expect(() => authenticate(creds, req({}), u)).toThrow(
      /^Code: 516\. DB::Exception: default: Authentication failed/,
    );
    expect(() =>
      authenticate(
        creds,
        req({ 'x-clickhouse-user': 'mp_reader', 'x-clickhouse-key': creds.admin.password }),
        u,
      ),
    ).toThrow(/AUTHENTICATION_FAILED/);
    expect(
      presentedUser(req({ authorization: `Basic ${Buffer.from('a%zz:b:c').toString('base64')}` }), u),
    ).toEqual({
      username: 'a%zz',
      password: 'b:c',
    });
  });
});
