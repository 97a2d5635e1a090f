// A lean implementation of the OpenTelemetry tracing API (@opentelemetry/api's Tracer, Span and Context
// interfaces) for mini-programs. The spans it ends are OpenTelemetry ReadableSpans, so any SpanExporter
// takes them. Why not sdk-trace-base: it was 5 KB of the 20 KB gzip budget and most of the CPU time per
// request (attribute sanitising, id generation, tracer self-metrics); see bench/sdk.bench.mjs.
// Context is explicit (a stack, like StackContextManager): no zone.js, no async context in WeChat.
// Sampling is parent-based by trace-id ratio, but unsampled spans are still recorded so that an error
// among them can be kept: every error is exported, and every exported span says in `mp.sampling.weight`
// how many spans it stands for, so counts stay estimable.
import type {
  Attributes,
  AttributeValue,
  Context,
  Exception,
  HrTime,
  Link,
  Span,
  SpanContext,
  SpanOptions,
  SpanStatus,
  TimeInput,
  Tracer,
} from '@opentelemetry/api';
import { randomHex, truncate } from './text.js';

/** The key @opentelemetry/api uses for the active span, so contexts are interchangeable with it. */
const SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN');
export const ATTR_SAMPLING_WEIGHT = 'mp.sampling.weight';
const ERROR = 2; // SpanStatusCode.ERROR
const MAX_ATTRIBUTES = 64;
const MAX_VALUE_LENGTH = 4096;
const MAX_EVENTS = 32;
const MAX_LINKS = 8;

class MpContext implements Context {
  constructor(private readonly values_?: Map<symbol, unknown>) {}
  getValue(key: symbol): unknown {
    return this.values_ && this.values_.get(key);
  }
  setValue(key: symbol, value: unknown): Context {
    const values = new Map(this.values_);
    values.set(key, value);
    return new MpContext(values);
  }
  deleteValue(key: symbol): Context {
    const values = new Map(this.values_);
    values.delete(key);
    return new MpContext(values);
  }
}

export const ROOT_CONTEXT: Context = new MpContext();
let active: Context = ROOT_CONTEXT;

export function activeContext(): Context {
  return active;
}

/** Runs fn with `ctx` active (and restores the previous context, whatever fn does). */
export function withContext<T>(ctx: Context, fn: () => T): T {
  const previous = active;
  active = ctx;
  try {
    return fn();
  } finally {
    active = previous;
  }
}

export function spanOf(ctx: Context): MpSpan | undefined {
  return ctx.getValue(SPAN_KEY) as MpSpan | undefined;
}

export function contextWithSpan(ctx: Context, span: Span): Context {
  return ctx.setValue(SPAN_KEY, span);
}

export function millisToHrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  const ns = Math.round((ms - seconds * 1000) * 1e6);
  return ns < 1e9 ? [seconds, ns] : [seconds + 1, ns - 1e9];
}

export function hrTimeToMillis(t: HrTime): number {
  return t[0] * 1000 + t[1] / 1e6;
}

/** Epoch milliseconds from any TimeInput (numbers are epoch ms: there is no performance clock). */
function toMillis(t: TimeInput | undefined): number {
  if (t === undefined) return Date.now();
  if (typeof t === 'number') return t;
  if (Array.isArray(t)) return hrTimeToMillis(t as HrTime);
  return (t as Date).getTime();
}

/** Values OpenTelemetry accepts (primitives, homogeneous arrays), strings capped on code points. */
function cleanValue(value: unknown): AttributeValue | undefined {
  const t = typeof value;
  if (t === 'string') return truncate(value as string, MAX_VALUE_LENGTH);
  if (t === 'number' || t === 'boolean') return value as AttributeValue;
  if (Array.isArray(value)) {
    return value.map((v) => (typeof v === 'string' ? truncate(v, MAX_VALUE_LENGTH) : v)) as AttributeValue;
  }
  return undefined;
}

export interface Resource {
  attributes: Attributes;
}

export interface InstrumentationScope {
  name: string;
  version?: string;
}

/** What the provider gives its tracers: the session's resource, sampling, and where ended spans go. */
export interface Pipeline {
  resource(): Resource;
  scope: InstrumentationScope;
  /** Trace-id ratio for head sampling, 0..1. */
  ratio: number;
  /** Called once per span as it ends, while it is still writable; return false to drop it. */
  beforeEnd?(span: MpSpan): boolean;
  /** Receives every span that should be exported (sampled, or an error). */
  onEnd(span: MpSpan): void;
}

export class MpSpan implements Span {
  readonly attributes: Attributes = {};
  readonly links: Link[] = [];
  readonly events: Array<{
    name: string;
    time: HrTime;
    attributes?: Attributes;
    droppedAttributesCount: number;
  }> = [];
  readonly startTime: HrTime;
  endTime: HrTime = [0, 0];
  duration: HrTime = [0, 0];
  status: SpanStatus = { code: 0 };
  ended = false;
  droppedAttributesCount = 0;
  droppedEventsCount = 0;
  droppedLinksCount = 0;
  private attributeCount_ = 0;
  private readonly startMs_: number;

