// Sampling and burst control. Head sampling is parent-based and by trace-id ratio, but unsampled spans
// are still *recorded* so that an error among them can be kept: every error is exported, and every
// exported span says in `mp.sampling.weight` how many spans it stands for, so counts stay estimable.
import { type Attributes, type Context, isSpanContextValid, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import {
  type Sampler,
  SamplingDecision,
  type SamplingResult,
  type Span,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';

export const ATTR_SAMPLING_WEIGHT = 'mp.sampling.weight';

/** Ratio sampling on the trace id's low 32 bits (random per W3C), following a parent's decision. */
export class WeightedRatioSampler implements Sampler {
  private readonly ratio_: number;
  private readonly bound_: number;
  constructor(ratio: number) {
    this.ratio_ = Math.min(Math.max(ratio, 0), 1);
    this.bound_ = Math.floor(this.ratio_ * 0xffffffff);
  }

  shouldSample(context: Context, traceId: string): SamplingResult {
    const parent = trace.getSpanContext(context);
    const sampled =
      parent && isSpanContextValid(parent)
        ? (parent.traceFlags & 1) === 1
        : this.ratio_ > 0 && Number.parseInt(traceId.slice(-8), 16) <= this.bound_;
    return {
      decision: sampled ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.RECORD,
      attributes: { [ATTR_SAMPLING_WEIGHT]: sampled && this.ratio_ > 0 ? 1 / this.ratio_ : 1 },
    };
  }

  toString(): string {
    return `WeightedRatioSampler{${this.ratio_}}`;
  }
}

/** A token bucket: `rate` records per second, bursts up to `burst`. */
export function tokenBucket({ rate, burst }: { rate: number; burst: number }): () => boolean {
  let tokens = burst;
  let last = Date.now();
  return () => {
    const now = Date.now();
    tokens = Math.min(burst, tokens + ((now - last) * rate) / 1000);
    last = now;
    if (tokens < 1) return false;
    tokens--;
    return true;
  };
}

export interface ExportingProcessorOptions {
  /** Receives sampled routine spans and every error span. */
  send(span: ReadableSpan, isError: boolean): void;
  /** The resource of the session current when a span starts (session.id changes mid-run). */
  resource(): Resource;
  /** Returns false to drop: may change the span (it is still writable here). Must not throw. */
  beforeSend?: (span: Span) => boolean;
  admit: () => boolean;
  onDrop: (reason: 'rate_limited') => void;
}

/** The one span processor the provider has: sampling outcome, weights, the hook, burst control. */
export class ExportingProcessor implements SpanProcessor {
  private readonly vetoed_ = new WeakSet<object>();

  constructor(private readonly options_: ExportingProcessorOptions) {}

  /** Stamps the resource of the session current at the start (the provider's own is fixed at init). */
  onStart(span: Span): void {
    const resource = this.options_.resource();
    if (span.resource !== resource) (span as { resource: Resource }).resource = resource;
  }

  onEnding(span: Span): void {
    if (span.status.code === SpanStatusCode.ERROR) span.setAttribute(ATTR_SAMPLING_WEIGHT, 1);
    const hook = this.options_.beforeSend;
    if (hook && this.isExported_(span) && !hook(span)) this.vetoed_.add(span);
  }

  onEnd(span: ReadableSpan): void {
    if (!this.isExported_(span) || this.vetoed_.has(span)) return;
    if (!this.options_.admit()) {
      this.options_.onDrop('rate_limited');
      return;
    }
    this.options_.send(span, span.status.code === SpanStatusCode.ERROR);
  }

  private isExported_(span: ReadableSpan): boolean {
    return span.status.code === SpanStatusCode.ERROR || (span.spanContext().traceFlags & 1) === 1;
  }

  // Batching happens after this processor; the SDK's flush() drives it.
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown = this.forceFlush;
}

export type { Attributes };
