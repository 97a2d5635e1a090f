// Cluster rendering of the migrations: the same NNN_name.sql files, rendered for a named ClickHouse cluster
// (`mp-otel migrate --cluster NAME`). The single-node rendering is untouched: this module only rewrites the
// statements a single-node render produced, generically over every file (a new migration needs no edits
// here as long as it uses the statement forms below; an unknown form is an error, never rendered as is).
//
// Layout on the cluster (every statement ON CLUSTER <name>):
// - "sharded" tables — every otel_* table and every table a materialized view fills from a sharded table
//   (the cubes): <t>_local = Replicated<engine>('/clickhouse/tables/{shard}/<db>/<t>_local', '{replica}')
//   on every node, plus <t> = Distributed(<cluster>, <db>, <t>_local, <key>) under the original name, so the
//   exporter writes and dashboards / alerts / diagnosis read the same names as on one node. otel_* with a
//   TraceId are sharded by cityHash64(TraceId): one trace lives on one shard (its spans, its trace-id
//   index, its cube rows).
// - materialized views run on each node's local tables (FROM <t>_local TO <t>_local): a cube is aggregated
//   per shard and merged on read through the Distributed table (its columns are mergeable states).
// - every other MergeTree table (catalog, geo, source maps, the migration bookkeeping) is replicated to
//   every node: Replicated<engine>('/clickhouse/tables/all/<db>/<t>', '{replica}'), so the cube's catalog
//   subqueries and the geo dictionary read a local copy on every shard. {replica} must therefore be unique
//   across the cluster (clickhouse/cluster/ uses the host name). Insert deduplication is off on these
//   tables (replicated_deduplication_window = 0): they are reloaded by TRUNCATE + INSERT, and ClickHouse
//   keeps the block hashes of truncated data, so an identical reload would otherwise be dropped.
// - views and dictionaries: ON CLUSTER, same text (they read the Distributed / replicated names).

/** A cluster or other identifier that goes into DDL unquoted. */
export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface ClusterLayout {
  cluster: string;
  database: string;
  /** table name → sharding key of its Distributed table */
  sharded: Map<string, string>;
  /** MergeTree tables replicated to every node */
  everywhere: Set<string>;
}

export class ClusterRenderError extends Error {
  constructor(message: string, statement: string) {
    super(`${message}\n  in: ${statement.slice(0, 160).replace(/\s+/g, ' ')}…`);
    this.name = 'ClusterRenderError';
  }
}

/** Sharding keys of the tables whose key is not the generic one (see shardingKey). */
const SHARDING_KEYS: Record<string, string> = {
  // A trace's logs go with its spans; logs outside any trace are spread evenly.
  otel_logs: "if(TraceId = '', rand64(), cityHash64(TraceId))",
};

/** The Distributed sharding key of a sharded table: one trace on one shard, else an even spread. */
function shardingKey(table: string, createSql: string): string {
  const known = SHARDING_KEYS[table];
  if (known) return known;
  return topLevelColumns(createSql).includes('TraceId') ? 'cityHash64(TraceId)' : 'rand()';
}

