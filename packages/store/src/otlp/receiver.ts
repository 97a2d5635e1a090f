// OTLP/HTTP receiver (/v1/traces, /v1/logs, /v1/metrics; protobuf or JSON; gzip/deflate) writing the
// clickhouse exporter's rows into chDB. A request is decoded and turned into rows completely before any
// of it is queued, so malformed input is rejected (400) with nothing written. Rows are group-committed:
// requests that arrive while a batch is being written (or within lingerMs) share the next INSERT, up to
// maxBatchRows; a request is answered 200 once its rows are written.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzip, inflate } from 'node:zlib';
import { ATTR_CLIENT_ADDRESS } from '@mp-otel/contracts/names';
import type { ChdbStore } from '../chdb-store.js';
import {
  BadRequestError,
  decodeJson,
  decodeProtobuf,
  encodeResponse,
  encodeStatus,
  type Signal,
} from './proto.js';
import { type Enrichment, logRows, metricRows, type Row, traceRows } from './rows.js';

export interface ReceiverOptions {
  store: ChdbStore;
  database?: string;
  port?: number;
  host?: string;
  /** Largest request body on the wire (default 16 MiB) → 413. */
  maxBodyBytes?: number;
  /** Largest decompressed body (default 64 MiB) → 413. */
  maxDecompressedBytes?: number;
  /** Rows per INSERT at most (default 20 000). */
  maxBatchRows?: number;
  /** How long the first queued request waits for others before its batch is written (default 0 ms). */
  lingerMs?: number;
  /** Rows queued or being written above which new requests get 503 + Retry-After (default 200 000). */
  maxQueuedRows?: number;
  /** Requests being read/decoded at once above which new requests get 429 + Retry-After (default 64). */
  maxConcurrentRequests?: number;
  /** How long an x-mp-otel-batch id is remembered (default 15 min) and how many ids (default 100 000). */
  dedupWindowMs?: number;
  dedupMaxEntries?: number;
  /**
   * Insert span/log attribute client.address from the X-Real-IP request header when absent (default true):
   * what the collector's attributes/client-ip processor does (from_context: metadata.x-real-ip).
   */
  clientAddress?: boolean;
}

type Tables = Record<string, Row[]>;
type Deferred = { resolve(): void; reject(err: Error): void };

interface Waiter {
  tables: Tables;
  rows: number;
  resolve(): void;
  reject(err: Error): void;
}

export class BatchWriter {
  private queue: Waiter[] = [];
  private flushing = false;
  private timer: NodeJS.Timeout | undefined;
  queuedRows = 0;
  batches = 0;

  constructor(
    private readonly store: ChdbStore,
    private readonly database: string,
    private readonly maxBatchRows: number,
    private readonly lingerMs: number,
  ) {}

