// A ClickHouse-compatible HTTP endpoint over the embedded chDB session: enough of the HTTP interface for
// the official @clickhouse/client (ping, query in URL and/or body, FORMAT, query parameters, inserts with
// inline or binary data, gzip request bodies, errors as ClickHouse sends them).
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, isIP } from 'node:net';
import { gunzipSync, inflateSync } from 'node:zlib';
import { authenticate, type Credentials } from './auth.js';
import { type ChdbError, type ChdbStore, toChdbError } from './chdb-store.js';
import { inputLayout, NativeFormatError, outputLayout, PLAIN, transcodeNative } from './native.js';
import { CODE, type Role, SqlGuard, SqlGuardError } from './sql-guard.js';

export interface ClickHouseHttpOptions {
  store: ChdbStore;
  /** who may connect, and as which role (see auth.ts) */
  credentials: Credentials;
  port?: number;
  host?: string;
  /** Largest accepted (decompressed) request body. */
  maxBodyBytes?: number;
  /**
   * Host names (beyond loopback names and IP literals) this endpoint may be addressed as, in the Host
   * header and in a browser's Origin. Everything else is refused (DNS rebinding, cross-site requests).
   */
  allowedHosts?: string[];
}

export interface ClickHouseHttpContext {
  store: ChdbStore;
  guard: SqlGuard;
  credentials: Credentials;
  allowedHosts: Set<string>;
  maxBodyBytes: number;
}

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

/** HTTP status for a ClickHouse error code, as the server's HTTP handler maps them. */
export function statusForCode(code: number): number {
  if (code === CODE.AUTHENTICATION_FAILED || code === 194 /* REQUIRED_PASSWORD */) return 401;
  if (code === CODE.ACCESS_DENIED || code === CODE.READONLY) return 403;
  if (code === 60 || code === 81) return 404; // UNKNOWN_TABLE, UNKNOWN_DATABASE
  if (
    [
      1, 6, 26, 27, 33, 36, 38, 41, 42, 43, 44, 46, 47, 48, 53, 62, 69, 70, 72, 73, 80, 107, 117, 130, 131,
      115, 184, 190, 215, 298, 344, 352, 393, 456, 457,
    ].includes(code)
  )
    return 400;
  return 500;
}

function sendError(res: ServerResponse, err: ChdbError | Error, status?: number): void {
  const code = (err as ChdbError).code ?? 1001;
  const body = err.message.startsWith('Code:') ? err.message : `Code: ${code}. DB::Exception: ${err.message}`;
  if (!res.headersSent) {
    res.writeHead(status ?? statusForCode(code), {
      'Content-Type': 'text/plain; charset=UTF-8',
      'X-ClickHouse-Exception-Code': String(code),
      'X-ClickHouse-Server-Display-Name': 'mp-otel-embedded',
    });
  }
  res.end(`${body}\n`);
}

const LOOPBACK_NAMES = new Set(['localhost', 'localhost.', '127.0.0.1', '::1', '[::1]']);

/** A Host/Origin host name this endpoint answers to: loopback names, IP literals, configured names. */
export function hostAllowed(hostname: string, allowed: Set<string>): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (LOOPBACK_NAMES.has(h) || allowed.has(h)) return true;
  // an IP literal cannot be rebound by DNS
  return isIP(h) !== 0;
}

/** Refuses foreign Host headers (DNS rebinding) and cross-site browser requests; returns the reason. */
export function foreignRequest(req: IncomingMessage, allowed: Set<string>): string | undefined {
  const host = req.headers.host;
  if (host !== undefined) {
    let name: string;
    try {
      name = new URL(`http://${host}`).hostname;
    } catch {
      return `bad Host header`;
    }
    if (!hostAllowed(name, allowed))
      return `Host ${JSON.stringify(host)} is not a name of this server (allowed: loopback, IP addresses${allowed.size ? `, ${[...allowed].join(', ')}` : ''})`;
  }
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let name: string | undefined;
    try {
      name = origin === 'null' ? undefined : new URL(origin).hostname;
    } catch {
      name = undefined;
    }
    if (
      !name ||
      !(LOOPBACK_NAMES.has(name.toLowerCase().replace(/^\[|\]$/g, '')) || allowed.has(name.toLowerCase()))
    )
      return `requests from web pages of origin ${JSON.stringify(origin)} are refused`;
  }
  if (String(req.headers['sec-fetch-site'] ?? '') === 'cross-site')
    return 'cross-site browser requests are refused';
  return undefined;
}

