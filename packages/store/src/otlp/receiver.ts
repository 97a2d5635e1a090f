// OTLP/HTTP receiver (/v1/traces, /v1/logs, /v1/metrics; protobuf or JSON; gzip/deflate) writing the
// clickhouse exporter's rows into chDB. A request is decoded and turned into rows completely before any
// of it is queued, so malformed input is rejected (400) with nothing written. Rows are group-committed:
// requests that arrive while a batch is being written (or within lingerMs) share the next INSERT, up to
// maxBatchRows / maxBatchBytes; a request is answered 200 once its rows are written.
//
// Every endpoint is reachable by someone untrusted, so each request's cost is bounded in this order:
// per-peer concurrency, ingest key + quota (access.ts), the store's backlog, header/body timeouts and a
// minimum body rate (a slow upload holds no slot a well-behaved client needs), body and decompressed
// size, bytes in flight, depth/nodes/items before decoding (prescan.ts), row bytes while converting
// (rows.ts), the queue after converting. Items dated outside retention / clock skew are answered with
// OTLP partial success rather than written and silently deleted by the TTL.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzip, inflate } from 'node:zlib';
import type { CatalogApp } from '@mp-otel/contracts';
import { ATTR_CLIENT_ADDRESS } from '@mp-otel/contracts/names';
import type { ChdbStore } from '../chdb-store.js';
import { AccessError, IngestAccess, isLoopbackHost, isLoopbackIp } from './access.js';
import { RowReservations } from './admission.js';
import type { BodySlot } from './body-slots.js';
import { convertTraces } from './convert.js';
import { errorOf } from './convert-protocol.js';
import { TraceConverter } from './converter.js';
import { BatchDedup, type Claim, DEDUP_TABLE } from './dedup.js';
import { DEFAULT_LIMITS, type RequestLimits } from './limits.js';
import { countItems, scanProtobuf, tooManyItems } from './prescan.js';
import {
  BadRequestError,
  decodeProtobuf,
  encodeResponse,
  encodeStatus,
  messageFromJson,
  parseJsonBody,
  RequestTooLargeError,
  type Signal,
} from './proto.js';
import {
  type Binary,
  encodeTraceRow,
  insertRowBinary,
  insertRowBinaryFile,
  insertScratch,
  isBinary,
  type Scratch,
  Writer,
  writeScratch,
} from './rowbinary.js';
import {
  type Enrichment,
  logRows,
  metricRows,
  type Row,
  type RowContext,
  rowContext,
  traceRows,
} from './rows.js';
import { sortTraceOrder } from './sort-rows.js';
import { Turns } from './turns.js';
import { type Segment, Wal } from './wal.js';
import { Fallback } from './wire-traces.js';

export interface ReceiverOptions extends Partial<RequestLimits> {
  store: ChdbStore;
  database?: string;
  port?: number;
  host?: string;
  /** Rows per INSERT at most (default 20 000). */
  maxBatchRows?: number;
  /** Estimated bytes per INSERT at most (default 32 MiB). */
  maxBatchBytes?: number;
  /** How long the first queued request waits for others before its batch is written (default 0 ms). */
  lingerMs?: number;
  /** Rows queued or being written above which new requests get 503 + Retry-After (default 400 000: two log segments). */
  maxQueuedRows?: number;
  /** Estimated row bytes queued above which new requests get 503 + Retry-After (default 512 MiB). */
  maxQueuedBytes?: number;
  /** Requests being decoded/written at once (bodies complete) above which new ones get 429 (default 64). */
  maxConcurrentRequests?: number;
  /** Requests of one client address reading their bodies at once → 429 beyond (default 32). */
  maxRequestsPerPeer?: number;
  /** Raw + decompressed body bytes held by requests in flight → 503 beyond (default 256 MiB). */
  maxInflightBytes?: number;
  /** Time to receive the request headers (default 10 s) → 408 and the connection closed. */
  headersTimeoutMs?: number;
  /** Time to receive the whole body (default 30 s) → 408 and the connection closed. */
  bodyTimeoutMs?: number;
  /** Minimum average body rate after bodyRateGraceMs (default 1024 B/s, grace 5 s) → 408. */
  minBodyBytesPerSecond?: number;
  bodyRateGraceMs?: number;
  /** How long an x-mp-otel-batch id is remembered (default 15 min) and how many ids in memory (default 200 000). */
  dedupWindowMs?: number;
  dedupMaxEntries?: number;
  /**
   * Insert span/log attribute client.address (when absent) from the client's address: the peer, or
   * X-Real-IP / X-Forwarded-For from a trusted proxy; not for loopback clients (default true). What the
   * collector's attributes/client-ip processor does behind Kong (from_context: metadata.x-real-ip).
   */
  clientAddress?: boolean;
  /** The catalog's apps: their ingest keys and quotas. */
  apps?: readonly CatalogApp[];
  /**
   * Refuse requests without an ingest key (401). Default: required when the listener is reachable from
   * other hosts (host not loopback), checked-when-sent on a loopback-only listener.
   */
  requireKeys?: boolean;
  /** Networks (CIDR, address or "loopback") whose X-Real-IP / X-Forwarded-For are believed (default loopback). */
  trustedProxies?: readonly string[];
  /** Raw-table retention in days (0 = none): older items are refused by partial success (default 30). */
  retentionDays?: number;
  /** How far in the future an item may be dated (default 1 h). */
  maxFutureSkewMs?: number;
  /** Oldest item accepted when retention is off, and at most (default 90 days: one INSERT < 100 partitions). */
  maxAgeMs?: number;
  /**
   * The trace ingest log's directory (wal.ts; default: a temporary directory, removed at close —
   * startEmbedded passes <dataDir>/ingest-log, kept across restarts).
   */
  walDir?: string;
  /**
   * When a trace request is answered: "written" (default) once its rows are inserted, "logged" once they
   * are in the ingest log (inserted right after, in bigger batches; `mp-otel up` uses this). Logs and
   * metrics are always answered once written.
   */
  ack?: 'written' | 'logged';
  /**
   * With ack "logged": how long the trace log's current segment may fill between two INSERTs run back to
   * back before it is inserted anyway (default 1 000 ms; BatchWriter.fill). The first INSERT after a pause
   * starts at once.
   */
  segmentFillMs?: number;
  /** Log lines (a refused log segment). */
  log?: (line: string) => void;
  /**
   * Convert trace requests (protobuf and OTLP/JSON) on a thread of their own (converter.ts; default true), so
   * that the main thread's event loop stays free for HTTP, the dashboards' queries included.
   */
  convertThread?: boolean;
}

