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
import { clusterLayout, clusterStatement, IDENTIFIER } from './cluster.js';

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
  /**
   * Render for this ClickHouse cluster (remote_servers name): ON CLUSTER, Replicated engines, Distributed
   * tables (see cluster.ts). Default: a single node. (`mp-otel migrate` also reads MP_OTEL_CLUSTER; the
   * embedded store never renders for a cluster.)
   */
  cluster?: string;
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
): Required<Omit<SchemaOptions, 'dictUser' | 'dictPassword' | 'cluster'>> &
  Pick<SchemaOptions, 'dictUser' | 'dictPassword' | 'cluster'> {
  const database = o.database ?? process.env.MP_OTEL_DB ?? 'otel';
  if (!IDENTIFIER.test(database)) throw new Error(`invalid database name: ${database}`);
  const cluster = o.cluster || undefined;
  if (cluster !== undefined && !IDENTIFIER.test(cluster)) throw new Error(`invalid cluster name: ${cluster}`);
  return {
    cluster,
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

/** The migration bookkeeping table's DDL on a single node (a cluster render replicates it everywhere). */
function bookkeepingSql(db: string): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS ${db}`,
    `CREATE TABLE IF NOT EXISTS ${db}.mp_schema_migrations (
      version UInt32, name String, checksum String, applied_at DateTime DEFAULT now()
    ) ENGINE = ReplacingMergeTree ORDER BY version`,
  ];
}

export interface MigrationPlan {
  database: string;
  cluster?: string;
  /** creates the database and the bookkeeping table */
  bookkeeping: string[];
  migrations: (Migration & { statements: string[] })[];
}

/**
 * Every statement the migrations run, rendered for a single node or (options.cluster) a named cluster.
 * Pure: reads the migration files only.
 */
export function planMigrations(options: SchemaOptions = {}): MigrationPlan {
  const o = resolveSchemaOptions(options);
  const db = o.database;
  const migrations = listMigrations(o.migrationsDir).map((m) => ({
    ...m,
    statements: splitStatements(renderSql(m.sql, o)),
  }));
  const bookkeeping = bookkeepingSql(db);
  if (!o.cluster) return { database: db, bookkeeping, migrations };
  const layout = clusterLayout([...bookkeeping, ...migrations.flatMap((m) => m.statements)], db, o.cluster);
  const onCluster = (stmts: string[]) => stmts.flatMap((s) => clusterStatement(s, layout));
  return {
    database: db,
    cluster: o.cluster,
    bookkeeping: onCluster(bookkeeping),
    migrations: migrations.map((m) => ({ ...m, statements: onCluster(m.statements) })),
  };
}

/** The bookkeeping row of an applied migration, as a statement (for the printed script). */
function recordSql(db: string, m: Migration): string {
  return `INSERT INTO ${db}.mp_schema_migrations (version, name, checksum) SELECT ${m.version}, ${sqlString(m.name)}, ${sqlString(m.checksum)}`;
}

/**
 * `mp-otel migrate [--cluster NAME] --print`: every statement a run on an empty database would execute, the
 * bookkeeping rows included, separated by `;` (runnable with `clickhouse-client --multiquery`; every
 * statement is idempotent).
 */
export function migrationScript(options: SchemaOptions = {}): string {
  const plan = planMigrations(options);
  const stmts = [
    ...plan.bookkeeping,
    ...plan.migrations.flatMap((m) => [...m.statements, recordSql(plan.database, m)]),
  ];
  return `${stmts.join(';\n\n')};\n`;
}

/** Applies every migration not yet recorded in <db>.mp_schema_migrations, in version order. */
export async function migrate(client: ClickHouseClient, options: SchemaOptions = {}): Promise<MigrateResult> {
  const o = resolveSchemaOptions(options);
  const db = o.database;
  const plan = planMigrations(o);
  for (const stmt of plan.bookkeeping) await client.command({ query: stmt });
  const rs = await client.query({
    query: `SELECT version, checksum FROM ${db}.mp_schema_migrations FINAL`,
    format: 'JSONEachRow',
  });
  const done = new Map(
    (await rs.json<{ version: number; checksum: string }>()).map((r) => [Number(r.version), r.checksum]),
  );
  const migrations = plan.migrations;
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
    for (const stmt of m.statements) {
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
