// Bounds checked on the raw (decompressed) body before it is decoded, so that what a request costs is
// known before any object is allocated for it: JSON nesting depth and node count (objects + arrays);
// protobuf nesting depth, sub-message count and item count (spans, log records, data points), walked on
// the wire format with the OTLP schema and no allocation.
import protobuf from 'protobufjs';
import { BadRequestError, RequestTooLargeError, requestType, type Signal } from './proto.js';

export interface ScanLimits {
  maxDepth: number;
  maxNodes: number;
  maxItems: number;
}

const ITEM_NAME: Record<Signal, string> = { traces: 'spans', logs: 'log records', metrics: 'data points' };
const SPLIT_HINT: Record<Signal, string> = {
  traces:
    'OpenTelemetry SDK: BatchSpanProcessor maxExportBatchSize; collector: batch processor send_batch_max_size',
  logs: 'OpenTelemetry SDK: BatchLogRecordProcessor maxExportBatchSize; collector: batch processor send_batch_max_size',
  metrics: 'send fewer metrics or data points per export; collector: batch processor send_batch_max_size',
};

export function tooManyItems(signal: Signal, max: number, n?: number): RequestTooLargeError {
  return new RequestTooLargeError(
    `${n === undefined ? 'more than' : n} ${max} ${ITEM_NAME[signal]} in one request: at most ${max} are accepted; ` +
      `split the batch into requests of at most ${max} (${SPLIT_HINT[signal]})`,
  );
}

function tooManyNodes(max: number): RequestTooLargeError {
  return new RequestTooLargeError(
    `the request holds more than ${max} objects (items, attributes and values): split it into smaller requests`,
  );
}

function tooDeep(max: number, what: string): BadRequestError {
  return new BadRequestError(
    `malformed ${what}: nested deeper than ${max} levels (attribute values nest arrays/maps at most ${Math.floor((max - 12) / 3)} deep)`,
  );
}

/**
 * JSON: depth and node count, in one pass over the bytes (strings skipped with indexOf). Returns true when
 * the text has a \uD800–\uDFFF escape (so the parsed strings must be checked for lone surrogates).
 */
export function scanJson(buf: Buffer, limits: Pick<ScanLimits, 'maxDepth' | 'maxNodes'>): boolean {
  const n = buf.length;
  let depth = 0;
  let nodes = 0;
  let surrogate = false;
  let nextBs = -2; // next backslash at or after the cursor (-1: none left)
  let i = 0;
  while (i < n) {
    const c = buf[i] as number;
    if (c === 0x22) {
      i++;
      for (;;) {
        const q = buf.indexOf(0x22, i);
        if (q < 0) return surrogate; // unterminated: JSON.parse says where
        if (nextBs !== -1 && nextBs < i) nextBs = buf.indexOf(0x5c, i);
        if (nextBs === -1 || nextBs > q) {
          i = q + 1;
          break;
        }
        const e = buf[nextBs + 1];
        if (e === 0x75 && (buf[nextBs + 2] === 0x64 || buf[nextBs + 2] === 0x44)) {
          const h = buf[nextBs + 3] as number;
          if ((h >= 0x38 && h <= 0x39) || (h >= 0x61 && h <= 0x66) || (h >= 0x41 && h <= 0x46))
            surrogate = true;
        }
        i = nextBs + 2;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limits.maxDepth) throw tooDeep(limits.maxDepth, 'JSON');
      if (++nodes > limits.maxNodes) throw tooManyNodes(limits.maxNodes);
      i++;
    } else {
      if (c === 0x7d || c === 0x5d) depth--;
      i++;
    }
  }
  return surrogate;
}

const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Throws 400 naming the first string (value or key) of a parsed document that has a lone surrogate. */
export function checkSurrogates(doc: unknown, path = '$'): void {
  if (typeof doc === 'string') {
    if (LONE_SURROGATE.test(doc))
      throw new BadRequestError(
        `malformed JSON: ${path} has a lone surrogate (a \\uD800-\\uDFFF escape without its pair), which is not text: ` +
          'cut strings on code-point boundaries',
      );
    return;
  }
  if (doc === null || typeof doc !== 'object') return;
  if (Array.isArray(doc)) {
    for (let i = 0; i < doc.length; i++) checkSurrogates(doc[i], `${path}[${i}]`);
    return;
  }
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    if (LONE_SURROGATE.test(k))
      throw new BadRequestError(
        `malformed JSON: a key under ${path} has a lone surrogate, which is not text`,
      );
    checkSurrogates(v, `${path}.${k}`);
  }
}

interface Plan {
  fields: (Plan | undefined)[];
  item: boolean;
}

