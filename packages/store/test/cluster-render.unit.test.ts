// Cluster rendering of the migrations (src/cluster.ts), checked on the statements themselves: the layout
// (what is sharded, what is everywhere), the names the exporter and the readers use, the views on local
// tables, and that the rendering is generic over migration files (a new 009 renders without edits).
// Parsing by ClickHouse's own parser is in cluster-parse.test.ts; executing the shard-local DDL in
// cluster-shards.test.ts.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ClusterRenderError,
  defaultMigrationsDir,
  listMigrations,
  migrationScript,
  planMigrations,
  renderSql,
  resolveSchemaOptions,
  splitStatements,
} from '../src/index.js';

const dir = defaultMigrationsDir();
const single = planMigrations({ migrationsDir: dir });
const cluster = planMigrations({ migrationsDir: dir, cluster: 'mp' });
const all = (p: typeof single) => [...p.bookkeeping, ...p.migrations.flatMap((m) => m.statements)];
const created = (stmts: string[]) =>
  stmts.flatMap((s) => {
    const m = /^CREATE\s+(TABLE|MATERIALIZED VIEW|VIEW|DICTIONARY)\s+IF NOT EXISTS\s+otel\.(\w+)/.exec(s);
    return m ? [{ kind: m[1] as string, name: m[2] as string, sql: s }] : [];
  });
const EXPORTER_TABLES = [
  'otel_traces',
  'otel_logs',
  'otel_metrics_gauge',
  'otel_metrics_sum',
  'otel_metrics_histogram',
  'otel_metrics_exp_histogram',
  'otel_metrics_summary',
];

describe('single node', () => {
  it('renders exactly what the migrator ran before cluster mode (every file, every statement, in order)', () => {
    const o = resolveSchemaOptions({ migrationsDir: dir });
    const before = listMigrations(dir).map((m) => splitStatements(renderSql(m.sql, o)));
    expect(single.migrations.map((m) => m.statements)).toEqual(before);
    expect(single.migrations.length).toBeGreaterThanOrEqual(8);
    // the bookkeeping DDL main ran inline, verbatim
    expect(single.bookkeeping).toEqual([
      'CREATE DATABASE IF NOT EXISTS otel',
      `CREATE TABLE IF NOT EXISTS otel.mp_schema_migrations (
      version UInt32, name String, checksum String, applied_at DateTime DEFAULT now()
    ) ENGINE = ReplacingMergeTree ORDER BY version`,
    ]);
    expect(all(single).join('\n')).not.toMatch(/ON CLUSTER|Replicated|Distributed|_local\b/);
  });

  it('is what the library renders whatever MP_OTEL_CLUSTER says (only the CLI reads it: `mp-otel up` stays single)', () => {
    process.env.MP_OTEL_CLUSTER = 'mp';
    try {
      expect(planMigrations({ migrationsDir: dir })).toEqual(single);
    } finally {
      delete process.env.MP_OTEL_CLUSTER;
    }
  });
});