type Tables = Record<string, Row[] | Binary>;

const rowCount = (t: Row[] | Binary): number => (isBinary(t) ? t.rows : t.length);

interface Waiter {
  tables: Tables;
  rows: number;
  bytes: number;
  resolve(): void;
  reject(err: Error): void;
}

/** How long the drainer lets a segment fill between INSERTs run back to back (BatchWriter.fill). */
const SEGMENT_FILL_MS = 1000;

export class BatchWriter {
  private queue: Waiter[] = [];
  private flushing = false;
  private timer: NodeJS.Timeout | undefined;
  private pendingRows = 0;
  private pendingBytes = 0;
  batches = 0;
  /** log segments sorted and written to their scratch file while the segment before them inserted */
  stagedAhead = 0;
  /** segments ready for the drainer (left by an earlier process, or full ones) */
  private ready: Segment[] = [];
  /** per segment id: the requests waiting for that segment's insert (ack "written") */
  private segWaiters = new Map<number, { end: number; resolve(): void; reject(e: Error): void }[]>();
  private draining: Promise<void> | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  /** flushes under way: the drainer takes the current segment at once, full or not */
  private forcing = 0;
  /** ends the drainer's wait for the current segment to fill (it was filled, or a flush wants it now) */
  private wakeFill: (() => void) | undefined;
  /** while an INSERT runs with no segment staged behind it: stages the segment just filled */
  private stageFilled: (() => void) | undefined;

  constructor(
    private readonly store: ChdbStore,
    private readonly database: string,
    private readonly maxBatchRows: number,
    private readonly lingerMs: number,
    private readonly maxBatchBytes = 32 * 1024 * 1024,
    /** the trace ingest log; without it, trace rows are queued in memory like the others */
    private readonly wal?: Wal,
    /** "logged": a trace request is answered once its rows are in the log; "written": once inserted */
    private readonly ack: 'logged' | 'written' = 'written',
    private readonly log: (line: string) => void = () => {},
    /** how long a segment may fill between INSERTs run back to back (fill) */
    private readonly fillMs = SEGMENT_FILL_MS,
  ) {}

  /** Rows accepted and not yet in the store (memory queue + the trace log). */
  get queuedRows(): number {
    return this.pendingRows + (this.wal?.rows ?? 0);
  }
  get queuedBytes(): number {
    return this.pendingBytes + (this.wal?.bytes ?? 0);
  }

  /** Inserts the segments an earlier process left in the log (before the receiver listens). */
  async replay(): Promise<number> {
    if (!this.wal) return 0;
    const left = this.wal.leftovers();
    let rows = 0;
    for (const seg of left) {
      this.wal.adopt(seg);
      rows += seg.rows;
    }
    this.ready.push(...left);
    await this.drain();
    return rows;
  }

