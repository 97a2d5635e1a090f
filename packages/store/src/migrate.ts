// Versioned SQL migrations (clickhouse/migrations/NNN_name.sql), applied in order through @clickhouse/client,
// recorded in <db>.mp_schema_migrations with a checksum, idempotent (every statement is IF NOT EXISTS and
// an applied version is skipped). A migration edited after it was applied is reported, not ignored. Works
// the same against chDB (embedded HTTP front) and a ClickHouse server.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import { cubePlaceholders } from '@mp-otel/contracts';

export interface SchemaOptions {
  /** Database for every table (default "otel", env MP_OTEL_DB). */
  database?: string;
  /** Raw otel_* retention in days, 0 = keep forever (default 30, env MP_OTEL_TTL_DAYS). */
  ttlDays?: number;
  /** Per-minute cube retention in days (default 90, env MP_OTEL_CUBE_TTL_DAYS). */
  cubeTtlDays?: number;
  /** Hourly rollup retention in days (default 730, env MP_OTEL_ROLLUP_TTL_DAYS). */
  rollupTtlDays?: number;
  /** Latency threshold for "slow" when a route has no SLO (default 3000 ms). */
  defaultSlowMs?: number;
  /** Credentials the ip-geo dictionary uses to read its source table on a ClickHouse server. */
  dictUser?: string;
  dictPassword?: string;
  /** Directory of NNN_name.sql files (default: the copy of clickhouse/migrations packaged with the store). */
  migrationsDir?: string;
  /** Apply new migrations even when an applied one has changed since (reported in the result). */
  allowChanged?: boolean;
}

export interface Migration {
  version: number;
  name: string;
  file: string;
  sql: string;
  checksum: string;
}

const here = dirname(fileURLToPath(import.meta.url));

/** The migrations packaged with the store (the build copies the repository's clickhouse/migrations). */
export function defaultMigrationsDir(): string {
  const dir = resolve(here, '../migrations');
  if (!existsSync(dir)) throw new Error(`clickhouse migrations not found in ${dir}: build @mp-otel/store`);
  return dir;
}

function envNum(name: string): number | undefined {
  const v = process.env[name];
  return v !== undefined && v !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined;
}

export function resolveSchemaOptions(
  o: SchemaOptions = {},
): Required<Omit<SchemaOptions, 'dictUser' | 'dictPassword'>> &
  Pick<SchemaOptions, 'dictUser' | 'dictPassword'> {
  const database = o.database ?? process.env.MP_OTEL_DB ?? 'otel';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) throw new Error(`invalid database name: ${database}`);
  return {
    database,
    ttlDays: o.ttlDays ?? envNum('MP_OTEL_TTL_DAYS') ?? 30,
    cubeTtlDays: o.cubeTtlDays ?? envNum('MP_OTEL_CUBE_TTL_DAYS') ?? 90,
    rollupTtlDays: o.rollupTtlDays ?? envNum('MP_OTEL_ROLLUP_TTL_DAYS') ?? 730,
    defaultSlowMs: o.defaultSlowMs ?? envNum('MP_OTEL_DEFAULT_SLOW_MS') ?? 3000,
    dictUser: o.dictUser ?? process.env.MP_OTEL_DICT_USER,
    dictPassword: o.dictPassword ?? process.env.MP_OTEL_DICT_PASSWORD,
    migrationsDir: o.migrationsDir ?? defaultMigrationsDir(),
    allowChanged: o.allowChanged ?? false,
  };
}

function sqlString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The cube's derivations from @mp-otel/contracts: {{span.<name>}} and {{cube.<name>}}, for a database. */
function renderContract(sql: string, db: string): string {
  const values = cubePlaceholders(db);
  return sql.replace(/\{\{((?:span|cube)\.\w+)\}\}/g, (_m, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`unknown migration placeholder {{${name}}}`);
    return v;
  });
}

/**
 * Replaces the contract's {{span.*}} / {{cube.*}}, then {{db}}, {{ttl:<expr>:raw|cube|rollup}},
 * {{default_slow_ms}} and {{dict_auth}}.
 */
