// What a statement sent to the embedded SQL endpoint may do, decided with ClickHouse's own parser (chDB):
//  1. `SELECT formatQuery({q:String})` (the text bound as a parameter, never spliced) parses exactly one
//     statement — multi-statements are a syntax error — and gives its canonical text S;
//  2. `EXPLAIN AST S` gives the tree: statement kind, every Function node (table functions, scalar
//     functions, storage and database engines, dictionary sources), table references;
//  3. the canonical text S (no comments, one spelling) is tokenised for what EXPLAIN AST does not show:
//     SETTINGS names and values, INTO OUTFILE / FROM INFILE, dictionary HOST/PORT.
// What runs is S itself (or, for an INSERT with data, S's head reading the data from a scratch file with
// FROM INFILE), so what was checked is what executes. Inline INSERT data never reaches the SQL parser:
// ClickHouse's multi-statement splitter would otherwise run `INSERT INTO t VALUES (1); SELECT …` twice
// over, and the Values format evaluates expressions such as file('/etc/passwd').
import { ANY_DATABASE, type ChdbStore } from './chdb-store.js';

export type Role = 'admin' | 'migrator' | 'reader' | 'writer';

export class SqlGuardError extends Error {
  constructor(
    message: string,
    readonly code: number,
    readonly status: number,
  ) {
    super(message);
    this.name = 'SqlGuardError';
  }
}

/** ClickHouse error codes used in refusals. */
export const CODE = {
  SYNTAX_ERROR: 62,
  READONLY: 164,
  ACCESS_DENIED: 497,
  AUTHENTICATION_FAILED: 516,
  QUERY_IS_TOO_LARGE: 393,
  NOT_IMPLEMENTED: 48,
} as const;

const accessDenied = (user: string, what: string) =>
  new SqlGuardError(
    `Code: ${CODE.ACCESS_DENIED}. DB::Exception: ${user}: Not enough privileges. ${what}. (ACCESS_DENIED)`,
    CODE.ACCESS_DENIED,
    403,
  );
const readonlyRefusal = (what: string) =>
  new SqlGuardError(
    `Code: ${CODE.READONLY}. DB::Exception: ${what}: Cannot execute query in readonly mode. (READONLY)`,
    CODE.READONLY,
    403,
  );
const forbidden = (what: string) =>
  new SqlGuardError(
    `Code: ${CODE.ACCESS_DENIED}. DB::Exception: ${what} is not allowed through the mp-otel SQL endpoint (it would read or write files, reach the network or change the shared session). (ACCESS_DENIED)`,
    CODE.ACCESS_DENIED,
    403,
  );

// ---------------------------------------------------------------------------------------------------------
// Deny and allow lists. Names compare lower-cased (ClickHouse registers some functions case-insensitively).

/** Table functions that stay allowed (no file, network, process or unbounded generator behind them). */
const TABLE_FUNCTION_ALLOW = new Set(
  [
    'numbers',
    'numbers_mt',
    'zeros',
    'zeros_mt',
    'values',
    'null',
    'view',
    'viewIfPermitted',
    'merge',
    'generate_series',
    'generateSeries',
    'format',
    'mergeTreeIndex',
    'mergeTreeProjection',
    'mergeTreeAnalyzeIndexes',
  ].map((s) => s.toLowerCase()),
);

/**
 * Functions refused everywhere (as table functions, scalar functions, engines or dictionary sources).
 * Every table function the engine has that is not in TABLE_FUNCTION_ALLOW is added at run time from
 * system.table_functions; this static list is the floor if that lookup ever fails.
 */