const ITEM_TYPES = new Set([
  'Span',
  'LogRecord',
  'NumberDataPoint',
  'HistogramDataPoint',
  'ExponentialHistogramDataPoint',
  'SummaryDataPoint',
]);

const plans = new Map<protobuf.Type, Plan>();

function planFor(type: protobuf.Type): Plan {
  let p = plans.get(type);
  if (p) return p;
  p = { fields: [], item: ITEM_TYPES.has(type.name) };
  plans.set(type, p); // before the fields: AnyValue → ArrayValue → AnyValue is a cycle
  for (const f of type.fieldsArray) {
    f.resolve();
    if (f.resolvedType instanceof protobuf.Type) p.fields[f.id] = planFor(f.resolvedType);
  }
  return p;
}

class Walker {
  pos = 0;
  nodes = 0;
  items = 0;
  constructor(
    private readonly buf: Uint8Array,
    private readonly limits: ScanLimits,
    private readonly signal: Signal,
  ) {}

  private fail(what: string): never {
    throw new BadRequestError(`malformed protobuf ${what} at byte ${this.pos}`);
  }

  private varint(end: number): number {
    if (this.pos < end && (this.buf[this.pos] as number) < 0x80) return this.buf[this.pos++] as number;
    let v = 0;
    let mul = 1;
    for (let k = 0; k < 10; k++) {
      if (this.pos >= end) this.fail('(truncated varint)');
      const b = this.buf[this.pos++] as number;
      if (mul < 2 ** 53) v += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) return v;
    }
    return this.fail('(varint longer than 10 bytes)');
  }

  walk(end: number, plan: Plan, depth: number): void {
    if (depth > this.limits.maxDepth) throw tooDeep(this.limits.maxDepth, 'protobuf');
    const buf = this.buf;
    while (this.pos < end) {
      // one-byte tags and lengths (nearly all) read here, the rest by varint(); tags to 2^31 split with bit
      // operations (a double division costs more)
      let tag = buf[this.pos] as number;
      if (tag < 0x80) this.pos++;
      else tag = this.varint(end);
      const field = tag < 0x80000000 ? tag >>> 3 : Math.floor(tag / 8);
      const wt = tag < 0x80000000 ? tag & 7 : tag % 8;
      if (field === 0) this.fail('(field number 0)');
      switch (wt) {
        case 0:
          this.varint(end);
          break;
        case 1:
          this.pos += 8;
          break;
        case 5:
          this.pos += 4;
          break;
        case 2: {
          let len = buf[this.pos] as number;
          if (this.pos < end && len < 0x80) this.pos++;
          else len = this.varint(end);
          const stop = this.pos + len;
          if (stop > end) this.fail(`(length ${len} past the end of its message)`);
          const sub = plan.fields[field];
          if (sub) {
            if (++this.nodes > this.limits.maxNodes) throw tooManyNodes(this.limits.maxNodes);
            if (sub.item && ++this.items > this.limits.maxItems)
              throw tooManyItems(this.signal, this.limits.maxItems);
            this.walk(stop, sub, depth + 1);
          }
          this.pos = stop;
          break;
        }
        default:
          this.fail(`(wire type ${wt} of field ${field})`);
      }
      if (this.pos > end) this.fail('(truncated field)');
    }
  }
}

/** Protobuf: depth, sub-messages and items, without decoding. Returns the item count. */
export function scanProtobuf(signal: Signal, buf: Uint8Array, limits: ScanLimits): number {
  const w = new Walker(buf, limits, signal);
  w.walk(buf.length, planFor(requestType(signal)), 1);
  return w.items;
}

/** Items of a request (a decoded message, or a parsed OTLP/JSON document of any shape). */
export function countItems(signal: Signal, msg: any): number {
  const list = (x: unknown): any[] => (Array.isArray(x) ? x : []);
  let n = 0;
  if (signal === 'traces') {
    for (const rs of list(msg?.resourceSpans))
      for (const ss of list(rs?.scopeSpans)) n += list(ss?.spans).length;
  } else if (signal === 'logs') {
    for (const rl of list(msg?.resourceLogs))
      for (const sl of list(rl?.scopeLogs)) n += list(sl?.logRecords).length;
  } else {
    for (const rm of list(msg?.resourceMetrics))
      for (const sm of list(rm?.scopeMetrics))
        for (const m of list(sm?.metrics)) {
          const d = m?.gauge ?? m?.sum ?? m?.histogram ?? m?.exponentialHistogram ?? m?.summary;
          n += list(d?.dataPoints).length;
        }
  }
  return n;
}