  constructor(
    public name: string,
    readonly kind: number,
    private readonly context_: SpanContext,
    readonly parentSpanContext: SpanContext | undefined,
    readonly resource: Resource,
    readonly instrumentationScope: InstrumentationScope,
    private readonly pipeline_: Pipeline,
    startTime: TimeInput | undefined,
  ) {
    this.startMs_ = toMillis(startTime);
    this.startTime = millisToHrTime(this.startMs_);
  }

  spanContext(): SpanContext {
    return this.context_;
  }

  setAttribute(key: string, value: unknown): this {
    if (this.ended || value === undefined || value === null) return this;
    const clean = cleanValue(value);
    if (clean === undefined) return this;
    if (!(key in this.attributes)) {
      if (this.attributeCount_ >= MAX_ATTRIBUTES) {
        this.droppedAttributesCount++;
        return this;
      }
      this.attributeCount_++;
    }
    this.attributes[key] = clean;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) this.setAttribute(key, attributes[key]);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.ended) return this;
    if (this.events.length >= MAX_EVENTS) {
      this.droppedEventsCount++;
      return this;
    }
    const isTime =
      typeof attributesOrTime === 'number' ||
      Array.isArray(attributesOrTime) ||
      attributesOrTime instanceof Date;
    this.events.push({
      name,
      time: millisToHrTime(toMillis((isTime ? attributesOrTime : time) as TimeInput | undefined)),
      attributes: isTime ? undefined : (attributesOrTime as Attributes | undefined),
      droppedAttributesCount: 0,
    });
    return this;
  }

  addLink(link: Link): this {
    if (this.ended) return this;
    if (this.links.length >= MAX_LINKS) this.droppedLinksCount++;
    else this.links.push(link);
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (!this.ended) this.status = { code: status.code, message: status.message };
    return this;
  }

  updateName(name: string): this {
    if (!this.ended) this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.ended) return;
    const endMs = Math.max(toMillis(endTime), this.startMs_);
    this.endTime = millisToHrTime(endMs);
    this.duration = millisToHrTime(endMs - this.startMs_);
    const isError = this.status.code === ERROR;
    if (isError) this.attributes[ATTR_SAMPLING_WEIGHT] = 1;
    const exported = isError || (this.context_.traceFlags & 1) === 1;
    const keep = !exported || !this.pipeline_.beforeEnd || this.pipeline_.beforeEnd(this);
    this.ended = true;
    if (exported && keep) this.pipeline_.onEnd(this);
  }

  isRecording(): boolean {
    return !this.ended;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const e = (typeof exception === 'string' ? { message: exception } : exception) as {
      name?: string;
      message?: string;
      stack?: string;
    };
    this.addEvent(
      'exception',
      { 'exception.type': e.name, 'exception.message': e.message, 'exception.stacktrace': e.stack },
      time,
    );
  }
}

/** The @opentelemetry/api Tracer: startSpan and startActiveSpan with explicit context. */
export class MpTracer implements Tracer {
  private readonly bound_: number;

  constructor(private readonly pipeline_: Pipeline) {
    this.bound_ = Math.floor(Math.min(Math.max(pipeline_.ratio, 0), 1) * 0xffffffff);
  }

  startSpan(name: string, options: SpanOptions = {}, ctx: Context = active): MpSpan {
    const p = this.pipeline_;
    const parent = options.root ? undefined : spanOf(ctx);
    const parentContext =
      parent && typeof parent.spanContext === 'function' ? parent.spanContext() : undefined;
    const validParent =
      parentContext && /^[0-9a-f]{32}$/.test(parentContext.traceId) ? parentContext : undefined;
    const traceId = validParent ? validParent.traceId : randomHex(32);
    const sampled = validParent
      ? (validParent.traceFlags & 1) === 1
      : p.ratio > 0 && Number.parseInt(traceId.slice(-8), 16) <= this.bound_;
    const span = new MpSpan(
      name,
      options.kind || 0,
      {
        traceId,
        spanId: randomHex(16),
        traceFlags: sampled ? 1 : 0,
        traceState: validParent && validParent.traceState,
      },
      validParent,
      p.resource(),
      p.scope,
      p,
      options.startTime,
    );
    span.attributes[ATTR_SAMPLING_WEIGHT] = sampled && p.ratio > 0 ? 1 / p.ratio : 1;
    if (options.attributes) span.setAttributes(options.attributes);
    if (options.links) span.addLinks(options.links);
    return span;
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...args: unknown[]): ReturnType<F> {
    const fn = args[args.length - 1] as F;
    const options = (args.length > 1 ? args[0] : undefined) as SpanOptions | undefined;
    const ctx = (args.length > 2 ? args[1] : undefined) as Context | undefined;
    const parent = ctx || active;
    const span = this.startSpan(name, options, parent);
    return withContext(contextWithSpan(parent, span), () => fn(span)) as ReturnType<F>;
  }
}