const STATIC_DENY = [
  // files, processes
  'file',
  'fileCluster',
  'executable',
  'executablePool',
  'input',
  'filesystem',
  'catboostEvaluate',
  'disk',
  'reverseDNSQuery',
  'infile',
  // network
  'url',
  'urlCluster',
  's3',
  's3Cluster',
  'gcs',
  'cosn',
  'oss',
  'azureBlobStorage',
  'azureBlobStorageCluster',
  'hdfs',
  'hdfsCluster',
  'hive',
  'remote',
  'remoteSecure',
  'cluster',
  'clusterAllReplicas',
  'mysql',
  'postgresql',
  'sqlite',
  'mongodb',
  'redis',
  'odbc',
  'jdbc',
  'http',
  'ytsaurus',
  'arrowFlight',
  'arrowflight',
  'iceberg',
  'icebergS3',
  'icebergAzure',
  'icebergHDFS',
  'icebergLocal',
  'deltaLake',
  'deltaLakeLocal',
  'hudi',
  'paimon',
  'kafka',
  'prometheusQuery',
  // dictionaries read through a source the statement does not show
  'dictionary',
  // unbounded or pathological cost
  'loop',
  'generateRandom',
  'fuzzJSON',
  'fuzzQuery',
].map((s) => s.toLowerCase());

/** Storage and database engines a CREATE may use (everything else: File, URL, S3, Kafka, Filesystem…). */
const ENGINE_ALLOW =
  /^(?:(?:Replacing|Summing|Aggregating|Collapsing|VersionedCollapsing|Graphite|Coalescing)?MergeTree|Memory|Null|Log|TinyLog|StripeLog|Buffer|Merge|Set|Join|Atomic|Ordinary)$/;

/** Settings a read-only or insert-only user may change in a SETTINGS clause (readonly=2-like). */
const USER_SETTINGS_ALLOW =
  /^(?:async_insert|wait_for_async_insert|async_insert_[a-z0-9_]+|insert_deduplicate|max_insert_block_size|max_threads|max_block_size|max_execution_time|timeout_overflow_mode|max_result_rows|max_result_bytes|result_overflow_mode|max_rows_to_read|max_bytes_to_read|read_overflow_mode|max_rows_to_group_by|group_by_overflow_mode|max_memory_usage|join_use_nulls|enable_analyzer|allow_experimental_analyzer|date_time_output_format|date_time_input_format|output_format_[a-z0-9_]+|input_format_[a-z0-9_]+|optimize_[a-z0-9_]+|use_query_cache|final|prefer_column_name_to_alias|aggregate_functions_null_for_empty|joined_subquery_requires_alias|limit|offset)$/;

/** Settings nobody may set through the endpoint (they re-enable what the guard refuses). */
/**
 * Settings the administrator and the migrator may also set: table settings of the MergeTree family and
 * query tuning. An allow-list, because some settings carry SQL in a string (additional_table_filters,
 * additional_result_filter), change the dialect or the default engine, or name files.
 */
const ADMIN_SETTINGS_ALLOW =
  /^(?:index_granularity(?:_bytes)?|ttl_only_drop_parts|replicated_deduplication_window(?:_seconds)?|non_replicated_deduplication_window|merge_with_(?:ttl|recompression_ttl)_timeout|min_(?:bytes|rows)_for_(?:wide|compact)_part|parts_to_(?:delay|throw)_insert|max_parts_in_total|old_parts_lifetime|max_suspicious_broken_parts|enable_mixed_granularity_parts|mutations_sync|alter_sync|lightweight_deletes_sync|insert_[a-z0-9_]+|max_[a-z0-9_]+|min_insert_block_size_[a-z0-9_]+|join_[a-z0-9_]+|distributed_aggregation_memory_efficient|group_by_two_level_threshold(?:_bytes)?|send_logs_level|log_comment|materialize_ttl_after_modify)$/;

const SETTINGS_DENY =
  /^(?:additional_[a-z0-9_]*|dialect|default_[a-z0-9_]*engine|allow_[a-z0-9_]*|.*dns.*|.*http.*|.*proxy.*|format_template_[a-z0-9_]*|format_schema[a-z0-9_]*|output_format_schema|.*file.*|.*schema_cache.*|readonly|allow_ddl|allow_introspection_functions|disk|storage_policy|allow_experimental_[a-z0-9_]*|allow_suspicious_[a-z0-9_]*|.*path.*|.*executable.*|.*_url.*|remote_[a-z0-9_]*|s3_[a-z0-9_]*|hdfs_[a-z0-9_]*|azure_[a-z0-9_]*|input_format_values_interpret_expressions|input_format_values_deduce_templates_of_expressions)$/;