  enqueue(tables: Tables, bytes = 0): Promise<void> {
    const traces = tables.otel_traces;
    if (this.wal && traces && isBinary(traces)) {
      if (traces.rows === 0) return Promise.resolve();
      const keys = (tables[DEDUP_TABLE] as Row[] | undefined) ?? [];
      this.wal.append(traces.rowbinary, traces.rows, keys, traces.marks);
      const cur = this.wal.current;
      let done: Promise<void> = Promise.resolve();
      if (this.ack === 'written' && cur.id !== undefined) {
        const list = this.segWaiters.get(cur.id) ?? [];
        this.segWaiters.set(cur.id, list);
        done = new Promise<void>((resolve, reject) => list.push({ end: cur.bytes, resolve, reject }));
      }
      // a log segment is one INSERT: larger than a memory batch. Each INSERT has a fixed cost whatever its
      // size (here idle: 57 ms for 512 rows with every view, 13 ms without them) and leaves parts to merge:
      // 200 000 rows rather than 100 000 gave ~8% more spans/s with fewer merges (bench/storage)
      if (cur.rows >= 10 * this.maxBatchRows || cur.bytes >= 4 * this.maxBatchBytes) {
        const seg = this.wal.rotate();
        if (seg) this.ready.push(seg);
        this.wakeFill?.();
        this.stageFilled?.();
      }
      this.scheduleDrain();
      return done;
    }
    let rows = 0;
    for (const r of Object.values(tables)) rows += rowCount(r);
    if (rows === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ tables, rows, bytes, resolve, reject });
      this.pendingRows += rows;
      this.pendingBytes += bytes;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.flushing || this.timer) return;
    const pendingRows = this.queue.reduce((n, w) => n + w.rows, 0);
    const delay = pendingRows >= this.maxBatchRows ? 0 : this.lingerMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flushQueue();
    }, delay);
  }

  private scheduleDrain(): void {
    if (this.draining || this.drainTimer) return;
    this.drainTimer = setTimeout(() => {
      this.drainTimer = undefined;
      void this.drain();
    }, this.lingerMs);
    this.drainTimer.unref();
  }

  /**
   * Inserts every segment of the log, the current one included; appends made meanwhile go to the next. The
   * next full segment is sorted and written to its scratch file while the one before it inserts: one already
   * waiting when the INSERT starts, or else the first one filled during it. At full ingest the INSERT is the
   * pipeline's slowest step and the next segment fills while it runs; staged only once the INSERT ended, the
   * ~150 ms of sorting and writing 200 000 rows sat between every two INSERTs with the engine idle (about an
   * eighth of the time in the storage bench).
   */
  drain(): Promise<void> {
    const wal = this.wal;
    if (!wal) return Promise.resolve();
    if (this.draining) return this.draining.then(() => this.drain());
    const p = (async () => {
      // the segment staged while the INSERT before it runs (set by stageNext, also from enqueue)
      const ahead: { next?: { seg: Segment; staged: Promise<Staged> } } = {};
      const stageNext = (): boolean => {
        const waiting = this.ready.shift();
        if (!waiting) return false;
        // after a turn of the event loop, so this INSERT has reached the engine before the sort takes the thread
        ahead.next = {
          seg: waiting,
          staged: new Promise((r) => setImmediate(r)).then(() => stage(wal, waiting)),
        };
        this.stagedAhead++;
        return true;
      };
      const takeNext = () => {
        const n = ahead.next;
        ahead.next = undefined;
        return n;
      };
      let backToBack = false; // an INSERT of this drain has just finished
      for (;;) {
        if (backToBack && !ahead.next && this.ready.length === 0) await this.fill(wal);
        const taken = takeNext();
        const seg = taken?.seg ?? this.ready.shift() ?? wal.rotate();
        if (!seg) break;
        const staged = taken?.staged ?? stage(wal, seg);
        const inserting = this.insertSegment(wal, seg, await staged);
        if (!stageNext()) {
          this.stageFilled = () => {
            if (stageNext()) this.stageFilled = undefined;
          };
        }
        try {
          await inserting;
          backToBack = true;
        } catch (e) {
          // the segment staged meanwhile goes back to the head of the line (it is still in the log)
          const next = ahead.next;
          if (next) {
            this.ready.unshift(next.seg);
            void next.staged.then((st) => st.scratch?.release(false));
          }
          throw e;
        } finally {
          this.stageFilled = undefined;
        }
      }
    })().finally(() => {
      if (this.draining === p) this.draining = undefined;
    });
    this.draining = p;
    return p;
  }

  private async insertKeys(seg: Segment): Promise<void> {
    if (seg.keys.length === 0) return;
    await this.store
      .insertJSONEachRow(
        `${this.database}.${DEDUP_TABLE}`,
        `${seg.keys.map((k) => JSON.stringify(k)).join('\n')}\n`,
      )
      .catch((e: Error) => this.log(`mp-otel: batch ids not recorded: ${e.message}`));
  }

  private async insertSegment(wal: Wal, seg: Segment, staged: Staged): Promise<void> {
    const waiters = this.segWaiters.get(seg.id) ?? [];
    this.segWaiters.delete(seg.id);
    const failedEnds = new Set<number>();
    if (seg.rows === 0) {
      // created but never appended to (or cut back to nothing): no rows, no keys
      wal.done(seg);
      for (const w of waiters) w.resolve();
      return;
    }
    const { chunks, scratch } = staged;
    try {
      if (staged.error) throw staged.error;
      if (scratch) await insertScratch(this.store, this.database, 'otel_traces', scratch);
      else await insertRowBinaryFile(this.store, this.database, 'otel_traces', seg.bin);
    } catch (err) {
      // isolate: each appended request on its own; the ones the store refuses are kept aside
      for (const [i, chunk] of chunks.entries()) {
        const end = seg.ends[i] as number;
        try {
          await insertRowBinary(this.store, this.database, 'otel_traces', [chunk]);
        } catch (e) {
          failedEnds.add(end);
          const file = `${seg.bin}.${end - chunk.length}-${end}`;
          writeFileSync(file, chunk);
          const kept = wal.quarantine(file);
          this.log(`mp-otel: the store refused logged trace rows (${(e as Error).message}); kept in ${kept}`);
        }
      }
      if (failedEnds.size === 0)
        this.log(`mp-otel: a log segment needed inserting per request: ${(err as Error).message}`);
    }
    await this.insertKeys(seg);
    wal.done(seg);
    this.batches++;
    for (const w of waiters) {
      if (failedEnds.has(w.end)) w.reject(new Error('the store refused these rows'));
      else w.resolve();
    }
  }

  /**
   * Between two INSERTs run back to back, waits until the current segment is full or `fillMs` old
   * (or a flush wants it): only when acks do not wait for the INSERT ("logged"), and only under load — the
   * first INSERT after a pause starts at once. Without the wait, an INSERT took whatever had arrived while
   * the one before it ran, and a slower stream settled on small INSERTs, each paying the INSERT's fixed cost
   * and leaving parts to merge: OTLP/JSON ingest in the storage bench went in ~8 700-row INSERTs (43 for
   * 374 272 spans) at 39 500–46 400 spans/s, and in ~51 000-row ones (11 for 560 128) at 61 700–65 900.
   */
  private async fill(wal: Wal): Promise<void> {
    if (this.ack !== 'logged') return;
    const cur = wal.current;
    const left = this.fillMs - cur.ageMs;
    if (cur.rows === 0 || left <= 0 || this.forcing > 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.wakeFill?.(), left);
      timer.unref(); // as the drain timer: what waits is in the log, inserted at the next start if not now
      this.wakeFill = () => {
        this.wakeFill = undefined;
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Writes everything queued so far (also used at shutdown), the trace log included. */
  async flush(): Promise<void> {
    if (this.drainTimer) {
      clearTimeout(this.drainTimer);
      this.drainTimer = undefined;
    }
    this.forcing++;
    try {
      this.wakeFill?.();
      await this.drain();
    } finally {
      this.forcing--;
    }
    await this.flushQueue();
  }

  private async flushQueue(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch: Waiter[] = [];
        let n = 0;
        let b = 0;
        while (this.queue.length > 0) {
          const next = this.queue[0] as Waiter;
          if (batch.length > 0 && (n + next.rows > this.maxBatchRows || b + next.bytes > this.maxBatchBytes))
            break;
          batch.push(this.queue.shift() as Waiter);
          n += next.rows;
          b += next.bytes;
        }
        try {
          await this.write(batch);
          for (const w of batch) w.resolve();
        } catch (err) {
          if (batch.length === 1) (batch[0] as Waiter).reject(err as Error);
          else {
            // isolate the failing request(s): the others still get written
            for (const w of batch) {
              try {
                await this.write([w]);
                w.resolve();
              } catch (e) {
                w.reject(e as Error);
              }
            }
          }
        } finally {
          this.pendingRows -= n;
          this.pendingBytes -= b;
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private async write(batch: Waiter[]): Promise<void> {
    const byTable = new Map<string, string[]>();
    const binary = new Map<string, Buffer[]>();
    for (const w of batch) {
      for (const [table, rows] of Object.entries(w.tables)) {
        if (isBinary(rows)) {
          if (rows.rows === 0) continue;
          let chunks = binary.get(table);
          if (!chunks) {
            chunks = [];
            binary.set(table, chunks);
          }
          chunks.push(rows.rowbinary);
          continue;
        }
        if (rows.length === 0) continue;
        let lines = byTable.get(table);
        if (!lines) {
          lines = [];
          byTable.set(table, lines);
        }
        for (const r of rows) lines.push(JSON.stringify(r));
      }
    }
    for (const [table, chunks] of binary) await insertRowBinary(this.store, this.database, table, chunks);
    // the dedup keys last: a key is only recorded once its payload is written
    const order = [...byTable.keys()].sort((a, b) => Number(a === DEDUP_TABLE) - Number(b === DEDUP_TABLE));
    for (const table of order) {
      const lines = byTable.get(table) as string[];
      await this.store.insertJSONEachRow(`${this.database}.${table}`, `${lines.join('\n')}\n`);
    }
    this.batches++;
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

const SIGNALS: Record<string, Signal> = {
  '/v1/traces': 'traces',
  '/v1/logs': 'logs',
  '/v1/metrics': 'metrics',
};

const ITEM_NAME: Record<Signal, string> = { traces: 'spans', logs: 'log records', metrics: 'data points' };

export interface ReceiverStats {
  requests: number;
  accepted: number;
  rejected: number;
  duplicates: number;
  rowsWritten: number;
  /** items refused by partial success (dated outside the accepted window) */
  itemsRejected: number;
  /** requests cut off for a slow or late body */
  slowBodies: number;
  /** trace requests converted on a fast path (protobuf wire / parsed JSON); the rest took the object path */
  wirePath: number;
  /** requests answered 503 before their body was read: their estimated rows would not fit the queue */
  refusedUnread: number;
}

interface Reader {
  started: number;
  bytes: number;
  fail(err: HttpError): void;
}

type Resolved = Required<
  Omit<
    ReceiverOptions,
    | 'store'
    | 'port'
    | 'host'
    | 'apps'
    | 'requireKeys'
    | 'trustedProxies'
    | 'retentionDays'
    | 'walDir'
    | 'log'
    | 'convertThread'
    | 'segmentFillMs'
  >
>;

const EMPTY = Buffer.alloc(0);
const DAY = 86_400_000;
const HOUR = 3_600_000;

function isoNs(ns: bigint): string {
  const ms = ns / 1_000_000n;
  if (ms > 8_640_000_000_000_000n) return `${ns} ns after 1970 (beyond any calendar)`;
  return new Date(Number(ms)).toISOString();
}

export class OtlpReceiver {
  readonly writer: BatchWriter;
  readonly dedup: BatchDedup;
  readonly access: IngestAccess;
  readonly stats: ReceiverStats = {
    requests: 0,
    accepted: 0,
    rejected: 0,
    duplicates: 0,
    rowsWritten: 0,
    itemsRejected: 0,
    slowBodies: 0,
    wirePath: 0,
    refusedUnread: 0,
  };
  private active = 0;
  private inflightBytes = 0;
  /** the rows of the requests let in and not yet checked against the queue (admission.ts) */
  private readonly reservations: RowReservations;
  private readonly perPeer = new Map<string, number>();
  private readonly readers = new Set<Reader>();
  private readerTimer: NodeJS.Timeout | undefined;
  private readonly o: Resolved;
  private readonly retentionDays: number;
  private readonly wal: Wal;
  private readonly ownWal: boolean;
  /** Requests decoded on the main thread are decoded one per event-loop turn (turns.ts). */
  private readonly turns = new Turns();
  /** Trace requests are converted on a thread of their own (converter.ts). */
  readonly converter: TraceConverter;

  constructor(opts: ReceiverOptions) {
    this.o = {
      database: opts.database ?? 'otel',
      maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_LIMITS.maxBodyBytes,
      maxDecompressedBytes: opts.maxDecompressedBytes ?? DEFAULT_LIMITS.maxDecompressedBytes,
      maxItemsPerRequest: opts.maxItemsPerRequest ?? DEFAULT_LIMITS.maxItemsPerRequest,
      maxNodesPerRequest: opts.maxNodesPerRequest ?? DEFAULT_LIMITS.maxNodesPerRequest,
      maxJsonDepth: opts.maxJsonDepth ?? DEFAULT_LIMITS.maxJsonDepth,
      maxRowBytesPerRequest: opts.maxRowBytesPerRequest ?? DEFAULT_LIMITS.maxRowBytesPerRequest,
      maxBatchRows: opts.maxBatchRows ?? 20_000,
      maxBatchBytes: opts.maxBatchBytes ?? 32 * 1024 * 1024,
      lingerMs: opts.lingerMs ?? 0,
      maxQueuedRows: opts.maxQueuedRows ?? 400_000,
      maxQueuedBytes: opts.maxQueuedBytes ?? 512 * 1024 * 1024,
      maxConcurrentRequests: opts.maxConcurrentRequests ?? 64,
      maxRequestsPerPeer: opts.maxRequestsPerPeer ?? 32,
      maxInflightBytes: opts.maxInflightBytes ?? 256 * 1024 * 1024,
      headersTimeoutMs: opts.headersTimeoutMs ?? 10_000,
      bodyTimeoutMs: opts.bodyTimeoutMs ?? 30_000,
      minBodyBytesPerSecond: opts.minBodyBytesPerSecond ?? 1024,
      bodyRateGraceMs: opts.bodyRateGraceMs ?? 5_000,
      dedupWindowMs: opts.dedupWindowMs ?? 15 * 60 * 1000,
      dedupMaxEntries: opts.dedupMaxEntries ?? 200_000,
      clientAddress: opts.clientAddress ?? true,
      maxFutureSkewMs: opts.maxFutureSkewMs ?? HOUR,
      maxAgeMs: opts.maxAgeMs ?? 90 * DAY,
      ack: opts.ack ?? 'written',
    };
    this.retentionDays = opts.retentionDays ?? 30;
    this.reservations = new RowReservations(this.o.maxItemsPerRequest);
    this.ownWal = opts.walDir === undefined;
    this.wal = new Wal(opts.walDir ?? mkdtempSync(join(tmpdir(), 'mp-otel-ingest-log-')));
    this.writer = new BatchWriter(
      opts.store,
      this.o.database,
      this.o.maxBatchRows,
      this.o.lingerMs,
      this.o.maxBatchBytes,
      this.wal,
      this.o.ack,
      opts.log,
      opts.segmentFillMs,
    );
    this.dedup = new BatchDedup(opts.store, this.o.database, this.o.dedupWindowMs, this.o.dedupMaxEntries);
    this.converter = new TraceConverter(opts.convertThread ?? true, opts.log);
    this.access = new IngestAccess({
      apps: opts.apps,
      requireKeys: opts.requireKeys ?? !isLoopbackHost(opts.host ?? '127.0.0.1'),
      trustedProxies: opts.trustedProxies ?? ['loopback'],
    });
  }

  /** The accepted item window [min, max] in unix ns, now. */
  window(now = Date.now()): { minNs: bigint; maxNs: bigint } {
    let age = this.o.maxAgeMs;
    // an hour's margin so that an accepted item is not deleted by the TTL before anyone sees it
    if (this.retentionDays > 0) age = Math.min(age, this.retentionDays * DAY - HOUR);
    return {
      minNs: BigInt(Math.floor(now - age)) * 1_000_000n,
      maxNs: BigInt(Math.floor(now + this.o.maxFutureSkewMs)) * 1_000_000n,
    };
  }

  private windowText(signal: Signal, ctx: RowContext): string {
    const w = ctx.window as { minNs: bigint; maxNs: bigint };
    const why =
      this.retentionDays > 0
        ? `the raw tables keep ${this.retentionDays} days`
        : `items older than ${Math.round(this.o.maxAgeMs / DAY)} days are not accepted`;
    return (
      `${ctx.rejected} ${ITEM_NAME[signal]} dated outside ${isoNs(w.minNs)} .. ${isoNs(w.maxNs)} were not stored ` +
      `(${why}; clocks may run at most ${Math.round(this.o.maxFutureSkewMs / 60_000)} min ahead): ` +
      `earliest ${isoNs(ctx.rejectedMin ?? 0n)}, latest ${isoNs(ctx.rejectedMax ?? 0n)}; check the device clock`
    );
  }

  /** Inserts what an earlier process left in the ingest log, then loads the recent batch ids. */
  async start(): Promise<number> {
    const replayed = await this.writer.replay();
    await this.dedup.load();
    return replayed;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] as string;
    if (path === '/health' || path === '/healthz') {
      req.resume();
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', queuedRows: this.writer.queuedRows, ...this.stats }));
      return;
    }
    const signal = SIGNALS[path];
    const ctype = String(req.headers['content-type'] ?? '')
      .split(';')[0]
      ?.trim()
      .toLowerCase();
    const json = ctype === 'application/json';
    // an answer before the body was read closes the connection: a slow or huge body holds nothing
    const reply = (status: number, message: string, retryAfter?: number, close = false) => {
      const headers: Record<string, string> = {
        'Content-Type': json ? 'application/json' : 'application/x-protobuf',
      };
      if (retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
      if (close) headers.Connection = 'close';
      if (res.headersSent) return;
      // a slow body: drop the connection once answered rather than keep reading it
      if (status === 408) res.once('finish', () => req.socket.destroy());
      res.writeHead(status, headers);
      res.end(
        encodeStatus(
          status === 400
            ? 3
            : status === 401
              ? 16
              : status === 413
                ? 11
                : status >= 500 || status === 429
                  ? 14
                  : 2,
          message,
          json,
        ),
      );
    };
    const refuse = (status: number, message: string, retryAfter?: number) => {
      req.resume();
      this.stats.rejected++;
      reply(status, message, retryAfter, true);
    };
    if (!signal) {
      req.resume();
      res.writeHead(404, { 'Content-Type': 'text/plain', Connection: 'close' });
      res.end(`no OTLP endpoint at ${path}; use /v1/traces, /v1/logs or /v1/metrics\n`);
      return;
    }
    if (req.method !== 'POST') {
      req.resume();
      res.writeHead(405, { Allow: 'POST', 'Content-Type': 'text/plain', Connection: 'close' });
      res.end('method not allowed: use POST\n');
      return;
    }
    this.stats.requests++;
    if (!json && ctype !== 'application/x-protobuf' && ctype !== 'application/protobuf')
      return refuse(
        415,
        `unsupported content type "${ctype}": use application/x-protobuf or application/json`,
      );
    const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (!['identity', '', 'gzip', 'x-gzip', 'deflate'].includes(encoding))
      return refuse(415, `unsupported content encoding "${encoding}": use gzip or none`);

    const clientIp = this.access.clientIp(req);
    const peer = clientIp || 'unknown';
    const mine = this.perPeer.get(peer) ?? 0;
    if (mine >= this.o.maxRequestsPerPeer)
      return refuse(
        429,
        `too many concurrent uploads from ${peer} (at most ${this.o.maxRequestsPerPeer}): retry later`,
        1,
      );
    let principal: { app?: string; keyId?: string };
    try {
      principal = this.access.check(req, clientIp);
    } catch (err) {
      if (err instanceof AccessError) return refuse(err.status, err.message, err.retryAfter);
      throw err;
    }
    if (this.writer.queuedRows > this.o.maxQueuedRows || this.writer.queuedBytes > this.o.maxQueuedBytes)
      return refuse(503, 'the store is behind: retry later', 2);
    // the rows this request will probably bring, beside those of the requests already let in (admission.ts)
    const kind = `${signal} ${json ? 'json' : 'protobuf'} ${encoding}`;
    const declared = Number(req.headers['content-length']);
    // a body over the limit is refused 413 while it is read (not 503: sent again, it would fail again)
    const expected = declared <= this.o.maxBodyBytes ? this.reservations.estimate(kind, declared) : 0;
    const queued = this.writer.queuedRows;
    if (queued > 0 && queued + this.reservations.reserved + expected > this.o.maxQueuedRows) {
      this.stats.refusedUnread++;
      return refuse(503, `the store is behind (${queued} rows queued): retry later`, 2);
    }
    const unreserve = this.reservations.reserve(expected);

    // the per-peer count covers reading the body (what a slow client can hold); afterwards the request
    // takes one of the maxConcurrentRequests slots
    this.perPeer.set(peer, mine + 1);
    let reading = true;
    const doneReading = () => {
      if (!reading) return;
      reading = false;
      const n = (this.perPeer.get(peer) ?? 1) - 1;
      if (n <= 0) this.perPeer.delete(peer);
      else this.perPeer.set(peer, n);
    };
    let held = 0; // bytes this request counts against maxInflightBytes
    let slot = false;
    let claim: Claim | undefined;
    let bodySlot: BodySlot | undefined; // the body's shared slot, given back once the body is not read any more
    try {
      const chunks = await this.readBody(req, (n) => {
        held += n;
        this.inflightBytes += n;
        if (this.inflightBytes > this.o.maxInflightBytes)
          throw new HttpError(503, 'the receiver holds too many request bytes: retry later', 1);
      }).finally(doneReading);
      if (this.active >= this.o.maxConcurrentRequests)
        throw new HttpError(429, 'too many concurrent requests: retry later', 1);
      this.active++;
      slot = true;
      const identity = encoding === 'identity' || encoding === '';
      // a trace body for the conversion thread is joined into a shared slot (body-slots.ts), not a new buffer
      const toThread = signal === 'traces' && this.converter.available;
      const size = chunks.reduce((n, c) => n + c.length, 0);
      if (toThread && identity) bodySlot = this.converter.slots.acquire(size);
      let raw = bodySlot
        ? joinInto(chunks, bodySlot.view)
        : chunks.length === 1
          ? (chunks[0] as Buffer)
          : Buffer.concat(chunks, size);
      chunks.length = 0;
      let body = raw;
      if (!identity) {
        body = await decompress(raw, encoding, this.o.maxDecompressedBytes);
        held += body.length;
        this.inflightBytes += body.length;
        if (this.inflightBytes > this.o.maxInflightBytes)
          throw new HttpError(503, 'the receiver holds too many request bytes: retry later', 1);
        if (toThread) bodySlot = this.converter.slots.acquire(body.length);
        if (bodySlot) body = joinInto([body], bodySlot.view);
      }
      const limits = {
        maxDepth: this.o.maxJsonDepth,
        maxNodes: this.o.maxNodesPerRequest,
        maxItems: this.o.maxItemsPerRequest,
      };
      const newCtx = () =>
        rowContext({
          enrich: this.enrichment(clientIp),
          window: this.window(),
          maxBytes: this.o.maxRowBytesPerRequest,
        });
      let ctx = newCtx();
      let tables: Tables | undefined;
      let turned = false; // this request has had its event-loop turn for decoding on the main thread
      if (signal === 'traces') {
        // the checks and the fast path (convert.ts): on the conversion thread when there is one, else here,
        // one request per event-loop turn; Fallback → the object path below
        try {
          let converted: Binary;
          if (this.converter.available) {
            const done = await this.converter.convert(
              body,
              { json, enrich: ctx.enrich, window: ctx.window, maxBytes: ctx.maxBytes, limits },
              bodySlot,
            );
            if (!done)
              throw new HttpError(503, 'the receiver could not convert this request: retry later', 1);
            body = done.body;
            if (!bodySlot) raw = EMPTY; // transferred to the thread (the body came back)
            const r = done.reply;
            if (r.kind !== 'rows') throw errorOf(r.kind, r.message);
            converted = {
              rowbinary: Buffer.from(r.rowbinary as ArrayBuffer, 0, r.length),
              rows: r.rows ?? 0,
              marks: r.marks,
            };
            ctx.bytes = r.bytes ?? 0;
            ctx.rejected = r.rejected ?? 0;
            ctx.rejectedMin = r.rejectedMin;
            ctx.rejectedMax = r.rejectedMax;
          } else {
            await this.turns.next();
            turned = true;
            const { out, rows, marks } = convertTraces(body, json, ctx, limits);
            converted = { rowbinary: out.take(), rows, marks: marks.take() };
          }
          tables = { otel_traces: converted };
          this.stats.wirePath++;
        } catch (e) {
          if (!(e instanceof Fallback)) throw e;
          ctx = newCtx();
        }
      }
      let doc: Record<string, unknown> | undefined;
      if (!tables) {
        // the object path: logs, metrics, and the trace requests the fast path handed back (their checks done)
        if (!turned) await this.turns.next();
        let msg: unknown;
        if (json) {
          doc = parseJsonBody(body, limits);
          const n = countItems(signal, doc);
          if (n > this.o.maxItemsPerRequest) throw tooManyItems(signal, this.o.maxItemsPerRequest, n);
          msg = messageFromJson(signal, doc);
        } else {
          if (signal !== 'traces') scanProtobuf(signal, body, limits);
          msg = decodeProtobuf(signal, body);
        }
        if (signal === 'traces') {
          const rows = traceRows(msg, ctx);
          const out = new Writer(rows.length * 512 + 1024);
          for (const r of rows) encodeTraceRow(out, r);
          tables = { otel_traces: { rowbinary: out.take(), rows: rows.length } };
        } else if (signal === 'logs') tables = { otel_logs: logRows(msg, ctx) };
        else tables = metricRows(msg, ctx);
        msg = undefined;
      }
      doc = undefined; // nothing decoded outlives the conversion (requests waiting for the store hold rows only)
      const rows = Object.values(tables).reduce((n, r) => n + rowCount(r), 0);
      this.reservations.learn(kind, size, rows);
      unreserve(); // the real rows are checked now
      const partial =
        ctx.rejected > 0 ? { rejected: ctx.rejected, message: this.windowText(signal, ctx) } : undefined;
      this.stats.itemsRejected += ctx.rejected;
      // decoded rows count against the queue: a request the queue cannot take now is told to come back
      if (rows > 0 && this.writer.queuedRows + rows > this.o.maxQueuedRows && this.writer.queuedRows > 0)
        throw new HttpError(
          503,
          `the store is behind (${this.writer.queuedRows} rows queued): retry later`,
          2,
        );
      if (
        rows > 0 &&
        this.writer.queuedBytes + ctx.bytes > this.o.maxQueuedBytes &&
        this.writer.queuedBytes > 0
      )
        throw new HttpError(503, 'the store is behind: retry later', 2);

      const batchId = req.headers['x-mp-otel-batch'];
      if (rows > 0 && typeof batchId === 'string' && batchId !== '') {
        const key = BatchDedup.key(signal, principal.keyId ?? '', batchId, body);
        const c = await this.dedup.claim(key);
        if (c === 'duplicate') {
          this.stats.duplicates++;
          res.writeHead(200, {
            'Content-Type': json ? 'application/json' : 'application/x-protobuf',
            'X-Mp-Otel-Duplicate': '1',
          });
          res.end(encodeResponse(signal, json, partial));
          return;
        }
        claim = c;
        claim.row.Rows = rows;
        if (this.dedup.persistent) tables[DEDUP_TABLE] = [claim.row];
      }
      this.inflightBytes -= held;
      held = 0;
      raw = EMPTY;
      body = EMPTY;
      if (bodySlot) this.converter.slots.release(bodySlot);
      bodySlot = undefined;
      await this.writer.enqueue(tables, ctx.bytes);
      claim?.resolve();
      this.stats.accepted++;
      this.stats.rowsWritten += rows;
      res.writeHead(200, { 'Content-Type': json ? 'application/json' : 'application/x-protobuf' });
      res.end(encodeResponse(signal, json, partial));
    } catch (err) {
      claim?.reject(err as Error);
      this.stats.rejected++;
      if (err instanceof HttpError)
        reply(err.status, err.message, err.retryAfter, [408, 413, 503].includes(err.status));
      else if (err instanceof BadRequestError) reply(400, err.message);
      else if (err instanceof RequestTooLargeError) reply(413, err.message);
      else if (err instanceof RangeError) reply(400, `the request could not be decoded: ${err.message}`);
      else reply(500, `failed to store the data: ${(err as Error).message}`);
    } finally {
      unreserve();
      this.inflightBytes -= held;
      if (bodySlot) this.converter.slots.release(bodySlot);
      if (slot) this.active--;
      doneReading();
    }
  }

  private enrichment(clientIp: string): Enrichment | undefined {
    if (!this.o.clientAddress || !clientIp || isLoopbackIp(clientIp)) return undefined;
    return { attributes: { [ATTR_CLIENT_ADDRESS]: clientIp } };
  }

  /** The body's chunks, within maxBodyBytes, bodyTimeoutMs and the minimum rate; `account` may throw to stop. */
  private readBody(req: IncomingMessage, account: (n: number) => void): Promise<Buffer[]> {
    const limit = this.o.maxBodyBytes;
    return new Promise((resolve, reject) => {
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > limit) {
        reject(
          new HttpError(
            413,
            `request body of ${declared} bytes exceeds the limit of ${limit} bytes: split the batch into smaller requests`,
          ),
        );
        req.resume();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      const reader: Reader = {
        started: Date.now(),
        bytes: 0,
        fail: (err) => {
          if (done) return;
          finish();
          this.stats.slowBodies++;
          reject(err);
        },
      };
      const finish = () => {
        done = true;
        this.readers.delete(reader);
        if (this.readers.size === 0 && this.readerTimer) {
          clearInterval(this.readerTimer);
          this.readerTimer = undefined;
        }
        req.removeListener('data', onData);
      };
      const onData = (c: Buffer) => {
        if (done) return;
        size += c.length;
        reader.bytes = size;
        if (size > limit) {
          finish();
          req.resume();
          reject(
            new HttpError(
              413,
              `request body exceeds the limit of ${limit} bytes: split the batch into smaller requests`,
            ),
          );
          return;
        }
        try {
          account(c.length);
        } catch (e) {
          finish();
          req.resume();
          reject(e);
          return;
        }
        chunks.push(c);
      };
      req.on('data', onData);
      req.on('end', () => {
        if (done) return;
        finish();
        resolve(chunks);
      });
      req.on('error', (e) => {
        if (done) return;
        finish();
        reject(new HttpError(400, `error reading the request: ${e.message}`));
      });
      req.on('close', () => {
        if (done) return;
        finish();
        reject(new HttpError(400, 'the client closed the connection before sending the whole body'));
      });
      this.readers.add(reader);
      this.readerTimer ??= setInterval(() => this.checkReaders(), 250);
    });
  }

  private checkReaders(now = Date.now()): void {
    for (const r of [...this.readers]) {
      const elapsed = now - r.started;
      if (elapsed > this.o.bodyTimeoutMs)
        r.fail(
          new HttpError(408, `the request body was not received within ${this.o.bodyTimeoutMs / 1000} s`),
        );
      else if (elapsed > this.o.bodyRateGraceMs && r.bytes < (this.o.minBodyBytesPerSecond * elapsed) / 1000)
        r.fail(
          new HttpError(
            408,
            `the request body arrives at ${Math.round((r.bytes * 1000) / elapsed)} B/s, below the minimum of ${this.o.minBodyBytesPerSecond} B/s`,
          ),
        );
    }
  }

  /** Stops the body-rate timer (the server's close does the rest). */
  close(): void {
    if (this.readerTimer) clearInterval(this.readerTimer);
    this.readerTimer = undefined;
  }

  /** After the last flush: closes the ingest log (a temporary one is removed). */
  closeLog(): void {
    void this.converter.close();
    this.wal.close();
    if (this.ownWal) rmSync(this.wal.dir, { recursive: true, force: true });
  }

  get options(): Readonly<Resolved> & { requireKeys: boolean; trustedProxies: string[] } {
    return { ...this.o, requireKeys: this.access.requireKeys, trustedProxies: this.access.trustedProxies };
  }
}

/** A log segment made ready to insert: its rows sorted into a scratch file, or the log's own file. */
interface Staged {
  /** the appended chunks, from memory while held (else read back from the log), one per request */
  chunks: Buffer[];
  /** the sorted rows (none: already in order, or left to the engine to sort) */
  scratch?: Scratch;
  /** reading, sorting or writing failed: the segment is inserted request by request */
  error?: unknown;
}

async function stage(wal: Wal, seg: Segment): Promise<Staged> {
  let chunks: Buffer[] = [];
  if (seg.rows === 0) return { chunks };
  try {
    chunks = wal.chunks(seg);
    // in the table's sort order, so the engine need not sort (sort-rows.ts); the log keeps arrival order
    const sorted = sortTraceOrder(chunks, wal.marks(seg));
    return { chunks, scratch: sorted ? await writeScratch(sorted) : undefined };
  } catch (error) {
    return { chunks, error };
  }
}

/** The chunks copied one after another into `into`; the view of them there. */
function joinInto(chunks: readonly Buffer[], into: Buffer): Buffer {
  let at = 0;
  for (const c of chunks) at += c.copy(into, at);
  return into.subarray(0, at);
}

function decompress(body: Buffer, encoding: string, limit: number): Promise<Buffer> {
  const fn = encoding === 'gzip' || encoding === 'x-gzip' ? gunzip : inflate;
  return new Promise((resolve, reject) => {
    fn(body, { maxOutputLength: limit }, (err, out) => {
      if (!err) resolve(out);
      else if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError)
        reject(
          new HttpError(
            413,
            `decompressed body exceeds the limit of ${limit} bytes: split the batch into smaller requests`,
          ),
        );
      else reject(new HttpError(400, `malformed ${encoding} body: ${err.message}`));
    });
  });
}

export async function startReceiver(
  opts: ReceiverOptions,
): Promise<{ receiver: OtlpReceiver; server: Server; url: string; close(): Promise<void> }> {
  const receiver = new OtlpReceiver(opts);
  const o = receiver.options;
  if (o.requireKeys && receiver.access.keyCount === 0)
    throw new Error(
      `ingest keys are required on ${opts.host ?? '127.0.0.1'} (reachable from other hosts, or asked for) but no app in the ` +
        'catalog declares apps[].keys: add the app and its keys to the catalog, or listen on 127.0.0.1',
    );
  const replayed = await receiver.start();
  if (replayed > 0) opts.log?.(`mp-otel: inserted ${replayed} logged span rows left by the previous run`);
  const server = createServer(
    {
      headersTimeout: o.headersTimeoutMs,
      requestTimeout: o.headersTimeoutMs + o.bodyTimeoutMs + 5_000,
      connectionsCheckingInterval: 1_000,
    },
    (req, res) => {
      receiver.handle(req, res).catch((err) => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(String((err as Error)?.message ?? err));
      });
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 4318, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    receiver,
    server,
    url: `http://${host}:${addr.port}`,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      });
      receiver.close();
      await receiver.writer.flush();
      receiver.closeLog();
    },
  };
}
