import type { IncomingMessage, ServerResponse } from 'node:http';
import { context } from '@opentelemetry/api';
import { getRPCMetadata, RPCType } from '@opentelemetry/core';
import { ERROR_CODE_HEADER } from './error-codes.js';
import { type ImageDirection, type ImageOutcome, recordImageTransfer } from './image-metrics.js';

export interface ImageTransferOptions {
  /** `auto` (default): POST/PUT/PATCH are uploads (request body measured), everything else downloads. */
  direction?: ImageDirection | 'auto';
  /** Route template; a string or a function called when the response ends (frameworks know it late). */
  route?: string | ((req: IncomingMessage) => string | undefined);
  /** Only measure requests for which this returns true. */
  filter?: (req: IncomingMessage) => boolean;
}

const TRACKED = Symbol.for('mp-otel.node.image-transfer');

function chunkBytes(chunk: unknown, encoding?: unknown): number {
  if (chunk == null) return 0;
  if (typeof chunk === 'string')
    return Buffer.byteLength(chunk, (typeof encoding === 'string' ? encoding : 'utf8') as BufferEncoding);
  if (ArrayBuffer.isView(chunk)) return chunk.byteLength;
  if (chunk instanceof ArrayBuffer) return chunk.byteLength;
  return 0;
}

/**
 * Sets `http.route` for this request: instrumentation-http puts it on the server span (and renames it
 * `METHOD route`) when the response ends. Call it from inside the request handler (its async context).
 */
export function setHttpRoute(route: string): void {
  const meta = getRPCMetadata(context.active());
  if (meta?.type === RPCType.HTTP) meta.route = route;
}

/**
 * Measures one request/response pair as an image transfer and records it on the image histograms when the
 * response ends or the connection closes. Request bytes are counted as the consumer reads them (by observing
 * the stream's own `data` emissions, so the body is neither buffered nor switched to flowing mode); response
 * bytes by observing `write`/`end`.
 */
export function trackImageTransfer(
  req: IncomingMessage,
  res: ServerResponse,
  options: ImageTransferOptions = {},
): void {
  if (options.filter && !options.filter(req)) return;
  // Measured once per request, even when both a global and a route middleware are mounted.
  const marked = req as IncomingMessage & { [TRACKED]?: boolean };
  if (marked[TRACKED]) return;
  marked[TRACKED] = true;
  const started = process.hrtime.bigint();
  const rpc = getRPCMetadata(context.active());
  let requestBytes = 0;
  let responseBytes = 0;

  const originalEmit = req.emit;
  req.emit = function emit(this: IncomingMessage, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'data') requestBytes += chunkBytes(args[0]);
    return originalEmit.apply(this, [event, ...args] as Parameters<typeof originalEmit>);
  } as typeof req.emit;

  const originalWrite = res.write;
  const originalEnd = res.end;
  res.write = function write(this: ServerResponse, chunk: unknown, ...rest: unknown[]): boolean {
    responseBytes += chunkBytes(chunk, rest[0]);
    return (originalWrite as (...a: unknown[]) => boolean).apply(this, [chunk, ...rest]);
  } as typeof res.write;
  res.end = function end(this: ServerResponse, chunk?: unknown, ...rest: unknown[]): ServerResponse {
    if (typeof chunk !== 'function') responseBytes += chunkBytes(chunk, rest[0]);
    return (originalEnd as (...a: unknown[]) => ServerResponse).apply(this, [chunk, ...rest]);
  } as typeof res.end;

  let recorded = false;
  const done = (): void => {
    if (recorded) return;
    recorded = true;
    const method = (req.method ?? 'GET').toUpperCase();
    const direction: ImageDirection =
      options.direction && options.direction !== 'auto'
        ? options.direction
        : method === 'POST' || method === 'PUT' || method === 'PATCH'
          ? 'upload'
          : 'download';
    let outcome: ImageOutcome;
    if (!res.writableFinished) outcome = 'aborted';
    else if (res.statusCode >= 500) outcome = 'error';
    else if (res.statusCode >= 400) outcome = 'rejected';
    else outcome = 'success';
    const route = typeof options.route === 'function' ? options.route(req) : (options.route ?? rpc?.route);
    // Frameworks without their own instrumentation: give the server span its route too.
    if (route && rpc?.type === RPCType.HTTP && rpc.route === undefined) rpc.route = route;
    const code = res.getHeader(ERROR_CODE_HEADER);
    recordImageTransfer({
      direction,
      bytes: direction === 'upload' ? requestBytes : responseBytes,
      durationSeconds: Number(process.hrtime.bigint() - started) / 1e9,
      outcome,
      route,
      errorCode: typeof code === 'string' ? code : undefined,
    });
  };
  // 'finish' precedes 'close', and instrumentation-http ends its span on 'close': record on finish so the
  // route lands on the span too.
  res.once('finish', done);
  res.once('close', done);
}

type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** node:http: wraps a request listener. */
export function withImageTransfer<H extends NodeHandler>(handler: H, options: ImageTransferOptions = {}): H {
  return function wrapped(this: unknown, req: IncomingMessage, res: ServerResponse) {
    trackImageTransfer(req, res, options);
    return handler.call(this, req, res);
  } as H;
}

/** Express (4/5) / Connect middleware. Route defaults to `req.baseUrl + req.route.path`. */
export function imageTransferExpress(options: ImageTransferOptions = {}) {
  const route =
    options.route ??
    ((req: IncomingMessage) => {
      const r = req as IncomingMessage & { baseUrl?: string; route?: { path?: unknown } };
      return typeof r.route?.path === 'string' ? `${r.baseUrl ?? ''}${r.route.path}` : undefined;
    });
  return (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void => {
    trackImageTransfer(req, res, { ...options, route });
    next();
  };
}

interface KoaLikeContext {
  req: IncomingMessage;
  res: ServerResponse;
  _matchedRoute?: string;
  routePath?: string;
}

/** Koa middleware. Route defaults to @koa/router's `ctx._matchedRoute`. */
export function imageTransferKoa(options: ImageTransferOptions = {}) {
  return async (ctx: KoaLikeContext, next: () => Promise<unknown>): Promise<void> => {
    trackImageTransfer(ctx.req, ctx.res, {
      ...options,
      route:
        options.route ?? (() => (typeof ctx._matchedRoute === 'string' ? ctx._matchedRoute : ctx.routePath)),
    });
    await next();
  };
}

interface FastifyLike {
  addHook(
    name: 'onRequest',
    hook: (
      request: { raw: IncomingMessage; routeOptions?: { url?: string } },
      reply: { raw: ServerResponse },
      done: () => void,
    ) => void,
  ): unknown;
}

/**
 * Fastify plugin (global: not encapsulated). `app.register(imageTransferFastify, { filter })`.
 * Route defaults to `request.routeOptions.url`.
 */
export function imageTransferFastify(
  app: FastifyLike,
  options: ImageTransferOptions,
  done: (err?: Error) => void,
): void {
  app.addHook('onRequest', (request, reply, next) => {
    trackImageTransfer(request.raw, reply.raw, {
      ...options,
      route: options.route ?? (() => request.routeOptions?.url),
    });
    next();
  });
  done();
}
(imageTransferFastify as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
(imageTransferFastify as unknown as Record<symbol, string>)[Symbol.for('fastify.display-name')] =
  'mp-otel-image-transfer';