/** Statement kinds (the first line of EXPLAIN AST) per role. */
const READ_KINDS = new Set([
  'SelectWithUnionQuery',
  'SelectIntersectExceptQuery',
  'ShowTables',
  'ShowColumns',
  'ShowCreateTableQuery',
  'ShowCreateDatabaseQuery',
  'ShowCreateViewQuery',
  'ShowCreateDictionaryQuery',
  'ShowIndexes',
  'ShowEnginesQuery',
  'ShowFunctionsQuery',
  'ShowSettingQuery',
  'DescribeQuery',
  'ExistsTableQuery',
  'ExistsDatabaseQuery',
  'ExistsDictionaryQuery',
  'ExistsViewQuery',
  'Explain',
]);
const DDL_KINDS = new Set([
  'CreateQuery',
  'AlterQuery',
  'DropQuery',
  'TruncateQuery',
  'Rename',
  'OptimizeQuery',
  'DeleteQuery',
  'CheckQuery',
  'UndropQuery',
  'CreateSQLFunctionQuery',
  'DropFunctionQuery',
]);
const ADMIN_KINDS = new Set(['KillQueryQuery', 'ShowProcesslistQuery']);

// ---------------------------------------------------------------------------------------------------------
// A tokenizer for ClickHouse SQL text: quotes, backquotes, comments, brackets. Used on the canonical text
// (and, for INSERT, to find where inline data starts; the split is then verified by the parser).

export interface Token {
  kind: 'word' | 'quoted' | 'ident' | 'number' | 'punct';
  text: string;
  start: number;
  end: number;
  depth: number;
}

export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let depth = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '-' && sql[i + 1] === '-') {
      while (i < n && sql[i] !== '\n') i++;
      continue;
    }
    if (c === '#' && (sql[i + 1] === ' ' || sql[i + 1] === '!')) {
      while (i < n && sql[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      const e = sql.indexOf('*/', i + 2);
      i = e < 0 ? n : e + 2;
      continue;
    }
    const start = i;
    if (c === "'" || c === '"' || c === '`') {
      i++;
      while (i < n) {
        if (sql[i] === '\\') i += 2;
        else if (sql[i] === c && sql[i + 1] === c) i += 2;
        else if (sql[i] === c) {
          i++;
          break;
        } else i++;
      }
      out.push({ kind: c === "'" ? 'quoted' : 'ident', text: sql.slice(start, i), start, end: i, depth });
      continue;
    }
    if (/[A-Za-z_$]/.test(c)) {
      while (i < n && /[A-Za-z0-9_$]/.test(sql[i]!)) i++;
      out.push({ kind: 'word', text: sql.slice(start, i), start, end: i, depth });
      continue;
    }
    if (/[0-9]/.test(c)) {
      while (i < n && /[0-9A-Za-z_.]/.test(sql[i]!)) i++;
      out.push({ kind: 'number', text: sql.slice(start, i), start, end: i, depth });
      continue;
    }
    if (c === '(' || c === '[' || c === '{') {
      out.push({ kind: 'punct', text: c, start, end: i + 1, depth });
      depth++;
      i++;
      continue;
    }
    if (c === ')' || c === ']' || c === '}') {
      depth = Math.max(0, depth - 1);
      out.push({ kind: 'punct', text: c, start, end: i + 1, depth });
      i++;
      continue;
    }
    out.push({ kind: 'punct', text: c, start, end: i + 1, depth });
    i++;
  }
  return out;
}