export function renderSql(sql: string, o: ReturnType<typeof resolveSchemaOptions>): string {
  return renderContract(sql, o.database)
    .replace(/\{\{db\}\}/g, o.database)
    .replace(/\{\{default_slow_ms\}\}/g, String(Math.max(1, Math.floor(o.defaultSlowMs))))
    .replace(/\{\{dict_auth\}\}/g, () =>
      o.dictUser ? ` USER ${sqlString(o.dictUser)} PASSWORD ${sqlString(o.dictPassword ?? '')}` : '',
    )
    .replace(/\{\{ttl:([^:}]+):(raw|cube|rollup)\}\}/g, (_m, expr: string, kind: string) => {
      const days = kind === 'raw' ? o.ttlDays : kind === 'cube' ? o.cubeTtlDays : o.rollupTtlDays;
      return days > 0 ? `TTL toDateTime(${expr}) + toIntervalDay(${Math.floor(days)})` : '';
    });
}

/** Splits a migration file into statements (`;` at the end of a line; no `;` inside strings there). */
export function splitStatements(sql: string): string[] {
  const noComments = sql
    .split('\n')
    .filter((l) => !/^\s*--/.test(l))
    .join('\n');
  return noComments
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function listMigrations(dir: string): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3,}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const sql = readFileSync(join(dir, file), 'utf8');
      const m = /^(\d+)_([\w-]+)\.sql$/.exec(file) as RegExpExecArray;
      return {
        version: Number(m[1]),
        name: m[2] as string,
        file,
        sql,
        // what the migration does: its text with the contract's derivations in (not the install's options)
        checksum: createHash('sha256').update(renderContract(sql, '{{db}}')).digest('hex').slice(0, 16),
      };
    });
}

export interface MigrateResult {
  database: string;
  applied: number[];
  skipped: number[];
  /** applied migrations whose file (or contract derivations) changed since: only with allowChanged */
  changed: ChangedMigration[];
}

export interface ChangedMigration {
  version: number;
  name: string;
  applied: string;
  now: string;
}

/** An applied migration no longer matches its file: the database's schema is not what this version expects. */
export class MigrationChangedError extends Error {
  constructor(
    readonly database: string,
    readonly changed: ChangedMigration[],
  ) {
    super(
      `${changed.map((c) => `migration ${String(c.version).padStart(3, '0')}_${c.name}`).join(', ')} changed after ${database} applied ${changed.length > 1 ? 'them' : 'it'} (checksum ${changed.map((c) => `${c.applied} → ${c.now}`).join(', ')}): the schema in ${database} is not the one this version expects. Start on a new database or data directory, or drop and re-create the changed objects, or pass --allow-changed-migrations to go on as is.`,
    );
  }
}

/** Applies every migration not yet recorded in <db>.mp_schema_migrations, in version order. */
export async function migrate(client: ClickHouseClient, options: SchemaOptions = {}): Promise<MigrateResult> {
  const o = resolveSchemaOptions(options);
  const db = o.database;
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` });
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS ${db}.mp_schema_migrations (
      version UInt32, name String, checksum String, applied_at DateTime DEFAULT now()
    ) ENGINE = ReplacingMergeTree ORDER BY version`,
  });
  const rs = await client.query({
    query: `SELECT version, checksum FROM ${db}.mp_schema_migrations FINAL`,
    format: 'JSONEachRow',
  });
  const done = new Map(
    (await rs.json<{ version: number; checksum: string }>()).map((r) => [Number(r.version), r.checksum]),
  );
  const migrations = listMigrations(o.migrationsDir);
  const changed = migrations.flatMap((m) => {
    const applied = done.get(m.version);
    return applied !== undefined && applied !== m.checksum
      ? [{ version: m.version, name: m.name, applied, now: m.checksum }]
      : [];
  });
  if (changed.length > 0 && !o.allowChanged) throw new MigrationChangedError(db, changed);
  const result: MigrateResult = { database: db, applied: [], skipped: [], changed };
  for (const m of migrations) {
    if (done.has(m.version)) {
      result.skipped.push(m.version);
      continue;
    }
    for (const stmt of splitStatements(renderSql(m.sql, o))) {
      await client.command({ query: stmt });
    }
    await client.insert({
      table: `${db}.mp_schema_migrations`,
      values: [{ version: m.version, name: m.name, checksum: m.checksum }],
      format: 'JSONEachRow',
    });
    result.applied.push(m.version);
  }
  return result;
}
