// Users of the embedded SQL endpoint, as the ClickHouse server's Docker image sets them up:
// MP_OTEL_CLICKHOUSE_USER / MP_OTEL_CLICKHOUSE_PASSWORD name the administrator; without a password one
// is generated on first start and kept, owner-only (0600), in <data dir>/mp-otel-credentials.json.
// Besides the administrator: a read-only user (dashboards), an insert-only user (the collector's exporter)
// and the migrator (DDL), each configurable the same way (MP_OTEL_CLICKHOUSE_<ROLE>_USER / _PASSWORD).
// Passwords given through the environment are never written to disk.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CODE, type Role, SqlGuardError } from './sql-guard.js';

export interface Credential {
  username: string;
  password: string;
}
export type Credentials = Record<Role, Credential>;

export const ROLES: readonly Role[] = ['admin', 'migrator', 'writer', 'reader'];
export const CREDENTIALS_FILE = 'mp-otel-credentials.json';

const ENV_PREFIX: Record<Role, string> = {
  admin: 'MP_OTEL_CLICKHOUSE',
  reader: 'MP_OTEL_CLICKHOUSE_READER',
  writer: 'MP_OTEL_CLICKHOUSE_WRITER',
  migrator: 'MP_OTEL_CLICKHOUSE_MIGRATOR',
};
export const DEFAULT_USERNAMES: Record<Role, string> = {
  admin: 'default',
  reader: 'mp_reader',
  writer: 'mp_writer',
  migrator: 'mp_migrator',
};

export interface ResolvedCredentials {
  credentials: Credentials;
  /** where generated passwords are kept */
  file: string;
  /** roles whose password was generated now (first start) */
  generated: Role[];
  /** roles whose password came from the environment */
  fromEnv: Role[];
}

interface StoredFile {
  version: 1;
  users: Partial<Record<Role, Credential>>;
}

function readStored(file: string): StoredFile | undefined {
  if (!existsSync(file)) return undefined;
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) chmodSync(file, 0o600); // someone widened it: owner-only again
  const doc = JSON.parse(readFileSync(file, 'utf8')) as StoredFile;
  if (doc?.version !== 1 || typeof doc.users !== 'object')
    throw new Error(`${file}: not an mp-otel credentials file`);
  return doc;
}

function writeOwnerOnly(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/** Resolves every role's credentials for a data directory (generating and keeping missing passwords). */
export function resolveCredentials(
  dataDir: string,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedCredentials {
  const file = join(dataDir, CREDENTIALS_FILE);
  mkdirSync(dataDir, { recursive: true });
  const stored = readStored(file) ?? { version: 1, users: {} };
  const credentials = {} as Credentials;
  const generated: Role[] = [];
  const fromEnv: Role[] = [];
  const keep: Partial<Record<Role, Credential>> = {};
  for (const role of ROLES) {
    const p = ENV_PREFIX[role];
    const username = env[`${p}_USER`] || DEFAULT_USERNAMES[role];
    const envPassword = env[`${p}_PASSWORD`];
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(username))
      throw new Error(`${p}_USER: a user name is 1–64 letters, digits, '_', '.', '-'`);
    if (envPassword) {
      credentials[role] = { username, password: envPassword };
      fromEnv.push(role);
      continue;
    }
    const prev = stored.users[role];
    if (prev?.password && prev.username === username) credentials[role] = prev;
    else {
      credentials[role] = { username, password: randomBytes(18).toString('base64url') };
      generated.push(role);
    }
    keep[role] = credentials[role];
  }
  const names = ROLES.map((r) => credentials[r].username);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`two roles of the SQL endpoint share the user name ${dup}`);
  const next: StoredFile = { version: 1, users: keep };
  if (JSON.stringify(next) !== JSON.stringify(stored) || !existsSync(file))
    writeOwnerOnly(file, `${JSON.stringify(next, null, 2)}\n`);
  return { credentials, file, generated, fromEnv };
}

