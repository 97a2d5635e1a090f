// What one OTLP request may cost the embedded receiver, and the attribute caps it applies. The caps are
// the production collector's (collector/config.template.yaml, processor transform/normalize:
// `limit(…, 128, [priority keys])`, `truncate_all(…, N)`, `Substring(log.body, 0, 16384)`), so a payload
// is stored the same in both modes; test/limits-parity.unit.test.ts reads the collector's config and fails
// when the two drift apart. The store cannot import the stack package (layer rule), hence the test.

/** The collector's transform/normalize caps, by context. */
export const ATTRIBUTE_CAPS = {
  /** truncate_all(resource.attributes, 1024) */
  resourceValueBytes: 1024,
  /** limit(span.attributes, 128, SPAN_PRIORITY_KEYS) */
  spanAttributes: 128,
  /** truncate_all(span.attributes, 4096) */
  spanValueBytes: 4096,
  /** truncate_all(spanevent.attributes, 8192) */
  spanEventValueBytes: 8192,
  /** limit(log.attributes, 128, LOG_PRIORITY_KEYS) */
  logAttributes: 128,
  /** truncate_all(log.attributes, 8192) */
  logValueBytes: 8192,
  /** Substring(log.body, 0, 16384) where IsString(log.body) (bytes, like truncate_all) */
  logBodyBytes: 16384,
} as const;

/** Keys `limit(span.attributes, …)` always keeps. */
export const SPAN_PRIORITY_KEYS = [
  'mp.route_name',
  'http.route',
  'http.response.status_code',
  'error.type',
  'app.error_code',
] as const;

/** Keys `limit(log.attributes, …)` always keeps. */
export const LOG_PRIORITY_KEYS = [
  'exception.type',
  'exception.message',
  'exception.stacktrace',
  'mp.error.count',
] as const;

/**
 * Caps the collector does not apply (it has no equivalent, or bounds them by its own memory limiter):
 * the embedded receiver applies them so that no request can make it allocate without bound.
 */
export const EXTRA_CAPS = {
  /** attributes kept per resource, scope, event, link, metric data point, exemplar (first N in order) */
  otherAttributes: 128,
  /** string values of metric data point attributes (like span attributes) */
  otherValueBytes: 4096,
  /** AnyValue nesting (array/kvlist inside array/kvlist …) → 400 beyond it */
  anyValueDepth: 32,
} as const;

export interface RequestLimits {
  /** Largest request body on the wire → 413. */
  maxBodyBytes: number;
  /** Largest decompressed body → 413. */
  maxDecompressedBytes: number;
  /** Spans / log records / metric data points in one request → 413 with how to split. */
  maxItemsPerRequest: number;
  /** Decoded nodes (JSON objects and arrays, protobuf sub-messages) in one request → 413. */
  maxNodesPerRequest: number;
  /** JSON nesting depth (objects + arrays) → 400. OTLP itself needs ~12 levels, each AnyValue level 3 more. */
  maxJsonDepth: number;
  /** Estimated bytes of the rows one request becomes (resource attributes repeat on every row) → 413. */
  maxRowBytesPerRequest: number;
}

export const DEFAULT_LIMITS: RequestLimits = {
  maxBodyBytes: 16 * 1024 * 1024,
  maxDecompressedBytes: 16 * 1024 * 1024,
  maxItemsPerRequest: 20_000,
  maxNodesPerRequest: 1_000_000,
  maxJsonDepth: 128,
  maxRowBytesPerRequest: 64 * 1024 * 1024,
};

/**
 * `s` cut to at most `maxBytes` UTF-8 bytes, never inside a character (the collector cuts at the byte,
 * which can leave half a character; a code-point boundary is what a reader of the row expects).
 */
export function truncateUtf8(s: string, maxBytes: number): string {
  if (s.length * 3 <= maxBytes) return s; // even all-3-byte characters fit
  if (s.length <= maxBytes && Buffer.byteLength(s, 'utf8') <= maxBytes) return s;
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let n: number;
    let units = 1;
    if (c < 0x80) n = 1;
    else if (c < 0x800) n = 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n = 4;
        units = 2;
      } else n = 3;
    } else n = 3;
    if (bytes + n > maxBytes) return s.slice(0, i);
    bytes += n;
    i += units - 1;
  }
  return s;
}

/** `s` cut to at most `max` UTF-16 code units, never between the halves of a surrogate pair. */
export function truncateChars(s: string, max: number): string {
  if (s.length <= max) return s;
  const c = s.charCodeAt(max - 1);
  return s.slice(0, c >= 0xd800 && c <= 0xdbff ? max - 1 : max);
}
