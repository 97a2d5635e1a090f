// One chDB session per process (chDB allows one data directory per process), with every call serialised
// through a queue so that the HTTP front, the OTLP receiver and the loaders never race on the session.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';

export interface QueryResult {
  bytes: Uint8Array;
  rowsRead: number;
  bytesRead: number;
  elapsed: number;
}

export class ChdbError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'ChdbError';
  }
}

let openStore: ChdbStore | undefined;

/** Normalises a chDB error into ClickHouse's "Code: N. DB::Exception: ..." form and numeric code. */
export function toChdbError(err: unknown): ChdbError {
  const raw = String((err as { message?: unknown })?.message ?? err);
  const codeField = (err as { clickhouseCode?: unknown })?.clickhouseCode;
  const m = /Code: (\d+)\. (DB::Exception: [\s\S]*)$/.exec(raw);
  const code = typeof codeField === 'number' && codeField > 0 ? codeField : m ? Number(m[1]) : 1001;
  const text = m ? `Code: ${m[1]}. ${m[2]}` : `Code: ${code}. DB::Exception: ${raw}`;
  return new ChdbError(text.trim(), code);
}

/** `database` for statements that do not depend on the current database (parse-only): no USE is issued. */
export const ANY_DATABASE = '\u0000any';

export class ChdbStore {
  readonly session: Session;
  private chain: Promise<unknown> = Promise.resolve();
  private currentDb = 'default';
  private closed = false;
  private readonly scratchDir: string;
  private scratchSeq = 0;

  constructor(readonly dataDir: string) {
    if (openStore && !openStore.closed) {
      throw new Error(`chDB allows one data directory per process; ${openStore.dataDir} is open`);
    }
    mkdirSync(dataDir, { recursive: true });
    // ClickHouse server defaults that chDB (clickhouse-local) does not share: 64-bit integers quoted in
    // JSON output (what @clickhouse/client and Grafana expect).
    this.session = new Session(dataDir, { connectionArgs: ['--output_format_json_quote_64bit_integers=1'] });
    this.scratchDir = join(tmpdir(), `mp-otel-chdb-${process.pid}-${Date.now()}`);
    openStore = this;
  }

  /** Runs fn exclusively on the session (FIFO). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Runs one SQL statement; `database` switches the session's current database first. */
  query(
    sql: string,
    format = 'TabSeparated',
    database?: string,
    params?: Record<string, string>,
  ): Promise<QueryResult> {
    return this.exclusive(async () => {
      if (this.closed) throw new ChdbError('Code: 1002. DB::Exception: store is closed', 1002);
      try {
        const db =
          database === ANY_DATABASE ? this.currentDb : database && database !== '' ? database : 'default';
        if (db !== this.currentDb) {
          await this.session.queryAsync(`USE ${quoteIdent(db)}`);
          this.currentDb = db;
        }
        const r =
          params && Object.keys(params).length > 0
            ? await this.session.queryBindAsync(sql, params, { format })
            : await this.session.queryAsync(sql, { format });
        return { bytes: r.bytes(), rowsRead: r.rowsRead, bytesRead: r.bytesRead, elapsed: r.elapsed };
      } catch (err) {
        throw toChdbError(err);
      }
    });
  }

  /**
   * `<insertHead> FORMAT <format>` with `data` as its data: the data is staged in a file and read with
   * FROM INFILE, so it never passes through the SQL parser (no statement splitting; the Values format does
   * not evaluate expressions). `insertHead` must be a checked `INSERT INTO t [(cols)]` (see sql-guard.ts).
   */
  insertData(
    insertHead: string,
    format: string,
    data: Uint8Array,
    database?: string,
    /** the Values data's expressions were checked (sql-guard.ts): let the Values format evaluate them */
    valuesExpressions = false,
  ): Promise<QueryResult> {
    if (!/^[A-Za-z0-9_]+$/.test(format))
      throw new ChdbError(`Code: 73. DB::Exception: Unknown format ${format}`, 73);
    mkdirSync(this.scratchDir, { recursive: true, mode: 0o700 });
    const file = join(this.scratchDir, `in-${++this.scratchSeq}.data`);
    writeFileSync(file, data, { mode: 0o600 });
    const sql = `${insertHead} FROM INFILE '${file.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}' SETTINGS input_format_values_interpret_expressions = ${valuesExpressions ? 1 : 0}, input_format_values_deduce_templates_of_expressions = ${valuesExpressions ? 1 : 0} FORMAT ${format}`;
    return this.query(sql, 'TabSeparated', database).finally(() => rmSync(file, { force: true }));
  }

  /** Inserts newline-delimited JSON rows into a table (used by the OTLP receiver). */
  insertJSONEachRow(table: string, payload: string): Promise<void> {
    return this.exclusive(async () => {
      if (this.closed) throw new ChdbError('Code: 1002. DB::Exception: store is closed', 1002);
      try {
        await this.session.insert({ table, values: Buffer.from(payload), format: 'JSONEachRow' });
      } catch (err) {
        throw toChdbError(err);
      }
    });
  }

  async close(): Promise<void> {
    await this.exclusive(async () => {
      if (this.closed) return;
      this.closed = true;
      this.session.close();
      rmSync(this.scratchDir, { recursive: true, force: true });
    });
    if (openStore === this) openStore = undefined;
  }
}

export function quoteIdent(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)
    ? name
    : `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}
