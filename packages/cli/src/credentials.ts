// Which user the CLI connects as, found without asking: --user/--password, then MP_OTEL_CLICKHOUSE_USER /
// MP_OTEL_CLICKHOUSE_PASSWORD, then the credentials a running `mp-otel up` announced for that URL (the
// per-user registry), then <data dir>/mp-otel-credentials.json (--data-dir, MP_OTEL_DATA_DIR or
// .data/mp-otel). The password itself is never taken from or printed to the command line by the CLI.
import { resolve } from 'node:path';
import { CREDENTIALS_FILE, findAnnouncedCredentials, readCredentialsFile } from '@mp-otel/store';

export interface ClientAuth {
  username: string;
  password: string;
  /** where they came from (for messages) */
  source: string;
}

type Role = 'admin' | 'migrator' | 'writer' | 'reader';

export function clientAuth(
  o: {
    user?: string;
    password?: string;
    url: string;
    dataDir?: string;
    role?: Role;
    /** only that role's credentials (no fallback to the administrator, no environment) */
    strictRole?: boolean;
  },
  env: NodeJS.ProcessEnv = process.env,
): ClientAuth {
  const role = o.role ?? 'admin';
  if (o.user !== undefined || o.password !== undefined)
    return {
      username: o.user ?? 'default',
      // a password on the command line is visible to every process: prefer the environment
      password: o.password ?? env.MP_OTEL_CLICKHOUSE_PASSWORD ?? '',
      source: 'command line',
    };
  if (env.MP_OTEL_CLICKHOUSE_PASSWORD && !o.strictRole)
    return {
      username: env.MP_OTEL_CLICKHOUSE_USER || 'default',
      password: env.MP_OTEL_CLICKHOUSE_PASSWORD,
      source: 'MP_OTEL_CLICKHOUSE_PASSWORD',
    };
  const announced = findAnnouncedCredentials(o.url, env);
  const a = announced?.users[role] ?? (o.strictRole ? undefined : announced?.users.admin);
  if (announced && a) return { ...a, source: announced.file };
  // a local data directory's passwords go only to a local endpoint (or when the directory was named):
  // `mp-otel query --url http://elsewhere:8123` must not hand them to another server
  const explicitDir = o.dataDir ?? env.MP_OTEL_DATA_DIR;
  if (!explicitDir && !isLoopbackUrl(o.url))
    return { username: env.MP_OTEL_CLICKHOUSE_USER || 'default', password: '', source: 'none' };
  const file = resolve(explicitDir ?? '.data/mp-otel', CREDENTIALS_FILE);
  const users = readCredentialsFile(file);
  const u = users?.[role] ?? (o.strictRole ? undefined : users?.admin);
  if (u) return { ...u, source: file };
  return { username: env.MP_OTEL_CLICKHOUSE_USER || 'default', password: '', source: 'none' };
}

function isLoopbackUrl(url: string): boolean {
  try {
    const h = new URL(url).hostname.replace(/^\[|\]$/g, '');
    return h === 'localhost' || h === '::1' || /^127\./.test(h);
  } catch {
    return false;
  }
}