describe('cluster', () => {
  const stmts = all(cluster);
  const objs = created(stmts);
  const byName = new Map(objs.map((o) => [o.name, o]));

  it('puts every DDL statement ON CLUSTER, the database included', () => {
    for (const s of stmts) expect(s, s.slice(0, 80)).toMatch(/ ON CLUSTER mp\b/);
    expect(stmts[0]).toBe('CREATE DATABASE IF NOT EXISTS otel ON CLUSTER mp');
  });

  it('keeps every single-node name (the exporter and the readers use them) and adds only <t>_local', () => {
    const singleNames = created(all(single)).map((o) => o.name);
    const names = objs.map((o) => o.name);
    expect(new Set(names.filter((n) => !n.endsWith('_local')))).toEqual(new Set(singleNames));
    for (const t of EXPORTER_TABLES) {
      expect(byName.get(t)?.sql, t).toMatch(
        new RegExp(`AS otel\\.${t}_local\\nENGINE = Distributed\\(mp, otel, ${t}_local, `),
      );
      expect(byName.get(`${t}_local`)?.sql, t).toContain(
        `ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/otel/${t}_local', '{replica}')`,
      );
    }
  });

  it('shards traces and the trace-id index by trace id; logs by trace id when they have one', () => {
    const key = (t: string) => /Distributed\(mp, otel, \w+, (.*)\)$/s.exec(byName.get(t)?.sql ?? '')?.[1];
    expect(key('otel_traces')).toBe('cityHash64(TraceId)');
    expect(key('otel_traces_trace_id_ts')).toBe('cityHash64(TraceId)');
    expect(key('otel_logs')).toBe("if(TraceId = '', rand64(), cityHash64(TraceId))");
    // metrics have no trace id (Exemplars.TraceId is a Nested sub-column, not a key)
    expect(key('otel_metrics_sum')).toBe('rand()');
  });

  it('shards the cubes (filled per shard), replicates catalog, geo, source maps and bookkeeping everywhere', () => {
    for (const t of ['mp_sli_1m', 'mp_sli_1h', 'mp_errors_1m', 'mp_sli_route_1m']) {
      expect(byName.get(`${t}_local`)?.sql, t).toMatch(
        new RegExp(
          `ENGINE = ReplicatedAggregatingMergeTree\\('/clickhouse/tables/\\{shard\\}/otel/${t}_local'`,
        ),
      );
      expect(byName.get(t)?.sql, t).toContain('ENGINE = Distributed(mp, otel, ');
    }
    for (const t of [
      'mp_routes',
      'mp_ip_geo',
      'mp_geo_province',
      'mp_sourcemaps',
      'mp_symbolicated_stacks',
      'mp_schema_migrations',
    ]) {
      const sql = byName.get(t)?.sql ?? '';
      expect(sql, t).toMatch(
        new RegExp(`ENGINE = Replicated\\w*MergeTree\\('/clickhouse/tables/all/otel/${t}', '\\{replica\\}'`),
      );
      expect(sql, t).toMatch(/replicated_deduplication_window = 0/);
      expect(byName.has(`${t}_local`), t).toBe(false);
    }
    // engine arguments survive: ReplacingMergeTree(UploadedAt)
    expect(byName.get('mp_sourcemaps')?.sql).toContain(
      "ReplicatedReplacingMergeTree('/clickhouse/tables/all/otel/mp_sourcemaps', '{replica}', UploadedAt)",
    );
    // settings are appended to an existing SETTINGS clause, not a second one
    expect(byName.get('mp_symbolicated_stacks')?.sql).toMatch(
      /SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, replicated_deduplication_window = 0$/,
    );
  });

  it('runs every materialized view on local tables: target and sharded sources are <t>_local', () => {
    const mvs = objs.filter((o) => o.kind === 'MATERIALIZED VIEW');
    expect(mvs.map((m) => m.name).sort()).toEqual(
      created(all(single))
        .filter((o) => o.kind === 'MATERIALIZED VIEW')
        .map((o) => o.name)
        .sort(),
    );
    const sharded = objs.filter((o) => o.name.endsWith('_local')).map((o) => o.name.slice(0, -6));
    for (const mv of mvs) {
      expect(mv.sql, mv.name).toMatch(/\sTO otel\.\w+_local\b/);
      for (const t of sharded)
        expect(mv.sql, `${mv.name} reads ${t}`).not.toMatch(new RegExp(`otel\\.${t}\\b(?!_local)`));
    }
    const cube = byName.get('mp_sli_1m_mv')?.sql ?? '';
    expect(cube).toContain('FROM otel.otel_traces_local');
    // the catalog, the defaults view and the geo dictionary are local on every node
    expect(cube).toContain('FROM otel.mp_routes ');
    expect(cube).toContain("dictGetOrDefault('otel.mp_ip_geo_dict'");
    expect(byName.get('mp_sli_1h_local')?.sql).toMatch(/ AS otel\.mp_sli_1m_local\n/);
  });

  it('renders a database and a cluster name of the caller’s and refuses names that are not identifiers', () => {
    const p = planMigrations({ migrationsDir: dir, cluster: 'prod_ch', database: 'mp2' });
    expect(all(p).every((s) => s.includes('ON CLUSTER prod_ch'))).toBe(true);
    expect(all(p).join('\n')).not.toMatch(/\botel\./);
    expect(() => planMigrations({ migrationsDir: dir, cluster: "x' OR 1" })).toThrow(/invalid cluster name/);
    expect(() => planMigrations({ migrationsDir: dir, cluster: 'a b' })).toThrow(/invalid cluster name/);
  });
});

