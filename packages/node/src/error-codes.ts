import type { ServerResponse } from 'node:http';
import { ATTR_APP_ERROR_CODE, HEADER_APP_ERROR_CODE } from '@mp-otel/contracts/names';
import { type Span, SpanStatusCode, trace } from '@opentelemetry/api';
import { serverSpanFor } from './state.js';

/** One entry of the standard error-code catalog. */
export interface ErrorCodeInfo {
  /** Stable, upper-snake-case code; emitted as `app.error_code` and in the `x-app-error-code` header. */
  code: string;
  /** HTTP status the service answers with. */
  status: number;
  /** What it means, for humans (docs, dashboards). */
  meaning: string;
  /** Whether the client may retry the same request unchanged. */
  retryable: boolean;
}

/** Response header carrying the code, so gateways and clients can group by it without parsing bodies. */
export const ERROR_CODE_HEADER = HEADER_APP_ERROR_CODE;
/** Span / metric attribute name. */
export { ATTR_APP_ERROR_CODE };

const entries: ErrorCodeInfo[] = [
  {
    code: 'BAD_REQUEST',
    status: 400,
    meaning: 'The request is malformed or a parameter is invalid',
    retryable: false,
  },
  {
    code: 'UPLOAD_MISSING_FILE',
    status: 400,
    meaning: 'The multipart body has no `file` field',
    retryable: false,
  },
  {
    code: 'UPLOAD_TRUNCATED',
    status: 400,
    meaning: 'The upload body ended before the multipart form was complete (connection cut, bad client)',
    retryable: true,
  },
  { code: 'UNAUTHENTICATED', status: 401, meaning: 'Missing or invalid credentials', retryable: false },
  { code: 'FORBIDDEN', status: 403, meaning: 'Authenticated but not allowed', retryable: false },
  { code: 'NOT_FOUND', status: 404, meaning: 'The resource does not exist', retryable: false },
  {
    code: 'METHOD_NOT_ALLOWED',
    status: 405,
    meaning: 'The route exists but not for this HTTP method',
    retryable: false,
  },
  {
    code: 'CONFLICT',
    status: 409,
    meaning: 'The request conflicts with the current state',
    retryable: false,
  },
  {
    code: 'IMAGE_TOO_LARGE',
    status: 413,
    meaning: 'The uploaded file exceeds the size limit',
    retryable: false,
  },
  {
    code: 'UNSUPPORTED_MEDIA_TYPE',
    status: 415,
    meaning: 'The request or uploaded file is not of an accepted type (e.g. not an image by its magic bytes)',
    retryable: false,
  },
  {
    code: 'RATE_LIMITED',
    status: 429,
    meaning: 'Too many requests; back off and retry later',
    retryable: true,
  },
  { code: 'INTERNAL', status: 500, meaning: 'Unexpected server error', retryable: true },
  {
    code: 'STORAGE_UNAVAILABLE',
    status: 503,
    meaning: 'The storage backend failed or is unreachable',
    retryable: true,
  },
  {
    code: 'UPSTREAM_UNAVAILABLE',
    status: 503,
    meaning: 'A dependency of the service is unavailable',
    retryable: true,
  },
  {
    code: 'UPSTREAM_TIMEOUT',
    status: 504,
    meaning: 'A dependency of the service did not answer in time',
    retryable: true,
  },
];

/** The standard catalog, by code. Extend it with {@link defineErrorCode}. */
export const ERROR_CODES: Readonly<Record<string, ErrorCodeInfo>> = Object.fromEntries(
  entries.map((e) => [e.code, Object.freeze(e)]),
);

const catalog = new Map<string, ErrorCodeInfo>(entries.map((e) => [e.code, e]));

/** Adds (or replaces) a service-specific code. Codes must be UPPER_SNAKE_CASE. */
export function defineErrorCode(info: ErrorCodeInfo): ErrorCodeInfo {
  if (!/^[A-Z][A-Z0-9_]*$/.test(info.code))
    throw new Error(`error code must be UPPER_SNAKE_CASE: ${info.code}`);
  if (!Number.isInteger(info.status) || info.status < 400 || info.status > 599) {
    throw new Error(`error code ${info.code}: status must be 4xx or 5xx`);
  }
  const frozen = Object.freeze({ ...info });
  catalog.set(info.code, frozen);
  return frozen;
}

/** Looks a code up; unknown codes are reported as INTERNAL (500) so they never go unnoticed. */
export function lookupErrorCode(code: string): ErrorCodeInfo {
  return catalog.get(code) ?? { ...catalog.get('INTERNAL')!, code };
}

/** All codes currently known (standard + defined), for docs and dashboards. */
export function listErrorCodes(): ErrorCodeInfo[] {
  return [...catalog.values()];
}

function markSpan(span: Span | undefined, info: ErrorCodeInfo, message?: string): void {
  if (!span?.isRecording()) return;
  span.setAttribute(ATTR_APP_ERROR_CODE, info.code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: message ? `${info.code}: ${message}` : info.code });
}

/**
 * Marks the current request as failed with a standard code: sets `app.error_code` and an ERROR status on the
 * server span of this response (and on the active span when that is a different one), sets the
 * `x-app-error-code` response header and the status code (unless headers were already sent).
 * Returns the catalog entry. Does not write a body: see {@link sendError}.
 */
export function setErrorCode(res: ServerResponse, code: string, message?: string): ErrorCodeInfo {
  const info = lookupErrorCode(code);
  const server = serverSpanFor(res);
  markSpan(server, info, message);
  const active = trace.getActiveSpan();
  if (active && active !== server) markSpan(active, info, message);
  if (!res.headersSent) {
    res.statusCode = info.status;
    res.setHeader(ERROR_CODE_HEADER, info.code);
  }
  return info;
}

/**
 * {@link setErrorCode} plus a JSON body `{ "error": { "code", "message", "retryable" } }`; ends the response.
 * Safe to call when headers were already sent (then it only ends the response).
 */
export function sendError(res: ServerResponse, code: string, message?: string): ErrorCodeInfo {
  const info = setErrorCode(res, code, message);
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return info;
  }
  const body = JSON.stringify({
    error: { code: info.code, message: message ?? info.meaning, retryable: info.retryable },
  });
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
  return info;
}