export async function handleClickHouseRequest(
  ctx: ClickHouseHttpContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { store, guard, maxBodyBytes } = ctx;
  const url = new URL(req.url ?? '/', 'http://localhost');
  const foreign = foreignRequest(req, ctx.allowedHosts);
  if (foreign) {
    req.resume();
    sendError(
      res,
      Object.assign(new Error(`${foreign}. (ACCESS_DENIED)`), { code: CODE.ACCESS_DENIED }),
      403,
    );
    return;
  }
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
    req.resume();
    sendError(res, Object.assign(new Error(`There is no handle ${url.pathname}`), { code: 0 }), 404);
    return;
  }
  let who: { role: Role; user: string };
  try {
    who = authenticate(ctx.credentials, req, url);
  } catch (err) {
    req.resume();
    sendError(res, err as SqlGuardError, (err as SqlGuardError).status);
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
  const readOnly = req.method === 'GET' || req.method === 'HEAD';

  try {
    let result: { bytes: Uint8Array; rowsRead: number; bytesRead: number; elapsed: number };
    let format = url.searchParams.get('default_format') ?? 'TabSeparated';
    if (!/^[A-Za-z0-9_]{1,64}$/.test(format))
      throw new SqlGuardError(
        `Code: 73. DB::Exception: Unknown format ${JSON.stringify(format.slice(0, 64))}. (UNKNOWN_FORMAT)`,
        73,
        400,
      );
    const text = urlQuery || body.toString('utf8');
    if (text.trim() === '')
      throw Object.assign(new Error('Empty query'), {
        code: 62,
        message: 'Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)',
      });
    const checked = await guard.check(
      text,
      params,
      { role: who.role, user: who.user, readOnly },
      urlQuery ? body : undefined,
      urlQuery ? undefined : body,
    );
    if (checked.kind === 'insert') {
      // INSERT data (JSONEachRow from @clickhouse/client, Native from clickhouse-go, inline VALUES…)
      // never reaches the SQL parser: it is staged in a file and read with FROM INFILE
      const data =
        revision > 0 && /^Native$/i.test(checked.format)
          ? transcodeNative(checked.data, inputLayout(revision), PLAIN)
          : checked.data;
      result = await store.insertData(
        checked.head,
        checked.format,
        data,
        database,
        checked.valuesExpressions,
      );
      format = 'TabSeparated';
    } else {
      const explicit = trailingFormat(checked.sql);
      if (explicit) format = explicit;
      result = await store.query(checked.sql, format, database, params, checked.read ? 'read' : 'write');
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
    if (err instanceof SqlGuardError) {
      sendError(res, err, err.status);
      return;
    }
    const e = (err as ChdbError).code !== undefined ? (err as ChdbError) : toChdbError(err);
    sendError(res, e);
  }
}

export async function startClickHouseHttp(
  opts: ClickHouseHttpOptions,
): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const ctx: ClickHouseHttpContext = {
    store: opts.store,
    guard: new SqlGuard(opts.store),
    credentials: opts.credentials,
    allowedHosts: new Set((opts.allowedHosts ?? []).map((h) => h.toLowerCase())),
    maxBodyBytes: opts.maxBodyBytes ?? 256 * 1024 * 1024,
  };
  const host = opts.host ?? '127.0.0.1';
  // the name the listener was given is a name of this server
  if (!['0.0.0.0', '::'].includes(host)) ctx.allowedHosts.add(host.toLowerCase());
  const server = createServer((req, res) => {
    handleClickHouseRequest(ctx, req, res).catch((err) => sendError(res, toChdbError(err)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8123, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    server,
    url: `http://${shown}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