describe('generic over migration files', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'mp-otel-cluster-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  cpSync(dir, tmp, { recursive: true });

  it('renders a new 009 (ALTER, new tables, a view chain, DROP, TRUNCATE) with no change to the renderer', () => {
    writeFileSync(
      join(tmp, '009_more.sql'),
      `-- a migration written after cluster mode
ALTER TABLE {{db}}.otel_traces ADD COLUMN IF NOT EXISTS Extra String DEFAULT '';
ALTER TABLE {{db}}.otel_traces ADD INDEX IF NOT EXISTS idx_extra Extra TYPE bloom_filter(0.01) GRANULARITY 1;
ALTER TABLE {{db}}.mp_routes ADD COLUMN IF NOT EXISTS owner String DEFAULT '';
CREATE TABLE IF NOT EXISTS {{db}}.mp_log_counts (
    Minute DateTime,
    ServiceName LowCardinality(String),
    Records SimpleAggregateFunction(sum, UInt64)
) ENGINE = SummingMergeTree((Records))
ORDER BY (ServiceName, Minute);
CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.mp_log_counts_mv TO {{db}}.mp_log_counts AS
SELECT toStartOfMinute(Timestamp) AS Minute, ServiceName, count() AS Records
FROM {{db}}.otel_logs GROUP BY Minute, ServiceName;
CREATE TABLE IF NOT EXISTS {{db}}.mp_owners (owner String) ENGINE = MergeTree ORDER BY owner;
TRUNCATE TABLE IF EXISTS {{db}}.mp_log_counts;
DROP TABLE IF EXISTS {{db}}.mp_old_thing;
DROP VIEW IF EXISTS {{db}}.mp_log_counts_mv;
`,
    );
    const p = planMigrations({ migrationsDir: tmp, cluster: 'mp' });
    const m9 = p.migrations.find((m) => m.version === 9)?.statements ?? [];
    expect(m9).toEqual([
      "ALTER TABLE otel.otel_traces_local ON CLUSTER mp ADD COLUMN IF NOT EXISTS Extra String DEFAULT ''",
      "ALTER TABLE otel.otel_traces ON CLUSTER mp ADD COLUMN IF NOT EXISTS Extra String DEFAULT ''",
      'ALTER TABLE otel.otel_traces_local ON CLUSTER mp ADD INDEX IF NOT EXISTS idx_extra Extra TYPE bloom_filter(0.01) GRANULARITY 1',
      "ALTER TABLE otel.mp_routes ON CLUSTER mp ADD COLUMN IF NOT EXISTS owner String DEFAULT ''",
      `CREATE TABLE IF NOT EXISTS otel.mp_log_counts_local ON CLUSTER mp (
    Minute DateTime,
    ServiceName LowCardinality(String),
    Records SimpleAggregateFunction(sum, UInt64)
) ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/otel/mp_log_counts_local', '{replica}', (Records))
ORDER BY (ServiceName, Minute)`,
      'CREATE TABLE IF NOT EXISTS otel.mp_log_counts ON CLUSTER mp AS otel.mp_log_counts_local\nENGINE = Distributed(mp, otel, mp_log_counts_local, rand())',
      `CREATE MATERIALIZED VIEW IF NOT EXISTS otel.mp_log_counts_mv ON CLUSTER mp TO otel.mp_log_counts_local AS
SELECT toStartOfMinute(Timestamp) AS Minute, ServiceName, count() AS Records
FROM otel.otel_logs_local GROUP BY Minute, ServiceName`,
      `CREATE TABLE IF NOT EXISTS otel.mp_owners ON CLUSTER mp (owner String) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/otel/mp_owners', '{replica}') ORDER BY owner
SETTINGS replicated_deduplication_window = 0`,
      'TRUNCATE TABLE IF EXISTS otel.mp_log_counts_local ON CLUSTER mp',
      'DROP TABLE IF EXISTS otel.mp_old_thing ON CLUSTER mp',
      'DROP VIEW IF EXISTS otel.mp_log_counts_mv ON CLUSTER mp',
    ]);
    // the earlier files render as before
    expect(p.migrations.slice(0, -1).map((m) => m.statements)).toEqual(
      cluster.migrations.map((m) => m.statements),
    );
  });

  it('refuses what it cannot render on a cluster, naming the statement', () => {
    for (const [file, sql, why] of [
      ['010_bad.sql', 'RENAME TABLE {{db}}.mp_routes TO {{db}}.mp_routes2;', /does not know this statement/],
      [
        '010_bad.sql',
        'CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.x ENGINE = MergeTree ORDER BY a AS SELECT 1 AS a;',
        /must name its target/,
      ],
      [
        '010_bad.sql',
        "CREATE TABLE IF NOT EXISTS {{db}}.y (a UInt8) ENGINE = ReplicatedMergeTree('/p', 'r') ORDER BY a;",
        /must not name a Replicated engine/,
      ],
      [
        '010_bad.sql',
        'ALTER TABLE {{db}}.otel_logs ADD COLUMN IF NOT EXISTS z String, ADD INDEX i z TYPE minmax GRANULARITY 1;',
        /split column and non-column/,
      ],
      [
        '010_bad.sql',
        'CREATE TABLE IF NOT EXISTS {{db}}.m (a UInt8) ENGINE = Memory;',
        /MergeTree-family tables only/,
      ],
    ] as const) {
      rmSync(join(tmp, '009_more.sql'), { force: true });
      writeFileSync(join(tmp, file), sql);
      expect(() => planMigrations({ migrationsDir: tmp, cluster: 'mp' }), sql).toThrow(ClusterRenderError);
      expect(() => planMigrations({ migrationsDir: tmp, cluster: 'mp' }), sql).toThrow(why);
      // a single node renders it as written
      expect(() => planMigrations({ migrationsDir: tmp })).not.toThrow();
    }
  });
});

describe('--print script', () => {
  it('is the plan, `;`-separated, with the bookkeeping rows (both modes)', () => {
    for (const p of [single, cluster]) {
      const script = migrationScript({ migrationsDir: dir, cluster: p.cluster });
      expect(script.endsWith(';\n')).toBe(true);
      const parts = script.slice(0, -2).split(';\n\n');
      const inserts = parts.filter((s) => s.startsWith('INSERT INTO otel.mp_schema_migrations'));
      expect(parts.filter((s) => !s.startsWith('INSERT INTO'))).toEqual(all(p));
      expect(inserts).toEqual(
        p.migrations.map(
          (m) =>
            `INSERT INTO otel.mp_schema_migrations (version, name, checksum) SELECT ${m.version}, '${m.name}', '${m.checksum}'`,
        ),
      );
    }
  });
});