  enqueue(tables: Tables): Promise<void> {
    let rows = 0;
    for (const r of Object.values(tables)) rows += r.length;
    if (rows === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ tables, rows, resolve, reject });
      this.queuedRows += rows;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.flushing || this.timer) return;
    const pendingRows = this.queue.reduce((n, w) => n + w.rows, 0);
    const delay = pendingRows >= this.maxBatchRows ? 0 : this.lingerMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delay);
  }

  /** Writes everything queued so far (also used at shutdown). */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch: Waiter[] = [];
        let n = 0;
        while (
          this.queue.length > 0 &&
          (batch.length === 0 || n + (this.queue[0] as Waiter).rows <= this.maxBatchRows)
        ) {
          const w = this.queue.shift() as Waiter;
          batch.push(w);
          n += w.rows;
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
          this.queuedRows -= n;
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private async write(batch: Waiter[]): Promise<void> {
    const byTable = new Map<string, string[]>();
    for (const w of batch) {
      for (const [table, rows] of Object.entries(w.tables)) {
        if (rows.length === 0) continue;
        let lines = byTable.get(table);
        if (!lines) {
          lines = [];
          byTable.set(table, lines);
        }
        for (const r of rows) lines.push(JSON.stringify(r));
      }
    }
    for (const [table, lines] of byTable) {
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

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      reject(new HttpError(413, `request body of ${declared} bytes exceeds the limit of ${limit} bytes`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        reject(new HttpError(413, `request body exceeds the limit of ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (e) => {
      if (!failed) reject(new HttpError(400, `error reading the request: ${e.message}`));
    });
  });
}

function decompress(body: Buffer, encoding: string, limit: number): Promise<Buffer> {
  const fn = encoding === 'gzip' || encoding === 'x-gzip' ? gunzip : inflate;
  return new Promise((resolve, reject) => {
    fn(body, { maxOutputLength: limit }, (err, out) => {
      if (!err) resolve(out);
      else if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError)
        reject(new HttpError(413, `decompressed body exceeds the limit of ${limit} bytes`));
      else reject(new HttpError(400, `malformed ${encoding} body: ${err.message}`));
    });
  });
}

const SIGNALS: Record<string, Signal> = {
  '/v1/traces': 'traces',
  '/v1/logs': 'logs',
  '/v1/metrics': 'metrics',
};

export interface ReceiverStats {
  requests: number;
  accepted: number;
  rejected: number;
  duplicates: number;
  rowsWritten: number;
}

export class OtlpReceiver {
  readonly writer: BatchWriter;
  readonly stats: ReceiverStats = { requests: 0, accepted: 0, rejected: 0, duplicates: 0, rowsWritten: 0 };
  private active = 0;
  private readonly dedup = new Map<string, { promise: Promise<void>; expires: number }>();
  private readonly o: Required<Omit<ReceiverOptions, 'store' | 'port' | 'host'>>;

  constructor(opts: ReceiverOptions) {
    this.o = {
      database: opts.database ?? 'otel',
      maxBodyBytes: opts.maxBodyBytes ?? 16 * 1024 * 1024,
      maxDecompressedBytes: opts.maxDecompressedBytes ?? 64 * 1024 * 1024,
      maxBatchRows: opts.maxBatchRows ?? 20_000,
      lingerMs: opts.lingerMs ?? 0,
      maxQueuedRows: opts.maxQueuedRows ?? 200_000,
      maxConcurrentRequests: opts.maxConcurrentRequests ?? 64,
      dedupWindowMs: opts.dedupWindowMs ?? 15 * 60 * 1000,
      dedupMaxEntries: opts.dedupMaxEntries ?? 100_000,
      clientAddress: opts.clientAddress ?? true,
    };
    this.writer = new BatchWriter(opts.store, this.o.database, this.o.maxBatchRows, this.o.lingerMs);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] as string;
    if (path === '/health' || path === '/healthz') {
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
    const reply = (status: number, message: string, retryAfter?: number) => {
      const headers: Record<string, string> = {
        'Content-Type': json ? 'application/json' : 'application/x-protobuf',
      };
      if (retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
      res.writeHead(status, headers);
      res.end(
        encodeStatus(
          status === 400 ? 3 : status === 413 ? 11 : status >= 500 || status === 429 ? 14 : 2,
          message,
          json,
        ),
      );
    };
    if (!signal) {
      req.resume();
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end(`no OTLP endpoint at ${path}; use /v1/traces, /v1/logs or /v1/metrics\n`);
      return;
    }
    if (req.method !== 'POST') {
      req.resume();
      res.writeHead(405, { Allow: 'POST', 'Content-Type': 'text/plain' });
      res.end('method not allowed: use POST\n');
      return;
    }
    this.stats.requests++;
    if (!json && ctype !== 'application/x-protobuf' && ctype !== 'application/protobuf') {
      req.resume();
      this.stats.rejected++;
      reply(415, `unsupported content type "${ctype}": use application/x-protobuf or application/json`);
      return;
    }
    const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (!['identity', '', 'gzip', 'x-gzip', 'deflate'].includes(encoding)) {
      req.resume();
      this.stats.rejected++;
      reply(415, `unsupported content encoding "${encoding}": use gzip or none`);
      return;
    }
    if (this.writer.queuedRows > this.o.maxQueuedRows) {
      req.resume();
      this.stats.rejected++;
      reply(503, 'the store is behind: retry later', 2);
      return;
    }
    if (this.active >= this.o.maxConcurrentRequests) {
      req.resume();
      this.stats.rejected++;
      reply(429, 'too many concurrent requests: retry later', 1);
      return;
    }
    const batchId = req.headers['x-mp-otel-batch'];
    const dedupKey = typeof batchId === 'string' && batchId !== '' ? `${signal}:${batchId}` : undefined;
    this.active++;
    let claim: Deferred | undefined;
    try {
      if (dedupKey) {
        // wait for (or find) an earlier request with the same id; claim the id when there is none
        for (;;) {
          const seen = this.dedup.get(dedupKey);
          if (!seen || seen.expires <= Date.now()) break;
          try {
            await seen.promise;
          } catch {
            continue; // the earlier attempt failed and released the id: try to claim it
          }
          req.resume();
          this.stats.duplicates++;
          res.writeHead(200, {
            'Content-Type': json ? 'application/json' : 'application/x-protobuf',
            'X-Mp-Otel-Duplicate': '1',
          });
          res.end(encodeResponse(signal, json));
          return;
        }
        claim = this.claim(dedupKey);
      }
      let body = await readBody(req, this.o.maxBodyBytes);
      if (encoding !== 'identity' && encoding !== '')
        body = await decompress(body, encoding, this.o.maxDecompressedBytes);
      const msg = json ? decodeJson(signal, body) : decodeProtobuf(signal, body);
      const enrich = this.enrichment(req);
      let tables: Tables;
      if (signal === 'traces') tables = { otel_traces: traceRows(msg, enrich) };
      else if (signal === 'logs') tables = { otel_logs: logRows(msg, enrich) };
      else tables = metricRows(msg);
      const rows = Object.values(tables).reduce((n, r) => n + r.length, 0);
      await this.writer.enqueue(tables);
      claim?.resolve();
      this.stats.accepted++;
      this.stats.rowsWritten += rows;
      res.writeHead(200, { 'Content-Type': json ? 'application/json' : 'application/x-protobuf' });
      res.end(encodeResponse(signal, json));
    } catch (err) {
      claim?.reject(err as Error);
      this.stats.rejected++;
      if (err instanceof HttpError) reply(err.status, err.message, err.retryAfter);
      else if (err instanceof BadRequestError) reply(400, err.message);
      else reply(500, `failed to store the data: ${(err as Error).message}`);
    } finally {
      this.active--;
    }
  }

  private enrichment(req: IncomingMessage): Enrichment | undefined {
    if (!this.o.clientAddress) return undefined;
    const ip = req.headers['x-real-ip'];
    const value = Array.isArray(ip) ? ip[0] : ip;
    if (!value) return undefined;
    return { attributes: { [ATTR_CLIENT_ADDRESS]: value.trim() } };
  }

  /** Claims a batch id: later requests with the same id wait for this one; a failure releases the id. */
  private claim(key: string): Deferred {
    const now = Date.now();
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => undefined);
    const entry = { promise, expires: now + this.o.dedupWindowMs };
    this.dedup.set(key, entry);
    if (this.dedup.size > this.o.dedupMaxEntries) {
      for (const [k, v] of this.dedup) {
        if (this.dedup.size <= this.o.dedupMaxEntries && v.expires > now) break;
        this.dedup.delete(k);
      }
    }
    return {
      resolve,
      reject: (e: Error) => {
        if (this.dedup.get(key) === entry) this.dedup.delete(key);
        reject(e);
      },
    };
  }
}

export async function startReceiver(
  opts: ReceiverOptions,
): Promise<{ receiver: OtlpReceiver; server: Server; url: string; close(): Promise<void> }> {
  const receiver = new OtlpReceiver(opts);
  const server = createServer((req, res) => {
    receiver.handle(req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(String((err as Error)?.message ?? err));
    });
  });
  server.requestTimeout = 60_000;
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
      await receiver.writer.flush();
    },
  };
}