/** The names of a CREATE TABLE's top-level columns (Nested sub-columns are not top-level). */
export function topLevelColumns(createSql: string): string[] {
  const open = createSql.indexOf('(');
  if (open < 0 || /^CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?[\w.]+\s+AS\s/i.test(createSql)) return [];
  const out: string[] = [];
  let depth = 0;
  let start = open + 1;
  for (let i = open; i < createSql.length; i++) {
    const c = createSql[i];
    if (c === '(') depth++;
    else if (c === ')' && --depth === 0) {
      out.push(createSql.slice(start, i));
      break;
    } else if (c === ',' && depth === 1) {
      out.push(createSql.slice(start, i));
      start = i + 1;
    }
  }
  return out
    .map((d) => /^\s*`?(\w+)`?/.exec(d)?.[1] ?? '')
    .filter((n) => n && !/^(INDEX|PROJECTION|CONSTRAINT)$/i.test(n));
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface Head {
  kind: 'DATABASE' | 'TABLE' | 'MATERIALIZED VIEW' | 'VIEW' | 'DICTIONARY';
  name: string;
  /** index just after the object's name */
  end: number;
}

function createHead(stmt: string, db: string): Head | undefined {
  const m = new RegExp(
    `^CREATE\\s+(DATABASE|TABLE|MATERIALIZED\\s+VIEW|VIEW|DICTIONARY)\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?(?:${esc(db)}\\.)?(\\w+)`,
    'i',
  ).exec(stmt);
  if (!m) return undefined;
  return {
    kind: (m[1] as string).toUpperCase().replace(/\s+/g, ' ') as Head['kind'],
    name: m[2] as string,
    end: m[0].length,
  };
}

/** `<db>.<name>` references in a statement (quoted dictionary names included). */
function references(sql: string, db: string): string[] {
  return [...sql.matchAll(new RegExp(`\\b${esc(db)}\\.(\\w+)\\b`, 'g'))].map((m) => m[1] as string);
}

/** The MV's target (TO <db>.<t>) and the tables its SELECT reads. */
function mvParts(stmt: string, db: string): { to: string; toEnd: number; selectStart: number } | undefined {
  const m = new RegExp(`\\bTO\\s+${esc(db)}\\.(\\w+)\\s+AS\\b`, 'i').exec(stmt);
  if (!m) return undefined;
  return { to: m[1] as string, toEnd: m.index + m[0].length, selectStart: m.index + m[0].length };
}

/** Finds `ENGINE = <X>MergeTree[(args)]`: the engine name, its argument text and the span to replace. */
function mergeTreeEngine(
  stmt: string,
): { engine: string; args: string; start: number; end: number } | undefined {
  const m = /\bENGINE\s*=\s*(\w*MergeTree)\b/.exec(stmt);
  if (!m) return undefined;
  let end = m.index + m[0].length;
  let args = '';
  const rest = /^\s*\(/.exec(stmt.slice(end));
  if (rest) {
    let depth = 0;
    let i = end + rest[0].length - 1;
    for (; i < stmt.length; i++) {
      if (stmt[i] === '(') depth++;
      else if (stmt[i] === ')' && --depth === 0) break;
    }
    args = stmt.slice(end + rest[0].length, i).trim();
    end = i + 1;
  }
  return { engine: m[1] as string, args, start: m.index, end };
}

/**
 * Which tables are sharded and which replicated everywhere, from the single-node statements of every
 * migration in order (a sharded table's cubes are found through the views that fill them).
 */
export function clusterLayout(statements: readonly string[], db: string, cluster: string): ClusterLayout {
  if (!IDENTIFIER.test(cluster)) throw new Error(`invalid cluster name: ${cluster}`);
  const tables = new Map<string, string>();
  const views: { to: string; reads: string[] }[] = [];
  for (const stmt of statements) {
    const head = createHead(stmt, db);
    if (!head) continue;
    if (head.kind === 'TABLE' && mergeTreeEngine(stmt)) tables.set(head.name, stmt);
    if (head.kind === 'TABLE' && !mergeTreeEngine(stmt)) {
      // CREATE TABLE x AS y ENGINE = Distributed/… is not a form the migrations use
      throw new ClusterRenderError('cluster rendering knows MergeTree-family tables only', stmt);
    }
    if (head.kind === 'MATERIALIZED VIEW') {
      const parts = mvParts(stmt, db);
      if (!parts)
        throw new ClusterRenderError('a materialized view must name its target (TO <db>.<table>)', stmt);
      views.push({ to: parts.to, reads: references(stmt.slice(parts.selectStart), db) });
    }
  }
  const sharded = new Set([...tables.keys()].filter((t) => t.startsWith('otel_')));
  for (let grew = true; grew; ) {
    grew = false;
    for (const v of views) {
      if (!sharded.has(v.to) && v.reads.some((r) => sharded.has(r))) {
        sharded.add(v.to);
        grew = true;
      }
    }
  }
  const keys = new Map<string, string>();
  for (const t of sharded) {
    const create = tables.get(t) ?? '';
    const like = new RegExp(`^CREATE\\s+TABLE[^(]*?\\bAS\\s+${esc(db)}\\.(\\w+)`, 'i').exec(create)?.[1];
    keys.set(t, like && keys.has(like) ? (keys.get(like) as string) : shardingKey(t, create));
  }
  return {
    cluster,
    database: db,
    sharded: keys,
    everywhere: new Set([...tables.keys()].filter((t) => !sharded.has(t))),
  };
}

const localName = (t: string) => `${t}_local`;

function replicatedEngine(engine: { engine: string; args: string }, path: string, stmt: string): string {
  if (engine.engine.startsWith('Replicated'))
    throw new ClusterRenderError('a migration must not name a Replicated engine itself', stmt);
  const args = [`'${path}'`, "'{replica}'", ...(engine.args ? [engine.args] : [])].join(', ');
  return `ENGINE = Replicated${engine.engine}(${args})`;
}

/** Adds a MergeTree setting to a CREATE TABLE (into its SETTINGS clause, or a new one at the end). */
function withSetting(stmt: string, setting: string): string {
  const m = /\bSETTINGS\b([^;]*)$/.exec(stmt);
  if (m && !/\)/.test(m[1] as string)) return `${stmt.trimEnd()}, ${setting}`;
  return `${stmt.trimEnd()}\nSETTINGS ${setting}`;
}

/** Rewrites `<db>.<t>` references to sharded tables into their local tables (inside an MV's SELECT). */
function toLocal(sql: string, layout: ClusterLayout): string {
  const db = layout.database;
  return sql.replace(new RegExp(`\\b${esc(db)}\\.(\\w+)\\b`, 'g'), (all, t: string) =>
    layout.sharded.has(t) ? `${db}.${localName(t)}` : all,
  );
}

const COLUMN_ACTION = /^\s*(ADD|DROP|MODIFY|RENAME|COMMENT|CLEAR)\s+COLUMN\b/i;

/** Splits an ALTER's action list on top-level commas. */
function alterActions(actions: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = false;
  let start = 0;
  for (let i = 0; i < actions.length; i++) {
    const c = actions[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === "'") quote = false;
    } else if (c === "'") quote = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(actions.slice(start, i));
      start = i + 1;
    }
  }
  out.push(actions.slice(start));
  return out;
}

