// One chDB data directory per process (chDB allows one), reached through two sessions ("lanes"), each with
// its calls serialised through its own queue: the write lane (ingest, DDL, loaders) and the read lane
// (read-only statements: dashboards, the console, diagnosis, the SQL guard's parsing). A dashboard query
// therefore never waits in a queue behind an INSERT, and it runs at a higher ClickHouse query `priority`
// than the write lane's statements, which the engine pauses while a higher-priority query runs, and at a
// higher OS priority (nice) than the merges and the write lane's threads (LANE_NICE).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/** Which session runs a statement: `read` only for statements that change nothing. */
export type Lane = 'read' | 'write';

/** ClickHouse's query `priority` per lane (lower = more important; 0 would mean "no priorities"). */
export const LANE_PRIORITY: Record<Lane, number> = { read: 1, write: 10 };

/**
 * Linux nice value of each lane's query threads, and of the engine's merges. `priority` only orders query
 * pipelines against each other; these order the operating system's threads, so a read also outranks the
 * merges and an INSERT's views. Writes may wait a little: what they insert is already acknowledged and
 * durable in the ingest log, and the receiver answers 503 when the backlog grows. But a nice value also
 * ranks them against every other process: at 19 (weight 15 against 1024) the store's INSERTs and DDL
 * starved beside two CPU-bound processes and 13 tests timed out, so writes sit at 5 (about a quarter of a
 * core against one busy process) and merges at 2, between (they must keep up with the parts inserts
 * create). The read lane's value is non-zero on purpose: ClickHouse sets a nice value only when it is
 * non-zero and resets it to 0 afterwards, so a pool thread created by a niced thread would otherwise keep
 * the writes' value and slow the read that lands on it. Needs CAP_SYS_NICE; without it ClickHouse ignores
 * all three (no error).
 */
export const LANE_NICE: Record<Lane, number> = { read: -1, write: 5 };
export const MERGE_NICE = 2;

/** Whether this process holds CAP_SYS_NICE (bit 23 of Linux's effective set): LANE_NICE and MERGE_NICE apply. */
export function canSetNice(): boolean {
  try {
    const eff = /CapEff:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return eff !== undefined && (BigInt(`0x${eff}`) & (1n << 23n)) !== 0n;
  } catch {
    return false; // not Linux
  }
}

interface LaneState {
  readonly session: Session;
  chain: Promise<unknown>;
  currentDb: string;
}

export class ChdbStore {
  private readonly lanes: Record<Lane, LaneState>;
  private closed = false;
  private readonly scratchDir: string;
  private scratchSeq = 0;

  constructor(readonly dataDir: string) {
    if (openStore && !openStore.closed) {
      throw new Error(`chDB allows one data directory per process; ${openStore.dataDir} is open`);
    }
    mkdirSync(dataDir, { recursive: true });
    // ClickHouse server defaults that chDB (clickhouse-local) does not share: 64-bit integers quoted in
    // JSON output (what @clickhouse/client and Grafana expect). Two connections to the same directory share
    // one engine; each keeps its own settings and current database.
    const lane = (l: Lane): LaneState => ({
      session: new Session(dataDir, {
        connectionArgs: [
          '--output_format_json_quote_64bit_integers=1',
          `--priority=${LANE_PRIORITY[l]}`,
          `--os_threads_nice_value_query=${LANE_NICE[l]}`,
          `--os_threads_nice_value_merge_mutate=${MERGE_NICE}`,
        ],
      }),
      chain: Promise.resolve(),
      currentDb: 'default',
    });
    this.lanes = { write: lane('write'), read: lane('read') };
    this.scratchDir = join(tmpdir(), `mp-otel-chdb-${process.pid}-${Date.now()}`);
    openStore = this;
  }

  /** Runs fn exclusively on one lane's session (FIFO per lane). */
  private exclusive<T>(lane: Lane, fn: (s: LaneState) => Promise<T>): Promise<T> {
    const state = this.lanes[lane];
    const go = () => fn(state);
    const run = state.chain.then(go, go);
    state.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Runs one SQL statement; `database` switches the lane's current database first. `lane` "read" is for
   * statements that change nothing (a caller that cannot tell uses the default, "write").
   */
  query(
    sql: string,
    format = 'TabSeparated',
    database?: string,
    params?: Record<string, string>,
    lane: Lane = 'write',
  ): Promise<QueryResult> {
    return this.exclusive(lane, async (l) => {
      if (this.closed) throw new ChdbError('Code: 1002. DB::Exception: store is closed', 1002);
      try {
        const db =
          database === ANY_DATABASE ? l.currentDb : database && database !== '' ? database : 'default';
        if (db !== l.currentDb) {
          await l.session.queryAsync(`USE ${quoteIdent(db)}`);
          l.currentDb = db;
        }
        const r =
          params && Object.keys(params).length > 0
            ? await l.session.queryBindAsync(sql, params, { format })
            : await l.session.queryAsync(sql, { format });
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
    return this.exclusive('write', async (l) => {
      if (this.closed) throw new ChdbError('Code: 1002. DB::Exception: store is closed', 1002);
      try {
        await l.session.insert({ table, values: Buffer.from(payload), format: 'JSONEachRow' });
      } catch (err) {
        throw toChdbError(err);
      }
    });
  }

  async close(): Promise<void> {
    // wait for both lanes' queues, then close both connections
    await this.exclusive('read', () => this.exclusive('write', async () => {}));
    if (!this.closed) {
      this.closed = true;
      this.lanes.read.session.close();
      this.lanes.write.session.close();
      rmSync(this.scratchDir, { recursive: true, force: true });
    }
    if (openStore === this) openStore = undefined;
  }
}

export function quoteIdent(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)
    ? name
    : `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}