/** Reads the credentials `mp-otel up` keeps in a data directory (undefined when there are none). */
export function readCredentialsFile(file: string): Partial<Record<Role, Credential>> | undefined {
  try {
    return readStored(file)?.users;
  } catch {
    return undefined;
  }
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
const same = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

/** The user a request presents: Basic auth, X-ClickHouse-User/-Key headers, or user/password URL parameters. */
export function presentedUser(req: IncomingMessage, url: URL): { username: string; password: string } {
  const auth = req.headers.authorization;
  if (auth && /^Basic\s+/i.test(auth)) {
    const raw = Buffer.from(auth.replace(/^Basic\s+/i, ''), 'base64').toString('utf8');
    const i = raw.indexOf(':');
    return i < 0
      ? { username: raw, password: '' }
      : { username: raw.slice(0, i), password: raw.slice(i + 1) };
  }
  const hu = req.headers['x-clickhouse-user'];
  if (typeof hu === 'string')
    return { username: hu, password: String(req.headers['x-clickhouse-key'] ?? '') };
  const pu = url.searchParams.get('user');
  if (pu !== null) return { username: pu, password: url.searchParams.get('password') ?? '' };
  return { username: 'default', password: '' };
}

/** Authenticates a request; throws a ClickHouse-like AUTHENTICATION_FAILED (401) otherwise. */
export function authenticate(
  credentials: Credentials,
  req: IncomingMessage,
  url: URL,
): { role: Role; user: string } {
  const { username, password } = presentedUser(req, url);
  let found: Role | undefined;
  for (const role of ROLES) {
    const c = credentials[role];
    // compare every role's name and password, so timing does not tell which part was wrong
    const ok = same(c.username, username) && same(c.password, password);
    if (ok) found = role;
  }
  if (!found)
    throw new SqlGuardError(
      `Code: ${CODE.AUTHENTICATION_FAILED}. DB::Exception: ${username.replace(/[^\x20-\x7e]/g, '?').slice(0, 64)}: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)`,
      CODE.AUTHENTICATION_FAILED,
      401,
    );
  return { role: found, user: username };
}

// ---------------------------------------------------------------------------------------------------------
// Where a running `mp-otel up` keeps its credentials, so `mp-otel query` finds them from any directory:
// a per-user registry (~/.local/state/mp-otel/endpoints/<host>_<port>.json, owner-only) holding the
// credentials file's path — never a password.

export function endpointRegistryDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
  return join(base, 'mp-otel', 'endpoints');
}

const registryName = (url: string) => {
  const u = new URL(url);
  const host = u.hostname.replace(/[[\]]/g, '').replace(/[^A-Za-z0-9.-]/g, '_');
  return `${host}_${u.port || '8123'}.json`;
};

/** Records a running endpoint; returns a function that removes the record. */
export function announceEndpoint(
  url: string,
  credentialsFile: string,
  env: NodeJS.ProcessEnv = process.env,
): () => void {
  const dir = endpointRegistryDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const names = new Set([registryName(url)]);
  // a listener on 0.0.0.0 / :: is reached as 127.0.0.1
  const u = new URL(url);
  if (u.hostname === '0.0.0.0' || u.hostname === '[::]')
    names.add(registryName(`http://127.0.0.1:${u.port}`));
  const body = `${JSON.stringify({ url, credentialsFile, pid: process.pid })}\n`;
  for (const n of names) writeOwnerOnly(join(dir, n), body);
  return () => {
    for (const n of names) rmSync(join(dir, n), { force: true });
  };
}

/** The credentials file of the endpoint at `url`, if a running `mp-otel up` announced it. */
export function findAnnouncedCredentials(
  url: string,
  env: NodeJS.ProcessEnv = process.env,
): { file: string; users: Partial<Record<Role, Credential>> } | undefined {
  let names: string[];
  try {
    const u = new URL(url);
    names = [registryName(url)];
    if (u.hostname === 'localhost') names.push(registryName(`http://127.0.0.1:${u.port || '8123'}`));
  } catch {
    return undefined;
  }
  for (const n of names) {
    try {
      const rec = JSON.parse(readFileSync(join(endpointRegistryDir(env), n), 'utf8')) as {
        credentialsFile?: string;
      };
      if (!rec.credentialsFile) continue;
      const users = readCredentialsFile(rec.credentialsFile);
      if (users) return { file: rec.credentialsFile, users };
    } catch {
      // not announced
    }
  }
  return undefined;
}