const isWord = (t: Token | undefined, w: string) => t?.kind === 'word' && t.text.toUpperCase() === w;
const unquote = (t: Token) =>
  t.kind === 'ident'
    ? t.text
        .slice(1, -1)
        .replace(/``|\\`/g, '`')
        .replace(/""|\\"/g, '"')
    : t.text;

/**
 * Where the inline data of an `INSERT … FORMAT X <data>` / `INSERT … VALUES <data>` starts, if the text
 * is one: the position right after `FORMAT X` / `VALUES` at bracket depth 0. Only a candidate — the caller
 * verifies with the parser that the head alone is an INSERT without SELECT.
 */
export function insertDataSplit(sql: string): { head: string; dataStart: number } | undefined {
  const toks = tokenize(sql);
  if (!isWord(toks[0], 'INSERT')) return undefined;
  for (let k = 1; k < toks.length; k++) {
    const t = toks[k]!;
    if (t.depth !== 0) continue;
    if (isWord(t, 'SELECT') || isWord(t, 'WITH')) return undefined;
    if (
      isWord(t, 'FORMAT') &&
      toks[k + 1] &&
      (toks[k + 1]!.kind === 'word' || toks[k + 1]!.kind === 'ident')
    ) {
      const end = toks[k + 1]!.end;
      return { head: sql.slice(0, end), dataStart: end + dataLead(sql.slice(end)) };
    }
    if (isWord(t, 'VALUES')) {
      return { head: `${sql.slice(0, t.start)}FORMAT Values`, dataStart: t.end };
    }
  }
  return undefined;
}

/** ClickHouse skips whitespace up to and including the first newline between `FORMAT X` and the data. */
function dataLead(rest: string): number {
  const m = /^[ \t]*\r?\n?/.exec(rest);
  return m ? m[0].length : 0;
}

// ---------------------------------------------------------------------------------------------------------
// EXPLAIN AST output: one node a line, indented by one space a level: `<Type> [name…] [(alias a)] [(children N)]`.

export interface AstNode {
  type: string;
  name: string;
  depth: number;
  parent?: AstNode;
  /** position among the parent's children */
  index: number;
  children: number;
}

export function parseExplainAst(text: string): AstNode[] {
  const nodes: AstNode[] = [];
  const stack: AstNode[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const depth = line.length - line.trimStart().length;
    const body = line
      .trim()
      .replace(/\s*\(children \d+\)$/, '')
      .replace(/\s*\(alias [^)]*\)$/, '');
    // multi-word node types
    const m =
      /^(SYSTEM query|Storage definition|Columns definition|Dictionary definition|Dictionary lifetime|Dictionary layout|Dictionary range|Dictionary settings)\b\s*(.*)$/.exec(
        body,
      ) ?? /^(\S+)\s*(.*)$/.exec(body);
    const node: AstNode = { type: m?.[1] ?? body, name: (m?.[2] ?? '').trim(), depth, index: 0, children: 0 };
    while (stack.length > 0 && stack[stack.length - 1]!.depth >= depth) stack.pop();
    node.parent = stack[stack.length - 1];
    if (node.parent) node.index = node.parent.children++;
    stack.push(node);
    nodes.push(node);
  }
  return nodes;
}

// ---------------------------------------------------------------------------------------------------------

export interface GuardContext {
  role: Role;
  user: string;
  /** GET requests: read-only whatever the role (as a ClickHouse server does). */
  readOnly: boolean;
}

export type GuardedStatement =
  | {
      kind: 'query';
      sql: string;
      statement: string;
      /** a statement that changes nothing (a READ_KINDS kind): it may run on the store's read lane */
      read: boolean;
    }
  | {
      kind: 'insert';
      /** canonical `INSERT INTO t (cols)` without FORMAT */
      head: string;
      format: string;
      data: Buffer;
      statement: string;
      /**
       * Values data whose expressions were checked like a statement (`SELECT <data>` through the parser and
       * the function rules): may be read with expression interpretation on. Otherwise literals only.
       */
      valuesExpressions: boolean;
    };

/** Largest statement text (inline INSERT data excluded) the guard parses, as ClickHouse's max_query_size. */
export const MAX_QUERY_SIZE = 1024 * 1024;

export class SqlGuard {
  private deny: Set<string> | undefined;
  private readonly cache = new Map<string, { canonical: string; ast: AstNode[] }>();

  constructor(private readonly store: ChdbStore) {}

  private async denySet(): Promise<Set<string>> {
    if (this.deny) return this.deny;
    const deny = new Set(STATIC_DENY);
    try {
      const r = await this.store.query(
        'SELECT name FROM system.table_functions',
        'TabSeparatedRaw',
        ANY_DATABASE,
        undefined,
        'read',
      );
      for (const name of Buffer.from(r.bytes).toString('utf8').split('\n')) {
        const n = name.trim().toLowerCase();
        if (n && !TABLE_FUNCTION_ALLOW.has(n)) deny.add(n);
      }
    } catch {
      // keep the static floor
    }
    this.deny = deny;
    return deny;
  }

  /** Canonical text and AST of exactly one statement (parse only: nothing is executed). */
  private async parse(sql: string, params: Record<string, string>) {
    const key = `${sql}\u0000${JSON.stringify(params)}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    if (Buffer.byteLength(sql) > MAX_QUERY_SIZE)
      throw new SqlGuardError(
        `Code: ${CODE.QUERY_IS_TOO_LARGE}. DB::Exception: Query is too large (${Buffer.byteLength(sql)} bytes; max_query_size = ${MAX_QUERY_SIZE}). Send INSERT data in the request body with the INSERT in the query parameter. (QUERY_IS_TOO_LARGE)`,
        CODE.QUERY_IS_TOO_LARGE,
        400,
      );
    const f = await this.store
      .query('SELECT formatQuery({q:String})', 'TabSeparatedRaw', ANY_DATABASE, { q: sql }, 'read')
      .catch((err: Error & { code?: number }) => {
        // the user's text was parsed inside formatQuery(): report the error as about their statement
        err.message = err.message.replace(/: In scope SELECT formatQuery\([\s\S]*\)\. \(/, '. (');
        throw err;
      });
    const canonical = Buffer.from(f.bytes).toString('utf8').replace(/\n$/, '');
    if (canonical.trim() === '')
      throw new SqlGuardError('Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)', CODE.SYNTAX_ERROR, 400);
    // the formatter prints one statement; a `;` outside literals would mean it did not
    if (tokenize(canonical).some((t) => t.kind === 'punct' && t.text === ';'))
      throw new SqlGuardError(
        'Code: 62. DB::Exception: Syntax error (Multi-statements are not allowed). (SYNTAX_ERROR)',
        CODE.SYNTAX_ERROR,
        400,
      );
    const e = await this.store.query(
      `EXPLAIN AST ${canonical}`,
      'TabSeparatedRaw',
      ANY_DATABASE,
      params,
      'read',
    );
    const ast = parseExplainAst(Buffer.from(e.bytes).toString('utf8'));
    const out = { canonical, ast };
    // remember small statements only (dashboards repeat theirs), so the cache stays a few MB at most
    if (key.length <= 16 * 1024) {
      if (this.cache.size >= 500) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(key, out);
    }
    return out;
  }

  /**
   * Checks one request's SQL for the caller's role. `text` is the statement (possibly followed by inline
   * INSERT data); `data` is INSERT data sent separately (the request body when the query is in the URL).
   */
  async check(
    text: string,
    params: Record<string, string>,
    ctx: GuardContext,
    data?: Buffer,
    /** the bytes `text` was decoded from (inline binary data is cut from these, not from the string) */
    textBytes?: Buffer,
  ): Promise<GuardedStatement> {
    const split = insertDataSplit(text);
    if (split) {
      const { canonical, ast } = await this.parse(split.head, params);
      const root = ast[0];
      const hasSelect = ast.some((n) => n.type === 'SelectWithUnionQuery');
      const fm = /\nFORMAT ([A-Za-z0-9_]+)$|^(INSERT INTO [\s\S]*) FORMAT ([A-Za-z0-9_]+)$/.exec(canonical);
      if (root?.type === 'InsertQuery' && !hasSelect && fm) {
        const format = (fm[1] ?? fm[3])!;
        let head = canonical.slice(0, canonical.length - `FORMAT ${format}`.length).trimEnd();
        await this.verify(canonical, ast, ctx, 'insert-data');
        // an INSERT's own SETTINGS (async_insert…, checked above) are ignored, as URL settings are:
        // the data is read with the endpoint's fixed settings
        const st = tokenize(head).find((t) => t.depth === 0 && isWord(t, 'SETTINGS'));
        if (st) head = head.slice(0, st.start).trimEnd();
        const inline = textBytes
          ? textBytes.subarray(Buffer.byteLength(text.slice(0, split.dataStart)))
          : Buffer.from(text.slice(split.dataStart), 'utf8');
        const all =
          data && data.length > 0
            ? inline.length > 0
              ? Buffer.concat([inline, Buffer.from('\n'), data])
              : data
            : inline;
        const valuesExpressions = /^values$/i.test(format) && (await this.checkValuesData(all, params));
        return { kind: 'insert', head, format, data: all, statement: canonical, valuesExpressions };
      }
    }
    const whole = data && data.length > 0 ? `${text}\n${data.toString('utf8')}` : text;
    const { canonical, ast } = await this.parse(whole, params);
    const root = ast[0];
    if (root?.type === 'InsertQuery' && !ast.some((n) => n.type === 'SelectWithUnionQuery'))
      throw new SqlGuardError(
        'Code: 62. DB::Exception: Cannot find where the data of this INSERT starts; put `INSERT INTO t FORMAT X` in the query parameter and the data in the body. (SYNTAX_ERROR)',
        CODE.SYNTAX_ERROR,
        400,
      );
    await this.verify(canonical, ast, ctx, 'statement');
    return { kind: 'query', sql: canonical, statement: canonical, read: READ_KINDS.has(root?.type ?? '') };
  }

  /**
   * The Values format evaluates expressions in its data (`VALUES (toUInt32(toIPv4('1.0.0.0')))`, but also
   * `VALUES (file('/etc/passwd'))`). Data up to MAX_QUERY_SIZE is parsed as `SELECT <data>` by ClickHouse's
   * parser — one statement, no table references, no refused function — and then may use expressions;
   * larger data is read as literals only. Returns whether expressions may be interpreted.
   */
  private async checkValuesData(data: Buffer, params: Record<string, string>): Promise<boolean> {
    if (data.length > MAX_QUERY_SIZE) return false;
    const text = data.toString('utf8').replace(/;\s*$/, '');
    if (text.trim() === '') return false;
    const { ast, canonical } = await this.parse(`SELECT ${text}`, params).catch((err: Error) => {
      if (err instanceof SqlGuardError) throw err;
      throw new SqlGuardError(
        `Code: ${CODE.SYNTAX_ERROR}. DB::Exception: VALUES data must be rows of expressions separated by commas (${err.message.replace(/^Code: \d+\. DB::Exception: /, '').slice(0, 300)}); send other data with FORMAT JSONEachRow. (SYNTAX_ERROR)`,
        CODE.SYNTAX_ERROR,
        400,
      );
    });
    if (ast[0]?.type !== 'SelectWithUnionQuery' || ast.some((n) => n.type === 'TableExpression'))
      throw forbidden('a table reference inside VALUES data');
    const deny = await this.denySet();
    for (const n of ast)
      if (
        (n.type === 'Function' || n.type === 'FunctionWithKeyValueArguments') &&
        deny.has(n.name.split(/\s+/)[0]!.toLowerCase())
      )
        throw forbidden(`${n.name.split(/\s+/)[0]}() inside VALUES data`);
    const toks = tokenize(canonical);
    for (let k = 0; k + 1 < toks.length; k++) {
      const t = toks[k]!;
      if (
        (t.kind === 'word' || t.kind === 'ident') &&
        toks[k + 1]!.text === '(' &&
        deny.has(unquote(t).toLowerCase())
      )
        throw forbidden(`${unquote(t)}() inside VALUES data`);
    }
    if (settingNames(toks).length > 0) throw forbidden('SETTINGS inside VALUES data');
    return true;
  }

  private async verify(
    canonical: string,
    ast: AstNode[],
    ctx: GuardContext,
    mode: 'insert-data' | 'statement',
  ): Promise<void> {
    const root = ast[0];
    if (!root) throw new SqlGuardError('Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)', 62, 400);
    const kind = root.type;
    const toks = tokenize(canonical);
    const deny = await this.denySet();

    // 1. statement kinds nobody may run here
    if (kind === 'SYSTEM query') {
      if (!/^SYSTEM RELOAD DICTIONARY [A-Za-z0-9_.`]+$/.test(canonical)) throw forbidden('SYSTEM');
    } else if (
      [
        'Set',
        'UseQuery',
        'AttachQuery',
        'DetachQuery',
        'BackupQuery',
        'RestoreQuery',
        'ASTTransactionControl',
        'GrantQuery',
        'CreateUserQuery',
        'CreateRoleQuery',
        'CreateQuotaQuery',
        'CreateRowPolicyQuery',
        'CreateSettingsProfileQuery',
        'CreateNamedCollectionQuery',
        'AlterNamedCollectionQuery',
        'DropNamedCollectionQuery',
        'DropAccessEntityQuery',
        'MoveAccessEntityQuery',
        'ShowGrantsQuery',
        'ShowAccessQuery',
        'ShowCreateAccessEntityQuery',
      ].includes(kind) ||
      /^(?:ATTACH|DETACH|BACKUP|RESTORE)\b/i.test(canonical)
    ) {
      throw forbidden(kind === 'UseQuery' ? 'USE (the session is shared; pass ?database=)' : kind);
    }

    // 2. files: INTO OUTFILE, FROM INFILE
    for (let k = 0; k + 1 < toks.length; k++) {
      if (isWord(toks[k], 'INTO') && isWord(toks[k + 1], 'OUTFILE')) throw forbidden('INTO OUTFILE');
      if (isWord(toks[k], 'FROM') && isWord(toks[k + 1], 'INFILE')) throw forbidden('FROM INFILE');
    }

    // 3. functions, engines, dictionary sources — from the AST, and every `name(` in the canonical text
    //    (settings values such as disk(...) do not appear in EXPLAIN AST)
    for (const n of ast) {
      if (n.type === 'Function' || n.type === 'FunctionWithKeyValueArguments') {
        const name = n.name.split(/\s+/)[0]!.replace(/^`|`$/g, '');
        if (deny.has(name.toLowerCase())) throw forbidden(`${name}()`);
        // the engine is the first child of a Storage definition (PARTITION BY, ORDER BY… follow)
        if (n.parent?.type === 'Storage definition' && n.index === 0 && !ENGINE_ALLOW.test(name))
          throw forbidden(`ENGINE = ${name}`);
        if (n.type === 'FunctionWithKeyValueArguments' && n.parent?.type === 'Dictionary definition') {
          if (name.toLowerCase() !== 'clickhouse')
            throw forbidden(`dictionary SOURCE(${name.toUpperCase()})`);
        }
      }
    }
    for (let k = 0; k + 1 < toks.length; k++) {
      const t = toks[k]!;
      if ((t.kind === 'word' || t.kind === 'ident') && toks[k + 1]!.text === '(') {
        const name = unquote(t);
        if (deny.has(name.toLowerCase())) throw forbidden(`${name}()`);
      }
      if (kind === 'CreateQuery' && (isWord(t, 'HOST') || isWord(t, 'PORT')) && toks[k + 1]!.kind !== 'punct')
        throw forbidden('a dictionary source with HOST/PORT');
    }

    // 4. settings
    const settings = settingNames(toks);
    const restricted = ctx.role === 'reader' || ctx.role === 'writer' || ctx.readOnly;
    for (const s of settings) {
      const n = s.toLowerCase();
      if (SETTINGS_DENY.test(n)) throw forbidden(`setting ${s}`);
      if (USER_SETTINGS_ALLOW.test(n)) continue;
      if (restricted) throw readonlyRefusal(`Cannot modify '${s}' setting in readonly mode`);
      if (!ADMIN_SETTINGS_ALLOW.test(n)) throw forbidden(`setting ${s} (not on the endpoint's allow-list)`);
    }

    // 4b. SQL inside string literals that ClickHouse runs later: a CLICKHOUSE dictionary source's QUERY,
    //     WHERE and INVALIDATE_QUERY. Each is checked as a read-only statement of this user.
    if (kind === 'CreateQuery' && toks.some((t) => isWord(t, 'DICTIONARY'))) {
      for (let k = 0; k + 1 < toks.length; k++) {
        const key = toks[k]!;
        const lit = toks[k + 1]!;
        if (key.kind !== 'word' || lit.kind !== 'quoted') continue;
        const w = key.text.toUpperCase();
        if (w !== 'QUERY' && w !== 'WHERE' && w !== 'INVALIDATE_QUERY') continue;
        // ClickHouse itself reads the literal's value (its escaping rules, not a re-implementation)
        const r = await this.store.query(
          `SELECT ${lit.text}`,
          'TabSeparatedRaw',
          ANY_DATABASE,
          undefined,
          'read',
        );
        const inner = Buffer.from(r.bytes).toString('utf8').replace(/\n$/, '');
        const stmt = w === 'WHERE' ? `SELECT 1 WHERE ${inner}` : inner;
        const parsed = await this.parse(stmt, {});
        await this.verify(parsed.canonical, parsed.ast, { ...ctx, readOnly: true }, 'statement');
      }
    }

    // 5. the role's statement kinds
    const tables = ast.filter((n) => n.type === 'TableIdentifier' || n.type === 'TableExpression');
    const isRead = READ_KINDS.has(kind);
    if (ctx.readOnly && !isRead) throw readonlyRefusal('GET requests are read-only (use POST)');
    switch (ctx.role) {
      case 'reader':
        if (!isRead) throw readonlyRefusal(`${ctx.user} is a read-only user`);
        return;
      case 'writer': {
        if (kind === 'InsertQuery' && mode === 'insert-data') return;
        if (
          (kind === 'DescribeQuery' || kind.startsWith('Exists')) &&
          !ast.some((n) => n.type === 'Function')
        )
          return;
        if ((kind === 'SelectWithUnionQuery' || kind === 'SelectIntersectExceptQuery') && tables.length === 0)
          return;
        throw accessDenied(
          ctx.user,
          kind === 'InsertQuery'
            ? 'An insert-only user may INSERT data, not INSERT … SELECT'
            : isRead
              ? 'An insert-only user cannot read tables'
              : `An insert-only user cannot run ${kind}`,
        );
      }
      case 'migrator':
      case 'admin':
        if (isRead || kind === 'InsertQuery' || DDL_KINDS.has(kind) || kind === 'SYSTEM query') return;
        if (ctx.role === 'admin' && ADMIN_KINDS.has(kind)) return;
        throw accessDenied(ctx.user, `${kind} is not allowed for this user`);
    }
  }
}