/** One single-node statement → its statements on the cluster. */
export function clusterStatement(stmt: string, layout: ClusterLayout): string[] {
  const { database: db, cluster } = layout;
  const on = `ON CLUSTER ${cluster}`;
  const head = createHead(stmt, db);
  if (head) {
    const nameText = stmt.slice(0, head.end);
    const rest = stmt.slice(head.end);
    if (head.kind === 'DATABASE' || head.kind === 'VIEW' || head.kind === 'DICTIONARY')
      return [`${nameText} ${on}${rest}`];
    // the view runs where the rows land: on each node's local tables (its target included)
    if (head.kind === 'MATERIALIZED VIEW') return [`${nameText} ${on}${toLocal(rest, layout)}`];
    // TABLE
    const engine = mergeTreeEngine(stmt) as NonNullable<ReturnType<typeof mergeTreeEngine>>;
    const key = layout.sharded.get(head.name);
    if (key === undefined) {
      const path = `/clickhouse/tables/all/${db}/${head.name}`;
      const body = `${stmt.slice(0, engine.start)}${replicatedEngine(engine, path, stmt)}${stmt.slice(engine.end)}`;
      return [withSetting(`${nameText} ${on}${body.slice(head.end)}`, 'replicated_deduplication_window = 0')];
    }
    const local = localName(head.name);
    const path = `/clickhouse/tables/{shard}/${db}/${local}`;
    const body = `${stmt.slice(0, engine.start)}${replicatedEngine(engine, path, stmt)}${stmt.slice(engine.end)}`;
    const localHead = nameText.replace(new RegExp(`\\b(${esc(db)}\\.)?${esc(head.name)}$`), `$1${local}`);
    // `CREATE TABLE t AS <db>.other ENGINE …`: the local table is shaped like the other's local table
    const localRest = toLocal(body.slice(head.end), layout);
    return [
      `${localHead} ${on}${localRest}`,
      `${nameText} ${on} AS ${db}.${local}\nENGINE = Distributed(${cluster}, ${db}, ${local}, ${key})`,
    ];
  }
  const alter = new RegExp(`^ALTER\\s+TABLE\\s+(?:${esc(db)}\\.)?(\\w+)\\s+([\\s\\S]*)$`, 'i').exec(stmt);
  if (alter) {
    const [, t, actions] = alter as unknown as [string, string, string];
    if (!layout.sharded.has(t)) return [`ALTER TABLE ${db}.${t} ${on} ${actions}`];
    const kinds = alterActions(actions).map((a) => COLUMN_ACTION.test(a));
    if (kinds.some((k) => k) && kinds.some((k) => !k))
      throw new ClusterRenderError(
        'split column and non-column actions of a sharded table into separate ALTERs',
        stmt,
      );
    const local = `ALTER TABLE ${db}.${localName(t)} ${on} ${actions}`;
    // the Distributed table carries the columns, not indexes / TTL / settings
    return kinds.every((k) => k) ? [local, `ALTER TABLE ${db}.${t} ${on} ${actions}`] : [local];
  }
  const drop = new RegExp(
    `^DROP\\s+(TABLE|VIEW|DICTIONARY)\\s+(IF\\s+EXISTS\\s+)?(?:${esc(db)}\\.)?(\\w+)\\s*(SYNC)?$`,
    'i',
  ).exec(stmt);
  if (drop) {
    const [, kind, ifExists = '', t, sync] = drop as unknown as [string, string, string, string, string?];
    const one = (name: string) =>
      `DROP ${kind.toUpperCase()} ${ifExists}${db}.${name} ${on}${sync ? ' SYNC' : ''}`;
    return layout.sharded.has(t) ? [one(t), one(localName(t))] : [one(t)];
  }
  const truncate = new RegExp(`^TRUNCATE\\s+TABLE\\s+(IF\\s+EXISTS\\s+)?(?:${esc(db)}\\.)?(\\w+)$`, 'i').exec(
    stmt,
  );
  if (truncate) {
    const [, ifExists = '', t] = truncate as unknown as [string, string, string];
    return [`TRUNCATE TABLE ${ifExists}${db}.${layout.sharded.has(t) ? localName(t) : t} ${on}`];
  }
  // data statements run once, on the node the migrator talks to: Distributed / replicated tables spread them
  if (/^INSERT\s+INTO\b/i.test(stmt)) return [stmt];
  throw new ClusterRenderError('cluster rendering does not know this statement form', stmt);
}
