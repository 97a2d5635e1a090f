// A ClickHouse-compatible HTTP endpoint over the embedded chDB session: enough of the HTTP interface for
// the official @clickhouse/client (ping, query in URL and/or body, FORMAT, query parameters, inserts with
// inline or binary data, gzip request bodies, errors as ClickHouse sends them).
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, inflateSync } from 'node:zlib';
import { type ChdbError, type ChdbStore, toChdbError } from './chdb-store.js';
import { inputLayout, NativeFormatError, outputLayout, PLAIN, transcodeNative } from './native.js';

export interface ClickHouseHttpOptions {
  store: ChdbStore;
  port?: number;
  host?: string;
  /** Largest accepted (decompressed) request body. */
  maxBodyBytes?: number;
}

const BINARY_FORMATS =
  /^(Native|RowBinary|RowBinaryWithNames|RowBinaryWithNamesAndTypes|Parquet|Arrow|ArrowStream|ORC|Avro)$/i;

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(Object.assign(new Error('request body too large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Finds a trailing `FORMAT X` clause (outside quotes) in a statement. */
export function trailingFormat(sql: string): string | undefined {
  const m = /\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$/i.exec(sql);
  return m?.[1];
}

function sendError(res: ServerResponse, err: ChdbError | Error, status = 500): void {
  const code = (err as ChdbError).code ?? 1001;
  const body = err.message.startsWith('Code:') ? err.message : `Code: ${code}. DB::Exception: ${err.message}`;
  if (!res.headersSent) {
    res.writeHead(status, {
      'Content-Type': 'text/plain; charset=UTF-8',
      'X-ClickHouse-Exception-Code': String(code),
      'X-ClickHouse-Server-Display-Name': 'mp-otel-embedded',
    });
  }
  res.end(`${body}\n`);
}

export async function handleClickHouseRequest(
  store: ChdbStore,
  req: IncomingMessage,
  res: ServerResponse,
  maxBodyBytes: number,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (
    (url.pathname === '/ping' || url.pathname === '/') &&
    !url.searchParams.has('query') &&
    req.method !== 'POST'
  ) {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=UTF-8' });
    res.end('Ok.\n');
    return;
  }
  if (url.pathname === '/replicas_status') {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=UTF-8' });
    res.end('Ok.\n');
    return;
  }
  if (url.pathname !== '/') {
    sendError(res, Object.assign(new Error(`There is no handle ${url.pathname}`), { code: 0 }), 404);
    return;
  }
  let body: Buffer;
  try {
    body = await readBody(req, maxBodyBytes);
    const enc = String(req.headers['content-encoding'] ?? '').toLowerCase();
    if (enc === 'gzip') body = gunzipSync(body, { maxOutputLength: maxBodyBytes });
    else if (enc === 'deflate') body = inflateSync(body, { maxOutputLength: maxBodyBytes });
    else if (enc !== '' && enc !== 'identity')
      throw Object.assign(new Error(`Unknown Content-Encoding ${enc}`), { code: 1 });
  } catch (err) {
    const status = (err as { status?: number }).status ?? 400;
    sendError(
      res,
      Object.assign(new Error((err as Error).message), { code: status === 413 ? 1 : 27 }),
      status,
    );
    return;
  }
  const urlQuery = url.searchParams.get('query') ?? '';
  const database = url.searchParams.get('database') ?? undefined;
  const params: Record<string, string> = {};
  for (const [k, v] of url.searchParams) if (k.startsWith('param_')) params[k.slice(6)] = v;
  const queryId = url.searchParams.get('query_id') ?? randomUUID();
  // native clients (clickhouse-go) send their protocol revision: Native data then uses that layout
  const revision = Number(url.searchParams.get('client_protocol_version') ?? 0) || 0;

  try {
    let sql: string;
    let result: { bytes: Uint8Array; rowsRead: number; bytesRead: number; elapsed: number };
    let format = url.searchParams.get('default_format') ?? 'TabSeparated';
    const headFormat = urlQuery ? trailingFormat(urlQuery) : undefined;
    if (
      urlQuery &&
      body.length > 0 &&
      headFormat &&
      BINARY_FORMATS.test(headFormat) &&
      /^\s*INSERT\b/i.test(urlQuery)
    ) {
      // INSERT INTO t (cols) FORMAT Native + binary body (clickhouse-go over HTTP does this).
      const head = urlQuery.replace(/\bFORMAT\s+[A-Za-z0-9_]+\s*;?\s*$/i, '');
      const data =
        revision > 0 && /^Native$/i.test(headFormat)
          ? transcodeNative(body, inputLayout(revision), PLAIN)
          : body;
      result = await store.insertBinary(head, headFormat, data, database);
      format = 'TabSeparated';
    } else {
      sql = urlQuery
        ? body.length > 0
          ? `${urlQuery}\n${body.toString('utf8')}`
          : urlQuery
        : body.toString('utf8');
      if (sql.trim() === '')
        throw Object.assign(new Error('Empty query'), {
          code: 62,
          message: 'Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)',
        });
      const isInsert = /^\s*INSERT\b/i.test(sql);
      const explicit = isInsert ? undefined : trailingFormat(sql);
      if (explicit) format = explicit;
      result = await store.query(sql, format, database, params);
    }
    const summary = JSON.stringify({
      read_rows: String(result.rowsRead),
      read_bytes: String(result.bytesRead),
      written_rows: '0',
      written_bytes: '0',
      total_rows_to_read: '0',
      result_rows: '0',
      result_bytes: String(result.bytes.length),
      elapsed_ns: String(Math.round(result.elapsed * 1e9)),
    });
    if (revision > 0 && /^Native$/i.test(format)) {
      const out = transcodeNative(result.bytes, PLAIN, outputLayout(revision));
      result = { ...result, bytes: out };
    }
    res.writeHead(200, {
      'Content-Type': format.startsWith('JSON')
        ? 'application/json; charset=UTF-8'
        : 'text/plain; charset=UTF-8',
      'X-ClickHouse-Format': format,
      'X-ClickHouse-Query-Id': queryId,
      'X-ClickHouse-Summary': summary,
      'X-ClickHouse-Timezone': 'UTC',
      'Content-Length': String(result.bytes.length),
    });
    res.end(Buffer.from(result.bytes.buffer, result.bytes.byteOffset, result.bytes.length));
  } catch (err) {
    if (err instanceof NativeFormatError) {
      sendError(res, Object.assign(new Error(err.message), { code: 33 }), 400); // CANNOT_READ_ALL_DATA
      return;
    }
    const e = (err as ChdbError).code !== undefined ? (err as ChdbError) : toChdbError(err);
    sendError(res, e, 500);
  }
}

export async function startClickHouseHttp(
  opts: ClickHouseHttpOptions,
): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const maxBody = opts.maxBodyBytes ?? 256 * 1024 * 1024;
  const server = createServer((req, res) => {
    handleClickHouseRequest(opts.store, req, res, maxBody).catch((err) => sendError(res, toChdbError(err)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8123, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    server,
    url: `http://${host}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