/** Setting names in SETTINGS clauses (and dictionary SETTINGS(...)) of a canonical statement. */
export function settingNames(toks: Token[]): string[] {
  const names: string[] = [];
  for (let k = 0; k < toks.length; k++) {
    // SETTINGS clauses, and ALTER TABLE … MODIFY SETTING
    if (!isWord(toks[k], 'SETTINGS') && !(isWord(toks[k], 'SETTING') && isWord(toks[k - 1], 'MODIFY')))
      continue;
    let j = k + 1;
    if (toks[j]?.text === '(') j++;
    for (;;) {
      const name = toks[j];
      if (!name || (name.kind !== 'word' && name.kind !== 'ident') || toks[j + 1]?.text !== '=') break;
      names.push(unquote(name));
      j += 2;
      // skip one value: a literal, a signed number, a word with an optional (...) or a bracketed term
      const depth0 = toks[j]?.depth ?? 0;
      if (toks[j]?.text === '-' || toks[j]?.text === '+') j++;
      const v = toks[j];
      if (!v) break;
      j++;
      if (v.text === '(' || v.text === '[' || v.text === '{' || toks[j]?.text === '(') {
        if (v.text !== '(' && v.text !== '[' && v.text !== '{') j++;
        while (j < toks.length && !(toks[j]!.depth === depth0 && /[)\]}]/.test(toks[j]!.text))) j++;
        j++;
      }
      if (toks[j]?.text !== ',') break;
      j++;
    }
  }
  return names;
}
